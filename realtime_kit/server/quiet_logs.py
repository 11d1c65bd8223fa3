"""Quiet server logs: the same line repeated by many clients is written a few times, then summarised.

    >>> import logging
    >>> repeat = RepeatFilter(burst=2, window_s=60.0, clock=lambda: 0.0)
    >>> def line(): return logging.LogRecord("x", logging.ERROR, "", 0, "opening handshake failed", None, None)
    >>> [repeat.filter(line()) for _ in range(4)]
    [True, True, False, False]

Five hundred idle TCP connections each time out their handshake; without this, every one writes a
traceback. A line is keyed by its logger and its format string (not its arguments), so "session
failed" from a hundred clients counts as one kind. When a kind's window ends, its next line says
how many were suppressed.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from websockets.exceptions import ConnectionClosed, InvalidHandshake

__all__ = ["ClientTrouble", "RepeatFilter", "forget_repeats", "quiet"]


class ClientTrouble(logging.Filter):
    """websockets logs a client that vanishes mid-handshake at ERROR with a traceback: a client's problem, INFO."""

    def filter(self, record: logging.LogRecord) -> bool:
        failure = record.exc_info[1] if record.exc_info else None
        if record.levelno >= logging.ERROR and isinstance(failure, _CLIENT_TROUBLE):
            record.levelno, record.levelname = logging.INFO, "INFO"
            record.msg = f"{record.msg} ({type(failure).__name__}: {failure})"
            record.exc_info = record.exc_text = None
        return True


class RepeatFilter(logging.Filter):
    """Let ``burst`` records of one kind through per ``window_s`` seconds; count the rest."""

    def __init__(self, burst: int = 5, window_s: float = 60.0, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self.burst, self.window_s, self._clock = burst, window_s, clock
        self._lock = threading.Lock()
        self._kinds: dict[tuple[str, str], list[float]] = {}   # kind -> [window start, passed, suppressed]

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.INFO:  # debug output is asked for: never thin it
            return True
        kind, now = (record.name, str(record.msg)), self._clock()
        with self._lock:
            state = self._kinds.get(kind)
            if state is None or now - state[0] >= self.window_s:
                suppressed = int(state[2]) if state else 0
                if len(self._kinds) > 1000:  # kinds are format strings: a handful, but never unbounded
                    self._kinds.clear()
                self._kinds[kind] = [now, 1, 0]
                if suppressed:
                    record.msg = f"{record.msg} (and {suppressed} more like it in the last {self.window_s:.0f} s)"
                return True
            if state[1] < self.burst:
                state[1] += 1
                return True
            state[2] += 1
            return False

    def forget(self) -> None:
        """Start every kind's window afresh (nothing suppressed is reported)."""
        with self._lock:
            self._kinds.clear()


def quiet(*loggers: logging.Logger) -> None:
    """Put `ClientTrouble` and one shared `RepeatFilter` on each of ``loggers`` (once)."""
    for logger in loggers:
        if not any(isinstance(f, RepeatFilter) for f in logger.filters):
            logger.addFilter(_CLIENT)
            logger.addFilter(_SHARED)


def forget_repeats() -> None:
    """Let the next lines of every kind through again: one server's (or test's) repeats do not hide another's."""
    _SHARED.forget()


_SHARED, _CLIENT = RepeatFilter(), ClientTrouble()
# What a client that disconnects, stalls or sends garbage during the handshake raises inside websockets.
_CLIENT_TROUBLE = (EOFError, TimeoutError, ConnectionError, InvalidHandshake, ConnectionClosed)
