"""Credentials out of websockets' logs, on the client and on the embedded server.

websockets logs every handshake header at DEBUG (``> api-key: sk-...``) on the logger it is given.
``redacting_logger(name)`` is that logger with a filter that replaces secrets by ``<redacted>``:
credential headers, the ``openai-insecure-api-key.<key>`` subprotocol, and ``api-key=`` in a query.

    >>> import logging
    >>> record = logging.LogRecord("x", logging.DEBUG, "", 0, "> %s: %s", ("api-key", "sk-123"), None)
    >>> _ = RedactCredentials().filter(record); record.getMessage()
    '> api-key: <redacted>'
"""

from __future__ import annotations

import logging
import re

__all__ = ["REDACTED", "RedactCredentials", "redact_text", "redacting_logger"]

REDACTED = "<redacted>"
_SECRET_HEADERS = frozenset({"authorization", "api-key", "cookie", "set-cookie", "proxy-authorization",
                             "x-api-key", "ocp-apim-subscription-key"})
# The browser-style credential: a subprotocol carrying the key (openai-node's OpenAIRealtimeWebSocket).
_SUBPROTOCOL_KEY = re.compile(r"(openai-insecure-api-key\.)[^,\s]+", re.IGNORECASE)
_QUERY_KEY = re.compile(r"((?:api[-_]key|access_token|token)=)[^&\s]+", re.IGNORECASE)
_BEARER = re.compile(r"(bearer\s+)[^\s,]+", re.IGNORECASE)


def redact_text(text: str) -> str:
    """``text`` with subprotocol keys, query keys and bearer tokens replaced.

        >>> redact_text("GET /v1/realtime?model=m&api-key=k1 realtime, openai-insecure-api-key.k2")
        'GET /v1/realtime?model=m&api-key=<redacted> realtime, openai-insecure-api-key.<redacted>'
    """
    text = _SUBPROTOCOL_KEY.sub(r"\1" + REDACTED, text)
    text = _QUERY_KEY.sub(r"\1" + REDACTED, text)
    return _BEARER.sub(r"\1" + REDACTED, text)


class RedactCredentials(logging.Filter):
    """Hide credentials in a record's arguments (websockets logs headers as ``("> %s: %s", name, value)``)."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and args:
            if len(args) == 2 and str(args[0]).lower() in _SECRET_HEADERS:
                record.args = (args[0], REDACTED)
            else:
                record.args = tuple(redact_text(a) if isinstance(a, str) else a for a in args)
        elif isinstance(record.msg, str) and not args:
            record.msg = redact_text(record.msg)
        return True


def redacting_logger(name: str) -> logging.Logger:
    """The logger ``name`` with `RedactCredentials` on it: pass it to websockets as ``logger=``."""
    logger = logging.getLogger(name)
    if not any(isinstance(f, RedactCredentials) for f in logger.filters):
        logger.addFilter(RedactCredentials())
    return logger

