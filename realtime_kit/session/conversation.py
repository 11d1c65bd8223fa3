"""The pure client-side fold: server events in, items, responses, audio, transcripts and timings out.

No asyncio, no network: the session's event pump feeds every server event to `Conversation.apply`
with the time it arrived, and everything a user sees (`Response`) is read from the folded state::

    conversation = Conversation()
    reply = conversation.request(at=clock(), tag="r1")      # we sent response.create
    for event in server_events:                            # SDK event models, in order
        conversation.apply(event, at=clock())
    reply.transcript, reply.audio.duration, reply.timings["first_audio"]

Responses are matched to requests by the `rk_request` tag we put in `response.metadata`; when the
server does not echo metadata (or VAD started the response), the oldest waiting request claims it.

Views (the playground, a transcript) read this state and subscribe to its changes rather than fold
the events again::

    unsubscribe = conversation.subscribe(lambda change: print(change.kind, change.item_id))
"""

from __future__ import annotations

import base64
import html
import json
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from .messages import Messages

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from ..audio.core import Audio, AudioBuffer

# The metadata key that ties a response.created to the response.create we sent.
REQUEST_TAG = "rk_request"

FINAL_STATUSES = ("completed", "cancelled", "failed", "incomplete")


@dataclass
class ToolCall:
    """One function call the model made, and what the session answered."""

    name: str
    arguments: Any                      # the parsed JSON object, or the raw string if it did not parse
    call_id: str
    item_id: str | None = None
    response_id: str | None = None
    result: Any = None
    error: str | None = None
    finished: bool = False              # the session has sent function_call_output for it

    def __repr__(self) -> str:
        args = json.dumps(self.arguments) if not isinstance(self.arguments, str) else self.arguments
        outcome = f"error={self.error!r}" if self.error else f"result={self.result!r}"
        return f"ToolCall({self.name}({args}) -> {outcome if self.finished else 'pending'})"


@dataclass(frozen=True)
class AudioDeltaRecord:
    """An output audio delta as kept in `Response.events`: its size, never its base64 payload."""

    response_id: str | None
    item_id: str | None
    nbytes: int
    event_id: str | None = None
    type: str = "response.output_audio.delta"


@dataclass(frozen=True)
class Delta:
    """One streamed piece of a response: `kind` is "transcript", "text" or "audio" (value: an Audio)."""

    kind: Literal["transcript", "text", "audio"]
    value: Any
    response: Response


ChangeKind = Literal["session", "response", "audio", "message", "error"]


@dataclass(frozen=True)
class Change:
    """What one server event changed in the fold, told to subscribers right after it is folded.

    `kind`: "session" (the effective session), "response" (a response's status, words or items),
    "audio" (a response's audio grew: `response.last_audio` holds the decoded delta), "message"
    (a message of `conversation.messages`: speech, a transcription, a truncation) or "error"
    (`conversation.last_error`). `response` and `item_id` say which, when the event names them.
    """

    kind: ChangeKind
    event_type: str
    response: Response | None = None
    item_id: str | None = None


