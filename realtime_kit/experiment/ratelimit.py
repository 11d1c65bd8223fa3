"""Rate limits as the service reports them: when to start the next turn on a target, and how to back off.

Pure bookkeeping on a clock you pass in; the runner sleeps for `delay(now)` before each turn::

    >>> gate = RateGate()
    >>> gate.observe([{"name": "requests", "limit": 100, "remaining": 0, "reset_seconds": 2.5}], now=10.0)
    >>> gate.delay(now=11.0)
    1.5
    >>> gate.backoff(attempt=3, now=20.0, jitter=0.0)     # 1 s, 2 s, 4 s, ... up to cap_s
    4.0
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["RateGate", "is_rate_limited"]


@dataclass
class RateGate:
    """Holds new turns back while a target's limits are spent (`rate_limits.updated`, rate-limit errors)."""

    reserve: float = 0.02        # keep this share of each limit unspent (other clients share it)
    base_s: float = 1.0          # first back-off after a rate-limit error
    cap_s: float = 60.0
    resume_at: float = 0.0

    def observe(self, limits: Iterable[Mapping[str, Any] | Any], now: float) -> None:
        """Read one `rate_limits.updated` list: a spent limit holds turns back until it resets."""
        for limit in limits:
            get = limit.get if isinstance(limit, Mapping) else lambda key, lim=limit: getattr(lim, key, None)
            remaining, size, reset = get("remaining"), get("limit"), get("reset_seconds")
            if remaining is None or reset is None:
                continue
            if remaining <= max(0.0, self.reserve * (size or 0)):
                self.resume_at = max(self.resume_at, now + float(reset))

    def backoff(self, attempt: int, now: float, jitter: float | None = None) -> float:
        """After the `attempt`-th rate-limit error (1, 2, ...): hold back exponentially; returns the wait."""
        spread = random.uniform(0.0, 0.25) if jitter is None else jitter
        wait = min(self.cap_s, self.base_s * 2 ** (attempt - 1)) * (1 + spread)
        self.resume_at = max(self.resume_at, now + wait)
        return wait

    def delay(self, now: float) -> float:
        """Seconds to wait before starting a turn (0 when free)."""
        return max(0.0, self.resume_at - now)


def is_rate_limited(error: BaseException) -> bool:
    """True for the service's rate-limit errors (an `error` event, or a 429 at the handshake)."""
    code = str(getattr(error, "code", "") or "")
    kind = str(getattr(error, "error_type", "") or "")
    text = str(error).lower()
    return "rate_limit" in code or "rate_limit" in kind or "rate limit" in text or " 429" in text
