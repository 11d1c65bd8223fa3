"""The GA Realtime protocol as a pure state machine: client frames in, server event dicts out.

No asyncio, no sockets, no threads, no engines: the websockets shell (`app.py`) feeds every client
frame to `receive` and pulls what to send with `next_event`, pacing audio by `Outgoing.audio_ms`.
Engine work (synthesize, detect speech, listen, transcribe: `work.py`) goes out through
`work_to_do` and its results come back through `work_done`, like websockets' `receive_data`;
with ``offload=False`` (the default, for tests) it runs in-line on the given `Engines`.
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

This module is the coordinator: it owns the outgoing queue and dispatches each client event to
the pure parts beside it: `session_config` (defaults, merging, checks), `items` (the
conversation), `input_audio` (buffer, VAD turns, transcription), `responses` and `streaming`
(what a response says and how it streams), `usage` (token estimates), `engines` (the injected
speech engines) and `wire` (shared types).

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
  eagerness (`SEMANTIC_SILENCE_MS`). `idle_timeout_ms` (server_vad) fires by the SDK's rule on the input
  audio's clock (`idle_timeout.IdleTimer`): after a reply's audio has played, that much input with no speech.
- `output_audio_buffer.clear` is WebRTC/SIP only (SDK docstring): over this WebSocket server it
  gets an `error` event that says to use `response.cancel` and `conversation.item.truncate`.
- A tool is only called in answer to a user message, never right after a function_call_output
  (so a client that answers every call and asks again does not loop).
- `rate_limits.updated` follows each `response.done` on OpenAI's path (requests and tokens,
  deterministic); Azure's path sends none, as Azure's recordings show (`rules.SERVICES`).
- Truncation deletes the item's server-side transcript, as the service does.
- Truncating an item of a response still in flight cancels that response first.
- Voices: the ten built-in names (read from the SDK); custom voice objects are refused. Once the
  assistant has produced audio the session voice is locked (`cannot_update_voice`).
- The session lasts `max_session_s` (`expires_at` in the session); after it, the next call queues
  an `error` with code `session_expired` and `closed` turns true: the shell then closes.
- Out-of-band responses (`conversation: "none"`) may start while another is in flight; they are
  queued and stream after it.
- `?intent=transcription` opens a transcription session (`transcription_session.py`): committed turns
  are transcribed (keywords applied, logprobs 0.0 when included), nothing answers.
- `input_image` parts must be PNG/JPEG data URLs; the assistant states their size and main colours
  (`images.py`); usage counts their tokens by the vision tile rule.
- `noise_reduction` filters each append before VAD and transcription (`noise.py`, scipy.signal).
- `truncation` drops the oldest items from the model's context (`context_window.py`); `disabled`
  answers an over-long response.create with `context_length_exceeded`.
- `reasoning` and `parallel_tool_calls` only for reasoning profiles (2.x); effort scales the reported
  reasoning tokens.
"""

from __future__ import annotations

import math
import time
import typing
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from ..errors import InvalidState
from ..rules import GPT_REALTIME, SERVICES, ModelProfile, Service, profile_for
from ..spec import SpecViolation
from .answers import AnswerSource
from .audio_format import decode, ms_of, rate_of
from .context_window import ContextWindow
from .engines import Engines, SessionEngines
from .idle_timeout import IdleTimer
from .input_audio import (
    MAX_APPEND_BYTES,
    MIN_COMMIT_MS,
    SEMANTIC_SILENCE_MS,
    InputAudio,
    InputSettings,
    SpeechStarted,
    SpeechStopped,
    VadLike,
    beside_response,
    given_transcript,
    item_samples,
    transcription_events,
)
from .items import Conversation, Item
from .limits import Limits, MemoryBudget, SessionMemory, items_bytes
from .noise import InputFilter
from .responses import Responses
from .session_config import (
    DEFAULT_INSTRUCTIONS,
    GA_VOICES,
    check_model_params,
    check_session_values,
    default_session,
    merge_session,
    response_settings,
    updated_session,
)
from .streaming import TEXT_LEAD_MS, Response, transcript_pieces
from .transcription_session import (
    check_transcription,
    default_transcription_session,
    refined_transcription,
    transcription_only,
    updated_transcription_session,
)
from .usage import AUDIO_TOKENS_PER_SECOND, audio_tokens, text_tokens
from .wire import ClientError, Ids, Outgoing, dig, json_copy, parse_frame, validated
from .work import DetectSpeech, Listen, Transcribe, Work, WorkQueue

