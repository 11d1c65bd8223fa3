"""Pure core of the playground's conversation view: server events in, transcript lines and turns out.

    view = TranscriptFold()
    view.apply({"type": "conversation.item.input_audio_transcription.completed",
                "item_id": "item_1", "transcript": "hello"}, at=1.0)
    view.lines[-1].text        # "hello"
    view.turns["resp_1"].latency_line()   # "first audio 210 ms · done 800 ms · 2.4 s of audio"

No widgets and no asyncio: the playground feeds it events with their arrival times and renders it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

Role = Literal["user", "assistant"]


@dataclass
class Line:
    """One item of the conversation as the transcript shows it."""

    role: Role
    item_id: str
    text: str = ""
    pending: bool = True  # user speech still being transcribed, or assistant still speaking
    note: str = ""  # e.g. "interrupted: 1.23 s heard"


@dataclass
class Turn:
    """One response: what started it, when its parts arrived, its audio and how it ended."""

    response_id: str
    trigger: str  # "speech" (server VAD), "message" (a text or audio item), or "request"
    t_trigger: float
    t_created: float
    t_first_text: float | None = None
    t_first_audio: float | None = None
    t_done: float | None = None
    status: str = "in_progress"
    item_ids: list[str] = field(default_factory=list)
    audio_bytes: int = 0
    audio_rate: int = 24000
    heard_ms: int | None = None  # set when the turn was interrupted and truncated
    reason: str = ""  # why a response ended other than completed (status_details)
    user_item: str = ""  # the user item this response answers (its text titles the turn)

    @property
    def audio_seconds(self) -> float:
        return (self.audio_bytes // 2) / self.audio_rate

    def latency_line(self) -> str:
        """The turn's latency figures in seconds since its trigger, as one short line."""
        since = {"speech": "after speech stopped", "message": "after the message"}.get(self.trigger, "")
        parts = []
        for label, at in (("first text", self.t_first_text), ("first audio", self.t_first_audio),
                          ("done", self.t_done)):
            if at is not None:
                parts.append(f"{label} {_duration(at - self.t_trigger)}")
        if self.audio_bytes:
            parts.append(f"{self.audio_seconds:.1f} s of audio")
        if self.heard_ms is not None:
            parts.append(f"interrupted: {self.heard_ms / 1000:.2f} s heard")
        if self.status not in ("in_progress", "completed"):
            parts.append(f"{self.status}: {self.reason}" if self.reason else self.status)
        return " · ".join(parts) + (f" ({since})" if since and parts else "")


def _duration(seconds: float) -> str:
    """Under a second in milliseconds (the local server answers in tens of them), else in seconds.

    >>> _duration(0.0423), _duration(2.5)
    ('42 ms', '2.50 s')
    """
    return f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.2f} s"