class Response:
    """One model response, growing as events arrive; complete once `done` is true.

        reply = await session.send_text("Hello")
        reply.transcript, reply.audio.duration, reply.timings["first_audio"], reply.usage
        reply                       # in a notebook: transcript, player, waveform, timings
    """

    def __init__(self, requested_at: float, *, tag: str | None = None, audio_input: bool = False) -> None:
        self.requested_at = requested_at
        self.tag = tag
        self.audio_input = audio_input          # waits for speech / a commit before the model answers
        self.id: str | None = None
        self.item_id: str | None = None         # the first output message item
        self.input_item_id: str | None = None   # the user audio item this response answers
        self.answers: str | None = None         # the user message it answers (None: a follow-up)
        self.status: str | None = None
        self.status_details: dict[str, Any] | None = None
        self.usage: dict[str, Any] | None = None
        self.input_transcript: str | None = None
        self.input_transcript_usage: dict[str, Any] | None = None   # what transcribing the user's audio used
        self.input_transcript_error: str | None = None
        self.timings: dict[str, float] = {}
        self.events: list[Any] = []
        self.tool_calls: list[ToolCall] = []
        self.follow_up: Response | None = None  # the response the session asked for after running tools
        self.turns: list[Response] = [self]     # send_audio: every turn's response of a multi-utterance clip
        self.notes: list[str] = []              # things the user should know (a tool raised, ...)
        self.request_event_ids: list[str] = []  # client events sent for it (errors for them are raised)
        self._transcript: list[str] = []
        self._text: list[str] = []
        self._input_partial: list[str] = []
        self._buffer: AudioBuffer | None = None
        self.last_audio = b""  # the latest delta, decoded: what a stream hands on, so it is decoded once
        self._audio_cache: tuple[int, Audio] | None = None

    # -- what users read ----------------------------------------------------------------------

    @property
    def done(self) -> bool:
        """True once response.done has arrived (whatever the status)."""
        return self.status in FINAL_STATUSES

    @property
    def transcript(self) -> str:
        """The spoken answer's transcript (audio output)."""
        return "".join(self._transcript)

    @property
    def text(self) -> str:
        """The text answer (text output)."""
        return "".join(self._text)

    @property
    def audio(self) -> Audio:
        """All output audio so far as one `rk.Audio` (int16, mono); built once per new data."""
        from ..audio.core import Audio

        if self._buffer is None:
            import numpy as np

            return Audio(np.zeros(0, dtype=np.int16), 24000)
        if self._audio_cache is None or self._audio_cache[0] != self._buffer.nbytes:
            self._audio_cache = (self._buffer.nbytes, self._buffer.audio)
        return self._audio_cache[1]

    @property
    def audio_duration(self) -> float:
        """Seconds of output audio received, without building the Audio."""
        return 0.0 if self._buffer is None else float(self._buffer.duration)

    @property
    def final(self) -> Response:
        """The last response of a tool-call chain (this one when no tools ran)."""
        last = self
        while last.follow_up is not None:
            last = last.follow_up
        return last

    # -- fold helpers (called by Conversation) ------------------------------------------------

    def mark(self, name: str, at: float) -> None:
        """Record the first time `name` happened, in seconds since the request."""
        self.timings.setdefault(name, round(at - self.requested_at, 6))

    def add_audio(self, b64: str, fmt: str, rate: int) -> bytes:
        """Decode and keep one base64 audio delta (amortised O(n) overall); returns the PCM/G.711 bytes."""
        if self._buffer is None:
            from ..audio.core import AudioBuffer

            self._buffer = AudioBuffer(fmt=fmt, rate=rate)
        data = base64.b64decode(b64)
        self._buffer.append(data)
        self.last_audio = data
        return data

    # -- display ------------------------------------------------------------------------------

    def __repr__(self) -> str:
        words = self.transcript or self.text
        shown = words if len(words) <= 70 else words[:67] + "..."
        return (f"Response(id={self.id!r}, status={self.status!r}, audio={self.audio_duration:.2f} s, "
                f"transcript={shown!r})")

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        bundle = {"text/plain": repr(self), "text/html": self._html()}
        if include:
            bundle = {k: v for k, v in bundle.items() if k in include}
        if exclude:
            bundle = {k: v for k, v in bundle.items() if k not in exclude}
        return bundle

    def _html(self) -> str:
        parts = [f"<div><b>Response</b> <code>{html.escape(str(self.id))}</code> · "
                 f"{html.escape(str(self.status))}</div>"]
        if self.input_transcript:
            parts.append(f"<div><i>heard:</i> {html.escape(self.input_transcript)}</div>")
        words = self.transcript or self.text
        if words:
            parts.append(f"<p>{html.escape(words)}</p>")
        for call in self.tool_calls:
            parts.append(f"<div><code>{html.escape(repr(call))}</code></div>")
        for note in self.notes:
            parts.append(f"<div style='color:#b45309'>{html.escape(note)}</div>")
        if self.audio_duration > 0:
            parts.append(self.audio._repr_mimebundle_().get("text/html", ""))
        if self.timings:
            cells = "".join(f"<td>{html.escape(k)}</td><td>{v * 1000:.0f} ms</td>" for k, v in
                            self.timings.items())
            parts.append(f"<table><tr>{cells}</tr></table>")
        return "\n".join(parts)

    def timeline(self, title: str | None = None) -> Figure:
        """The turn on one time axis: request, created, first transcript/audio, done, and the audio."""
        from ..audio.plots import turn_timeline

        start = self.timings.get("first_audio", 0.0)
        audio = self.audio if self.audio_duration > 0 else None
        return turn_timeline(self.timings, audio, audio_start=start, title=title or self._title())

    def plot(self, ax: Any = None) -> Any:
        """The output audio's waveform, titled with the transcript."""
        return self.audio.plot(ax, title=self._title())

    def _title(self) -> str:
        words = self.transcript or self.text or str(self.id)
        return words if len(words) <= 60 else words[:57] + "..."


