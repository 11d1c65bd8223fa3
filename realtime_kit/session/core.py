"""The awaitable Session over the openai SDK's AsyncRealtimeConnection: one event pump, folded state.

    import realtime_kit as rk
    session = await rk.connect()                       # Azure, OpenAI, or the embedded local server
    await session.update(voice="echo", instructions="Be brief.")
    reply = await session.send_text("How are you?")    # an rk.Response, at response.done
    reply.transcript, reply.audio, reply.timings
    async for delta in session.stream_text("Tell me a story"):
        print(delta.kind, delta.value)
    await session.close()

One task per session (the pump) reads the connection and folds every server event into a
`Conversation`; the methods here only send client events and await futures that the pump resolves.
A server `error` event is raised as `rk.RealtimeError` in the call that sent the offending event;
a connection that drops raises `rk.ConnectionLost` (with the partial response) in the call in flight,
and the session reconnects with its config and conversation (`session.reconnects`; see
reconnect.py; `rk.connect(reconnect=False)` ends the session instead). From code that cannot
await (a script, a widget callback) use `rk.run(...)` or `session.sync.send_text(...)`.

Session is composed, one collaborator a module, each given what it needs and none calling up:
pump.py (sending, waiting, the event pump and the fold), turns.py (the one place a turn starts and
ends), tool_loop.py (the tool registry, and the runner the pump calls at response.done),
audio_input.py (send_audio, append_audio, commit, clear_input), transcription.py (transcription
sessions), reconnect.py (the recovery strategy the pump asks when the connection ends); links.py
handles connect's record=, replay= and reconnect= options, connecting.py connect itself. This module
has Session, whose public methods delegate to those.
"""

from __future__ import annotations

import asyncio
import difflib
import html
import json
import time
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..errors import InvalidState, RealtimeError
from .audio_input import APPEND_CHUNK_MS as APPEND_CHUNK_MS
from .audio_input import AudioInput, turn_detection_of
from .connecting import LOCAL_NOTICE as LOCAL_NOTICE
from .connecting import Connecting, connect
from .conversation import Conversation, Delta, Response
from .eventlog import EventLog
from .pump import CREATED_TIMEOUT as CREATED_TIMEOUT
from .pump import SessionPump
from .reconnect import Reconnector
from .sync import SyncFacade, run
from .tool_loop import ToolRegistry, ToolRunner
from .tools import Tool
from .transcription import Transcription, TranscriptionInput
from .turns import TurnController, TurnHandle, TurnStream

if TYPE_CHECKING:
    from ..experiment.cost import Cost
    from ..record.reconnect import Reconnect

__all__ = ["Connecting", "Delta", "Response", "Session", "SessionState", "TurnStream", "connect", "run"]


def _user_content(text: str, image: Any, detail: str | None) -> list[dict[str, Any]]:
    """A user message's content: the text, then the image (checked and encoded here, before any sending)."""
    if not isinstance(text, str):
        raise TypeError(f"send_text needs a str, got {type(text).__name__}; for audio use send_audio.")
    content: list[dict[str, Any]] = [{"type": "input_text", "text": text}]
    if image is not None:
        from .images import image_content

        content.append(image_content(image, detail))
    elif detail is not None:
        raise TypeError("image_detail= needs image=; pass the picture too, or drop image_detail.")
    return content


# -- session state --------------------------------------------------------------------------------


@dataclass
class SessionState:
    """What session.update returns: the effective session and what the server changed or filled in."""

    effective: dict[str, Any]
    requested: dict[str, Any]
    changes: list[Any] = field(default_factory=list)

    def __repr__(self) -> str:
        from ..config.build import format_changes

        head = (f"SessionState(voice={_voice(self.effective)!r}, turn_detection={_turn_type(self.effective)!r}, "
                f"{len(self.changes)} changes)")
        return f"{head}\n{format_changes(self.changes)}" if self.changes else head

    def _repr_html_(self) -> str:
        from ..config.build import format_changes

        table = (format_changes(self.changes, as_html=True) if self.changes
                 else "<div>The server took the config as sent.</div>")
        effective = html.escape(json.dumps(self.effective, indent=2, default=str))
        return (f"<div><b>Session updated</b>{table}<details open><summary>effective session</summary>"
                f"<pre>{effective}</pre></details></div>")


