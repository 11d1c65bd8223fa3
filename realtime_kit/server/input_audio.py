"""The input audio buffer: appends, commits, server/semantic VAD turns, and input transcription.

`InputAudio` keeps the bytes and which detector is in use; it makes the detection jobs, reads their
answers as turns (`SpeechStarted`, `SpeechStopped`) and leaves what they cause (events, items,
responses, listening) to `RealtimeProtocol`.

    >>> buffer = InputAudio(Ids(seed=1))
    >>> buffer.append("AAAAAA==", "audio/pcm", settings=None) is None    # two silent samples, no turn detection
    True
    >>> try:
    ...     buffer.commit("audio/pcm")
    ... except ClientError as err:
    ...     print(err.code)
    input_audio_buffer_commit_empty
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from .audio_format import bytes_per_ms, decode, ms_of, rate_of, sample_width
from .items import Item
from .session_config import format_kind
from .usage import transcription_usage
from .wire import ClientError, Ids, Outgoing, b64decode, dig
from .work import DetectSpeech

__all__ = [
    "MAX_APPEND_BYTES", "MAX_BUFFER_BYTES", "MIN_COMMIT_MS", "SEMANTIC_SILENCE_MS", "InputAudio", "SpeechStarted",
    "SpeechStopped", "VadEventLike", "VadLike", "beside_response", "given_transcript", "item_samples",
    "transcription_events", "vad_settings",
]

MAX_APPEND_BYTES = 15 * 1024 * 1024
# What the buffer keeps: without turn detection more is refused; with it, the oldest audio slides out.
MAX_BUFFER_BYTES = 15 * 1024 * 1024
MIN_COMMIT_MS = 100
SEMANTIC_SILENCE_MS = {"low": 800, "medium": 500, "high": 250, "auto": 500}
SEMANTIC_THRESHOLD, SEMANTIC_PREFIX_MS = 0.5, 300


class VadEventLike(Protocol):
    """What `VadLike.feed` returns: "speech_started"/"speech_stopped" at ms since the last reset."""

    @property
    def kind(self) -> str: ...
    @property
    def audio_ms(self) -> int: ...


class VadLike(Protocol):
    """A voice activity detector fed int16 samples (`realtime_kit.server.vad.SileroVad`)."""

    def feed(self, samples: np.ndarray) -> Sequence[VadEventLike]: ...
    def reset(self) -> None: ...


MakeVad = Callable[[float, int, int, int], VadLike]    # (threshold, prefix_ms, silence_ms, rate)
VadSettings = tuple[float, int, int, int]


@dataclass(frozen=True)
class SpeechStarted:
    """The detector heard speech start; ``item_id`` is the item the turn will become."""

    item_id: str
    start_ms: float


@dataclass(frozen=True)
class SpeechStopped:
    """The detector heard speech end; ``audio`` is the turn's bytes, already taken from the buffer."""

    item_id: str
    end_ms: float
    audio: bytes


def vad_settings(turn: Mapping[str, Any] | None, kind: str) -> VadSettings | None:
    """The detector's (threshold, prefix ms, silence ms, rate) for a turn_detection config; None when off.

        >>> vad_settings({"type": "semantic_vad", "eagerness": "high"}, "audio/pcm")
        (0.5, 300, 250, 24000)
    """
    if not turn:
        return None
    if turn.get("type") == "semantic_vad":
        silence = SEMANTIC_SILENCE_MS.get(turn.get("eagerness") or "auto", 500)
        return (SEMANTIC_THRESHOLD, SEMANTIC_PREFIX_MS, silence, rate_of(kind))
    return (float(turn.get("threshold", 0.5)), int(turn.get("prefix_padding_ms", 300)),
            int(turn.get("silence_duration_ms", 200)), rate_of(kind))


@dataclass(frozen=True)
class InputSettings:
    """What every append reads from the session (its format, turn detection, noise reduction, detector), taken
    once per session change: 50 appends a second per microphone would otherwise dig them out each time."""

    kind: str
    turn_detection: Mapping[str, Any]
    noise_reduction: Any
    detector: VadSettings | None

    @classmethod
    def of(cls, session: Mapping[str, Any]) -> InputSettings:
        kind = format_kind(session, "input")
        turn = dig(session, "audio", "input", "turn_detection") or {}
        return cls(kind, turn, dig(session, "audio", "input", "noise_reduction"), vad_settings(turn, kind))


