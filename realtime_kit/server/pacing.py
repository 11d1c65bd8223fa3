"""Audio pacing for the embedded server: when each server event may leave the socket.

    >>> pacer = Pacer.for_pace("realtime")      # audio at most REALTIME_LEAD_MS ahead of playback
    >>> pacer.delay_s("resp_1", audio_ms=100.0, now=0.0)
    0.0

Pacing ``"realtime"``: each response's audio may run ahead of wall-clock playback (counted from its
first delta) by at most ``REALTIME_LEAD_MS`` (400 ms), like the real service, which streams a little
faster than real time. Text deltas leave as soon as the protocol orders them. Pacing ``"fast"`` sends
everything as soon as it is made. Pure: the caller passes the clock in, so no event loop is needed.
"""

from __future__ import annotations

from typing import Literal

__all__ = ["REALTIME_LEAD_MS", "Pace", "Pacer"]

# How far audio may run ahead of real-time playback at pace "realtime" (the service runs ahead too).
REALTIME_LEAD_MS = 400.0

Pace = Literal["realtime", "fast"]


class Pacer:
    """When each server event may leave, so audio never runs ahead of playback by more than a lead.

        >>> pacer = Pacer(lead_ms=400.0)
        >>> pacer.delay_s("resp_1", audio_ms=250.0, now=10.0)   # the first delta starts the clock
        0.0
        >>> pacer.sent("resp_1", 250.0, now=10.0); pacer.sent("resp_1", 250.0, now=10.0)
        >>> round(pacer.delay_s("resp_1", audio_ms=250.0, now=10.0), 3)   # 750 ms would be 400 ms ahead
        0.35
    """

    def __init__(self, lead_ms: float | None = REALTIME_LEAD_MS) -> None:
        self.lead_ms = lead_ms  # None: no pacing (pace "fast")
        self._response_id: str | None = None
        self._started_at = 0.0
        self._sent_ms = 0.0

    @classmethod
    def for_pace(cls, pace: Pace) -> Pacer:
        """The pacer of a server pace: ``"realtime"`` keeps the lead, ``"fast"`` never waits.

            >>> Pacer.for_pace("fast").lead_ms is None
            True
        """
        return cls(REALTIME_LEAD_MS if pace == "realtime" else None)

    def delay_s(self, response_id: str | None, audio_ms: float, now: float) -> float:
        """Seconds to wait before sending ``audio_ms`` more audio of ``response_id`` at time ``now``."""
        if self.lead_ms is None or audio_ms <= 0 or response_id != self._response_id:
            return 0.0
        due = self._started_at + (self._sent_ms + audio_ms - self.lead_ms) / 1000.0
        return max(0.0, due - now)

    def sent(self, response_id: str | None, audio_ms: float, now: float) -> None:
        """Record that ``audio_ms`` of ``response_id`` left at ``now`` (a new response restarts the clock)."""
        if audio_ms <= 0:
            return
        if response_id != self._response_id:
            self._response_id, self._started_at, self._sent_ms = response_id, now, 0.0
        self._sent_ms += audio_ms
