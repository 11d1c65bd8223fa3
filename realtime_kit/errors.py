"""The one exception tree of realtime_kit.

    RealtimeKitError
    ├── ConfigError (ValueError)         a session config that the GA API would refuse; says the fix
    ├── TargetError (ValueError)         where to connect is missing or wrong; names the variable to set
    ├── InvalidState (RuntimeError)      a call that does not fit the session's state (closed, busy)
    ├── RealtimeError                    the server sent an `error` event for something we sent
    └── ConnectionLost (ConnectionError) the WebSocket closed mid-turn; carries the partial response

Foreign exceptions (websockets, the openai SDK, azure-identity) are translated into these at the
boundary, so a cell shows a sentence that says what to do, not a traceback from inside a library.
In IPython these errors show that sentence first and only the reader's own frames (see friendly.py);
set ``rk.errors.SHORT_TRACEBACKS = False`` for the full traceback.
"""

from __future__ import annotations

from typing import Any

SHORT_TRACEBACKS = True


class RealtimeKitError(Exception):
    """Base of every error realtime_kit raises on purpose."""

    def _render_traceback_(self) -> list[str]:
        """IPython's hook: the sentence first, then the frames of your own code (library frames hidden)."""
        if SHORT_TRACEBACKS:
            from .friendly import short_traceback

            return short_traceback(self)
        from IPython import get_ipython

        return list(get_ipython().InteractiveTB.structured_traceback(type(self), self, self.__traceback__))


class ConfigError(RealtimeKitError, ValueError):
    """A session config the GA Realtime API would refuse, with the likely fix in the message."""

    def __init__(self, message: str, *, path: str | None = None, suggestion: str | None = None) -> None:
        super().__init__(message)
        self.path = path
        self.suggestion = suggestion


class TargetError(RealtimeKitError, ValueError):
    """Where to connect is missing or wrong: the message names the variable or argument to set."""


class InvalidState(RealtimeKitError, RuntimeError):
    """The session cannot do this now (closed, or another turn is in flight)."""


class RealtimeError(RealtimeKitError):
    """The server answered an event we sent with an `error` event; the session stays usable."""

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        param: str | None = None,
        error_type: str | None = None,
        event_id: str | None = None,
        client_event: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.param = param
        self.error_type = error_type
        self.event_id = event_id
        self.client_event = client_event

    def __str__(self) -> str:
        parts = [self.message]
        if self.code:
            parts.append(f"code={self.code}")
        if self.param:
            parts.append(f"param={self.param}")
        if self.client_event and "type" in self.client_event:
            parts.append(f"after {self.client_event['type']}")
        return " | ".join(parts)


class ConnectionLost(RealtimeKitError, ConnectionError):
    """The connection closed before the turn finished; `.partial` keeps what had arrived."""

    def __init__(self, message: str, *, partial: Any = None) -> None:
        super().__init__(message)
        self.partial = partial