class InputAudio:
    """The input buffer and its detector; times are ms of input audio since the session began."""

    def __init__(self, ids: Ids, max_buffer_bytes: int = MAX_BUFFER_BYTES) -> None:
        self._ids = ids
        self._max_buffer_bytes = max_buffer_bytes
        self._buffer = bytearray()
        self._buffer_start_ms = 0.0
        self._input_ms = 0.0
        self._epoch = 0
        self._vad_origin_ms = 0.0
        self._vad_key: tuple[Any, ...] | None = None    # (epoch, *settings) of the detector in use
        self._speech: tuple[str, float] | None = None   # (item id, audio_start_ms) while the user speaks

    def append(self, encoded: str, kind: str, settings: VadSettings | None) -> DetectSpeech | None:
        """Buffer one ``input_audio_buffer.append``; the detection job for its audio (None with no turn detection).

        The detector's answer comes back through `detected`, in the order the jobs were made.
        """
        size = len(encoded) * 3 // 4 - encoded[-2:].count("=")
        if size > MAX_APPEND_BYTES:
            raise ClientError("invalid_value", f"Audio of {size} bytes exceeds the 15 MiB limit of one "
                              "input_audio_buffer.append event; send smaller chunks (e.g. 100 ms each).", "audio")
        if settings is None and len(self._buffer) + size > self._max_buffer_bytes:
            raise ClientError("input_audio_buffer_too_large", f"The input audio buffer holds {len(self._buffer)} "
                              f"bytes and may hold at most {self._max_buffer_bytes}; commit it "
                              "(input_audio_buffer.commit) or clear it before appending more.", "audio")
        data = b64decode(encoded, "audio")
        self._buffer.extend(data)
        self._slide(kind)
        samples = decode(data, kind)
        fed_from_ms = self._input_ms
        self._input_ms += len(samples) * 1000 / rate_of(kind)
        if settings is None:
            self._vad_key, self._speech = None, None
            return None
        if self._vad_key is None or self._vad_key[1:] != settings:
            # A new detector for new settings; its clock starts where this audio starts.
            self._epoch += 1
            self._vad_key, self._speech, self._vad_origin_ms = (self._epoch, *settings), None, fed_from_ms
        return DetectSpeech(samples, self._vad_key, self._vad_origin_ms, self._input_ms)

    def detected(self, job: DetectSpeech, found: Sequence[tuple[str, int]], kind: str,
                 ) -> Iterator[SpeechStarted | SpeechStopped]:
        """The turns a detection job found; nothing if the buffer was cleared or the settings changed since.

        Turns come lazily, one at a time, so the caller's reaction to one (events, new ids) happens
        before the next is taken, in the order the detector reports them.
        """
        if job.detector != self._vad_key:
            return
        for event_kind, audio_ms in found:
            at_ms = job.origin_ms + audio_ms
            if event_kind == "speech_started":
                self._speech = (self._ids.new("item_"), max(at_ms, self._buffer_start_ms))
                yield SpeechStarted(*self._speech)
            elif event_kind == "speech_stopped" and self._speech is not None:
                yield self._speech_stopped(at_ms, kind, silence_ms=job.detector[3])

    @property
    def speaking_item(self) -> str | None:
        """The id of the turn in progress (speech started, not yet stopped)."""
        return self._speech[0] if self._speech else None

    def speech_so_far(self, kind: str, until_ms: float = float("inf"), skip: int = 0) -> bytes:
        """The audio of the turn in progress, from its start to ``until_ms`` (the end of what the detector has
        judged) or the end of the buffer (b"" when none), less its first ``skip`` bytes (heard already): a client
        sending faster than real time must not have the live decoder hear past where the turn may yet stop."""
        start, end = self._speech_span(kind, until_ms)
        return bytes(self._buffer[start + skip:end])

    def speech_bytes(self, kind: str, until_ms: float = float("inf")) -> int:
        """How many bytes `speech_so_far` holds, without copying them (asked on every append of a turn)."""
        start, end = self._speech_span(kind, until_ms)
        return max(0, end - start)

    def _speech_span(self, kind: str, until_ms: float) -> tuple[int, int]:
        if self._speech is None:
            return 0, 0
        width = sample_width(kind)
        start = int((self._speech[1] - self._buffer_start_ms) * bytes_per_ms(kind)) // width * width
        end = len(self._buffer) if until_ms == float("inf") else \
            int((until_ms - self._buffer_start_ms) * bytes_per_ms(kind)) // width * width
        return min(max(0, start), len(self._buffer)), min(max(0, end), len(self._buffer))

    @property
    def buffered_bytes(self) -> int:
        """Bytes in the buffer now."""
        return len(self._buffer)

    def _slide(self, kind: str) -> None:
        """With turn detection on, drop the oldest audio past the cap (a muted microphone streams for hours)."""
        excess = len(self._buffer) - self._max_buffer_bytes
        if excess <= 0:
            return
        width = sample_width(kind)
        excess = -(-excess // width) * width
        del self._buffer[:excess]
        self._buffer_start_ms += ms_of(excess, kind)

    def commit(self, kind: str) -> tuple[bytes, str]:
        """``input_audio_buffer.commit``: the buffered bytes and the id of the item they become; empties it."""
        buffered_ms = ms_of(len(self._buffer), kind)
        if buffered_ms < MIN_COMMIT_MS:
            raise ClientError("input_audio_buffer_commit_empty", "Error committing input audio buffer: buffer too "
                              f"small. Expected at least {MIN_COMMIT_MS}ms of audio, but buffer only has "
                              f"{buffered_ms:.2f}ms of audio.", None)
        item_id = self._speech[0] if self._speech else self._ids.new("item_")
        data = bytes(self._buffer)
        self.clear()
        return data, item_id

    def clear(self) -> None:
        """Empty the buffer and restart the detector where the input audio now ends."""
        self._buffer.clear()
        self._buffer_start_ms = self._input_ms
        self._speech = None
        if self._vad_key is not None:  # a fresh detector from here: results of the old one are dropped
            self._epoch += 1
            self._vad_key, self._vad_origin_ms = (self._epoch, *self._vad_key[1:]), self._input_ms

    def _speech_stopped(self, end_ms: float, kind: str, silence_ms: float = 0.0) -> SpeechStopped:
        """Take the turn's bytes out of the buffer (and everything before them): from its start through the
        silence that ended it (the service's committed audio includes it; a decoder hears the last word whole)."""
        assert self._speech is not None
        item_id, start_ms = self._speech
        per_ms, width = bytes_per_ms(kind), sample_width(kind)
        start = max(0, int((start_ms - self._buffer_start_ms) * per_ms) // width * width)
        end = max(start, int((end_ms + silence_ms - self._buffer_start_ms) * per_ms) // width * width)
        end = min(end, len(self._buffer) // width * width)
        turn = SpeechStopped(item_id, end_ms, bytes(self._buffer[start:end]))
        del self._buffer[:end]
        self._buffer_start_ms += ms_of(end, kind)
        self._speech = None
        return turn


# -- transcription ---------------------------------------------------------------------------------


def given_transcript(item: Item) -> str | None:
    """The transcript the client sent with an item's audio, if any."""
    given = [p.get("transcript") for p in item.wire.get("content", []) if p.get("type") == "input_audio"
             and p.get("transcript")]
    return " ".join(given) if given else None


def item_samples(item: Item) -> np.ndarray:
    """All the input audio of an item, decoded to int16."""
    if not item.audio:
        return np.zeros(0, dtype=np.int16)
    return np.concatenate([decode(bytes(d), item.audio_format) for d in item.audio.values()])


def transcription_events(item: Item, model: str, ids: Ids) -> Iterator[Outgoing | None]:
    """The input transcription of a committed audio item: deltas, then completed (or failed).

    Yields None while the words are still being worked out (``item.hearing`` not done).
    """
    while item.heard is None and item.hearing is not None and not item.hearing.done:
        yield None
    if item.heard is None:
        error = item.hearing.error if item.hearing is not None else None
        yield ids.event({"type": "conversation.item.input_audio_transcription.failed", "item_id": item.id,
                         "content_index": 0, "error": {"type": "transcription_error", "code": "engine_failed",
                                                       "message": f"Transcription failed: {error}"}})
        return
    transcript = item.heard
    # whisper-1 sends the whole transcript as one delta; the gpt-4o models send word by word
    pieces = [transcript] if model == "whisper-1" else re.findall(r"\s*\S+", transcript)
    for piece in [p for p in pieces if p]:
        yield ids.event({"type": "conversation.item.input_audio_transcription.delta", "item_id": item.id,
                         "content_index": 0, "delta": piece, "obfuscation": ids.obfuscation(piece)})
    item.wire["content"][0]["transcript"] = transcript
    yield ids.event({"type": "conversation.item.input_audio_transcription.completed", "item_id": item.id,
                     "content_index": 0, "transcript": transcript,
                     "usage": transcription_usage(model, item.audio_ms(0), transcript)})


def beside_response(response: Iterator[Outgoing | None], transcription: Iterator[Outgoing | None],
                    ) -> Iterator[Outgoing | None]:
    """A response's events with the input transcription of its turn woven in, in the recorded order.

    Recorded (OpenAI and Azure): ``response.created``, then the transcription's deltas (or its
    ``failed``); ``completed`` after the reply's first audio delta, or before the reply's first
    output when that is not audio (a function call, a text part).
    """
    yield next(response)                       # response.created
    held: Outgoing | None = None
    for out in transcription:
        if out is not None and out.event["type"].endswith(".completed"):
            held = out
        else:
            yield out
    for out in response:
        if out is None:
            yield out
            continue
        if held is not None and _not_audio(out.event):
            yield held
            held = None
        yield out
        if held is not None and out.event["type"] == "response.output_audio.delta":
            yield held
            held = None
    if held is not None:
        yield held


def _not_audio(event: dict[str, Any]) -> bool:
    """The reply starts with something other than audio: a function call, or a text part."""
    if event["type"] == "response.output_item.added":
        return bool(event["item"].get("type") != "message")
    return event["type"] == "response.content_part.added" and event["part"].get("type") == "text"