class Conversation:
    """Folded state of one realtime session, built only from server events (plus our requests)."""

    def __init__(self) -> None:
        self.session: dict[str, Any] = {}         # the effective session, from session.created/updated
        self.session_updates = 0                   # how many session.updated have arrived
        self.session_created = False
        self.items: dict[str, Any] = {}            # item id -> latest item model
        self.messages = Messages()                 # the message items as words, both sides, in order
        self.input_transcripts: dict[str, str] = {}
        self.transcription_usages: dict[str, dict[str, Any]] = {}  # item id -> usage of its transcription
        self.responses: list[Response] = []        # created by the server, in order
        self.pending: list[Response] = []          # requested, not yet created by the server
        self.in_flight: Response | None = None     # created and not yet done
        self.last_error: Any = None
        self._by_id: dict[str, Response] = {}
        self._by_input_item: dict[str, Response] = {}
        self._listening: Response | None = None    # the request that owns the speech being detected
        self._tags_echoed = False                  # the server echoes response.metadata
        self._subscribers: list[Callable[[Change], Any]] = []

    # -- requests -----------------------------------------------------------------------------

    def request(self, at: float, *, tag: str | None = None, audio_input: bool = False) -> Response:
        """A Response that waits for the server to create it (after response.create, or VAD)."""
        response = Response(at, tag=tag, audio_input=audio_input)
        self.pending.append(response)
        return response

    def withdraw(self, response: Response) -> None:
        """Forget a request the server refused (its response.create got an error)."""
        if response in self.pending:
            self.pending.remove(response)
        if self._listening is response:
            self._listening = None

    def response(self, response_id: str | None) -> Response | None:
        """The Response with this id, if the server created it."""
        return self._by_id.get(response_id) if response_id else None

    @property
    def output_format(self) -> tuple[str, int]:
        """(format type, sample rate) of the session's output audio."""
        return _format_of(self.session, "output")

    @property
    def input_format(self) -> tuple[str, int]:
        """(format type, sample rate) the session expects for input audio."""
        return _format_of(self.session, "input")

    # -- subscribers --------------------------------------------------------------------------

    def subscribe(self, callback: Callable[[Change], Any]) -> Callable[[], None]:
        """Call `callback(change)` after each server event that changed the fold; returns unsubscribe.

        Callbacks run where events are folded (the session's event pump); one that raises is reported
        as a RuntimeWarning and the others still run.
        """
        self._subscribers.append(callback)

        def unsubscribe() -> None:
            if callback in self._subscribers:
                self._subscribers.remove(callback)

        return unsubscribe

    def _tell(self, change: Change) -> None:
        for callback in list(self._subscribers):
            try:
                callback(change)
            except Exception as err:  # a view's failure must not stop the fold
                warnings.warn(f"conversation subscriber {getattr(callback, '__name__', callback)!r} raised "
                              f"{type(err).__name__}: {err}", RuntimeWarning, stacklevel=3)

    # -- the fold -----------------------------------------------------------------------------

    def apply(self, event: Any, at: float) -> Response | None:
        """Fold one server event (an SDK model) in; returns the Response it touched, if any."""
        kind = getattr(event, "type", None) or ""
        if kind == "response.output_audio.delta":  # the hot path: most events of a long answer
            response = self._by_id.get(event.response_id)
            if response is not None:
                fmt, rate = self.output_format
                data = response.add_audio(event.delta, fmt, rate)
                response.mark("first_audio", at)
                response.events.append(AudioDeltaRecord(event.response_id, event.item_id, len(data),
                                                        getattr(event, "event_id", None)))
                if self._subscribers:
                    self._tell(Change("audio", kind, response, event.item_id))
            return response
        handler = _HANDLERS.get(kind)
        touched = handler(self, event, at) if handler else None
        if touched is None:
            touched = self._by_id.get(getattr(event, "response_id", None) or "")
        if touched is not None:
            touched.events.append(event)
        item_id = self._fold_messages(kind, event, touched)
        if self._subscribers:
            self._tell_about(kind, touched, item_id or getattr(event, "item_id", None))
        return touched

    def _fold_messages(self, kind: str, event: Any, touched: Response | None) -> str | None:
        """The words view of the event; a malformed event costs that view only, never the Response."""
        try:
            if kind == "response.done" and touched is not None and touched.id:
                self.messages.response_done(touched.id)
            return self.messages.apply(event)
        except Exception as err:
            warnings.warn(f"realtime_kit could not fold the words of a {kind} event: {err}", RuntimeWarning,
                          stacklevel=3)
            return None

    def _tell_about(self, kind: str, touched: Response | None, item_id: str | None) -> None:
        if kind in ("session.created", "session.updated"):
            self._tell(Change("session", kind))
        elif kind == "error":
            self._tell(Change("error", kind))
        elif touched is not None and kind.startswith("response."):
            self._tell(Change("response", kind, touched, item_id))
        elif item_id is not None and self.messages.get(item_id) is not None:
            self._tell(Change("message", kind, touched, item_id))

    # -- handlers, one per event type (the GA event name is the comment) ----------------------

    def _session(self, event: Any, at: float) -> None:
        # session.created / session.updated: the full effective session
        self.session = _dump(event.session)
        if event.type == "session.created":
            self.session_created = True
        else:
            self.session_updates += 1

    def _created(self, event: Any, at: float) -> Response:
        # response.created
        model = event.response
        metadata = model.metadata or {}
        tag = metadata.get(REQUEST_TAG) if isinstance(metadata, Mapping) else None
        response = self._claim(tag, at)
        response.id = model.id
        response.status = model.status or "in_progress"
        response.mark("created", at)
        latest_user = self.messages.claim_unanswered()
        response.answers = response.input_item_id or latest_user
        self._by_id[str(model.id)] = response
        self.responses.append(response)
        self.in_flight = response
        return response

    def _claim(self, tag: str | None, at: float) -> Response:
        if tag is not None:
            self._tags_echoed = True
            for response in self.pending:
                if response.tag == tag:
                    self.pending.remove(response)
                    return response
        candidates = [r for r in self.pending if r.audio_input] or ([] if self._tags_echoed else self.pending)
        if candidates:
            chosen = candidates[0]
            self.pending.remove(chosen)
            if self._listening is chosen:
                self._listening = None
            return chosen
        return Response(at)  # started by someone else (server VAD for a microphone, another client)

    def _done(self, event: Any, at: float) -> Response | None:
        # response.done: final status, usage, and the output items (function calls among them)
        model = event.response
        response = self._by_id.get(model.id) if model.id else None
        if response is None:
            return None
        response.status = model.status or "completed"
        response.status_details = _dump(model.status_details) if model.status_details else None
        response.usage = _dump(model.usage) if model.usage else None
        for item in model.output or []:
            if getattr(item, "type", None) == "function_call":
                self._add_call(response, item)
        response.mark("done", at)
        if self.in_flight is response:
            self.in_flight = None
        return response

    def _output_item(self, event: Any, at: float) -> Response | None:
        # response.output_item.added / response.output_item.done
        response = self._by_id.get(event.response_id)
        item = event.item
        if response is None:
            return None
        if item.id:
            self.items[item.id] = item
        if getattr(item, "type", None) == "message" and response.item_id is None:
            response.item_id = item.id
        if event.type == "response.output_item.done" and getattr(item, "type", None) == "function_call":
            self._add_call(response, item)
        return response

    def _add_call(self, response: Response, item: Any) -> None:
        if any(call.call_id == item.call_id for call in response.tool_calls):
            return
        try:
            arguments: Any = json.loads(item.arguments or "{}")
        except ValueError:
            arguments = item.arguments
        response.tool_calls.append(ToolCall(item.name, arguments, item.call_id, item.id, response.id))

    def _transcript_delta(self, event: Any, at: float) -> Response | None:
        # response.output_audio_transcript.delta
        response = self._by_id.get(event.response_id)
        if response is not None:
            response._transcript.append(event.delta)
            response.mark("first_transcript", at)
        return response

    def _transcript_done(self, event: Any, at: float) -> Response | None:
        # response.output_audio_transcript.done: the server's final words win
        response = self._by_id.get(event.response_id)
        if response is not None and event.transcript is not None:
            response._transcript = [event.transcript]
        return response

    def _text_delta(self, event: Any, at: float) -> Response | None:
        # response.output_text.delta
        response = self._by_id.get(event.response_id)
        if response is not None:
            response._text.append(event.delta)
            response.mark("first_text", at)
        return response

    def _text_done(self, event: Any, at: float) -> Response | None:
        # response.output_text.done
        response = self._by_id.get(event.response_id)
        if response is not None and event.text is not None:
            response._text = [event.text]
        return response

    def _item(self, event: Any, at: float) -> None:
        # conversation.item.added / .done / .created / .retrieved
        item = event.item
        if getattr(item, "id", None):
            self.items[item.id] = item

    def _item_deleted(self, event: Any, at: float) -> None:
        # conversation.item.deleted
        self.items.pop(event.item_id, None)

    def _listener(self, at: float) -> Response:
        """The request that owns the speech the server is detecting (a new one for a microphone)."""
        if self._listening is None:
            waiting = [r for r in self.pending if r.audio_input and r.input_item_id is None]
            # a turn nobody requested (a microphone) starts when its speech starts
            self._listening = waiting[0] if waiting else self.request(at, audio_input=True)
        return self._listening

    def _speech(self, event: Any, at: float) -> Response:
        # input_audio_buffer.speech_started / speech_stopped
        response = self._listener(at)
        response.mark(event.type.rsplit(".", 1)[1], at)
        return response

    def _committed(self, event: Any, at: float) -> Response | None:
        # input_audio_buffer.committed: the user's audio is now an item
        waiting = self._listening or next((r for r in self.pending if r.audio_input and
                                           r.input_item_id is None), None)
        if waiting is None:
            return None
        waiting.input_item_id = event.item_id
        waiting.mark("committed", at)
        self._by_input_item[event.item_id] = waiting
        self._listening = None
        return waiting

    def _input_transcript(self, event: Any, at: float) -> Response | None:
        # conversation.item.input_audio_transcription.delta / completed / failed
        response = self._by_input_item.get(event.item_id)
        kind = event.type.rsplit(".", 1)[1]
        if kind == "completed":
            self.input_transcripts[event.item_id] = event.transcript
            usage = getattr(event, "usage", None)
            if usage is not None:
                self.transcription_usages[event.item_id] = usage.model_dump(exclude_none=True) \
                    if hasattr(usage, "model_dump") else dict(usage)
        if response is None:
            return None
        if kind == "delta":
            response._input_partial.append(event.delta or "")
        elif kind == "completed":
            response.input_transcript = event.transcript
            response.input_transcript_usage = self.transcription_usages.get(event.item_id)
            response.mark("input_transcript", at)
        else:
            error = getattr(event, "error", None)
            response.input_transcript_error = getattr(error, "message", None) or "transcription failed"
        return response

    def _error(self, event: Any, at: float) -> None:
        # error: the session routes it to whoever sent the offending event
        self.last_error = event.error


