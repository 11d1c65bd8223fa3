"""The WebSocket handshake of the embedded server: paths, credentials, what gets recorded, what gets logged.

    >>> from websockets.datastructures import Headers

from ..rules import Service
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

from ..rules import Service

__all__ = ["DEFAULT_MODEL", "PATHS", "Handshake", "redacting_logger", "requested_model", "review_handshake",
           "service_of", "sha256_hex"]

# The two GA WebSocket paths: Azure's (``{endpoint}/openai/v1``) and OpenAI's (``.../v1``).
PATHS = ("/openai/v1/realtime", "/v1/realtime")
DEFAULT_MODEL = "gpt-realtime"
_REDACTED = "<redacted>"
_SECRET_HEADERS = frozenset({"authorization", "api-key", "cookie"})

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

        >>> record, refusal = review_handshake("/openai/v1/realtime?api-key=k", Headers(), sha256_hex("k"))
        >>> record.auth_scheme, record.query, record.status, refusal
        ('api-key', {'api-key': '<redacted>'}, 101, None)
    """
    split = urlsplit(request_path)
    query = dict(parse_qsl(split.query))
    scheme, credential = _credential(headers, query)
    path = split.path.rstrip("/") or "/"
    status, refusal = HTTPStatus.SWITCHING_PROTOCOLS, None
    if path not in PATHS:
        status, refusal = HTTPStatus.NOT_FOUND, _not_found_text(path)
    elif key_digest is not None and not _key_matches(credential, key_digest):
        status, refusal = HTTPStatus.UNAUTHORIZED, _unauthorized_text(scheme)
    record = Handshake(
        path=split.path,
        query={k: (_REDACTED if k.lower() == "api-key" else v) for k, v in query.items()},
        auth_scheme=scheme,
        credential_sha256=sha256_hex(credential) if credential is not None else None,
        header_names=tuple(name.lower() for name, _ in headers.raw_items()),
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


def service_of(request_path: str) -> Service:
    """Which service a path stands for: Azure's ``/openai/v1/realtime`` or OpenAI's ``/v1/realtime``.

        >>> service_of("/openai/v1/realtime?model=gpt-realtime"), service_of("/v1/realtime")
        ('azure', 'openai')
    """
    return "azure" if urlsplit(request_path).path.rstrip("/") == PATHS[0] else "openai"


def sha256_hex(text: str) -> str:
    """The hex SHA-256 of a credential: what is kept instead of the secret."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _credential(headers: Headers, query: dict[str, str]) -> tuple[AuthScheme | None, str | None]:
    """(scheme, secret) from ``Authorization: Bearer``, ``api-key`` header, or Azure's ``?api-key=``."""
    authorization = headers.get("Authorization", "")
    if authorization[:7].lower() == "bearer ":
        return "bearer", authorization[7:].strip()
    key = headers.get("api-key") or query.get("api-key")
    if key:
        return "api-key", key
    return None, None


def _key_matches(credential: str | None, expected_digest: str) -> bool:
    return credential is not None and hmac.compare_digest(sha256_hex(credential), expected_digest)


def _not_found_text(path: str) -> str:
    return (f"No realtime endpoint at {path!r}. This server answers WebSocket connections at "
            f"{PATHS[0]} (Azure-style base URL .../openai/v1) and {PATHS[1]} (OpenAI-style .../v1).\n")


def _unauthorized_text(scheme: str | None) -> str:
    sent = "an unknown credential" if scheme else "no credential"
    return (f"Unauthorized: you sent {sent}. This local realtime server was started with an API key; "
            "send it as 'Authorization: Bearer <key>' or 'api-key: <key>' (the openai SDK's api_key).\n")


# -- the wire logger -------------------------------------------------------------------------------


class _RedactHeaders(logging.Filter):
    """websockets logs handshake headers at DEBUG; hide credentials in them."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) == 2 and str(args[0]).lower() in _SECRET_HEADERS:
            record.args = (args[0], _REDACTED)
        elif isinstance(args, tuple) and args and "api-key=" in str(args[0]).lower():
            record.args = (_redact_query(str(args[0])), *args[1:])
        return True


def _redact_query(path: str) -> str:
    split = urlsplit(path)
    pairs = [(k, _REDACTED if k.lower() == "api-key" else v) for k, v in parse_qsl(split.query)]
    return split.path + "?" + "&".join(f"{k}={v}" for k, v in pairs)


def redacting_logger() -> logging.Logger:
    """The logger websockets writes to: credentials in headers and ``?api-key=`` show as ``<redacted>``."""
    wire = logging.getLogger("realtime_kit.server.websockets")
    if not any(isinstance(f, _RedactHeaders) for f in wire.filters):
        wire.addFilter(_RedactHeaders())
    return wire
