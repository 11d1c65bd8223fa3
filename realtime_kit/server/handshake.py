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
import json
import logging
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, Literal
from urllib.parse import parse_qsl, urlsplit

from websockets.datastructures import Headers

from .. import redaction
from ..rules import CURRENT_MODEL, Service, profile_for

__all__ = ["DEFAULT_MODEL", "PATHS", "SUBPROTOCOL", "Handshake", "chosen_subprotocol", "known_model",
           "redacting_logger", "requested_intent", "requested_model", "review_handshake",
           "service_of", "sha256_hex", "unknown_model_event"]

# The two GA WebSocket paths: Azure's (``{endpoint}/openai/v1``) and OpenAI's (``.../v1``).
PATHS = ("/openai/v1/realtime", "/v1/realtime")
DEFAULT_MODEL = CURRENT_MODEL  # what the client gets when it names no model
_REDACTED = redaction.REDACTED
# A handshake record keeps at most this many header names or query keys, each cut to this many characters.
_KEPT_NAMES, _KEPT_CHARS = 64, 128

AuthScheme = Literal["bearer", "api-key", "subprotocol"]
# Browser-style clients (openai-node's OpenAIRealtimeWebSocket) send the key as a subprotocol beside "realtime".
SUBPROTOCOL = "realtime"
KEY_SUBPROTOCOL_PREFIX = "openai-insecure-api-key."
# Azure's refusal of an unknown deployment (code and message as Azure OpenAI sends them, e.g. in
# Azure/openai-at-scale#48 and chatboxai/chatbox#861), plus where this server's deployments come from.
DEPLOYMENT_NOT_FOUND = ("The API deployment for this resource does not exist. If you created the deployment within "
                        "the last 5 minutes, please wait a moment and try again.")


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


def review_handshake(request_path: str, headers: Headers, key_digest: str | None,
                     deployments: Collection[str] = ()) -> tuple[Handshake, str | None]:
    """Refuse unknown paths (404), wrong credentials (401) and unknown Azure deployments (404, as Azure does).

    A deployment is known when it is a model name the SDK lists or one of ``deployments``.

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
    elif path == PATHS[0] and not known_model(requested_model(request_path), deployments):
        status, refusal = HTTPStatus.NOT_FOUND, _deployment_not_found_text(requested_model(request_path))
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
        ('my-voice', 'gpt-realtime-2.1')
    """
    query = dict(parse_qsl(urlsplit(request_path).query))
    return query.get("model") or query.get("deployment") or DEFAULT_MODEL


def requested_intent(request_path: str) -> str | None:
    """The session kind a client asked for: ``intent=transcription`` in the query (the SDK's connect docstring).

        >>> requested_intent("/v1/realtime?intent=transcription"), requested_intent("/v1/realtime?model=m")
        ('transcription', None)
    """
    return dict(parse_qsl(urlsplit(request_path).query)).get("intent")


def service_of(request_path: str) -> Service:
    """Which service a path stands for: Azure's ``/openai/v1/realtime`` or OpenAI's ``/v1/realtime``.

        >>> service_of("/openai/v1/realtime?model=gpt-realtime"), service_of("/v1/realtime")
        ('azure', 'openai')
    """
    return "azure" if urlsplit(request_path).path.rstrip("/") == PATHS[0] else "openai"


def known_model(model: str, deployments: Collection[str] = ()) -> bool:
    """A model name the SDK lists (one the rulebook has a profile for), or a deployment this server was given."""
    return profile_for(model) is not None or model in deployments


def unknown_model_event(model: str) -> dict[str, Any]:
    """OpenAI's answer to an unknown model: an ``error`` event, then the session closes.

    Code and message as OpenAI sends them (openai/openai-realtime-console#561: "model_not_found",
    "The model `gpt-realtime` does not exist or you do not have access to it.").
    """
    return {"type": "error", "event_id": "event_model_not_found", "error": {
        "type": "invalid_request_error", "code": "model_not_found", "param": None, "event_id": None,
        "message": f"The model `{model}` does not exist or you do not have access to it."}}


def chosen_subprotocol(offered: Sequence[str]) -> str | None:
    """Echo ``realtime`` when the client offers it (browsers abort otherwise); never echo the key.

        >>> chosen_subprotocol(["realtime", "openai-insecure-api-key.sk-1"]), chosen_subprotocol([])
        ('realtime', None)
    """
    return SUBPROTOCOL if SUBPROTOCOL in offered else None


def sha256_hex(text: str) -> str:
    """The hex SHA-256 of a credential: what is kept instead of the secret.

    websockets hands non-ASCII header bytes over as surrogate escapes; they hash as the bytes sent.
    """
    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()


def _credential(headers: Headers) -> tuple[AuthScheme | None, str | None, str | None]:
    """(scheme, secret, problem) from ``Authorization: Bearer``, the ``api-key`` header or the key subprotocol.

    Two of a credential header is a problem (which one counts would be a guess), not a server error.
    Browser-style clients (openai-node's OpenAIRealtimeWebSocket) send the key as a subprotocol.
    """
    authorizations, keys = headers.get_all("Authorization"), headers.get_all("api-key")
    if len(authorizations) > 1 or len(keys) > 1:
        return None, None, "send one credential header, not several"
    authorization = authorizations[0] if authorizations else ""
    if authorization[:7].lower() == "bearer ":
        return "bearer", authorization[7:].strip(), None
    for offered in headers.get_all("Sec-WebSocket-Protocol"):
        for name in offered.split(","):
            if name.strip().startswith(KEY_SUBPROTOCOL_PREFIX):
                return "subprotocol", name.strip()[len(KEY_SUBPROTOCOL_PREFIX):], None
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


def _deployment_not_found_text(deployment: str) -> str:
    body = {"error": {"code": "DeploymentNotFound", "message": DEPLOYMENT_NOT_FOUND}}
    return (json.dumps(body) + f"\nrealtime-kit local server: no deployment {deployment!r}. Its deployments are the "
            "model names the openai SDK lists (e.g. gpt-realtime, gpt-realtime-mini, gpt-realtime-2.1) and any "
            "given with --deployment NAME=MODEL.\n")


def _unauthorized_text(scheme: str | None) -> str:
    sent = "an unknown credential" if scheme else "no credential"
    return (f"Unauthorized: you sent {sent}. This local realtime server was started with an API key; "
            "send it as 'Authorization: Bearer <key>', 'api-key: <key>' or the subprotocol "
            "'openai-insecure-api-key.<key>' (the openai SDK's api_key).\n")


# -- the wire logger -------------------------------------------------------------------------------


def redacting_logger() -> logging.Logger:
    """The logger websockets writes to: credentials in headers and ``?api-key=`` show as ``<redacted>``."""
    return redaction.redacting_logger("realtime_kit.server.websockets")
