"""The WebSocket handshake of the embedded server: paths, credentials, what gets recorded, what gets logged.

    >>> from websockets.datastructures import Headers
    >>> record, refusal = review_handshake("/v2/realtime", Headers(), key_digest=None)
    >>> record.status, refusal.startswith("No realtime endpoint at '/v2/realtime'")
    (404, True)

Pure: ``review_handshake`` takes the request path and headers and returns a ``Handshake`` record plus
the refusal text (or None); the server only turns that into an HTTP response. Secrets never leave
this module: a record keeps the credential's SHA-256, and the wire logger redacts headers and queries.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from dataclasses import dataclass
from http import HTTPStatus
from typing import Literal
from urllib.parse import parse_qsl, urlsplit

from websockets.datastructures import Headers

from .. import redaction

__all__ = ["DEFAULT_MODEL", "PATHS", "Handshake", "redacting_logger", "requested_model", "review_handshake",
           "sha256_hex"]

# The two GA WebSocket paths: Azure's (``{endpoint}/openai/v1``) and OpenAI's (``.../v1``).
PATHS = ("/openai/v1/realtime", "/v1/realtime")
DEFAULT_MODEL = "gpt-realtime"
_REDACTED = redaction.REDACTED
# A handshake record keeps at most this many header names or query keys, each cut to this many characters.
_KEPT_NAMES, _KEPT_CHARS = 64, 128

AuthScheme = Literal["bearer", "api-key"]


@dataclass(frozen=True)
class Handshake:
    """What one client sent at the WebSocket handshake, minus the secret (only its SHA-256).

        >>> Handshake("/v1/realtime", {"model": "gpt-realtime"}, "bearer", None, ("authorization",)).path
        '/v1/realtime'
    """

    path: str
    query: dict[str, str]
    auth_scheme: AuthScheme | None
    credential_sha256: str | None
    header_names: tuple[str, ...]
    status: int = 101  # 101 accepted; 401 refused credential; 404 unknown path


def review_handshake(request_path: str, headers: Headers, key_digest: str | None) -> tuple[Handshake, str | None]:
    """Refuse unknown paths (404) and wrong credentials (401); the record and the refusal text, if any.

        >>> record, refusal = review_handshake("/openai/v1/realtime", Headers({"api-key": "k"}), sha256_hex("k"))
        >>> record.auth_scheme, record.status, refusal
        ('api-key', 101, None)
        >>> record, refusal = review_handshake("/openai/v1/realtime?api-key=k", Headers(), None)
        >>> record.query, record.status, refusal.startswith("Unauthorized: this server does not take an API key")
        ({'api-key': '<redacted>'}, 401, True)
    """
    split = urlsplit(request_path)
    query = dict(parse_qsl(split.query))
    scheme, credential, problem = _credential(headers)
    path = split.path.rstrip("/") or "/"
    status, refusal = HTTPStatus.SWITCHING_PROTOCOLS, None
    if path not in PATHS:
        status, refusal = HTTPStatus.NOT_FOUND, _not_found_text(path)
    elif any(name.lower() == "api-key" for name in query):
        status, refusal = HTTPStatus.UNAUTHORIZED, _query_key_text()
    elif problem is not None:
        status, refusal = HTTPStatus.UNAUTHORIZED, f"Unauthorized: {problem}.\n"
    elif key_digest is not None and not _key_matches(credential, key_digest):
        status, refusal = HTTPStatus.UNAUTHORIZED, _unauthorized_text(scheme)
    record = Handshake(
        path=split.path[:_KEPT_CHARS],
        query={k[:_KEPT_CHARS]: (_REDACTED if k.lower() == "api-key" else v[:_KEPT_CHARS])
               for k, v in list(query.items())[:_KEPT_NAMES]},
        auth_scheme=scheme,
        credential_sha256=sha256_hex(credential) if credential is not None else None,
        header_names=tuple(name.lower()[:_KEPT_CHARS] for name, _ in headers.raw_items())[:_KEPT_NAMES],
        status=int(status),
    )
    return record, refusal


def requested_model(request_path: str) -> str:
    """The model a client asked for in its query (``model``, or Azure's ``deployment``).

        >>> requested_model("/openai/v1/realtime?deployment=my-voice"), requested_model("/v1/realtime")
        ('my-voice', 'gpt-realtime')
    """
    query = dict(parse_qsl(urlsplit(request_path).query))
    return query.get("model") or query.get("deployment") or DEFAULT_MODEL


def sha256_hex(text: str) -> str:
    """The hex SHA-256 of a credential: what is kept instead of the secret.

    websockets hands non-ASCII header bytes over as surrogate escapes; they hash as the bytes sent.
    """
    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()


def _credential(headers: Headers) -> tuple[AuthScheme | None, str | None, str | None]:
    """(scheme, secret, problem) from ``Authorization: Bearer`` or the ``api-key`` header.

    Two of a credential header is a problem (which one counts would be a guess), not a server error.
    """
    authorizations, keys = headers.get_all("Authorization"), headers.get_all("api-key")
    if len(authorizations) > 1 or len(keys) > 1:
        return None, None, "send one credential header, not several"
    authorization = authorizations[0] if authorizations else ""
    if authorization[:7].lower() == "bearer ":
        return "bearer", authorization[7:].strip(), None
    if keys and keys[0]:
        return "api-key", keys[0], None
    return None, None, None


def _key_matches(credential: str | None, expected_digest: str) -> bool:
    return credential is not None and hmac.compare_digest(sha256_hex(credential), expected_digest)


def _not_found_text(path: str) -> str:
    return (f"No realtime endpoint at {path!r}. This server answers WebSocket connections at "
            f"{PATHS[0]} (Azure-style base URL .../openai/v1) and {PATHS[1]} (OpenAI-style .../v1).\n")


def _query_key_text() -> str:
    return ("Unauthorized: this server does not take an API key in the URL (?api-key=...), where logs and "
            "proxies would keep it; send it as 'Authorization: Bearer <key>' or 'api-key: <key>' instead.\n")


def _unauthorized_text(scheme: str | None) -> str:
    sent = "an unknown credential" if scheme else "no credential"
    return (f"Unauthorized: you sent {sent}. This local realtime server was started with an API key; "
            "send it as 'Authorization: Bearer <key>' or 'api-key: <key>' (the openai SDK's api_key).\n")


# -- the wire logger -------------------------------------------------------------------------------


def redacting_logger() -> logging.Logger:
    """The logger websockets writes to: credentials in headers and ``?api-key=`` show as ``<redacted>``."""
    return redaction.redacting_logger("realtime_kit.server.websockets")