# A turn heard live goes to its decoder in pieces of at least this much (the end brings the rest): 4 turns
# interleaved on one process in 20 ms pieces cost 0.28 CPU s per s of audio, in 100 ms pieces 0.20 (2026-11-29)
LIVE_FEED_MS = 100

# Every name stays importable from here, where it lived before the protocol was split up.
__all__ = [
    "AUDIO_TOKENS_PER_SECOND", "DEFAULT_INSTRUCTIONS", "GA_VOICES", "MAX_APPEND_BYTES", "MIN_COMMIT_MS",
    "SEMANTIC_SILENCE_MS", "TEXT_LEAD_MS", "Engines", "Outgoing", "RealtimeProtocol", "VadLike",
    "audio_tokens", "default_session", "merge_session", "text_tokens", "transcript_pieces",
]


# Client events that make the session hold more: checked against its memory budget first.
_TAKES_MEMORY = frozenset({"input_audio_buffer.append", "conversation.item.create", "response.create"})


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
        service: Service = "openai",
        profile: ModelProfile | None = None,
        engines: Engines | None = None,
        offload: bool = False,
        clock: Callable[[], float] = time.time,
        max_session_s: float = 3600,
        id_prefix_seed: int | None = None,
        limits: Limits | None = None,
        memory: SessionMemory | None = None,
        answers: AnswerSource | None = None,
        intent: str | None = None,
    ) -> None:
        self._limits = limits or Limits()
        self._memory = memory or MemoryBudget.of(self._limits).account()
        # offload: the shell runs the engine work (`work_to_do`/`work_done`); else it runs in-line on ``engines``
        self._work = WorkQueue(None if offload else SessionEngines(engines or Engines.default()).run)
        self._listening: tuple[str, int] | None = None    # (item id, bytes fed) of the turn being heard live
        self._clock = clock
        self._max_session_s = max_session_s
        self._ids = Ids(id_prefix_seed)
        self._model = model
        self._transcription_only = intent == "transcription"   # ?intent=transcription: no model answers
        self._session: dict[str, Any] = {}
        self._input_settings = InputSettings.of(self._session)   # read per session change, not per 20 ms append
        self._deadline = math.inf
        self._closed = False
        self._outbox: deque[Outgoing] = deque()
        self._jobs: deque[Iterator[Outgoing | None]] = deque()   # responses and transcriptions, pulled in order
        self._conversation = Conversation(self._ids)
        self._profile = profile or profile_for(model) or GPT_REALTIME
        self._responses = Responses(self._ids, self._conversation, self._work.request, self._hear,
                                    SERVICES[service], self._profile, answers)
        self._input = InputAudio(self._ids, self._limits.max_input_buffer_bytes)
        self._idle = IdleTimer()
        self._window = ContextWindow()
        self._responses.in_context = self._in_context
        self._noise = InputFilter()
        self._played_ms: dict[str, float] = {}   # response id -> ms of audio sent so far (for the idle timer)

    # -- public ------------------------------------------------------------------------------------

    def start(self) -> None:
        """Queue ``session.created`` with the whole effective session."""
        now = self._clock()
        self._deadline = now + self._max_session_s
        if self._transcription_only:
            self._set_session(default_transcription_session(self._ids.new("sess_"), int(now + self._max_session_s)))
        else:
            self._set_session(default_session(self._model, self._ids.new("sess_"), int(now + self._max_session_s),
                                              self._profile))
        self._emit({"type": "session.created", "session": json_copy(self._session)})

    def receive(self, frame: str | bytes) -> None:
        """Handle one client WebSocket frame; answers and errors are queued for `next_event`."""
        if not self._session:
            raise InvalidState("RealtimeProtocol.receive() before start(): call start() first, so the client "
                               "gets session.created before anything else.")
        if self._closed or self._expire_if_due():
            return
        try:
            event = parse_frame(frame, self._limits.max_json_depth)
        except ClientError as err:
            self._error(err.code, err.message, err.param, None)
            return
        client_event_id = event.get("event_id") if isinstance(event.get("event_id"), str) else None
        try:
            checked = validated(event)
            if checked["type"] in _TAKES_MEMORY:
                self._memory.admit(len(frame), checked["type"])
            self._HANDLERS[checked["type"]](self, checked)
        except (SpecViolation, ClientError) as err:
            self._error(err.code, err.message, err.param, client_event_id)
        except Exception as err:  # a bug here must not end the session: report it as the service would
            self._server_error(f"The server had an error handling your event: {err!r}", client_event_id)
        finally:
            self._memory.hold(self._input.buffered_bytes + items_bytes(self._conversation.items))

    def next_event(self) -> Outgoing | None:
        """The next event to send, or None when there is nothing to send now."""
        out = self._next_event()
        if out is not None and out.response_id is not None:   # the idle timer starts after a reply has played
            played = self._played_ms.pop(out.response_id, 0.0) + out.audio_ms
            if out.event["type"] == "response.done":
                self._idle.response_done(played)
            else:
                self._played_ms[out.response_id] = played
        return out

    def _next_event(self) -> Outgoing | None:
        """The next event to send, or None when there is nothing to send now (or it waits on engine work)."""
        self._expire_if_due()
        if self._outbox:
            return self._outbox.popleft()
        while self._jobs:
            job = self._jobs[0]
            try:
                out = next(job)
                if out is None:
                    return None    # waiting on engine work: work_done wakes it
                return out
            except StopIteration:
                self._jobs.popleft()
            except Exception as err:  # a bug in one job must not end the session: fail that job only
                self._jobs.popleft()
                self._job_failed(job, err)
            if self._outbox:
                return self._outbox.popleft()
        return None

    def work_to_do(self) -> list[Work]:
        """Engine work asked for since the last call: run each job, then hand it back with `work_done`."""
        return self._work.take()

    def work_done(self, work: Work, result: Any = None, error: BaseException | None = None) -> None:
        """A job from `work_to_do` has finished; what waited on it goes on (pull with `next_event`)."""
        if self._closed:
            return
        try:
            work.finish(result, error)
        except Exception as err:  # a bug here must not end the session: report it as the service would
            self._server_error(f"The server had an error handling engine results: {err!r}", None)

    @property
    def busy(self) -> bool:
        """A response is in flight (accepted and its ``response.done`` not yet produced)."""
        return self._responses.busy

    @property
    def ready(self) -> bool:
        """`next_event` may give something now: an event is queued, or a response or transcription is under way."""
        return bool(self._outbox or self._jobs)

    @property
    def unsent(self) -> int:
        """Events made at once (answers to client events, not a response's stream) that no pull has taken yet."""
        return len(self._outbox)

    @property
    def session(self) -> dict[str, Any]:
        """The effective session, as in the last ``session.created``/``session.updated``."""
        return json_copy(self._session)

    @property
    def closed(self) -> bool:
        """The session hit ``max_session_s``: after the queued ``session_expired`` error, close."""
        return self._closed

    # -- plumbing ----------------------------------------------------------------------------------

    def _emit(self, body: dict[str, Any], *, audio_ms: float = 0.0, response_id: str | None = None) -> None:
        self._outbox.append(self._ids.event(body, audio_ms=audio_ms, response_id=response_id))

    def _error(self, code: str, message: str, param: str | None, client_event_id: str | None) -> None:
        self._emit({"type": "error", "error": {"type": "invalid_request_error", "code": code, "message": message,
                                               "param": param, "event_id": client_event_id}})

    def _server_error(self, message: str, client_event_id: str | None) -> None:
        self._emit({"type": "error", "error": {"type": "server_error", "code": None, "param": None,
                                               "message": message, "event_id": client_event_id}})

    def _emit_item_added(self, before: str | None, item: Item) -> None:
        for kind in ("conversation.item.added", "conversation.item.done"):
            self._emit({"type": kind, "previous_item_id": before, "item": json_copy(item.wire)})

    def _job_failed(self, job: Iterator[Outgoing | None], err: Exception) -> None:
        response = self._responses.owner_of(job)
        message = f"The server had an error while producing this output: {err!r}"
        if response is None:
            self._server_error(message, None)
            return
        self._emit(self._responses.failed(response, message), response_id=response.id)

    def _expire_if_due(self) -> bool:
        if self._closed:
            return True
        if self._clock() < self._deadline:
            return False
        self._responses.end_all()
        self._jobs.clear()
        self._closed = True
        minutes = round(self._max_session_s / 60)
        self._error("session_expired", f"Your session hit the maximum duration of {minutes} minutes.", None, None)
        return True

    def _set_session(self, session: dict[str, Any]) -> None:
        self._session = session
        self._input_settings = InputSettings.of(session)

    def _input_kind(self) -> str:
        return self._input_settings.kind

    def _turn_detection(self) -> Mapping[str, Any]:
        return self._input_settings.turn_detection

    # -- session.update and conversation items -----------------------------------------------------

    def _on_session_update(self, event: dict[str, Any]) -> None:
        if self._transcription_only:
            self._set_session(updated_transcription_session(self._session, event["session"]))
        else:
            session = updated_session(self._session, event["session"],
                                      voice_locked=self._responses.audio_was_produced)
            check_transcription(dig(session, "audio", "input", "transcription"), "session.audio.input.transcription")
            self._set_session(session)
        self._emit({"type": "session.updated", "session": json_copy(self._session)})

    def _on_item_create(self, event: dict[str, Any]) -> None:
        before, item = self._conversation.create(event["item"], event.get("previous_item_id"), self._session)
        self._emit_item_added(before, item)

    def _on_item_delete(self, event: dict[str, Any]) -> None:
        item = self._conversation.delete(event["item_id"])
        self._emit({"type": "conversation.item.deleted", "item_id": item.id})

    def _on_item_retrieve(self, event: dict[str, Any]) -> None:
        self._emit({"type": "conversation.item.retrieved", "item": self._conversation.retrieved(event["item_id"])})

    def _on_item_truncate(self, event: dict[str, Any]) -> None:
        index, end_ms = event["content_index"], event["audio_end_ms"]
        item = self._conversation.truncatable(event["item_id"], index)
        writer = self._responses.in_flight(item.response_id)
        if writer is not None:  # the response still writing this item stops first, so the cut is final
            self._cancel(writer, "client_cancelled")
        self._conversation.truncate(item, index, end_ms)
        self._emit({"type": "conversation.item.truncated", "item_id": item.id, "content_index": index,
                    "audio_end_ms": end_ms})

    # -- input audio -------------------------------------------------------------------------------

    def _on_append(self, event: dict[str, Any]) -> None:
        # noise reduction filters the audio before VAD and transcription see it (the SDK's order)
        settings = self._input_settings
        audio = self._noise.apply(event["audio"], settings.kind, settings.noise_reduction)
        job = self._input.append(audio, settings.kind, settings.detector)
        self._idle.fed(ms_of(len(event["audio"]) * 3 // 4 - event["audio"][-2:].count("="), settings.kind))
        if job is not None:
            self._work.request(job, self._on_detected)
        elif self._listening is not None:
            self._stop_listening()   # turn detection went off mid-turn

    def _on_detected(self, work: Work) -> None:
        """The detector's answer for one append: turns start and stop; the turn in progress is heard live."""
        if work.error is not None:
            self._server_error(f"Voice activity detection failed: {work.error!r}", None)
            return
        assert isinstance(work.job, DetectSpeech)
        kind = self._input_kind()
        for turn in self._input.detected(work.job, work.result, kind):
            if isinstance(turn, SpeechStarted):
                self._stop_listening()
                self._speech_started(turn)
                self._listening = (turn.item_id, 0)
                self._listen(turn.item_id, "start", b"")
            else:
                self._speech_stopped(turn)
        if self._listening is not None and self._input.speaking_item == self._listening[0]:
            item_id, fed = self._listening
            heard = self._input.speech_bytes(kind, work.job.end_ms)
            if ms_of(heard - fed, kind) >= LIVE_FEED_MS:
                self._listen(item_id, "feed", self._input.speech_so_far(kind, work.job.end_ms, skip=fed))
                self._listening = (item_id, heard)
        elif self._listening is not None:
            self._stop_listening()   # the buffer was cleared or the detector changed
        detection = self._turn_detection()
        if detection.get("type") == "server_vad" and not self._transcription_only:
            due = self._idle.due(detection.get("idle_timeout_ms"), work.job.end_ms)
            if due is not None:
                self._idle_timeout(*due)


    def _idle_timeout(self, start_ms: int, end_ms: int) -> None:
        """input_audio_buffer.timeout_triggered, the silent audio committed as an item, and a response."""
        try:
            data, item_id = self._input.commit(self._input_kind())
        except ClientError:  # the client cleared the buffer meanwhile: no silent audio to commit
            return
        self._emit({"type": "input_audio_buffer.timeout_triggered", "audio_start_ms": start_ms,
                    "audio_end_ms": end_ms, "item_id": item_id})
        transcription = self._commit(data, item_id)
        if self._responses.default_writer() is None:
            self._start_response({}, None, transcription)
        elif transcription is not None:
            self._jobs.append(transcription)

    def _listen(self, item_id: str, step: str, data: bytes, on_done: Callable[[Work], None] | None = None) -> Work:
        kind = self._input_kind()
        listen = Listen(item_id, step, decode(data, kind), rate_of(kind), str(self._session["id"]))
        return self._work.request(listen, on_done)

    def _stop_listening(self) -> None:
        """Abandon the turn heard live (its decoder is freed; the words are not wanted)."""
        if self._listening is not None:
            self._listen(self._listening[0], "end", b"")
            self._listening = None

    def _hear(self, item: Item) -> None:
        """Ask for the words of an audio item, once (a turn heard live already has its work)."""
        if item.heard is None and item.hearing is None:
            given = given_transcript(item)
            if given is not None:
                item.heard = given
                return
            work = self._work.request(Transcribe(item_samples(item), rate_of(item.audio_format)))
            self._heard_by(item, work)

    def _heard_by(self, item: Item, work: Work) -> None:
        item.hearing = work
        if work.done:
            self._on_heard(item, work)
        else:
            work.on_done.append(lambda done: self._on_heard(item, done))

    @staticmethod
    def _on_heard(item: Item, work: Work) -> None:
        if work.error is None:
            item.heard = str(work.result or "").strip()

    def _on_commit(self, event: dict[str, Any]) -> None:
        data, item_id = self._input.commit(self._input_kind())
        self._stop_listening()
        transcription = self._commit(data, item_id)
        if transcription is not None:
            self._jobs.append(transcription)

    def _on_clear(self, event: dict[str, Any]) -> None:
        self._input.clear()
        self._stop_listening()
        self._emit({"type": "input_audio_buffer.cleared"})

    def _on_output_clear(self, event: dict[str, Any]) -> None:
        raise ClientError("invalid_value", "output_audio_buffer.clear is only supported over WebRTC and SIP. Over "
                          "a WebSocket, send response.cancel, then conversation.item.truncate with the audio "
                          "played so far.", "type")

    def _commit(self, data: bytes, item_id: str, tail: bytes | None = None) -> Iterator[Outgoing | None] | None:
        """A user audio item from ``data``: committed, item added and done; its transcription events, if on.

        ``tail``: the part of ``data`` the live decoder has not heard yet (None: not heard live).
        """
        item = Item.user_audio(item_id, data, self._input_kind())
        if tail is not None:
            self._heard_by(item, self._listen(item_id, "end", tail))
        before = self._conversation.add(item)
        self._emit({"type": "input_audio_buffer.committed", "previous_item_id": before, "item_id": item_id})
        self._emit_item_added(before, item)
        transcription = dig(self._session, "audio", "input", "transcription")
        if not transcription:
            return None
        self._hear(item)
        model = str(transcription.get("model") or "")
        return refined_transcription(transcription_events(item, model, self._ids), self._session, item)

    def _speech_started(self, turn: SpeechStarted) -> None:
        self._idle.speech_started()
        self._emit({"type": "input_audio_buffer.speech_started", "audio_start_ms": int(turn.start_ms),
                    "item_id": turn.item_id})
        writer = self._responses.default_writer()
        if writer is not None and self._turn_detection().get("interrupt_response", True):
            self._cancel(writer, "turn_detected")

    def _speech_stopped(self, turn: SpeechStopped) -> None:
        self._idle.speech_stopped()
        self._emit({"type": "input_audio_buffer.speech_stopped", "audio_end_ms": int(turn.end_ms),
                    "item_id": turn.item_id})
        tail = None
        if self._listening is not None and self._listening[0] == turn.item_id:
            tail, self._listening = turn.audio[self._listening[1]:], None
        transcription = self._commit(turn.audio, turn.item_id, tail)
        if self._transcription_only:  # nothing answers: only the transcription follows
            if transcription is not None:
                self._jobs.append(transcription)
            return
        writer = self._responses.default_writer()
        # a reply being cancelled (this speech interrupted it) does not block the next: it follows in order
        if self._turn_detection().get("create_response", True) and (writer is None or writer.cancel_reason):
            self._start_response({}, None, transcription)
        elif transcription is not None:
            self._jobs.append(transcription)

    # -- responses ---------------------------------------------------------------------------------

    def _on_response_create(self, event: dict[str, Any]) -> None:
        if self._transcription_only:
            raise transcription_only("response.create")
        params = event.get("response") or {}
        check_session_values(params, "response")
        check_model_params(params, "response", self._model)
        conversation = params.get("conversation") or "auto"
        if conversation not in ("auto", "none"):
            raise ClientError("invalid_value", f"Invalid value: '{conversation}'. Supported values are: 'auto' "
                              "and 'none'.", "response.conversation")
        writer = self._responses.default_writer()
        if conversation == "auto" and writer is not None:
            raise ClientError("conversation_already_has_active_response", "Conversation already has an active "
                              f"response in progress: {writer.id}. Wait until the response is finished before "
                              "creating a new one.", None)
        input_items = self._conversation.response_input(params.get("input"), self._session) \
            if "input" in params else None
        self._start_response(params, input_items)

    def _on_response_cancel(self, event: dict[str, Any]) -> None:
        wanted = event.get("response_id")
        target = self._responses.in_flight(wanted) if wanted else self._responses.default_writer()
        if target is None:
            raise ClientError("response_cancel_not_active", "Cancellation failed: no active response found.", None)
        self._cancel(target, "client_cancelled")

    def _start_response(self, params: dict[str, Any], input_items: list[Item] | None,
                        transcription: Iterator[Outgoing | None] | None = None) -> None:
        settings = response_settings(self._session, params)
        if input_items is None:  # over the limit with truncation disabled: an error instead of a response
            self._in_context(list(self._conversation.items), settings)
        events = self._responses.start(params, settings, input_items)
        if transcription is not None:  # the service transcribes the turn while it answers
            response = self._responses.owner_of(events)
            events = beside_response(events, transcription)
            if response is not None:
                response.events = events
        self._jobs.append(events)

    def _in_context(self, items: list[Item], settings: Mapping[str, Any]) -> list[Item]:
        """The conversation items the model reads, per the session's truncation (context_window.py)."""
        return self._window.fit(items, settings, self._profile.input_token_limit)

    def _cancel(self, response: Response, reason: str) -> None:
        """End ``response`` now: its closing events go out before anything received later."""
        response.cancel_reason = reason
        if response.events is None:
            return
        for out in response.events:  # drains the generator through its cancelled ending
            if out is None:
                return               # still waiting on engine work: the rest goes out once it is done
            self._outbox.append(out)
        if response.events in self._jobs:
            self._jobs.remove(response.events)

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
