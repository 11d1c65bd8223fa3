"""Replay: the embedded server answers as a recorded model did, turn by turn, with the recorded audio.

    python -m realtime_kit.server --replay lesson.rkrec          # any GA client, offline
    s = await rk.connect(replay="lesson.rkrec")                  # in-process (session.py starts it)

`ReplayAnswers` is an answer source (server/answers.py): each response takes the recording's next
turn, in order. Its audio goes out byte for byte when the response's format is the recording's
(PCM16 24 kHz; otherwise it is converted), its transcript streams beside it, a recorded function
call is made again with the recorded arguments. When the user's words (or a tool's output) differ
from the recording's, a `ReplayMismatch` is reported with both texts, and the turn is answered
anyway. With pacing "recorded" each answer starts after the recorded model's latency; "fast"
answers at once. Past the last recorded turn the assistant says so.

    >>> from realtime_kit.server.responder import TurnContext
    >>> from realtime_kit.record.turns import Turn
    >>> answers = ReplayAnswers([Turn(0, user_text="Hi", transcript="Hello there.")], pace="fast")
    >>> answers.answer(TurnContext(user_text="hi"), {"format": {"type": "audio/pcm"}}, True).text
    'Hello there.'
    >>> answers.answer(TurnContext(user_text="more?"), {"format": {"type": "audio/pcm"}}, True).text
    'That is the end of the recording: it has 1 turn.'
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from .answers import Answer, TurnContext
from .audio_format import encode, rate_of
from .tool_calls import ToolCall

__all__ = ["ReplayAnswers", "ReplayMismatch", "ReplayPace", "replay_protocol_factory"]

logger = logging.getLogger("realtime_kit.server")

ReplayPace = Literal["recorded", "fast"]
_TRACK_FORMAT = ("audio/pcm", 24000)


class ReplayMismatch(UserWarning):
    """The replayed conversation differs from the recording (the replay answers as recorded anyway)."""

    def __init__(self, turn: int, what: str, recorded: str | None, got: str | None) -> None:
        super().__init__(f"Replay turn {turn}: the {what} differs from the recording. Recorded: {recorded!r}; "
                         f"now: {got!r}. Answering as recorded.")
        self.turn, self.what, self.recorded, self.got = turn, what, recorded, got


@dataclass
class _Cursor:
    """The next recorded turn; shared by the connections of one in-process replay (reconnects go on)."""

    next: int = 0


class ReplayAnswers:
    """Answers each response with the recording's next turn; see the module docstring."""

    def __init__(self, turns: Sequence[Any], *, pace: ReplayPace = "recorded",
                 on_mismatch: Callable[[ReplayMismatch], None] | None = None, cursor: _Cursor | None = None) -> None:
        if pace not in ("recorded", "fast"):
            raise ValueError(f"replay pace {pace!r} is not supported; use 'recorded' or 'fast'.")
        self._turns, self._pace, self._on_mismatch = list(turns), pace, on_mismatch
        self._cursor = cursor or _Cursor()
        self.mismatches: list[ReplayMismatch] = []

    def answer(self, context: TurnContext, settings: Mapping[str, Any], may_call: bool) -> Answer:
        index = self._cursor.next
        if index >= len(self._turns):
            count = len(self._turns)
            return Answer(text=f"That is the end of the recording: it has {count} turn{'s' * (count != 1)}.")
        self._cursor.next += 1
        turn = self._turns[index]
        self._check(index, turn, context)
        wait_ms = max(0.0, (turn.latency or 0.0) * 1000.0) if self._pace == "recorded" else 0.0
        if turn.tool_calls:
            call = turn.tool_calls[0]
            return Answer(call=ToolCall(str(call["name"]), _arguments(call.get("arguments"))), wait_ms=wait_ms)
        return Answer(text=turn.said, audio=_audio(turn, settings), wait_ms=wait_ms)

    def _check(self, index: int, turn: Any, context: TurnContext) -> None:
        from ..record.compare import similarity

        if context.tool_result is not None:
            recorded = turn.tool_outputs[-1]["output"] if turn.tool_outputs else None
            if recorded is None or str(recorded) != context.tool_result[1]:
                self._report(ReplayMismatch(index, "tool output", recorded, context.tool_result[1]))
        elif (turn.user_text is not None or context.user_text) and similarity(turn.user_text,
                                                                             context.user_text) < 1.0:
            self._report(ReplayMismatch(index, "user's input", turn.user_text, context.user_text))

    def _report(self, mismatch: ReplayMismatch) -> None:
        self.mismatches.append(mismatch)
        if self._on_mismatch is not None:  # in-process: the caller's cell shows it
            self._on_mismatch(mismatch)
        else:
            logger.warning("%s", mismatch)


def _audio(turn: Any, settings: Mapping[str, Any]) -> bytes | None:
    """The turn's recorded audio in the response's format: the very bytes for PCM16 24 kHz."""
    recorded = turn.audio_out
    if recorded is None or recorded.duration == 0:
        return None
    kind = str((settings.get("format") or {}).get("type") or "audio/pcm")
    if (kind, recorded.rate) == _TRACK_FORMAT:
        return recorded.samples.astype("<i2", copy=False).tobytes()
    samples: np.ndarray = recorded.resample(rate_of(kind)).samples
    return encode(samples, kind)


def _arguments(raw: Any) -> dict[str, Any]:
    try:
        parsed = json.loads(raw) if isinstance(raw, str) else raw
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


def replay_protocol_factory(recording: Any, *, pace: ReplayPace = "recorded", shared: bool = False,
                            on_mismatch: Callable[[ReplayMismatch], None] | None = None,
                            ) -> Callable[..., Any]:
    """A LocalServer ``protocol_factory`` whose sessions answer from ``recording`` (a Recording or a path).

    Each connection replays from the first turn, unless ``shared`` (one client that reconnects:
    the replay goes on where it was).
    """
    from ..record import Recording
    from .protocol import RealtimeProtocol

    loaded = recording if isinstance(recording, Recording) else Recording.load(Path(recording))
    turns = loaded.turns
    cursor, lock = _Cursor(), threading.Lock()

    def make(model: str, max_session_s: float) -> RealtimeProtocol:
        with lock:
            answers = ReplayAnswers(turns, pace=pace, on_mismatch=on_mismatch, cursor=cursor if shared else None)
        return RealtimeProtocol(model=model, max_session_s=max_session_s, answers=answers)

    return make
