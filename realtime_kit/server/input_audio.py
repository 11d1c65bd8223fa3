"""The input audio buffer: appends, commits, server/semantic VAD turns, and input transcription.

`InputAudio` keeps the bytes and the detector; it reports turns (`SpeechStarted`, `SpeechStopped`)
and leaves what they cause (events, items, responses) to `RealtimeProtocol`.

    >>> buffer = InputAudio(Ids(seed=1), make_vad=lambda *settings: None)
    >>> list(buffer.append("AAAAAA==", "audio/pcm", turn=None))    # two silent samples, no turn detection
    []
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
from .usage import transcription_usage
from .wire import ClientError, Ids, Outgoing, b64decode

__all__ = [
    "MAX_APPEND_BYTES", "MAX_BUFFER_BYTES", "MIN_COMMIT_MS", "SEMANTIC_SILENCE_MS", "InputAudio", "SpeechStarted",
    "SpeechStopped", "VadEventLike", "VadLike", "heard", "transcription_events", "vad_settings",
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


class InputAudio:
    """The input buffer and its detector; times are ms of input audio since the session began."""

    def __init__(self, ids: Ids, make_vad: MakeVad, max_buffer_bytes: int = MAX_BUFFER_BYTES) -> None:
        self._ids = ids
        self._max_buffer_bytes = max_buffer_bytes
        self._make_vad = make_vad
        self._buffer = bytearray()
        self._buffer_start_ms = 0.0
        self._input_ms = 0.0
        self._vad: VadLike | None = None
        self._vad_origin_ms = 0.0
        self._vad_key: VadSettings | None = None
        self._speech: tuple[str, float] | None = None   # (item id, audio_start_ms) while the user speaks

    def append(self, encoded: str, kind: str, turn: Mapping[str, Any] | None,
               ) -> Iterator[SpeechStarted | SpeechStopped]:
        """Buffer one ``input_audio_buffer.append``; iterate the result at once for the turns it ends or starts.

        Turns come lazily, one at a time, so the caller's reaction to one (events, new ids) happens
        before the next is taken from the detector, in the order the detector reports them.
        """
        size = len(encoded) * 3 // 4 - encoded[-2:].count("=")
        if size > MAX_APPEND_BYTES:
            raise ClientError("invalid_value", f"Audio of {size} bytes exceeds the 15 MiB limit of one "
                              "input_audio_buffer.append event; send smaller chunks (e.g. 100 ms each).", "audio")
        settings = vad_settings(turn, kind)
        if settings is None and len(self._buffer) + size > self._max_buffer_bytes:
            raise ClientError("input_audio_buffer_too_large", f"The input audio buffer holds {len(self._buffer)} "
                              f"bytes and may hold at most {self._max_buffer_bytes}; commit it "
                              "(input_audio_buffer.commit) or clear it before appending more.", "audio")
        data = b64decode(encoded, "audio")
        self._buffer.extend(data)
        self._slide(kind)
        samples = decode(data, kind)
        self._input_ms += len(samples) * 1000 / rate_of(kind)
        return self._turns(samples, settings, kind)

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
        if self._vad is not None:
            self._vad.reset()
            self._vad_origin_ms = self._input_ms

    def _turns(self, samples: np.ndarray, settings: VadSettings | None,
               kind: str) -> Iterator[SpeechStarted | SpeechStopped]:
        if settings is None:
            self._vad, self._vad_key, self._speech = None, None, None
            return
        if self._vad is None or settings != self._vad_key:
            # A new detector for new settings; its clock starts where the audio fed so far ends.
            self._vad, self._vad_key, self._speech = self._make_vad(*settings), settings, None
            self._vad_origin_ms = self._input_ms - len(samples) * 1000 / settings[3]
        for vad_event in self._detect(samples, settings[3]):
            at_ms = self._vad_origin_ms + vad_event.audio_ms
            if vad_event.kind == "speech_started":
                self._speech = (self._ids.new("item_"), max(at_ms, self._buffer_start_ms))
                yield SpeechStarted(*self._speech)
            elif vad_event.kind == "speech_stopped" and self._speech is not None:
                yield self._speech_stopped(at_ms, kind)

    def _detect(self, samples: np.ndarray, rate: int) -> Iterator[VadEventLike]:
        """The detector's events, fed a second at a time: minutes of audio in one append never hold the GIL long."""
        assert self._vad is not None
        for start in range(0, max(1, len(samples)), rate):
            yield from self._vad.feed(samples[start:start + rate])

    def _speech_stopped(self, end_ms: float, kind: str) -> SpeechStopped:
        """Take the turn's bytes out of the buffer (and everything before them)."""
        assert self._speech is not None
        item_id, start_ms = self._speech
        per_ms, width = bytes_per_ms(kind), sample_width(kind)
        start = max(0, int((start_ms - self._buffer_start_ms) * per_ms) // width * width)
        end = max(start, int((end_ms - self._buffer_start_ms) * per_ms) // width * width)
        turn = SpeechStopped(item_id, end_ms, bytes(self._buffer[start:end]))
        del self._buffer[:end]
        self._buffer_start_ms += ms_of(end, kind)
        self._speech = None
        return turn


# -- transcription ---------------------------------------------------------------------------------


def heard(item: Item, transcribe: Callable[[np.ndarray, int], str]) -> str:
    """What the user said in an audio item (its given transcript, else the engine's), cached."""
    if item.heard is None:
        parts = item.wire.get("content", [])
        given = [p.get("transcript") for p in parts if p.get("type") == "input_audio" and p.get("transcript")]
        if given:
            item.heard = " ".join(given)
        else:
            samples = np.concatenate([decode(bytes(d), item.audio_format) for d in item.audio.values()]) \
                if item.audio else np.zeros(0, dtype=np.int16)
            item.heard = transcribe(samples, rate_of(item.audio_format)).strip()
    return item.heard


def transcription_events(item: Item, model: str, transcribe: Callable[[np.ndarray, int], str],
                         ids: Ids) -> Iterator[Outgoing]:
    """The input transcription of a committed audio item: deltas, then completed (or failed)."""
    try:
        transcript = heard(item, transcribe)
    except Exception as err:  # an engine failure becomes the service's failed event
        yield ids.event({"type": "conversation.item.input_audio_transcription.failed", "item_id": item.id,
                         "content_index": 0, "error": {"type": "transcription_error", "code": "engine_failed",
                                                       "message": f"Transcription failed: {err}"}})
        return
    # whisper-1 sends the whole transcript as one delta; the gpt-4o models send word by word
    pieces = [transcript] if model == "whisper-1" else re.findall(r"\s*\S+", transcript)
    for piece in [p for p in pieces if p]:
        yield ids.event({"type": "conversation.item.input_audio_transcription.delta", "item_id": item.id,
                         "content_index": 0, "delta": piece})
    item.wire["content"][0]["transcript"] = transcript
    yield ids.event({"type": "conversation.item.input_audio_transcription.completed", "item_id": item.id,
                     "content_index": 0, "transcript": transcript,
                     "usage": transcription_usage(model, item.audio_ms(0), transcript)})