Handler = Callable[[Conversation, Any, float], "Response | None"]

_HANDLERS: dict[str, Handler] = {
    "session.created": Conversation._session,
    "session.updated": Conversation._session,
    "response.created": Conversation._created,
    "response.done": Conversation._done,
    "response.output_item.added": Conversation._output_item,
    "response.output_item.done": Conversation._output_item,
    "response.output_audio_transcript.delta": Conversation._transcript_delta,
    "response.output_audio_transcript.done": Conversation._transcript_done,
    "response.output_text.delta": Conversation._text_delta,
    "response.output_text.done": Conversation._text_done,
    "conversation.item.added": Conversation._item,
    "conversation.item.done": Conversation._item,
    "conversation.item.created": Conversation._item,
    "conversation.item.retrieved": Conversation._item,
    "conversation.item.deleted": Conversation._item_deleted,
    "input_audio_buffer.speech_started": Conversation._speech,
    "input_audio_buffer.speech_stopped": Conversation._speech,
    "input_audio_buffer.committed": Conversation._committed,
    "conversation.item.input_audio_transcription.delta": Conversation._input_transcript,
    "conversation.item.input_audio_transcription.completed": Conversation._input_transcript,
    "conversation.item.input_audio_transcription.failed": Conversation._input_transcript,
    "error": Conversation._error,
}


def _dump(model: Any) -> Any:
    """A plain JSON-ready dict of an SDK model, keeping only what the server sent."""
    if hasattr(model, "model_dump"):
        return model.model_dump(mode="json", exclude_unset=True, by_alias=True)
    return model


def _format_of(session: Mapping[str, Any], direction: str) -> tuple[str, int]:
    """(type, rate) of session.audio.<direction>.format; PCM 24 kHz when unset."""
    audio = session.get("audio") or {}
    fmt = ((audio.get(direction) or {}).get("format")) or {}
    kind = fmt.get("type") or "audio/pcm"
    if kind == "audio/pcm":
        return kind, int(fmt.get("rate") or 24000)
    return kind, 8000
