"""A recording's turns, folded from its events.jsonl lines: pure, no files, no clock.

A turn is one response and what led to it: the user's typed text, spoken input (with the
transcript when the session transcribed it) or tool outputs sent since the previous response;
then what the model answered (transcript, text, audio, tool calls) and when.

    >>> lines = [{"t": 0.0, "dir": "out", "event": {"type": "conversation.item.create", "item": {
    ...     "type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi"}]}}},
    ...     {"t": 0.01, "dir": "out", "event": {"type": "response.create"}},
    ...     {"t": 0.05, "dir": "in", "event": {"type": "response.created", "response": {"id": "r1"}}},
    ...     {"t": 0.09, "dir": "in", "event": {"type": "response.output_audio_transcript.delta",
    ...                                         "response_id": "r1", "delta": "Hello"}},
    ...     {"t": 0.30, "dir": "in", "event": {"type": "response.done", "response": {"id": "r1",
    ...                                         "status": "completed", "output": []}}}]
    >>> turn = fold_turns(lines)[0]
    >>> turn.user_text, turn.transcript, turn.status, round(turn.latency or 0, 2)
    ('hi', 'Hello', 'completed', 0.08)
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..audio.core import Audio

__all__ = ["AudioRef", "Turn", "fold_turns"]

AudioRef = Mapping[str, Any]              # {"track": name, "offset": bytes, "bytes": n} of one event
AudioLoader = Callable[[list[AudioRef]], "Audio | None"]


@dataclass
class Turn:
    """One response of a recording and its input; `audio_in` / `audio_out` are rk.Audio."""

    index: int
    response_id: str | None = None
    status: str | None = None
    user_text: str | None = None           # typed text, or the transcript of the spoken input
    input_kind: str = "none"               # "text", "audio", "tool_output" or "none"
    transcript: str = ""                   # the spoken answer's transcript
    text: str = ""                         # the text answer
    tool_calls: list[dict[str, Any]] = field(default_factory=list)    # name, arguments (JSON text), call_id
    tool_outputs: list[dict[str, Any]] = field(default_factory=list)  # call_id, output: sent before this turn
    times: dict[str, float] = field(default_factory=dict)             # seconds since the recording began
    input_item_ids: list[str] = field(default_factory=list)
    in_refs: list[AudioRef] = field(default_factory=list, repr=False)
    out_refs: list[AudioRef] = field(default_factory=list, repr=False)
    loader: AudioLoader | None = field(default=None, repr=False, compare=False)

    @property
    def said(self) -> str:
        """What the model said or wrote: the transcript, else the text."""
        return self.transcript or self.text

    @property
    def latency(self) -> float | None:
        """Seconds from the request (response.create, or the end of speech) to the first output."""
        first = min((self.times[k] for k in ("first_audio", "first_transcript", "first_text", "first_call")
                     if k in self.times), default=None)
        start = self.times.get("requested", self.times.get("created"))
        return None if first is None or start is None else first - start

    @property
    def audio_out(self) -> Audio | None:
        """The answer's audio as recorded (None when it had none)."""
        return self.loader(self.out_refs) if self.loader and self.out_refs else None

    @property
    def audio_in(self) -> Audio | None:
        """The user's audio sent since the previous turn (None for a typed turn)."""
        return self.loader(self.in_refs) if self.loader and self.in_refs else None

    @property
    def duration(self) -> float:
        """Seconds of answer audio, from the track references (no audio is read)."""
        rate = _rate_of(self.out_refs)
        return sum(int(r["bytes"]) for r in self.out_refs) / 2 / rate if rate else 0.0


def fold_turns(lines: Iterable[Mapping[str, Any]], loader: AudioLoader | None = None,
               rates: Mapping[str, int] | None = None) -> list[Turn]:
    """The turns of a recording's lines, in order (one per response.created)."""
    folder = _Folder(loader, rates or {})
    for row in lines:
        folder.feed(row)
    return folder.finish()