def _voice(session: Mapping[str, Any]) -> Any:
    return ((session.get("audio") or {}).get("output") or {}).get("voice")


def _turn_type(session: Mapping[str, Any]) -> Any:
    turn = turn_detection_of(session)
    return turn.get("type") if isinstance(turn, Mapping) else turn


# -- the session ----------------------------------------------------------------------------------


class Session:
    """A live realtime session. Make one with `await rk.connect(...)`; see the module docstring.

    It owns its collaborators and calls down into them, never the other way: the pump (connection,
    fold, waits), the turn controller (the one place a turn starts), the tool registry and runner,
    audio input, transcription input and the reconnect strategy the pump asks when the connection ends.
    """

    def __init__(self, connection: Any, target: Any, *, clock: Callable[[], float] = time.perf_counter,
                 reconnect: bool = True, own_server: Any = None) -> None:
        self._pump = SessionPump(connection, target, clock=clock)
        self._reconnector = Reconnector(self._pump)
        if reconnect:
            self._pump.recovery = self._reconnector
        self._tools = ToolRegistry()
        self._turns = TurnController(self._pump, register_tools=self._tools.register,
                                     before_turn=self._reconnector.before_turn if reconnect else None)
        self._tool_runner = ToolRunner(self._pump, self._turns, self._tools)
        self._audio = AudioInput(self._pump, self._turns)
        self._transcription = TranscriptionInput(self._pump, self._audio)
        self.reconnect_enabled = reconnect
        self.replay_mismatches: list[Any] = []    # a replay's mismatches (links.py fills it)
        self._own_server = own_server            # a replay's private server, stopped at close

    async def _start(self) -> None:
        await self._pump.start()

    async def close(self) -> None:
        """Close the connection (and a replay's own server); pending calls raise ConnectionLost."""
        await self._pump.close()
        server, self._own_server = self._own_server, None
        if server is not None:
            await asyncio.to_thread(server.stop)

    async def __aenter__(self) -> Session:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    # -- state -----------------------------------------------------------------------------------

    @property
    def target(self) -> Any:
        """Where this session is connected (a Target: kind, model, description; secrets hidden)."""
        return self._pump.target

    @property
    def loop(self) -> asyncio.AbstractEventLoop | None:
        """The event loop this session runs on (widgets schedule their calls there from other threads)."""
        return self._pump.loop

    @property
    def conversation(self) -> Conversation:
        """The one conversation fold: items, responses, timings and audio, as the server events say."""
        return self._pump.conversation

    @property
    def events(self) -> EventLog:
        """Every event both ways, with times: a table, filters, JSONL export."""
        return self._pump.events

    @property
    def errors(self) -> list[RealtimeError]:
        """Server errors no awaiting call claimed (each was also a warning)."""
        return self._pump.errors

    @property
    def started_at(self) -> float:
        """When the session opened, on its clock (time.perf_counter)."""
        return self._pump.started_at

    @property
    def recorder(self) -> Any:
        """The recording being written (connect(record=...)), or None."""
        return self._pump.recorder

    @recorder.setter
    def recorder(self, writer: Any) -> None:
        self._pump.recorder = writer

    @property
    def reconnects(self) -> list[Reconnect]:
        """Each reconnect so far: when, why, how long it took, what was restored and lost."""
        return self._reconnector.reconnects

    @property
    def closed(self) -> bool:
        """True once closed by us or by the server."""
        return self._pump.closed

    @property
    def config(self) -> dict[str, Any]:
        """The effective session config (from the latest session.created / session.updated)."""
        return self._pump.config

    @property
    def responses(self) -> list[Response]:
        """Every response the server created in this session, in order."""
        return self._pump.conversation.responses

    @property
    def tools(self) -> dict[str, Tool]:
        """The Python functions this session runs when the model calls them, by name."""
        return self._tools.tools

    @property
    def is_transcription(self) -> bool:
        """True for a transcription session (``rk.connect(intent="transcription")``)."""
        return self._transcription.is_transcription

    @property
    def sync(self) -> Any:
        """Blocking versions of every method: `session.sync.send_text("hi")` (see rk.run)."""
        return SyncFacade(self)

    @property
    def cost(self) -> Cost:
        """What the responses so far cost (an experiment.cost.Cost: per modality, cached input apart), and the
        transcriptions of the input audio (`transcription`)."""
        from ..experiment.cost import total_cost, transcription_model

        return total_cost((r.usage for r in self.responses), self.config.get("model") or self.target.model,
                          transcriptions=self.conversation.transcription_usages.values(),
                          transcription_model=transcription_model(self.config))

    def __repr__(self) -> str:
        state = "closed" if self.closed else "open"
        return (f"<Session {state}: {self.target.description}, voice={_voice(self.config)!r}, "
                f"{len(self.responses)} responses, {len(self.events)} events>")

    # -- configuration ---------------------------------------------------------------------------

    async def update(self, config: Mapping[str, Any] | None = None, /, **flat: Any) -> SessionState:
        """Check and send a session.update; returns at session.updated with what the server made of it.

            state = await session.update(voice="echo", turn_detection=None, transcription=True)
            state.effective["audio"]["output"]["voice"], state.changes
        """
        from ..config.build import build_session, session_changes

        if self.is_transcription:
            raise InvalidState("This is a transcription session: configure it with "
                               "await session.update_transcription(model=..., language=...).")
        config, flat = self._tools.to_schemas(config, flat)
        requested = build_session(config, **flat)
        conversation = self._pump.conversation
        before = conversation.session_updates
        await self._pump.exchange(lambda: conversation.session_updates > before,
                                  {"type": "session.update", "session": requested})
        effective = conversation.session
        return SessionState(effective, requested, list(session_changes(requested, effective)))

    async def add_tool(self, fn: Callable[..., Any] | Tool) -> Tool:
        """Offer one more Python function to the model (keeps the tools already in the session)."""
        tool = self._tools.add(fn)
        current = [t for t in self.config.get("tools") or [] if t.get("name") != tool.name]
        await self.update(tools=[*current, tool.schema])
        return tool

    # -- text ------------------------------------------------------------------------------------

    async def send_text(self, text: str, *, image: Any = None, image_detail: str | None = None,
                        **overrides: Any) -> Response:
        """Add a user message and ask for a response; returns the Response at response.done.

        ``image=`` adds a picture to the message (a PNG/JPEG path or bytes, a numpy array, a matplotlib
        figure), checked and encoded before anything is sent; ``image_detail=`` is "auto", "low" or "high".
        Keyword arguments override the response (instructions=, voice=, output_modalities=,
        max_output_tokens=, tool_choice=, metadata=, ...). With tools, the final Response of the
        tool-call chain is returned and `reply.tool_calls` lists every call with its result.
        """
        content = _user_content(text, image, image_detail)
        reply = await self._turns.begin("send_text")
        waiter = self._turns.expect(reply)
        try:
            await self._request_text(reply, content, overrides)
            await self._pump.until(waiter)
        finally:
            self._pump.forget(waiter)
            self._turns.end(reply)  # cancelled or failed before response.done: the server stops too
        return reply.final

    def stream_text(self, text: str, *, image: Any = None, image_detail: str | None = None,
                    **overrides: Any) -> TurnStream:
        """Like send_text, but yields Delta(kind, value, response) as transcript, text and audio arrive.

        Leaving the loop early (``break``, an exception, a cancelled task) cancels the response on the
        server, so the next call starts cleanly.
        """
        handle = TurnHandle()
        content = _user_content(text, image, image_detail)
        return TurnStream(self._turns, handle, self._stream_turn(handle, content, overrides))

    async def _stream_turn(self, handle: TurnHandle, content: list[dict[str, Any]], overrides: Mapping[str, Any]
                           ) -> AsyncIterator[Delta]:
        reply = handle.reply = await self._turns.begin("stream_text")
        queue = self._pump.open_stream(reply)
        waiter = self._turns.expect(reply)
        waiter.future.add_done_callback(lambda _: queue.put_nowait(None))
        try:
            await self._request_text(reply, content, overrides)
            if waiter.ready() and not waiter.future.done():
                waiter.future.set_result(None)
            while (delta := await queue.get()) is not None:
                yield delta
            waiter.future.result()
        finally:
            self._pump.forget(waiter)
            self._pump.close_stream(reply)
            self._turns.end(reply)

    async def _request_text(self, reply: Response, content: list[dict[str, Any]],
                            overrides: Mapping[str, Any]) -> None:
        item = {"type": "message", "role": "user", "content": content}
        pump = self._pump
        try:
            ask = pump.prepare(self._turns.response_create(reply.tag, overrides))  # refuse bad overrides first
            reply.request_event_ids.append(await pump.send({"type": "conversation.item.create", "item": item}))
            reply.request_event_ids.append(await pump.send(ask))
        except BaseException:
            pump.conversation.withdraw(reply)
            raise

    # -- audio -----------------------------------------------------------------------------------

    async def send_audio(self, audio: Any, rate: int | None = None, *, vad_timeout: float = 3.0,
                         transcript_timeout: float = 10.0, **overrides: Any) -> Response:
        """Send speech (rk.Audio, ndarray + rate, (ndarray, rate) or a WAV path) and return the answer.

        The audio is converted to the session's input format (PCM16 24 kHz or G.711 8 kHz) and appended
        in 500 ms chunks. With turn detection off it is committed and a response requested here.
        With server VAD the server decides: silence is appended after the audio (the configured
        silence_duration_ms plus 300 ms) so the VAD hears the speech end; if the VAD reports nothing
        for `vad_timeout` seconds after the last chunk, the audio is committed and answered anyway.
        When input transcription is on, waits up to `transcript_timeout` s for `input_transcript`.

        A clip with several utterances gets several answers under server VAD (each pause ends a turn;
        a later utterance may interrupt an earlier answer). send_audio counts the clip's utterances
        (loud stretches apart by at least silence_duration_ms), waits for that many answers (or until
        the server does nothing more for `vad_timeout` s) and returns the last; `reply.turns` lists
        every turn's response in order (just `[reply]` for one).
        """
        return await self._audio.send_audio(audio, rate, vad_timeout=vad_timeout,
                                            transcript_timeout=transcript_timeout, **overrides)

    async def append_audio(self, samples: Any, rate: int | None = None) -> list[str]:
        """Convert samples (int16/float, any rate/channels) to the input format and append them."""
        return await self._audio.append_audio(samples, rate)

    async def commit(self) -> str | None:
        """Commit the input audio buffer; returns the new user item's id (at input_audio_buffer.committed)."""
        return await self._audio.commit()

    async def clear_input(self) -> None:
        """Drop the audio appended but not yet committed (at input_audio_buffer.cleared)."""
        await self._audio.clear_input()

    # -- transcription sessions ------------------------------------------------------------------

    async def update_transcription(self, **options: Any) -> dict[str, Any]:
        """Send a transcription session.update (keywords of `transcription_config`); the effective session."""
        return await self._transcription.update_transcription(**options)

    async def transcribe(self, audio: Any, rate: int | None = None, *, timeout: float = 60.0) -> Transcription:
        """Append ``audio`` (anything rk.Audio accepts), commit it and return its transcription."""
        return await self._transcription.transcribe(audio, rate, timeout=timeout)

    # -- interruption ----------------------------------------------------------------------------

    async def cancel(self) -> Response | None:
        """Cancel the response in flight, if any; returns it (status "cancelled") at response.done."""
        return await self._turns.cancel()

    async def truncate(self, item_id: str, audio_end_ms: int, content_index: int = 0) -> None:
        """Tell the server the user heard only the first `audio_end_ms` of an assistant item's audio."""
        key = ("conversation.item.truncated", item_id)
        counts = self._pump.counts
        before = counts[key]
        await self._pump.exchange(lambda: counts[key] > before, {
            "type": "conversation.item.truncate", "item_id": item_id, "content_index": content_index,
            "audio_end_ms": int(audio_end_ms)})

    # -- listening -------------------------------------------------------------------------------

    def on(self, event_type: str, callback: Callable[[Any], Any]) -> Callable[[], None]:
        """Call `callback(event)` for every server event of this type ("*" for all); returns unsubscribe."""
        from ..spec import server_event_types

        known = server_event_types()
        if event_type != "*" and event_type not in known:
            close = difflib.get_close_matches(event_type, known, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else " (see openai.types.realtime)."
            raise ValueError(f"session.on: {event_type!r} is not a GA server event type{hint}")
        return self._pump.subscribe(event_type, callback)
