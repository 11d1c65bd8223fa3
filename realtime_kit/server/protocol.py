"""The GA Realtime protocol as a pure state machine: client frames in, server event dicts out.

No asyncio, no sockets, no threads: the websockets shell (`app.py`) feeds every client frame to
`receive` and pulls what to send with `next_event`, pacing audio by `Outgoing.audio_ms`.
A response is a lazily advanced generator, so a `response.cancel` (or speech that interrupts)
received mid-response cuts it short, and only audio actually pulled counts as the item's audio.

    >>> proto = RealtimeProtocol(engines=Engines.silent(), id_prefix_seed=1)
    >>> proto.start()
    >>> proto.next_event().event["type"]
    'session.created'
    >>> proto.receive('{"type": "response.cancel", "event_id": "evt_1"}')
    >>> error = proto.next_event().event["error"]
    >>> error["code"], error["event_id"]
    ('response_cancel_not_active', 'evt_1')

The instance is not thread-safe: make one call at a time (the shell serialises them).

How the local server approximates the real service (the README quotes this list):

- Every client event is validated strictly (`realtime_kit.spec`); a bad one gets an `error` event
  with the real codes and `param`, and the session carries on.
- What the assistant says comes from `responder.reply` (documented rules); it calls a session
  function tool by `responder.choose_tool`'s rule, with arguments that satisfy the tool's schema.
- Audio: the transcript spoken sentence by sentence through `Engines.synthesize`; deltas of 100
  ms, 150 ms, then at most 250 ms (4800, 7200, 12000 bytes of PCM16 at 24 kHz; the same
  durations in G.711 at 8 kHz), the transcript running about `TEXT_LEAD_MS` ahead of the audio.
- Tokens: text is ~0.75 words per token; audio is `AUDIO_TOKENS_PER_SECOND` tokens per second,
  input and output. `max_output_tokens` cuts the spoken text at that many tokens' worth of words
  (status "incomplete", reason "max_output_tokens"). Cached tokens are always 0.
- `semantic_vad` is server VAD with threshold 0.5, 300 ms padding and a silence that depends on
  eagerness (`SEMANTIC_SILENCE_MS`). `idle_timeout_ms` is kept in the session but never fires.
- `output_audio_buffer.clear` is WebRTC/SIP only (SDK docstring): over this WebSocket server it
  gets an `error` event that says to use `response.cancel` and `conversation.item.truncate`.
- A tool is only called in answer to a user message, never right after a function_call_output
  (so a client that answers every call and asks again does not loop).
- `rate_limits.updated` follows each `response.done` (requests and tokens, deterministic).
- Truncating an item of a response still in flight cancels that response first.
- Voices: the ten built-in names (read from the SDK); custom voice objects are refused. Once the
  assistant has produced audio the session voice is locked (`cannot_update_voice`).
- The session lasts `max_session_s` (`expires_at` in the session); after it, the next call queues
  an `error` with code `session_expired` and `closed` turns true: the shell then closes.
- Out-of-band responses (`conversation: "none"`) may start while another is in flight; they are
  queued and stream after it.
"""

from __future__ import annotations

import base64
import binascii
import copy
import json
import math
import random
import re
import string
import time
import typing
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from .. import g711
from ..errors import InvalidState
from ..spec import SpecViolation, validate_client_event
from . import responder

__all__ = [
    "AUDIO_TOKENS_PER_SECOND", "DEFAULT_INSTRUCTIONS", "GA_VOICES", "MAX_APPEND_BYTES", "MIN_COMMIT_MS",
    "SEMANTIC_SILENCE_MS", "TEXT_LEAD_MS", "Engines", "Outgoing", "RealtimeProtocol", "VadLike",
    "audio_tokens", "default_session", "merge_session", "text_tokens", "transcript_pieces",
]

MAX_APPEND_BYTES = 15 * 1024 * 1024
MIN_COMMIT_MS = 100
FIRST_CHUNKS_MS = (100, 150)          # the seed's first deltas: 4800 then 7200 bytes of PCM16
CHUNK_MS = 250                        # then at most 12000 bytes of PCM16 (250 ms at 24 kHz)
TEXT_LEAD_MS = 400                    # how far the transcript runs ahead of the audio
FIRST_TEXT_PIECES = 3                 # transcript pieces sent before any audio is synthesised
WORDS_PER_TOKEN = 0.75
AUDIO_TOKENS_PER_SECOND = 10
SEMANTIC_SILENCE_MS = {"low": 800, "medium": 500, "high": 250, "auto": 500}
SEMANTIC_THRESHOLD, SEMANTIC_PREFIX_MS = 0.5, 300
SPEED_RANGE = (0.25, 1.5)
MAX_OUTPUT_TOKENS_RANGE = (1, 4096)
RATE_LIMIT_REQUESTS, RATE_LIMIT_TOKENS = 5000, 400_000
PCM_RATE, G711_RATE = 24000, 8000
DEFAULT_INSTRUCTIONS = (
    "You are the realtime-kit local assistant, an offline stand-in for gpt-realtime. You follow simple "
    "documented rules: you say what you heard and describe how this session is set up when asked."
)
_ID_ALPHABET = string.ascii_letters + string.digits


def _ga_voices() -> tuple[str, ...]:
    """The built-in voice names, read from the SDK's Voice literal (the spec)."""
    from openai.types.realtime import realtime_audio_config_output

    for member in typing.get_args(realtime_audio_config_output.Voice):
        if typing.get_origin(member) is typing.Literal:
            return tuple(typing.get_args(member))
    raise RuntimeError("openai.types.realtime no longer lists the built-in voices; update realtime_kit")


GA_VOICES = _ga_voices()


# -- injected engines ------------------------------------------------------------------------------


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


@dataclass(frozen=True)
class Engines:
    """Speech synthesis, VAD and transcription, injected so pure tests can pass fakes.

        engines = Engines.default()          # espeak-ng, Silero, pocketsphinx (loaded on first use)
        engines = Engines.silent()           # silence of plausible length, no VAD events, no words
    """

    synthesize: Callable[[str, str, int, float], np.ndarray]   # (text, voice, rate, speed) -> int16
    make_vad: Callable[[float, int, int, int], VadLike]         # (threshold, prefix_ms, silence_ms, rate)
    transcribe: Callable[[np.ndarray, int], str]                # (int16 samples, rate) -> words

    @classmethod
    def default(cls) -> Engines:
        """The real engines; each is imported on its first call, so building this is cheap."""
        return cls(synthesize=_default_synthesize, make_vad=_default_vad, transcribe=_default_transcribe)

    def warm_up(self) -> None:
        """Load the speech engine now (espeak-ng takes ~0.7 s on its first call), e.g. at server start."""
        self.synthesize("Hello.", "alloy", PCM_RATE, 1.0)

    @classmethod
    def silent(cls) -> Engines:
        """Engines that need nothing installed: 60 ms of silence per word, a deaf VAD, no words."""
        return cls(synthesize=_silent_synthesize, make_vad=lambda *_: _DeafVad(), transcribe=lambda *_: "")


def _default_synthesize(text: str, voice: str, rate: int, speed: float) -> np.ndarray:
    from .voice import synthesize

    return synthesize(text, voice=voice, rate=rate, speed=speed)


def _default_vad(threshold: float, prefix_ms: int, silence_ms: int, rate: int) -> VadLike:
    from .vad import SileroVad

    return typing.cast(VadLike, SileroVad(threshold=threshold, prefix_padding_ms=prefix_ms,
                                          silence_duration_ms=silence_ms, rate=rate))