class _Folder:
    def __init__(self, loader: AudioLoader | None, rates: Mapping[str, int]) -> None:
        self.loader, self.rates = loader, rates
        self.turns: list[Turn] = []
        self.by_id: dict[str, Turn] = {}
        self.transcripts: dict[str, str] = {}
        self.next = self._fresh()

    def _fresh(self) -> Turn:
        return Turn(index=len(self.turns), loader=self.loader)

    def feed(self, row: Mapping[str, Any]) -> None:
        event, t = row.get("event") or {}, float(row.get("t", 0.0))
        kind = str(event.get("type", ""))
        handler = (_OUT if row.get("dir") == "out" else _IN if row.get("dir") == "in" else {}).get(kind)
        if handler is not None:
            handler(self, event, t, row)

    def finish(self) -> list[Turn]:
        for turn in self.turns:
            if turn.user_text is None and turn.input_item_ids:
                heard = [self.transcripts[i] for i in turn.input_item_ids if self.transcripts.get(i)]
                turn.user_text = " ".join(heard) if heard else None
        return self.turns

    def _ref(self, audio: AudioRef) -> AudioRef:
        return {**audio, "rate": self.rates.get(str(audio.get("track")), 24000)}

    def _turn(self, event: Mapping[str, Any]) -> Turn | None:
        return self.by_id.get(str(event.get("response_id") or ""))

    # client events
    def _item_create(self, event: Mapping[str, Any], t: float, row: Mapping[str, Any]) -> None:
        item = event.get("item") or {}
        if item.get("type") == "function_call_output":
            self.next.tool_outputs.append({"call_id": item.get("call_id"), "output": item.get("output")})
            self.next.input_kind = "tool_output"
        elif item.get("type") == "message" and item.get("role") == "user":
            texts = [p.get("text") or "" for p in item.get("content") or [] if p.get("type") == "input_text"]
            if texts:
                self.next.user_text = " ".join(filter(None, [self.next.user_text, *texts]))
                self.next.input_kind = "text"

    def _append(self, event: Mapping[str, Any], t: float, row: Mapping[str, Any]) -> None:
        if row.get("audio"):
            self.next.in_refs.append(self._ref(row["audio"]))
            self.next.input_kind = "audio" if self.next.input_kind == "none" else self.next.input_kind

    def _response_create(self, event: Mapping[str, Any], t: float, row: Mapping[str, Any]) -> None:
        self.next.times.setdefault("requested", t)

    # server events
    def _speech_stopped(self, event: Mapping[str, Any], t: float, row: Mapping[str, Any]) -> None:
        self.next.times.setdefault("requested", t)

    def _committed(self, event: Mapping[str, Any], t: float, row: Mapping[str, Any]) -> None:
        self.next.input_item_ids.append(str(event.get("item_id")))
        self.next.input_kind = "audio"

    def _transcription(self, event: Mapping[str, Any], t: float, row: Mapping[str, Any]) -> None:
        self.transcripts[str(event.get("item_id"))] = str(event.get("transcript") or "")

    def _created(self, event: Mapping[str, Any], t: float, row: Mapping[str, Any]) -> None:
        turn, self.next = self.next, None  # type: ignore[assignment]
        response = event.get("response") or {}
        turn.response_id, turn.status = response.get("id"), response.get("status")
        turn.times["created"] = t
        self.turns.append(turn)
        if turn.response_id:
            self.by_id[str(turn.response_id)] = turn
        self.next = self._fresh()

    def _audio_delta(self, event: Mapping[str, Any], t: float, row: Mapping[str, Any]) -> None:
        turn = self._turn(event)
        if turn is not None and row.get("audio"):
            turn.out_refs.append(self._ref(row["audio"]))
            turn.times.setdefault("first_audio", t)

    def _transcript_delta(self, event: Mapping[str, Any], t: float, row: Mapping[str, Any]) -> None:
        turn = self._turn(event)
        if turn is not None:
            turn.transcript += str(event.get("delta") or "")
            turn.times.setdefault("first_transcript", t)

    def _transcript_done(self, event: Mapping[str, Any], t: float, row: Mapping[str, Any]) -> None:
        turn = self._turn(event)
        if turn is not None and event.get("transcript") is not None:
            turn.transcript = str(event["transcript"])

    def _text_delta(self, event: Mapping[str, Any], t: float, row: Mapping[str, Any]) -> None:
        turn = self._turn(event)
        if turn is not None:
            turn.text += str(event.get("delta") or "")
            turn.times.setdefault("first_text", t)

    def _text_done(self, event: Mapping[str, Any], t: float, row: Mapping[str, Any]) -> None:
        turn = self._turn(event)
        if turn is not None and event.get("text") is not None:
            turn.text = str(event["text"])

    def _call_delta(self, event: Mapping[str, Any], t: float, row: Mapping[str, Any]) -> None:
        turn = self._turn(event)
        if turn is not None:
            turn.times.setdefault("first_call", t)

    def _done(self, event: Mapping[str, Any], t: float, row: Mapping[str, Any]) -> None:
        response = event.get("response") or {}
        turn = self.by_id.get(str(response.get("id") or ""))
        if turn is None:
            return
        turn.status = response.get("status") or turn.status
        turn.times["done"] = t
        for item in response.get("output") or []:
            if item.get("type") == "function_call":
                arguments = item.get("arguments")
                turn.tool_calls.append({"name": item.get("name"), "call_id": item.get("call_id"),
                                        "arguments": arguments if isinstance(arguments, str)
                                        else json.dumps(arguments)})


Handler = Callable[[_Folder, Mapping[str, Any], float, Mapping[str, Any]], None]

_OUT: dict[str, Handler] = {
    "conversation.item.create": _Folder._item_create,
    "input_audio_buffer.append": _Folder._append,
    "response.create": _Folder._response_create,
}
_IN: dict[str, Handler] = {
    "input_audio_buffer.speech_stopped": _Folder._speech_stopped,
    "input_audio_buffer.committed": _Folder._committed,
    "conversation.item.input_audio_transcription.completed": _Folder._transcription,
    "response.created": _Folder._created,
    "response.output_audio.delta": _Folder._audio_delta,
    "response.output_audio_transcript.delta": _Folder._transcript_delta,
    "response.output_audio_transcript.done": _Folder._transcript_done,
    "response.output_text.delta": _Folder._text_delta,
    "response.output_text.done": _Folder._text_done,
    "response.function_call_arguments.delta": _Folder._call_delta,
    "response.done": _Folder._done,
}


def _rate_of(refs: list[AudioRef]) -> int:
    """The sample rate of a turn's audio references (24 kHz unless the track says otherwise)."""
    return int(refs[0].get("rate", 24000)) if refs else 0
