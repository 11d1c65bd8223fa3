"""Where a response's content comes from: the local assistant's rules, or a recording (server/replay.py).

`Responses` asks its answer source once per response, with the turn's `TurnContext`, the response's
effective settings and whether a tool call is allowed (only in answer to a user message). The answer
is words to speak, or a function call; a replayed answer also brings its recorded audio (in the
response's wire format: sent as is, not synthesised) and the pause the recorded model took.

    >>> RuleAnswers().answer(TurnContext(user_text="what is 6 times 7"), {"tools": [], "tool_choice": "auto"}, True)
    Answer(text='6 times 7 is 42.', call=None, audio=None, wait_ms=0.0)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from . import responder
from .responder import TurnContext
from .tool_calls import ToolCall, choose_tool

__all__ = ["Answer", "AnswerSource", "RuleAnswers", "TurnContext"]


@dataclass(frozen=True)
class Answer:
    """What one response says: ``text`` (spoken or written), or a function ``call``."""

    text: str = ""
    call: ToolCall | None = None
    audio: bytes | None = None      # the answer's audio in the response's format; None: synthesise ``text``
    wait_ms: float = 0.0            # pause before the first output (a recorded model's latency)

    def __repr__(self) -> str:
        audio = None if self.audio is None else f"<{len(self.audio)} bytes>"
        return f"Answer(text={self.text!r}, call={self.call!r}, audio={audio}, wait_ms={self.wait_ms})"


class AnswerSource(Protocol):
    """Decides what each response of a session says (one instance per session)."""

    def answer(self, context: TurnContext, settings: Mapping[str, Any], may_call: bool) -> Answer: ...


class RuleAnswers:
    """The local assistant: `responder.reply` for words, `choose_tool` for calls (see responder.py)."""

    def answer(self, context: TurnContext, settings: Mapping[str, Any], may_call: bool) -> Answer:
        call = choose_tool(context.user_text, settings["tools"], settings["tool_choice"]) if may_call else None
        return Answer(call=call) if call is not None else Answer(text=responder.reply(context))