def _default_transcribe(samples: np.ndarray, rate: int) -> str:
    from .stt import transcribe

    return transcribe(samples, rate)


def _silent_synthesize(text: str, voice: str, rate: int, speed: float) -> np.ndarray:
    return np.zeros(int(rate * 0.06 * max(1, len(text.split())) / speed), dtype=np.int16)


class _DeafVad:
    def feed(self, samples: np.ndarray) -> list[VadEventLike]:
        return []

    def reset(self) -> None:
        pass


# -- what comes out --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Outgoing:
    """One server event to send, with the playback time it carries (for the shell's pacing)."""

    event: dict[str, Any]            # JSON-ready, valid against RealtimeServerEvent
    audio_ms: float = 0.0
    response_id: str | None = None


# -- session ---------------------------------------------------------------------------------------


def default_session(model: str, session_id: str, expires_at: int) -> dict[str, Any]:
    """The effective session of a new connection, with the real service's defaults filled in."""
    return {
        "type": "realtime",
        "object": "realtime.session",
        "id": session_id,
        "model": model,
        "output_modalities": ["audio"],
        "instructions": DEFAULT_INSTRUCTIONS,
        "tools": [],
        "tool_choice": "auto",
        "max_output_tokens": "inf",
        "tracing": None,
        "truncation": "auto",
        "prompt": None,
        "expires_at": expires_at,
        "include": None,
        "audio": {
            "input": {
                "format": {"type": "audio/pcm", "rate": PCM_RATE},
                "transcription": None,
                "noise_reduction": None,
                "turn_detection": _turn_detection_defaults("server_vad"),
            },
            "output": {"format": {"type": "audio/pcm", "rate": PCM_RATE}, "voice": "alloy", "speed": 1.0},
        },
    }


