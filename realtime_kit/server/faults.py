"""Faults on demand, to test what clients do when a real service ends a session or the network fails.

    server = LocalServer(faults=Faults(close_after_s=30))      # every session, like the service's time limit
    server.faults.refuse_next(2)                              # the next 2 handshakes get HTTP 503
    server.faults.drop_next(after_audio_deltas=3)             # the next session's TCP connection is cut mid-answer
    server.faults.expire_next(after_s=2.0)                    # the next session ends after 2 s
    server.drop_connections()                                 # every open session's connection, now

- close: the service's own ending: an ``error`` event with code ``session_expired`` ("Your session hit
  the maximum duration of N minutes."), then a normal close (1000): the protocol's ``max_session_s``.
- drop: the TCP connection is aborted with no close frame (a client sees 1006), after some seconds or
  after some audio deltas of an answer.
- refuse: the WebSocket handshake is answered with HTTP 503, as a service under maintenance would.

Standing faults (constructor, CLI flags) apply to every session; ``*_next`` ones to the next one only.

    >>> faults = Faults(close_after_s=30.0); faults.expire_next(after_s=2.0)
    >>> faults.for_session(3600.0).close_after_s, faults.for_session(3600.0).close_after_s
    (2.0, 30.0)
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from .connection import write_frames

__all__ = ["DroppingConnection", "Faults", "SessionFaults", "drop_all"]

REFUSAL = "The service is temporarily unavailable (a fault injected with refuse_next); try again."
_AUDIO_DELTA = '"response.output_audio.delta"'


@dataclass(frozen=True)
class SessionFaults:
    """The faults one session gets: when it closes, and when its connection drops."""

    close_after_s: float
    drop_after_s: float | None = None
    drop_after_audio_deltas: int | None = None

    @property
    def drops(self) -> bool:
        return self.drop_after_s is not None or self.drop_after_audio_deltas is not None


class Faults:
    """The server's fault switches (thread-safe: tests flip them from outside the server's thread)."""

    def __init__(self, *, close_after_s: float | None = None, drop_after_s: float | None = None,
                 drop_after_audio_deltas: int | None = None, refuse: int = 0) -> None:
        for name, value in (("close_after_s", close_after_s), ("drop_after_s", drop_after_s)):
            if value is not None and not value > 0:
                raise ValueError(f"Faults: {name} must be a positive number of seconds, not {value!r}.")
        self._standing = (close_after_s, drop_after_s, drop_after_audio_deltas)
        self._next: dict[str, Any] = {}
        self._refuse = int(refuse)
        self._lock = threading.Lock()
        self.refused = 0

    def refuse_next(self, count: int = 1) -> None:
        """Refuse the next ``count`` handshakes with HTTP 503."""
        with self._lock:
            self._refuse += int(count)

    def drop_next(self, *, after_s: float | None = None, after_audio_deltas: int | None = None) -> None:
        """Cut the next session's TCP connection after ``after_s`` seconds or ``after_audio_deltas`` deltas."""
        if after_s is None and after_audio_deltas is None:
            raise ValueError("drop_next needs after_s= or after_audio_deltas=.")
        with self._lock:
            self._next.update(drop_after_s=after_s, drop_after_audio_deltas=after_audio_deltas)

    def expire_next(self, *, after_s: float) -> None:
        """End the next session after ``after_s`` seconds, as the service does at its time limit."""
        with self._lock:
            self._next["close_after_s"] = float(after_s)

    def take_refusal(self) -> bool:
        """True when this handshake is to be refused (and counts it)."""
        with self._lock:
            if self._refuse <= 0:
                return False
            self._refuse -= 1
            self.refused += 1
            return True

    def for_session(self, max_session_s: float) -> SessionFaults:
        """The faults of a session starting now (one-shot ones are used up)."""
        with self._lock:
            once, self._next = self._next, {}
        close, drop_s, drop_deltas = self._standing
        close_s = once.get("close_after_s") or min(s for s in (max_session_s, close) if s is not None)
        return SessionFaults(close_s,
                             once.get("drop_after_s", drop_s), once.get("drop_after_audio_deltas", drop_deltas))


class DroppingConnection:
    """A server connection that aborts its TCP connection (no close frame) when its session's fault is due."""

    def __init__(self, connection: Any, faults: SessionFaults) -> None:
        self._inner, self._faults = connection, faults
        self._deltas = 0
        self.dropped = False
        if faults.drop_after_s is not None:
            asyncio.get_running_loop().call_later(faults.drop_after_s, self.drop)

    def drop(self) -> None:
        """Abort the transport: the client sees the connection vanish (1006); nothing more is sent."""
        if not self.dropped:
            self.dropped = True
            self._inner.transport.abort()

    async def send(self, message: str) -> None:
        await self.write_frames([message])

    async def write_frames(self, texts: list[str]) -> None:
        """Write as `connection.write_frames` does, up to the audio delta the drop is due after; then drop."""
        if self.dropped:
            return
        limit, due = self._faults.drop_after_audio_deltas, texts
        if limit is not None:
            for index, text in enumerate(texts):
                self._deltas += _AUDIO_DELTA in text[:60]
                if self._deltas >= limit:
                    due = texts[:index + 1]
                    break
        await write_frames(self._inner, due)
        if limit is not None and self._deltas >= limit:
            self.drop()

    async def close(self, code: int = 1000, reason: str = "") -> None:
        if not self.dropped:
            await self._inner.close(code, reason)

    def __aiter__(self) -> AsyncIterator[Any]:
        return self._inner.__aiter__()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def drop_all(connections: list[Any]) -> None:
    """Abort each connection's transport (on the server's loop): every client sees 1006."""
    for connection in connections:
        if isinstance(connection, DroppingConnection):
            connection.drop()
        else:
            connection.transport.abort()