class TranscriptFold:
    """Folds GA server events into transcript lines (both sides) and per-response turns."""

    def __init__(self) -> None:
        self.lines: list[Line] = []
        self.turns: dict[str, Turn] = {}
        self._by_item: dict[str, Line] = {}
        self._trigger: tuple[str, float] | None = None  # what the next response answers, and when
        self._user_item = ""  # the latest user item, which the next response answers

    def apply(self, event: Any, at: float) -> str | None:
        """Fold one server event (SDK model or dict) received at `at` seconds; returns an error text."""
        data = as_dict(event)
        kind = str(data.get("type", ""))
        handler = _HANDLERS.get(kind)
        if handler is not None:
            handler(self, data, at)
        if kind == "error":
            error = data.get("error") or {}
            message = error.get("message") or "the server reported an error"
            return f"{message} ({error.get('code') or error.get('type')})"
        return None

    def audio_delta(self, response_id: str, item_id: str, nbytes: int, rate: int, at: float) -> None:
        """Count `nbytes` of decoded PCM16 output audio for a response (the playground decodes it)."""
        turn = self._turn(response_id, at)
        turn.audio_bytes += nbytes
        turn.audio_rate = rate
        if turn.t_first_audio is None:
            turn.t_first_audio = at
        self._note_item(turn, item_id)

    def interrupted(self, item_id: str, heard_ms: int) -> None:
        """Mark an assistant item as cut off after `heard_ms` milliseconds of its audio."""
        line = self._by_item.get(item_id)
        if line is not None:
            line.note = f"interrupted: {heard_ms / 1000:.2f} s heard"
            line.pending = False
        for turn in self.turns.values():
            if item_id in turn.item_ids:
                turn.heard_ms = heard_ms

    def asked(self, turn: Turn) -> str:
        """What the user said or typed that this turn answers (its title)."""
        line = self._by_item.get(turn.user_item)
        if line is None:
            return "(follow-up response)" if turn.trigger == "request" else "…"
        return line.text or ("(speech, transcribing…)" if line.pending else "(speech)")

    def in_flight(self) -> list[str]:
        """Ids of responses created and not yet done."""
        return [rid for rid, turn in self.turns.items() if turn.t_done is None]

    # ---- handlers, one per event type (GA names)

    def _speech_started(self, data: Mapping[str, Any], at: float) -> None:
        self._user_item = str(data.get("item_id") or "")
        self._line("user", self._user_item)

    def _speech_stopped(self, data: Mapping[str, Any], at: float) -> None:
        self._trigger = ("speech", at)

    def _item_added(self, data: Mapping[str, Any], at: float) -> None:
        item = data.get("item") or {}
        role = item.get("role")
        if item.get("type") != "message" or role not in ("user", "assistant"):
            return
        line = self._line(role, str(item.get("id") or ""))
        if role == "user":
            self._user_item = line.item_id
        text = _content_text(item.get("content") or [])
        if text and not line.text:
            line.text = text
            line.pending = role == "assistant"  # a typed user message is complete as it arrives
        if role == "user" and self._trigger is None:
            self._trigger = ("message", at)

    def _transcription_delta(self, data: Mapping[str, Any], at: float) -> None:
        self._line("user", str(data.get("item_id") or "")).text += str(data.get("delta") or "")

    def _transcription_completed(self, data: Mapping[str, Any], at: float) -> None:
        line = self._line("user", str(data.get("item_id") or ""))
        line.text, line.pending = str(data.get("transcript") or "").strip(), False

    def _transcription_failed(self, data: Mapping[str, Any], at: float) -> None:
        line = self._line("user", str(data.get("item_id") or ""))
        line.pending, line.note = False, "transcription failed"

    def _response_created(self, data: Mapping[str, Any], at: float) -> None:
        response_id = str((data.get("response") or {}).get("id") or "")
        self._turn(response_id, at)

    def _text_delta(self, data: Mapping[str, Any], at: float) -> None:
        turn = self._turn(str(data.get("response_id") or ""), at)
        if turn.t_first_text is None:
            turn.t_first_text = at
        item_id = str(data.get("item_id") or "")
        self._note_item(turn, item_id)
        self._line("assistant", item_id).text += str(data.get("delta") or "")

    def _response_done(self, data: Mapping[str, Any], at: float) -> None:
        response = data.get("response") or {}
        turn = self._turn(str(response.get("id") or ""), at)
        turn.t_done, turn.status = at, str(response.get("status") or "completed")
        details = response.get("status_details") or {}
        error = details.get("error") or {}
        turn.reason = str(error.get("message") or error.get("code") or details.get("reason") or "")
        for item_id in turn.item_ids:
            if item_id in self._by_item:
                self._by_item[item_id].pending = False

    def _item_truncated(self, data: Mapping[str, Any], at: float) -> None:
        self.interrupted(str(data.get("item_id") or ""), int(data.get("audio_end_ms") or 0))

    # ---- helpers

    def _line(self, role: Role, item_id: str) -> Line:
        line = self._by_item.get(item_id)
        if line is None:
            line = Line(role=role, item_id=item_id)
            self.lines.append(line)
            if item_id:
                self._by_item[item_id] = line
        return line

    def _turn(self, response_id: str, at: float) -> Turn:
        turn = self.turns.get(response_id)
        if turn is None:
            trigger, t_trigger = self._trigger or ("request", at)
            turn = Turn(response_id=response_id, trigger=trigger, t_trigger=t_trigger, t_created=at,
                        user_item=self._user_item)
            self.turns[response_id] = turn
            self._trigger, self._user_item = None, ""
        return turn

    def _note_item(self, turn: Turn, item_id: str) -> None:
        if item_id and item_id not in turn.item_ids:
            turn.item_ids.append(item_id)
            self._line("assistant", item_id)


_HANDLERS = {
    "input_audio_buffer.speech_started": TranscriptFold._speech_started,
    "input_audio_buffer.speech_stopped": TranscriptFold._speech_stopped,
    "conversation.item.added": TranscriptFold._item_added,
    "conversation.item.input_audio_transcription.delta": TranscriptFold._transcription_delta,
    "conversation.item.input_audio_transcription.completed": TranscriptFold._transcription_completed,
    "conversation.item.input_audio_transcription.failed": TranscriptFold._transcription_failed,
    "response.created": TranscriptFold._response_created,
    "response.output_audio_transcript.delta": TranscriptFold._text_delta,
    "response.output_text.delta": TranscriptFold._text_delta,
    "response.done": TranscriptFold._response_done,
    "conversation.item.truncated": TranscriptFold._item_truncated,
}


def as_dict(event: Any) -> dict[str, Any]:
    """An event as a plain dict, whether it came as an SDK model or a dict."""
    if isinstance(event, Mapping):
        return dict(event)
    if hasattr(event, "model_dump"):
        dumped: dict[str, Any] = event.model_dump(exclude_none=True)
        return dumped
    return {"type": getattr(event, "type", "")}


def _content_text(parts: list[Any]) -> str:
    texts = []
    for part in parts:
        if isinstance(part, Mapping):
            texts.append(str(part.get("text") or part.get("transcript") or ""))
    return "".join(texts).strip()