def merge_session(current: Mapping[str, Any], update: Mapping[str, Any]) -> dict[str, Any]:
    """``current`` with a session.update's ``session`` deep-merged in, defaults filled.

    Top-level keys replace; ``audio.input``/``audio.output`` merge key by key; a format or a
    turn detection of a new type is replaced whole and filled with that type's defaults.

        >>> s = merge_session(default_session("m", "sess_1", 0), {"type": "realtime",
        ...     "audio": {"input": {"turn_detection": {"type": "semantic_vad", "eagerness": "high"}}}})
        >>> s["audio"]["input"]["turn_detection"]["create_response"]
        True
    """
    merged = copy.deepcopy(dict(current))
    for key, value in update.items():
        if key == "audio" and isinstance(value, Mapping):
            _merge_audio(merged.setdefault("audio", {}), value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def _merge_audio(audio: dict[str, Any], update: Mapping[str, Any]) -> None:
    for direction in ("input", "output"):
        changes = update.get(direction)
        if not isinstance(changes, Mapping):
            continue
        target = audio.setdefault(direction, {})
        for key, value in changes.items():
            if key == "format":
                target[key] = _format_filled(value)
            elif key == "turn_detection":
                target[key] = _turn_detection_merged(target.get(key), value)
            else:
                target[key] = copy.deepcopy(value)


def _format_filled(fmt: Mapping[str, Any] | None) -> dict[str, Any]:
    kind = (fmt or {}).get("type") or "audio/pcm"
    return {"type": kind, "rate": PCM_RATE} if kind == "audio/pcm" else {"type": kind}


def _turn_detection_defaults(kind: str) -> dict[str, Any]:
    if kind == "semantic_vad":
        return {"type": kind, "eagerness": "auto", "create_response": True, "interrupt_response": True}
    return {"type": kind, "threshold": 0.5, "prefix_padding_ms": 300, "silence_duration_ms": 200,
            "idle_timeout_ms": None, "create_response": True, "interrupt_response": True}


def _turn_detection_merged(current: Mapping[str, Any] | None, update: Mapping[str, Any] | None) -> Any:
    if update is None:
        return None
    base = dict(current) if current and current.get("type") == update.get("type") \
        else _turn_detection_defaults(str(update.get("type")))
    return {**base, **copy.deepcopy(dict(update))}


# -- audio formats ---------------------------------------------------------------------------------


def _rate_of(kind: str) -> int:
    return PCM_RATE if kind == "audio/pcm" else G711_RATE


def _bytes_per_ms(kind: str) -> float:
    return _rate_of(kind) * (2 if kind == "audio/pcm" else 1) / 1000


def _ms_of(nbytes: int, kind: str) -> float:
    return nbytes / _bytes_per_ms(kind)


def _decode(data: bytes, kind: str) -> np.ndarray:
    if kind == "audio/pcmu":
        return g711.decode_ulaw(data)
    if kind == "audio/pcma":
        return g711.decode_alaw(data)
    return np.frombuffer(data[: len(data) // 2 * 2], dtype="<i2").astype(np.int16)


def _encode(samples: np.ndarray, kind: str) -> bytes:
    pcm = np.asarray(samples, dtype=np.int16)
    if kind == "audio/pcmu":
        return g711.encode_ulaw(pcm)
    if kind == "audio/pcma":
        return g711.encode_alaw(pcm)
    return pcm.astype("<i2").tobytes()


def _chunk_ms(index: int) -> int:
    return FIRST_CHUNKS_MS[index] if index < len(FIRST_CHUNKS_MS) else CHUNK_MS


# -- text helpers ----------------------------------------------------------------------------------

_PIECE = re.compile(r"\s*(?:\w+(?:['’]\w+)*|[^\w\s])|\s+$")


def transcript_pieces(text: str) -> list[str]:
    """Transcript deltas: words with their leading space, punctuation on its own.

        >>> transcript_pieces("Sure, I'm here.")
        ['Sure', ',', " I'm", ' here', '.']
    """
    return _PIECE.findall(text)


def _sentences(pieces: list[str]) -> list[list[str]]:
    """Group pieces into sentences (end punctuation followed by a space or the end)."""
    groups: list[list[str]] = [[]]
    for index, piece in enumerate(pieces):
        groups[-1].append(piece)
        following = pieces[index + 1] if index + 1 < len(pieces) else " "
        if piece.strip() in (".", "!", "?") and following[:1].isspace():
            groups.append([])
    return [group for group in groups if group]


def text_tokens(text: str | None) -> int:
    """Approximate text tokens: ~0.75 words per token."""
    words = len((text or "").split())
    return math.ceil(words / WORDS_PER_TOKEN) if words else 0


def audio_tokens(ms: float) -> int:
    return math.ceil(ms / 1000 * AUDIO_TOKENS_PER_SECOND)


def _cut_to_tokens(text: str, max_tokens: Any) -> tuple[str, bool]:
    if not isinstance(max_tokens, int):
        return text, False
    words = text.split()
    keep = max(1, math.floor(max_tokens * WORDS_PER_TOKEN))
    return (" ".join(words[:keep]), True) if len(words) > keep else (text, False)


# -- state -----------------------------------------------------------------------------------------


class _Ids:
    """Server ids like the real ones (``event_`` + 21 letters/digits); seeded for reproducible tests."""

    def __init__(self, seed: int | None) -> None:
        self._rng = random.Random(seed)

    def new(self, prefix: str, length: int = 21) -> str:
        return prefix + "".join(self._rng.choice(_ID_ALPHABET) for _ in range(length))


@dataclass(eq=False)
class _Item:
    """A conversation item: its wire form (no audio bytes) plus the audio of each content part."""

    wire: dict[str, Any]
    audio: dict[int, bytearray] = field(default_factory=dict)
    audio_format: str = "audio/pcm"
    heard: str | None = None               # transcription of its input audio, once computed
    response_id: str | None = None         # set while the response that writes it is in flight

    @property
    def id(self) -> str:
        return str(self.wire["id"])

    def audio_ms(self, index: int) -> float:
        return _ms_of(len(self.audio.get(index, b"")), self.audio_format)


@dataclass(eq=False)
class _Response:
    """One response: its effective settings, its output so far, and how it ended."""

    id: str
    settings: dict[str, Any]
    in_conversation: bool
    input_items: list[_Item] | None
    metadata: Any = None
    output: list[_Item] = field(default_factory=list)
    cancel_reason: str | None = None
    incomplete: bool = False
    failure: str | None = None
    done: bool = False
    usage_in: tuple[int, int] = (0, 0)     # (text tokens, audio tokens) of the context
    events: Iterator[Outgoing] | None = None


class _ClientError(Exception):
    """A client event the real service would refuse for a state reason (not a schema reason)."""

    def __init__(self, code: str, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.code, self.message, self.param = code, message, param


# -- the protocol ----------------------------------------------------------------------------------


class RealtimeProtocol:
    """One GA Realtime session: `receive` client frames, pull server events with `next_event`.

        proto = RealtimeProtocol(model="gpt-realtime", engines=Engines.default())
        proto.start()                       # queues session.created
        proto.receive(frame)                # any client text frame
        while (out := proto.next_event()) is not None:
            send(out.event)                 # pace by out.audio_ms
    """

    def __init__(
        self,
        *,
        model: str = "gpt-realtime",
        engines: Engines | None = None,
        clock: Callable[[], float] = time.time,
        max_session_s: float = 3600,
        id_prefix_seed: int | None = None,
    ) -> None:
        self._engines = engines or Engines.default()
        self._clock = clock
        self._max_session_s = max_session_s
        self._ids = _Ids(id_prefix_seed)
        self._model = model
        self._session: dict[str, Any] = {}
        self._deadline = math.inf
        self._closed = False
        self._outbox: deque[Outgoing] = deque()
        self._jobs: deque[Iterator[Outgoing]] = deque()
        self._items: list[_Item] = []
        self._responses: list[_Response] = []
        self._conversation_id = self._ids.new("conv_")
        self._audio_was_produced = False
        self._responses_done = 0
        self._tokens_used = 0
        self._buffer = bytearray()
        self._buffer_start_ms = 0.0
        self._input_ms = 0.0
        self._vad: VadLike | None = None
        self._vad_origin_ms = 0.0
        self._vad_key: tuple[Any, ...] | None = None
        self._speech: tuple[str, float] | None = None   # (item id, audio_start_ms) while the user speaks

    # -- public ------------------------------------------------------------------------------------

    def start(self) -> None:
        """Queue ``session.created`` with the whole effective session."""
        now = self._clock()
        self._deadline = now + self._max_session_s
        self._session = default_session(self._model, self._ids.new("sess_"), int(now + self._max_session_s))
        self._emit({"type": "session.created", "session": copy.deepcopy(self._session)})

    def receive(self, frame: str | bytes) -> None:
        """Handle one client WebSocket frame; answers and errors are queued for `next_event`."""
        if not self._session:
            raise InvalidState("RealtimeProtocol.receive() before start(): call start() first, so the client "
                               "gets session.created before anything else.")
        if self._closed or self._expire_if_due():
            return
        event = self._parse(frame)
        if event is None:
            return
        client_event_id = event.get("event_id") if isinstance(event.get("event_id"), str) else None
        try:
            checked = _validated(event)
            self._HANDLERS[checked["type"]](self, checked)
        except (SpecViolation, _ClientError) as err:
            self._error(err.code, err.message, err.param, client_event_id)
        except Exception as err:  # a bug here must not end the session: report it as the service would
            self._emit({"type": "error", "error": {"type": "server_error", "code": None, "param": None,
                                                   "message": f"The server had an error handling your event: {err!r}",
                                                   "event_id": client_event_id}})

    def next_event(self) -> Outgoing | None:
        """The next event to send, or None when there is nothing to send now."""
        self._expire_if_due()
        if self._outbox:
            return self._outbox.popleft()
        while self._jobs:
            job = self._jobs[0]
            try:
                return next(job)
            except StopIteration:
                self._jobs.popleft()
            except Exception as err:  # a bug in one job must not end the session: fail that job only
                self._jobs.popleft()
                self._job_failed(job, err)
            if self._outbox:
                return self._outbox.popleft()
        return None

    @property
    def busy(self) -> bool:
        """A response is in flight (accepted and its ``response.done`` not yet produced)."""
        return any(not response.done for response in self._responses)

    @property
    def session(self) -> dict[str, Any]:
        """The effective session, as in the last ``session.created``/``session.updated``."""
        return copy.deepcopy(self._session)

    @property
    def closed(self) -> bool:
        """The session hit ``max_session_s``: after the queued ``session_expired`` error, close."""
        return self._closed

    # -- plumbing ----------------------------------------------------------------------------------

    def _emit(self, body: dict[str, Any], *, audio_ms: float = 0.0, response_id: str | None = None) -> None:
        self._outbox.append(self._out(body, audio_ms=audio_ms, response_id=response_id))

    def _out(self, body: dict[str, Any], *, audio_ms: float = 0.0, response_id: str | None = None) -> Outgoing:
        event = {"type": body["type"], "event_id": self._ids.new("event_"), **{k: v for k, v in body.items()
                                                                               if k != "type"}}
        return Outgoing(event, audio_ms, response_id)

    def _error(self, code: str, message: str, param: str | None, client_event_id: str | None) -> None:
        self._emit({"type": "error", "error": {"type": "invalid_request_error", "code": code, "message": message,
                                               "param": param, "event_id": client_event_id}})

    def _parse(self, frame: str | bytes) -> dict[str, Any] | None:
        try:
            text = frame.decode("utf-8") if isinstance(frame, bytes | bytearray) else frame
            event = json.loads(text)
        except (UnicodeDecodeError, ValueError) as err:
            self._error("invalid_json", f"The server could not parse the JSON of your event ({err}); send one "
                        "JSON object per WebSocket text frame.", None, None)
            return None
        if not isinstance(event, dict):
            self._error("invalid_type", "Invalid event: expected a JSON object with a 'type'.", None, None)
            return None
        return event

    def _job_failed(self, job: Iterator[Outgoing], err: Exception) -> None:
        response = next((r for r in self._responses if r.events is job), None)
        message = f"The server had an error while producing this output: {err!r}"
        if response is None:
            self._emit({"type": "error", "error": {"type": "server_error", "code": None, "param": None,
                                                   "message": message, "event_id": None}})
            return
        response.done = True
        self._responses.remove(response)
        details = {"type": "failed", "error": {"type": "server_error", "code": "internal_error", "message": message}}
        self._emit({"type": "response.done", "response": self._response_object(response, "failed", details)},
                   response_id=response.id)

    def _expire_if_due(self) -> bool:
        if self._closed:
            return True
        if self._clock() < self._deadline:
            return False
        for response in self._responses:
            response.done = True
        self._jobs.clear()
        self._closed = True
        minutes = round(self._max_session_s / 60)
        self._error("session_expired", f"Your session hit the maximum duration of {minutes} minutes.", None, None)
        return True

    def _new_item_id(self) -> str:
        return self._ids.new("item_")

    def _find(self, item_id: str) -> _Item | None:
        return next((item for item in self._items if item.id == item_id), None)

    def _last_item_id(self) -> str | None:
        return self._items[-1].id if self._items else None

    def _add_to_conversation(self, item: _Item, previous_item_id: str | None = None, *, at_start: bool = False,
                             ) -> str | None:
        """Insert ``item``; returns the id of the item before it (None when first)."""
        if at_start:
            self._items.insert(0, item)
            return None
        if previous_item_id is None:
            before = self._last_item_id()
            self._items.append(item)
            return before
        index = next(i for i, existing in enumerate(self._items) if existing.id == previous_item_id)
        self._items.insert(index + 1, item)
        return previous_item_id

    # -- session.update ----------------------------------------------------------------------------

    def _on_session_update(self, event: dict[str, Any]) -> None:
        update = event["session"]
        if update.get("type") != "realtime":
            raise _ClientError("invalid_value", "This is a realtime session, so session.type must be 'realtime'; "
                               "open a separate transcription session for 'transcription'.", "session.type")
        merged = merge_session(self._session, update)
        self._check_session_values(merged, "session")
        voice = _dig(update, "audio", "output", "voice")
        if voice is not None and voice != _dig(self._session, "audio", "output", "voice") and self._audio_was_produced:
            raise _ClientError("cannot_update_voice", "Cannot update a conversation's voice if assistant audio is "
                               "present.", "session.audio.output.voice")
        self._session = merged
        self._emit({"type": "session.updated", "session": copy.deepcopy(self._session)})

    def _check_session_values(self, config: Mapping[str, Any], path: str) -> None:
        _check_modalities(config.get("output_modalities"), f"{path}.output_modalities")
        _check_max_tokens(config.get("max_output_tokens"), f"{path}.max_output_tokens")
        output = _dig(config, "audio", "output") or {}
        _check_voice(output.get("voice"), f"{path}.audio.output.voice")
        _check_range(output.get("speed"), SPEED_RANGE, f"{path}.audio.output.speed", "decimal")
        turn = _dig(config, "audio", "input", "turn_detection") or {}
        _check_range(turn.get("threshold"), (0.0, 1.0), f"{path}.audio.input.turn_detection.threshold", "decimal")
        for key in ("prefix_padding_ms", "silence_duration_ms"):
            _check_range(turn.get(key), (0, 10_000), f"{path}.audio.input.turn_detection.{key}", "integer")

    # -- conversation items ------------------------------------------------------------------------

    def _on_item_create(self, event: dict[str, Any]) -> None:
        previous = event.get("previous_item_id")
        if previous not in (None, "root") and self._find(previous) is None:
            raise _ClientError("invalid_value", f"Previous item with id '{previous}' does not exist; use the id "
                               "of an item in the conversation, 'root', or leave it out.", "previous_item_id")
        item = self._item_from_client(event["item"], "item")
        if self._find(item.id) is not None:
            raise _ClientError("invalid_value", f"Item with id '{item.id}' already exists; leave 'id' out to let "
                               "the server choose one.", "item.id")
        before = self._add_to_conversation(item, None if previous == "root" else previous, at_start=previous == "root")
        for kind in ("conversation.item.added", "conversation.item.done"):
            self._emit({"type": kind, "previous_item_id": before, "item": copy.deepcopy(item.wire)})

    def _item_from_client(self, raw: Mapping[str, Any], path: str) -> _Item:
        wire = {"id": raw.get("id") or self._new_item_id(), "object": "realtime.item",
                **{k: copy.deepcopy(v) for k, v in raw.items() if k not in ("id", "object", "status")},
                "status": "completed"}
        if wire["type"] == "function_call":
            wire.setdefault("call_id", self._ids.new("call_", 16))
        item = _Item(wire)
        if wire["type"] == "message":
            self._take_item_audio(item, path)
        return item

    def _take_item_audio(self, item: _Item, path: str) -> None:
        """Move base64 audio out of the wire content into the item's audio store."""
        role = item.wire.get("role")
        item.audio_format = self._format_kind("input" if role == "user" else "output")
        for index, part in enumerate(item.wire.get("content", [])):
            if part.get("type") in ("input_audio", "output_audio"):
                encoded = part.pop("audio", None) or ""
                item.audio[index] = bytearray(_b64decode(encoded, f"{path}.content[{index}].audio"))
                part.setdefault("transcript", None)

    def _on_item_delete(self, event: dict[str, Any]) -> None:
        item = self._item_or_error(event["item_id"], "deleting")
        self._items.remove(item)
        self._emit({"type": "conversation.item.deleted", "item_id": item.id})

    def _on_item_retrieve(self, event: dict[str, Any]) -> None:
        item = self._item_or_error(event["item_id"], "retrieving")
        wire = copy.deepcopy(item.wire)
        for index, data in item.audio.items():
            wire["content"][index]["audio"] = base64.b64encode(bytes(data)).decode("ascii")
        self._emit({"type": "conversation.item.retrieved", "item": wire})

    def _on_item_truncate(self, event: dict[str, Any]) -> None:
        item = self._item_or_error(event["item_id"], "truncating")
        index, end_ms = event["content_index"], event["audio_end_ms"]
        if item.wire.get("type") != "message" or item.wire.get("role") != "assistant":
            raise _ClientError("invalid_value", "Only assistant message items can be truncated; "
                               f"item '{item.id}' is not one.", "item_id")
        content = item.wire.get("content", [])
        if not 0 <= index < len(content) or content[index].get("type") != "output_audio":
            raise _ClientError("invalid_value", f"Item '{item.id}' has no audio content at index {index}; "
                               "use content_index 0 for the assistant's audio.", "content_index")
        self._cancel_writer_of(item)
        duration = item.audio_ms(index)
        if end_ms < 0 or end_ms > duration:
            raise _ClientError("invalid_value", f"Audio content of {duration:.0f}ms is already shorter than "
                               f"{end_ms}ms; audio_end_ms must be within the audio played.", "audio_end_ms")
        self._truncate_audio(item, index, end_ms, duration)
        self._emit({"type": "conversation.item.truncated", "item_id": item.id, "content_index": index,
                    "audio_end_ms": end_ms})

    def _truncate_audio(self, item: _Item, index: int, end_ms: int, duration: float) -> None:
        keep = int(end_ms * _bytes_per_ms(item.audio_format))
        keep -= keep % (2 if item.audio_format == "audio/pcm" else 1)
        del item.audio[index][keep:]
        part = item.wire["content"][index]
        words = (part.get("transcript") or "").split()
        kept = round(len(words) * end_ms / duration) if duration else 0  # proportional: an approximation
        part["transcript"] = " ".join(words[:kept])

    def _item_or_error(self, item_id: str, doing: str) -> _Item:
        item = self._find(item_id)
        if item is None:
            raise _ClientError("invalid_value", f"Error {doing} item: the item with id '{item_id}' does not "
                               "exist in the conversation.", "item_id")
        return item

    def _cancel_writer_of(self, item: _Item) -> None:
        writer = next((r for r in self._responses if r.id == item.response_id and not r.done), None)
        if writer is not None:
            self._cancel(writer, "client_cancelled")

    # -- input audio -------------------------------------------------------------------------------

    def _format_kind(self, direction: str) -> str:
        return str(_dig(self._session, "audio", direction, "format", "type") or "audio/pcm")

    def _on_append(self, event: dict[str, Any]) -> None:
        encoded: str = event["audio"]
        size = len(encoded) * 3 // 4 - encoded[-2:].count("=")
        if size > MAX_APPEND_BYTES:
            raise _ClientError("invalid_value", f"Audio of {size} bytes exceeds the 15 MiB limit of one "
                               "input_audio_buffer.append event; send smaller chunks (e.g. 100 ms each).", "audio")
        data = _b64decode(encoded, "audio")
        kind = self._format_kind("input")
        self._buffer.extend(data)
        samples = _decode(data, kind)
        self._input_ms += len(samples) * 1000 / _rate_of(kind)
        self._feed_vad(samples)

    def _on_commit(self, event: dict[str, Any]) -> None:
        kind = self._format_kind("input")
        buffered_ms = _ms_of(len(self._buffer), kind)
        if buffered_ms < MIN_COMMIT_MS:
            raise _ClientError("input_audio_buffer_commit_empty", "Error committing input audio buffer: buffer too "
                               f"small. Expected at least {MIN_COMMIT_MS}ms of audio, but buffer only has "
                               f"{buffered_ms:.2f}ms of audio.", None)
        item_id = self._speech[0] if self._speech else self._new_item_id()
        self._commit(bytes(self._buffer), item_id)
        self._reset_buffer()

    def _on_clear(self, event: dict[str, Any]) -> None:
        self._reset_buffer()
        self._emit({"type": "input_audio_buffer.cleared"})

    def _on_output_clear(self, event: dict[str, Any]) -> None:
        raise _ClientError("invalid_value", "output_audio_buffer.clear is only supported over WebRTC and SIP. Over "
                           "a WebSocket, send response.cancel, then conversation.item.truncate with the audio "
                           "played so far.", "type")

    def _reset_buffer(self) -> None:
        self._buffer.clear()
        self._buffer_start_ms = self._input_ms
        self._speech = None
        if self._vad is not None:
            self._vad.reset()
            self._vad_origin_ms = self._input_ms

    def _commit(self, data: bytes, item_id: str) -> None:
        """A user audio item from ``data``: committed, item added and done, then transcription."""
        content = [{"type": "input_audio", "transcript": None}]
        item = _Item({"id": item_id, "object": "realtime.item", "type": "message", "role": "user",
                      "status": "completed", "content": content},
                     audio={0: bytearray(data)}, audio_format=self._format_kind("input"))
        before = self._add_to_conversation(item)
        self._emit({"type": "input_audio_buffer.committed", "previous_item_id": before, "item_id": item_id})
        for kind in ("conversation.item.added", "conversation.item.done"):
            self._emit({"type": kind, "previous_item_id": before, "item": copy.deepcopy(item.wire)})
        transcription = _dig(self._session, "audio", "input", "transcription")
        if transcription:
            self._jobs.append(self._transcription_events(item, str(transcription.get("model") or "")))

    def _transcription_events(self, item: _Item, model: str) -> Iterator[Outgoing]:
        try:
            transcript = self._heard(item)
        except Exception as err:  # an engine failure becomes the service's failed event
            yield self._out({"type": "conversation.item.input_audio_transcription.failed", "item_id": item.id,
                             "content_index": 0, "error": {"type": "transcription_error", "code": "engine_failed",
                                                           "message": f"Transcription failed: {err}"}})
            return
        pieces = [transcript] if model == "whisper-1" else re.findall(r"\s*\S+", transcript)
        for piece in [p for p in pieces if p]:
            yield self._out({"type": "conversation.item.input_audio_transcription.delta", "item_id": item.id,
                             "content_index": 0, "delta": piece})
        item.wire["content"][0]["transcript"] = transcript
        yield self._out({"type": "conversation.item.input_audio_transcription.completed", "item_id": item.id,
                         "content_index": 0, "transcript": transcript,
                         "usage": _transcription_usage(model, item.audio_ms(0), transcript)})

    def _heard(self, item: _Item) -> str:
        """What the user said in an audio item (its given transcript, else the engine's), cached."""
        if item.heard is None:
            parts = item.wire.get("content", [])
            given = [p.get("transcript") for p in parts if p.get("type") == "input_audio" and p.get("transcript")]
            if given:
                item.heard = " ".join(given)
            else:
                samples = np.concatenate([_decode(bytes(d), item.audio_format) for d in item.audio.values()]) \
                    if item.audio else np.zeros(0, dtype=np.int16)
                item.heard = self._engines.transcribe(samples, _rate_of(item.audio_format)).strip()
        return item.heard

    # -- turn detection ----------------------------------------------------------------------------

    def _vad_settings(self) -> tuple[Any, ...] | None:
        turn = _dig(self._session, "audio", "input", "turn_detection")
        if not turn:
            return None
        kind = self._format_kind("input")
        if turn.get("type") == "semantic_vad":
            silence = SEMANTIC_SILENCE_MS.get(turn.get("eagerness") or "auto", 500)
            return (SEMANTIC_THRESHOLD, SEMANTIC_PREFIX_MS, silence, _rate_of(kind))
        return (float(turn.get("threshold", 0.5)), int(turn.get("prefix_padding_ms", 300)),
                int(turn.get("silence_duration_ms", 200)), _rate_of(kind))

    def _feed_vad(self, samples: np.ndarray) -> None:
        settings = self._vad_settings()
        if settings is None:
            self._vad, self._vad_key, self._speech = None, None, None
            return
        if self._vad is None or settings != self._vad_key:
            # A new detector for new settings; its clock starts where the audio fed so far ends.
            self._vad, self._vad_key, self._speech = self._engines.make_vad(*settings), settings, None
            self._vad_origin_ms = self._input_ms - len(samples) * 1000 / settings[3]
        for vad_event in self._vad.feed(samples):
            at_ms = self._vad_origin_ms + vad_event.audio_ms
            if vad_event.kind == "speech_started":
                self._speech_started(max(at_ms, self._buffer_start_ms))
            elif vad_event.kind == "speech_stopped" and self._speech is not None:
                self._speech_stopped(at_ms)

    def _speech_started(self, start_ms: float) -> None:
        item_id = self._new_item_id()
        self._speech = (item_id, start_ms)
        self._emit({"type": "input_audio_buffer.speech_started", "audio_start_ms": int(start_ms), "item_id": item_id})
        turn = _dig(self._session, "audio", "input", "turn_detection") or {}
        writer = self._default_writer()
        if writer is not None and turn.get("interrupt_response", True):
            self._cancel(writer, "turn_detected")

    def _speech_stopped(self, end_ms: float) -> None:
        assert self._speech is not None
        item_id, start_ms = self._speech
        self._emit({"type": "input_audio_buffer.speech_stopped", "audio_end_ms": int(end_ms), "item_id": item_id})
        kind = self._format_kind("input")
        per_ms, width = _bytes_per_ms(kind), (2 if kind == "audio/pcm" else 1)
        start = max(0, int((start_ms - self._buffer_start_ms) * per_ms) // width * width)
        end = max(start, int((end_ms - self._buffer_start_ms) * per_ms) // width * width)
        self._commit(bytes(self._buffer[start:end]), item_id)
        del self._buffer[:end]
        self._buffer_start_ms += _ms_of(end, kind)
        self._speech = None
        turn = _dig(self._session, "audio", "input", "turn_detection") or {}
        if turn.get("create_response", True) and self._default_writer() is None:
            self._start_response({}, None)

    # -- responses ---------------------------------------------------------------------------------

    def _default_writer(self) -> _Response | None:
        return next((r for r in self._responses if r.in_conversation and not r.done), None)

    def _on_response_create(self, event: dict[str, Any]) -> None:
        params = event.get("response") or {}
        self._check_session_values(params, "response")
        conversation = params.get("conversation") or "auto"
        if conversation not in ("auto", "none"):
            raise _ClientError("invalid_value", f"Invalid value: '{conversation}'. Supported values are: 'auto' "
                               "and 'none'.", "response.conversation")
        writer = self._default_writer()
        if conversation == "auto" and writer is not None:
            raise _ClientError("conversation_already_has_active_response", "Conversation already has an active "
                               f"response in progress: {writer.id}. Wait until the response is finished before "
                               "creating a new one.", None)
        input_items = self._input_items(params.get("input")) if "input" in params else None
        self._start_response(params, input_items)

    def _input_items(self, raw_items: list[Any] | None) -> list[_Item]:
        items: list[_Item] = []
        for index, raw in enumerate(raw_items or []):
            if raw.get("type") == "item_reference":
                found = self._find(raw["id"])
                if found is None:
                    raise _ClientError("invalid_value", f"Item with id '{raw['id']}' does not exist in the "
                                       "conversation; reference an existing item.", f"response.input[{index}].id")
                items.append(found)
            else:
                items.append(self._item_from_client(raw, f"response.input[{index}]"))
        return items

    def _start_response(self, params: Mapping[str, Any], input_items: list[_Item] | None) -> None:
        settings = self._response_settings(params)
        response = _Response(self._ids.new("resp_"), settings, params.get("conversation", "auto") != "none",
                             input_items, metadata=params.get("metadata"))
        response.events = self._response_events(response)
        self._responses.append(response)
        self._jobs.append(response.events)

    def _response_settings(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """The session's settings with this response's overrides applied."""
        session, output = self._session, _dig(params, "audio", "output") or {}

        def pick(override: Any, *path: str, default: Any) -> Any:
            value = override if override is not None else _dig(session, *path)
            return default if value is None else value

        settings = {
            "instructions": pick(params.get("instructions"), "instructions", default=""),
            "output_modalities": pick(params.get("output_modalities"), "output_modalities", default=["audio"]),
            "voice": pick(output.get("voice"), "audio", "output", "voice", default="alloy"),
            "format": _format_filled(pick(output.get("format"), "audio", "output", "format", default=None)),
            "speed": float(pick(None, "audio", "output", "speed", default=1.0)),
            "tools": pick(params.get("tools"), "tools", default=[]),
            "tool_choice": pick(params.get("tool_choice"), "tool_choice", default="auto"),
            "max_output_tokens": pick(params.get("max_output_tokens"), "max_output_tokens", default="inf"),
        }
        view = merge_session(session, {"output_modalities": settings["output_modalities"],
                                       "tools": settings["tools"], "instructions": settings["instructions"],
                                       "audio": {"output": {"voice": settings["voice"]}}})
        settings["session_view"] = view
        return settings

    def _cancel(self, response: _Response, reason: str) -> None:
        """End ``response`` now: its closing events go out before anything received later."""
        response.cancel_reason = reason
        if response.events is None:
            return
        self._outbox.extend(response.events)  # drains the generator through its cancelled ending
        if response.events in self._jobs:
            self._jobs.remove(response.events)

    def _on_response_cancel(self, event: dict[str, Any]) -> None:
        wanted = event.get("response_id")
        if wanted:
            target = next((r for r in self._responses if r.id == wanted and not r.done), None)
        else:
            target = self._default_writer()
        if target is None:
            raise _ClientError("response_cancel_not_active", "Cancellation failed: no active response found.", None)
        self._cancel(target, "client_cancelled")

    def _response_events(self, response: _Response) -> Iterator[Outgoing]:
        """Every event of one response, produced only as they are pulled."""
        rid = response.id
        yield self._out({"type": "response.created", "response": self._response_object(response, "in_progress")},
                        response_id=rid)
        if response.cancel_reason is None:
            context, call = self._plan(response)
            if call is not None:
                yield from self._function_call_events(response, call)
            else:
                text = responder.reply(context)
                text, response.incomplete = _cut_to_tokens(text, response.settings["max_output_tokens"])
                yield from self._message_events(response, text)
        yield from self._finish(response)

    def _plan(self, response: _Response) -> tuple[responder.TurnContext, responder.ToolCall | None]:
        """What the assistant answers to: the latest user message or function output, and a tool call if any."""
        items = response.input_items if response.input_items is not None else list(self._items)
        response.usage_in = self._context_tokens(items, response.settings["instructions"])
        settings = response.settings
        relevant = [i for i in items if i.wire.get("type") in ("message", "function_call_output")
                    and i.wire.get("role") != "system"]
        users = [i for i in items if i.wire.get("type") == "message" and i.wire.get("role") == "user"]
        user_texts = [self._text_of(i) for i in users]
        last = relevant[-1] if relevant else None
        context = responder.TurnContext(
            user_text=user_texts[-1] if users else None,
            from_audio=bool(users) and any(p.get("type") == "input_audio" for p in users[-1].wire["content"]),
            earlier_user_texts=tuple(user_texts[-6:-1]),
            instructions=settings["instructions"],
            session=settings["session_view"],
            user_messages=len(users),
            responses_so_far=self._responses_done,
            tool_result=self._tool_result(last, items),
        )
        call = None
        if last is not None and last.wire.get("type") == "message" and last.wire.get("role") == "user":
            call = responder.choose_tool(context.user_text, settings["tools"], settings["tool_choice"])
        return context, call

    def _text_of(self, item: _Item) -> str:
        parts = []
        for part in item.wire.get("content", []):
            if part.get("type") == "input_text":
                parts.append(part.get("text") or "")
            elif part.get("type") == "input_audio":
                parts.append(self._heard(item))
        return " ".join(p for p in parts if p)

    def _tool_result(self, last: _Item | None, items: Sequence[_Item]) -> tuple[str, str] | None:
        if last is None or last.wire.get("type") != "function_call_output":
            return None
        call_id = last.wire.get("call_id")
        call = next((i for i in items if i.wire.get("type") == "function_call" and i.wire.get("call_id") == call_id),
                    None) or next((i for i in self._items if i.wire.get("call_id") == call_id
                                   and i.wire.get("type") == "function_call"), None)
        name = str(call.wire.get("name")) if call is not None else "function"
        return name, str(last.wire.get("output", ""))

    def _context_tokens(self, items: Sequence[_Item], instructions: str) -> tuple[int, int]:
        text = text_tokens(instructions)
        audio = 0
        for item in items:
            for index, part in enumerate(item.wire.get("content", []) or []):
                text += text_tokens(part.get("text") or (part.get("transcript") if index not in item.audio else ""))
                if index in item.audio:
                    audio += audio_tokens(item.audio_ms(index))
            text += text_tokens(item.wire.get("arguments")) + text_tokens(item.wire.get("output"))
        return text, audio

    def _open_item(self, response: _Response, wire: dict[str, Any]) -> Iterator[Outgoing]:
        """A new output item: output_item.added, and conversation.item.added unless out of band."""
        item = _Item(wire, audio_format=response.settings["format"]["type"], response_id=response.id)
        response.output.append(item)
        output_index = len(response.output) - 1
        yield self._out({"type": "response.output_item.added", "response_id": response.id,
                         "output_index": output_index, "item": copy.deepcopy(wire)}, response_id=response.id)
        if response.in_conversation:
            before = self._add_to_conversation(item)
            yield self._out({"type": "conversation.item.added", "previous_item_id": before,
                             "item": copy.deepcopy(wire)}, response_id=response.id)

    def _close_item(self, response: _Response, item: _Item) -> Iterator[Outgoing]:
        cut_short = response.cancel_reason is not None or response.incomplete or response.failure is not None
        item.wire["status"] = "incomplete" if cut_short else "completed"
        item.response_id = None
        yield self._out({"type": "response.output_item.done", "response_id": response.id,
                         "output_index": response.output.index(item), "item": copy.deepcopy(item.wire)},
                        response_id=response.id)
        if response.in_conversation and item in self._items:
            previous = self._items.index(item)
            yield self._out({"type": "conversation.item.done",
                             "previous_item_id": self._items[previous - 1].id if previous else None,
                             "item": copy.deepcopy(item.wire)}, response_id=response.id)

    def _message_events(self, response: _Response, text: str) -> Iterator[Outgoing]:
        rid, with_audio = response.id, "audio" in response.settings["output_modalities"]
        wire: dict[str, Any] = {"id": self._new_item_id(), "object": "realtime.item", "type": "message",
                                "role": "assistant", "status": "in_progress", "content": []}
        yield from self._open_item(response, wire)
        item = response.output[-1]
        where = {"response_id": rid, "item_id": item.id, "output_index": response.output.index(item),
                 "content_index": 0}
        part: dict[str, Any] = {"type": "audio", "transcript": ""} if with_audio else {"type": "text", "text": ""}
        wire["content"].append({"type": "output_audio", "transcript": ""} if with_audio
                               else {"type": "output_text", "text": ""})
        yield self._out({"type": "response.content_part.added", **where, "part": dict(part)}, response_id=rid)
        spoken: list[str] = []
        if with_audio:
            yield from self._audio_stream(response, item, text, spoken, where)
        else:
            yield from self._text_stream(response, text, spoken, where)
        said = "".join(spoken)
        key = "transcript" if with_audio else "text"
        wire["content"][0][key] = said
        part[key] = said
        if with_audio:
            yield self._out({"type": "response.output_audio.done", **where}, response_id=rid)
            yield self._out({"type": "response.output_audio_transcript.done", **where, "transcript": said},
                            response_id=rid)
        else:
            yield self._out({"type": "response.output_text.done", **where, "text": said}, response_id=rid)
        yield self._out({"type": "response.content_part.done", **where, "part": part}, response_id=rid)
        yield from self._close_item(response, item)

    def _text_stream(self, response: _Response, text: str, spoken: list[str],
                     where: dict[str, Any]) -> Iterator[Outgoing]:
        for piece in transcript_pieces(text):
            if response.cancel_reason is not None:
                return
            spoken.append(piece)
            yield self._out({"type": "response.output_text.delta", **where, "delta": piece},
                            response_id=response.id)

    def _audio_stream(self, response: _Response, item: _Item, text: str, spoken: list[str],
                      where: dict[str, Any]) -> Iterator[Outgoing]:
        """Transcript deltas running ahead of audio deltas of 100, 150, then 250 ms."""
        settings, rid = response.settings, response.id
        kind = settings["format"]["type"]
        per_ms = _bytes_per_ms(kind)
        pieces = transcript_pieces(text)
        starts: list[float] = []          # estimated start (ms) of each piece whose sentence is synthesised
        pending = bytearray()
        chunks_sent, sent_ms, synthesized_ms = 0, 0.0, 0.0
        item.audio[0] = bytearray()

        def transcript_until(ms: float) -> Iterator[Outgoing]:
            while len(spoken) < len(starts) and starts[len(spoken)] <= ms and response.cancel_reason is None:
                spoken.append(pieces[len(spoken)])
                yield self._out({"type": "response.output_audio_transcript.delta", **where, "delta": spoken[-1]},
                                response_id=rid)

        def audio_chunk(size: int) -> Outgoing:
            nonlocal chunks_sent, sent_ms
            data = bytes(pending[:size])
            del pending[:size]
            item.audio[0].extend(data)
            chunks_sent, sent_ms = chunks_sent + 1, sent_ms + _ms_of(len(data), kind)
            self._audio_was_produced = True
            return self._out({"type": "response.output_audio.delta", **where,
                              "delta": base64.b64encode(data).decode("ascii")},
                             audio_ms=_ms_of(len(data), kind), response_id=rid)

        starts.extend([0.0] * min(FIRST_TEXT_PIECES, len(pieces)))  # text first: a few words before audio
        yield from transcript_until(0.0)
        offset = 0
        for sentence in _sentences(pieces):
            if response.cancel_reason is not None:
                return
            audio = self._speak("".join(sentence).strip(), settings, kind, response)
            if audio is None:
                return
            duration = _ms_of(len(audio), kind)
            _place_pieces(starts, sentence, offset, synthesized_ms, duration)
            offset += len(sentence)
            synthesized_ms += duration
            pending.extend(audio)
            while len(pending) >= int(_chunk_ms(chunks_sent) * per_ms) and response.cancel_reason is None:
                yield from transcript_until(sent_ms + _chunk_ms(chunks_sent) + TEXT_LEAD_MS)
                if response.cancel_reason is None:
                    yield audio_chunk(int(_chunk_ms(chunks_sent) * per_ms))
        while pending and response.cancel_reason is None:
            yield from transcript_until(sent_ms + _chunk_ms(chunks_sent) + TEXT_LEAD_MS)
            if response.cancel_reason is None:
                yield audio_chunk(int(_chunk_ms(chunks_sent) * per_ms))
        yield from transcript_until(math.inf)

    def _speak(self, sentence: str, settings: Mapping[str, Any], kind: str, response: _Response) -> bytes | None:
        try:
            samples = self._engines.synthesize(sentence, settings["voice"], _rate_of(kind), settings["speed"])
        except Exception as err:  # an engine failure fails the response, as a server error would
            response.failure = f"Speech synthesis failed: {err}"
            return None
        data = _encode(samples, kind)
        return data[: len(data) // 2 * 2] if kind == "audio/pcm" else data

    def _function_call_events(self, response: _Response, call: responder.ToolCall) -> Iterator[Outgoing]:
        rid = response.id
        arguments = json.dumps(call.arguments)
        wire: dict[str, Any] = {"id": self._new_item_id(), "object": "realtime.item", "type": "function_call",
                "status": "in_progress", "name": call.name, "call_id": self._ids.new("call_", 16), "arguments": ""}
        yield from self._open_item(response, wire)
        item = response.output[-1]
        where = {"response_id": rid, "item_id": item.id, "output_index": response.output.index(item),
                 "call_id": wire["call_id"]}
        for start in range(0, len(arguments), 12):
            if response.cancel_reason is not None:
                break
            wire["arguments"] += arguments[start:start + 12]
            yield self._out({"type": "response.function_call_arguments.delta", **where,
                             "delta": arguments[start:start + 12]}, response_id=rid)
        yield self._out({"type": "response.function_call_arguments.done", **where, "name": call.name,
                         "arguments": wire["arguments"]}, response_id=rid)
        yield from self._close_item(response, item)

    def _finish(self, response: _Response) -> Iterator[Outgoing]:
        status, details = self._ending(response)
        out_text = sum(text_tokens(p.get("transcript") or p.get("text"))
                       for item in response.output for p in item.wire.get("content", []))
        out_text += sum(text_tokens(item.wire.get("arguments")) for item in response.output)
        out_audio = sum(audio_tokens(item.audio_ms(0)) for item in response.output if item.audio)
        usage = _usage(response.usage_in, (out_text, out_audio))
        response.done = True
        self._responses_done += 1
        self._tokens_used += usage["total_tokens"]
        for item in response.output:
            item.response_id = None
        yield self._out({"type": "response.done", "response": self._response_object(response, status, details,
                                                                                     usage)},
                        response_id=response.id)
        self._responses.remove(response)
        yield self._out({"type": "rate_limits.updated", "rate_limits": self._rate_limits()})

    def _ending(self, response: _Response) -> tuple[str, dict[str, Any] | None]:
        if response.cancel_reason is not None:
            return "cancelled", {"type": "cancelled", "reason": response.cancel_reason}
        if response.failure is not None:
            return "failed", {"type": "failed", "error": {"type": "server_error", "code": "engine_failed",
                                                          "message": response.failure}}
        if response.incomplete:
            return "incomplete", {"type": "incomplete", "reason": "max_output_tokens"}
        return "completed", None

    def _response_object(self, response: _Response, status: str, details: dict[str, Any] | None = None,
                         usage: dict[str, Any] | None = None) -> dict[str, Any]:
        settings = response.settings
        return {
            "object": "realtime.response",
            "id": response.id,
            "status": status,
            "status_details": details,
            "output": [copy.deepcopy(item.wire) for item in response.output] if status != "in_progress" else [],
            "conversation_id": self._conversation_id if response.in_conversation else None,
            "output_modalities": list(settings["output_modalities"]),
            "max_output_tokens": settings["max_output_tokens"],
            "audio": {"output": {"format": dict(settings["format"]), "voice": settings["voice"]}},
            "usage": usage,
            "metadata": copy.deepcopy(response.metadata),
        }

    def _rate_limits(self) -> list[dict[str, Any]]:
        tokens_left = max(0, RATE_LIMIT_TOKENS - self._tokens_used)
        return [
            {"name": "requests", "limit": RATE_LIMIT_REQUESTS,
             "remaining": max(0, RATE_LIMIT_REQUESTS - self._responses_done), "reset_seconds": 60.0},
            {"name": "tokens", "limit": RATE_LIMIT_TOKENS, "remaining": tokens_left,
             "reset_seconds": round(60.0 * self._tokens_used / RATE_LIMIT_TOKENS, 3)},
        ]

    _HANDLERS: typing.ClassVar[dict[str, Callable[[RealtimeProtocol, dict[str, Any]], None]]] = {
        "session.update": _on_session_update,
        "conversation.item.create": _on_item_create,
        "conversation.item.delete": _on_item_delete,
        "conversation.item.retrieve": _on_item_retrieve,
        "conversation.item.truncate": _on_item_truncate,
        "input_audio_buffer.append": _on_append,
        "input_audio_buffer.commit": _on_commit,
        "input_audio_buffer.clear": _on_clear,
        "output_audio_buffer.clear": _on_output_clear,
        "response.create": _on_response_create,
        "response.cancel": _on_response_cancel,
    }


# -- module helpers --------------------------------------------------------------------------------


def _validated(event: dict[str, Any]) -> dict[str, Any]:
    """``event`` after strict validation; item references in ``response.input`` are checked here.

    The SDK sends them (ResponseCreateEventWithReferencesParam) but its ResponseCreateEvent model
    does not list them, so they are checked by hand and stood in for while the rest is validated.
    """
    inputs = _dig(event, "response", "input")
    if event.get("type") != "response.create" or not isinstance(inputs, list):
        validate_client_event(event)
        return event
    standin = {"type": "message", "role": "system", "content": []}
    for index, entry in enumerate(inputs):
        if isinstance(entry, Mapping) and entry.get("type") == "item_reference":
            _check_reference(entry, f"response.input[{index}]")
    replaced = [standin if isinstance(e, Mapping) and e.get("type") == "item_reference" else e for e in inputs]
    validate_client_event({**event, "response": {**event["response"], "input": replaced}})
    return event


def _check_reference(entry: Mapping[str, Any], path: str) -> None:
    extra = [key for key in entry if key not in ("type", "id")]
    if extra:
        raise SpecViolation("unknown_parameter", f"Unknown parameter: '{path}.{extra[0]}'.", f"{path}.{extra[0]}")
    if not isinstance(entry.get("id"), str):
        raise SpecViolation("missing_required_parameter" if "id" not in entry else "invalid_type",
                            f"An item reference needs a string 'id': '{path}.id'.", f"{path}.id")


def _check_modalities(modalities: Any, param: str) -> None:
    if isinstance(modalities, list) and len(set(modalities)) > 1:
        raise _ClientError("invalid_value", "It is not possible to request both 'text' and 'audio' at the same "
                           "time; use ['audio'] (speech with a transcript) or ['text'].", param)


def _check_max_tokens(value: Any, param: str) -> None:
    if isinstance(value, int) and not isinstance(value, bool):
        _check_range(value, MAX_OUTPUT_TOKENS_RANGE, param, "integer")


def _check_voice(voice: Any, param: str) -> None:
    if voice is None:
        return
    if not isinstance(voice, str):
        raise _ClientError("invalid_value", "Custom voices are not available on the local server; use one of: "
                           f"{', '.join(GA_VOICES)}.", param)
    if voice not in GA_VOICES:
        supported = ", ".join(f"'{name}'" for name in GA_VOICES)
        raise _ClientError("invalid_value", f"Invalid value: '{voice}'. Supported values are: {supported}.", param)


def _check_range(value: Any, bounds: tuple[float, float], param: str, kind: str) -> None:
    if not isinstance(value, int | float) or isinstance(value, bool):
        return
    low, high = bounds
    if value < low:
        raise _ClientError(f"{kind}_below_min_value", f"Invalid '{param}': {kind} below minimum value. Expected a "
                           f"value >= {low}, but got {value} instead.", param)
    if value > high:
        raise _ClientError(f"{kind}_above_max_value", f"Invalid '{param}': {kind} above maximum value. Expected a "
                           f"value <= {high}, but got {value} instead.", param)


def _b64decode(encoded: str, param: str) -> bytes:
    try:
        return base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise _ClientError("invalid_value", f"Invalid '{param}': expected base64-encoded audio bytes in the "
                           "session's audio format.", param) from None


def _place_pieces(starts: list[float], sentence: list[str], offset: int, begin_ms: float, duration_ms: float) -> None:
    """Estimated start time of each piece of a synthesised sentence: proportional to characters."""
    total = max(1, sum(len(piece) for piece in sentence))
    position = 0
    for index, piece in enumerate(sentence):
        at = begin_ms + duration_ms * position / total
        if offset + index < len(starts):
            starts[offset + index] = min(starts[offset + index], at)
        else:
            starts.append(at)
        position += len(piece)


def _usage(context: tuple[int, int], output: tuple[int, int]) -> dict[str, Any]:
    in_text, in_audio = context
    out_text, out_audio = output
    return {
        "total_tokens": in_text + in_audio + out_text + out_audio,
        "input_tokens": in_text + in_audio,
        "output_tokens": out_text + out_audio,
        "input_token_details": {"text_tokens": in_text, "audio_tokens": in_audio, "image_tokens": 0,
                                "cached_tokens": 0,
                                "cached_tokens_details": {"text_tokens": 0, "audio_tokens": 0, "image_tokens": 0}},
        "output_token_details": {"text_tokens": out_text, "audio_tokens": out_audio},
    }


def _transcription_usage(model: str, audio_ms: float, transcript: str) -> dict[str, Any]:
    if model == "whisper-1":
        return {"type": "duration", "seconds": round(audio_ms / 1000, 3)}
    audio, text = audio_tokens(audio_ms), text_tokens(transcript)
    return {"type": "tokens", "input_tokens": audio, "output_tokens": text, "total_tokens": audio + text,
            "input_token_details": {"audio_tokens": audio, "text_tokens": 0}}


def _dig(mapping: Any, *keys: str) -> Any:
    node = mapping
    for key in keys:
        if not isinstance(node, Mapping):
            return None
        node = node.get(key)
    return node
