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
a connection that drops raises `rk.ConnectionLost` with the partial response. From code that cannot
await (a script, a widget callback) use `rk.run(...)` or `session.sync.send_text(...)`.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import difflib
import html
import itertools
import json
import time
import warnings
from collections import Counter
from collections.abc import AsyncIterator, Callable, Generator, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .conversation import REQUEST_TAG, Conversation, Delta, Response, ToolCall
from .errors import ConfigError, ConnectionLost, InvalidState, RealtimeError, RealtimeKitError, TargetError
from .eventlog import EventLog
from .sync import SyncFacade, run
from .tools import Tool, error_text, function_tool, output_text

__all__ = ["Connecting", "Delta", "Response", "Session", "SessionState", "connect", "run"]

LOCAL_NOTICE = ("No AZURE_OPENAI_ENDPOINT or OPENAI_API_KEY set: using the embedded local server at {url} "
                "(offline voice, not the real model).")

# Input audio goes out in chunks of this many milliseconds (the service accepts up to 15 MiB per event).
APPEND_CHUNK_MS = 500
# Seconds to wait for session.created after the WebSocket opens.
CREATED_TIMEOUT = 30.0
# Besides config.FLAT_KEYWORDS, these rk.connect keywords configure the session (the rest pick the target).
SESSION_EXTRA_KEYWORDS = frozenset({"config", "audio", "include", "prompt"})


# -- connect --------------------------------------------------------------------------------------


def connect(target: str | None = None, **options: Any) -> Connecting:
    """Open a session: `await rk.connect()` or `async with rk.connect() as session:`.

    `target` is None (from the environment: Azure, then OpenAI, else the embedded server), "local",
    "azure", "openai" or a ws:// URL. Session keywords (voice=, instructions=, turn_detection=, ...)
    are sent as a session.update once connected; other options go to the target (model=, ...).
    """
    return Connecting(target, options)


class Connecting:
    """What rk.connect returns: awaitable (gives the Session) and an async context manager (closes it)."""

    def __init__(self, target: str | None, options: Mapping[str, Any]) -> None:
        self._target = target
        self._options = dict(options)
        self._session: Session | None = None

    def __await__(self) -> Generator[Any, None, Session]:
        return self._open().__await__()

    async def __aenter__(self) -> Session:
        self._session = await self._open()
        return self._session

    async def __aexit__(self, *exc_info: object) -> None:
        if self._session is not None:
            await self._session.close()

    async def _open(self) -> Session:
        from .config import FLAT_KEYWORDS
        from .targets import open_connection, resolve_target

        names = SESSION_EXTRA_KEYWORDS.union(FLAT_KEYWORDS)
        session_options = {k: v for k, v in self._options.items() if k in names}
        target_options = {k: v for k, v in self._options.items() if k not in names}
        target = resolve_target(self._target, **target_options)
        try:
            connection = await open_connection(target)
        except RealtimeKitError:
            raise
        except Exception as err:
            raise TargetError(f"Could not connect to {target.description}: {err}. Check the endpoint and "
                              f"credential, or use rk.connect('local') for the embedded server.") from err
        target = getattr(connection, "target", target)  # the local server's URL is known once it runs
        if self._target is None and target.kind == "local":
            print(LOCAL_NOTICE.format(url=_origin(target.websocket_base_url)))
        session = Session(connection, target)
        await session._start()
        if session_options:
            config = session_options.pop("config", None)
            try:
                await session.update(config, **session_options)
            except BaseException:
                await session.close()
                raise
        return session


def _origin(url: str) -> str:
    """ws://host:port of a websocket base URL (the notice shows where the server listens)."""
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{rest.split('/', 1)[0]}"


# -- session state --------------------------------------------------------------------------------


@dataclass
class SessionState:
    """What session.update returns: the effective session and what the server changed or filled in."""

    effective: dict[str, Any]
    requested: dict[str, Any]
    changes: list[Any] = field(default_factory=list)

    def __repr__(self) -> str:
        from .config import format_changes

        head = (f"SessionState(voice={_voice(self.effective)!r}, turn_detection={_turn_type(self.effective)!r}, "
                f"{len(self.changes)} changes)")
        return f"{head}\n{format_changes(self.changes)}" if self.changes else head

    def _repr_html_(self) -> str:
        from .config import format_changes

        table = (format_changes(self.changes, as_html=True) if self.changes
                 else "<div>The server took the config as sent.</div>")
        effective = html.escape(json.dumps(self.effective, indent=2, default=str))
        return (f"<div><b>Session updated</b>{table}<details open><summary>effective session</summary>"
                f"<pre>{effective}</pre></details></div>")


def _voice(session: Mapping[str, Any]) -> Any:
    return ((session.get("audio") or {}).get("output") or {}).get("voice")


def _turn_type(session: Mapping[str, Any]) -> Any:
    turn = _turn_detection(session)
    return turn.get("type") if isinstance(turn, Mapping) else turn


def _turn_detection(session: Mapping[str, Any]) -> Any:
    return ((session.get("audio") or {}).get("input") or {}).get("turn_detection")


# -- the session ----------------------------------------------------------------------------------


@dataclass(eq=False)
class _Waiter:
    """An awaiting call: done when `ready()` holds; errors for the events it `owns` are raised in it."""

    ready: Callable[[], bool]
    owns: Callable[[str], bool]
    partial: Callable[[], Any]
    future: asyncio.Future[None]


class Session:
    """A live realtime session. Make one with `await rk.connect(...)`; see the module docstring."""

    def __init__(self, connection: Any, target: Any, *, clock: Callable[[], float] = time.perf_counter) -> None:
        self.target = target
        self.conversation = Conversation()
        self._connection = connection
        self._clock = clock
        self.started_at = clock()
        self.events = EventLog(start=self.started_at)
        self.errors: list[RealtimeError] = []      # errors no awaiting call claimed
        self._sent: dict[str, Any] = {}            # event_id -> scrubbed client event, for error reports
        self._waiters: list[_Waiter] = []
        self._listeners: dict[str, list[Callable[[Any], Any]]] = {}
        self._streams: dict[Response, asyncio.Queue[Any]] = {}
        self._tools: dict[str, Tool] = {}
        self._counts: Counter[Any] = Counter()     # non-delta server events seen, by type and (type, item)
        self._ids = itertools.count(1)
        self._tasks: set[asyncio.Task[Any]] = set()
        self._pump: asyncio.Task[None] | None = None
        self._closing = False
        self._lost: str | None = None
        self._last_committed: str | None = None

    # -- lifecycle -------------------------------------------------------------------------------

    async def _start(self) -> None:
        self._pump = asyncio.get_running_loop().create_task(self._run_pump(), name="realtime-kit-pump")
        try:
            await self._wait(lambda: self.conversation.session_created, timeout=CREATED_TIMEOUT)
        except TimeoutError:
            await self.close()
            raise TargetError(f"{self.target.description} opened the WebSocket but sent no session.created "
                              f"within {CREATED_TIMEOUT:.0f} s; is it a GA Realtime endpoint?") from None

    async def close(self) -> None:
        """Close the connection; pending calls raise ConnectionLost. Safe to call twice."""
        if self._closing:
            return
        self._closing = True
        for task in list(self._tasks):
            task.cancel()
        with contextlib.suppress(Exception):  # already gone: nothing left to close
            await self._connection.close()
        if self._pump is not None and self._pump is not asyncio.current_task():
            try:
                await asyncio.wait_for(asyncio.shield(self._pump), timeout=5.0)
            except (TimeoutError, asyncio.CancelledError, Exception):
                self._pump.cancel()
        self._connection_gone("the session was closed")

    @property
    def closed(self) -> bool:
        """True once closed by us or by the server."""
        return self._closing or self._lost is not None

    async def __aenter__(self) -> Session:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    @property
    def config(self) -> dict[str, Any]:
        """The effective session config (from the latest session.created / session.updated)."""
        return self.conversation.session

    @property
    def responses(self) -> list[Response]:
        """Every response the server created in this session, in order."""
        return self.conversation.responses

    @property
    def sync(self) -> Any:
        """Blocking versions of every method: `session.sync.send_text("hi")` (see rk.run)."""
        return SyncFacade(self)

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
        from .config import build_session, session_changes

        config, flat = self._tools_to_schemas(config, flat)
        requested = build_session(config, **flat)
        before = self.conversation.session_updates
        await self._exchange(lambda: self.conversation.session_updates > before,
                             {"type": "session.update", "session": requested})
        effective = self.conversation.session
        return SessionState(effective, requested, list(session_changes(requested, effective)))

    async def add_tool(self, fn: Callable[..., Any] | Tool) -> Tool:
        """Offer one more Python function to the model (keeps the tools already in the session)."""
        tool = fn if isinstance(fn, Tool) else function_tool(fn)
        self._tools[tool.name] = tool
        current = [t for t in self.config.get("tools") or [] if t.get("name") != tool.name]
        await self.update(tools=[*current, tool.schema])
        return tool

    @property
    def tools(self) -> dict[str, Tool]:
        """The Python functions this session runs when the model calls them, by name."""
        return dict(self._tools)

    def _tools_to_schemas(self, config: Mapping[str, Any] | None, flat: dict[str, Any]
                          ) -> tuple[Mapping[str, Any] | None, dict[str, Any]]:
        if "tools" in flat and flat["tools"] is not None:
            flat = {**flat, "tools": self._register_tools(flat["tools"])}
        if config is not None and config.get("tools") is not None:
            config = {**config, "tools": self._register_tools(config["tools"])}
        return config, flat

    def _register_tools(self, tools: Iterable[Any]) -> list[Any]:
        schemas = []
        for entry in tools:
            if isinstance(entry, Mapping):
                schemas.append(entry)
                continue
            tool = entry if isinstance(entry, Tool) else function_tool(entry)
            self._tools[tool.name] = tool
            schemas.append(tool.schema)
        return schemas

    # -- text ------------------------------------------------------------------------------------

    async def send_text(self, text: str, **overrides: Any) -> Response:
        """Add a user message and ask for a response; returns the Response at response.done.

        Keyword arguments override the response (instructions=, voice=, output_modalities=,
        max_output_tokens=, tool_choice=, metadata=, ...). With tools, the final Response of the
        tool-call chain is returned and `reply.tool_calls` lists every call with its result.
        """
        reply = self.conversation.request(self._clock(), tag=self._new_tag())
        waiter = self._expect_turn(reply)
        try:
            await self._request_text(reply, text, overrides)
            await self._until(waiter)
        finally:
            self._forget(waiter)
        return reply.final

    async def stream_text(self, text: str, **overrides: Any) -> AsyncIterator[Delta]:
        """Like send_text, but yields Delta(kind, value, response) as transcript, text and audio arrive."""
        queue: asyncio.Queue[Any] = asyncio.Queue()
        reply = self.conversation.request(self._clock(), tag=self._new_tag())
        self._streams[reply] = queue
        waiter = self._expect_turn(reply)
        waiter.future.add_done_callback(lambda _: queue.put_nowait(None))
        try:
            await self._request_text(reply, text, overrides)
            if waiter.ready() and not waiter.future.done():
                waiter.future.set_result(None)
            while (delta := await queue.get()) is not None:
                yield delta
            waiter.future.result()
        finally:
            self._forget(waiter)
            for response in _chain(reply):
                self._streams.pop(response, None)

    async def _request_text(self, reply: Response, text: str, overrides: Mapping[str, Any]) -> None:
        if not isinstance(text, str):
            raise TypeError(f"send_text needs a str, got {type(text).__name__}; for audio use send_audio.")
        item = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}
        try:
            ask = self._prepare(self._response_create(reply.tag, overrides))  # refuse bad overrides first
            reply.request_event_ids.append(await self._send({"type": "conversation.item.create", "item": item}))
            reply.request_event_ids.append(await self._send(ask))
        except BaseException:
            self.conversation.withdraw(reply)
            raise

    def _response_create(self, tag: str | None, overrides: Mapping[str, Any]) -> dict[str, Any]:
        params = dict(overrides)
        if "voice" in params:
            voice = params.pop("voice")
            params["audio"] = {**params.get("audio", {}), "output": {"voice": voice}}
        if "tools" in params and params["tools"] is not None:
            params["tools"] = self._register_tools(params["tools"])
        params["metadata"] = {**(params.get("metadata") or {}), REQUEST_TAG: tag}
        return {"type": "response.create", "response": params}

    def _new_tag(self) -> str:
        return f"r{next(self._ids)}"

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
        """
        from .audio import Audio, coerce_audio

        clip = coerce_audio(audio, rate)
        reply = self.conversation.request(self._clock(), tag=self._new_tag(), audio_input=True)
        turn = _turn_detection(self.config)
        waiter = self._expect_turn(reply)
        try:
            await self._append(clip, reply)
            if turn is None:
                await self._commit_and_ask(reply, overrides)
            else:
                padding = _silence_needed(clip, turn)
                if padding > 0:
                    await self._append(Audio.silence(padding, clip.rate), reply)
                await self._await_vad(reply, turn, vad_timeout, overrides)
            await self._until(waiter)
        except BaseException:
            self.conversation.withdraw(reply)
            raise
        finally:
            self._forget(waiter)
        if self._transcribing():
            try:
                await self._wait(lambda: reply.input_transcript is not None or
                                 reply.input_transcript_error is not None, timeout=transcript_timeout)
            except TimeoutError:
                reply.notes.append(f"No input transcript arrived within {transcript_timeout:.0f} s.")
        final = reply.final
        if final is not reply:
            final.input_transcript, final.input_item_id = reply.input_transcript, reply.input_item_id
        return final

    async def append_audio(self, samples: Any, rate: int | None = None) -> list[str]:
        """Convert samples (int16/float, any rate/channels) to the input format and append them."""
        from .audio import coerce_audio

        return await self._append(coerce_audio(samples, rate))

    async def commit(self) -> str | None:
        """Commit the input audio buffer; returns the new user item's id (at input_audio_buffer.committed)."""
        before = self._counts["input_audio_buffer.committed"]
        await self._exchange(lambda: self._counts["input_audio_buffer.committed"] > before,
                             {"type": "input_audio_buffer.commit"})
        return self._last_committed

    async def clear_input(self) -> None:
        """Drop the audio appended but not yet committed (at input_audio_buffer.cleared)."""
        before = self._counts["input_audio_buffer.cleared"]
        await self._exchange(lambda: self._counts["input_audio_buffer.cleared"] > before,
                             {"type": "input_audio_buffer.clear"})

    async def _append(self, clip: Any, reply: Response | None = None) -> list[str]:
        fmt, wire_rate = self.conversation.input_format
        sent = reply.request_event_ids if reply is not None else []
        for chunk in clip.to_base64_chunks(ms=APPEND_CHUNK_MS, fmt=fmt, rate=wire_rate):
            sent.append(await self._send({"type": "input_audio_buffer.append", "audio": chunk}))
        return sent

    async def _commit_and_ask(self, reply: Response, overrides: Mapping[str, Any]) -> None:
        reply.request_event_ids.append(await self._send({"type": "input_audio_buffer.commit"}))
        reply.request_event_ids.append(await self._send(self._response_create(reply.tag, overrides)))

    async def _await_vad(self, reply: Response, turn: Mapping[str, Any], vad_timeout: float,
                         overrides: Mapping[str, Any]) -> None:
        seen = -1
        while reply.input_item_id is None and reply.id is None:
            progress = len(reply.timings)  # speech_started / speech_stopped marks mean the VAD is working
            if progress == seen:
                # the VAD heard nothing new for vad_timeout seconds: commit and ask ourselves
                reply.notes.append("Server VAD did not end the turn; send_audio committed the audio itself.")
                await self._commit_and_ask(reply, overrides)
                return
            seen = progress
            try:
                await self._wait(lambda: reply.input_item_id is not None or reply.id is not None,
                                 owns=reply.request_event_ids.__contains__, partial=lambda: reply,
                                 timeout=vad_timeout)
            except TimeoutError:
                continue
        if turn.get("create_response") is False and reply.id is None:
            reply.request_event_ids.append(await self._send(self._response_create(reply.tag, overrides)))

    def _transcribing(self) -> bool:
        return bool(((self.config.get("audio") or {}).get("input") or {}).get("transcription"))

    # -- interruption ----------------------------------------------------------------------------

    async def cancel(self) -> Response | None:
        """Cancel the response in flight, if any; returns it (status "cancelled") at response.done."""
        response = self.conversation.in_flight
        if response is None or response.id is None:
            return None
        event = {"type": "response.cancel", "response_id": response.id}
        try:
            await self._exchange(lambda: response.done, event, partial=lambda: response)
        except RealtimeError as err:
            if "not_active" not in (err.code or "") and "no active" not in err.message.lower():
                raise
        return response

    async def truncate(self, item_id: str, audio_end_ms: int, content_index: int = 0) -> None:
        """Tell the server the user heard only the first `audio_end_ms` of an assistant item's audio."""
        key = ("conversation.item.truncated", item_id)
        before = self._counts[key]
        await self._exchange(lambda: self._counts[key] > before, {
            "type": "conversation.item.truncate", "item_id": item_id, "content_index": content_index,
            "audio_end_ms": int(audio_end_ms)})

    # -- listening -------------------------------------------------------------------------------

    def on(self, event_type: str, callback: Callable[[Any], Any]) -> Callable[[], None]:
        """Call `callback(event)` for every server event of this type ("*" for all); returns unsubscribe."""
        from .spec import server_event_types

        known = server_event_types()
        if event_type != "*" and event_type not in known:
            close = difflib.get_close_matches(event_type, known, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else " (see openai.types.realtime)."
            raise ValueError(f"session.on: {event_type!r} is not a GA server event type{hint}")
        self._listeners.setdefault(event_type, []).append(callback)

        def unsubscribe() -> None:
            if callback in self._listeners.get(event_type, []):
                self._listeners[event_type].remove(callback)

        return unsubscribe

    # -- sending ---------------------------------------------------------------------------------

    async def _send(self, event: dict[str, Any]) -> str:
        """Validate, log and send one client event; returns its event_id."""
        event = self._prepare(event)
        row = self.events.record("out", event, self._clock())
        self._sent[event["event_id"]] = row.source
        try:
            await self._connection.send(event)
        except Exception as err:
            self._connection_gone(f"sending {event['type']} failed: {err}")
            raise ConnectionLost(f"The connection closed while sending {event['type']}; connect again with "
                                 f"rk.connect().") from err
        return str(event["event_id"])

    def _prepare(self, event: dict[str, Any]) -> dict[str, Any]:
        """The event with its event_id, checked against the SDK's client event types."""
        from .spec import SpecViolation, validate_client_event

        self._check_open()
        event = {**event, "event_id": event.get("event_id") or f"rk_{next(self._ids)}"}
        try:
            validate_client_event(event)
        except SpecViolation as err:
            raise ConfigError(f"{event['type']}: {err.message} Nothing was sent.", path=err.param) from None
        return event

    def _check_open(self) -> None:
        if self._lost is not None:
            raise ConnectionLost(f"This session is no longer connected ({self._lost}); open a new one with "
                                 f"`session = await rk.connect()`.")
        if self._closing:
            raise InvalidState("This session is closed; open a new one with `session = await rk.connect()`.")

    # -- waiting ---------------------------------------------------------------------------------

    def _expect(self, ready: Callable[[], bool], *, owns: Callable[[str], bool] = lambda _: False,
                partial: Callable[[], Any] = lambda: None) -> _Waiter:
        """Register interest before sending, so an answer (or error) arriving meanwhile is not missed."""
        self._check_open()
        waiter = _Waiter(ready, owns, partial, asyncio.get_running_loop().create_future())
        self._waiters.append(waiter)
        return waiter

    async def _until(self, waiter: _Waiter, timeout: float | None = None) -> None:
        """Wait until the waiter's condition holds (checked after every non-delta server event)."""
        if waiter.ready() and not waiter.future.done():
            waiter.future.set_result(None)
        await asyncio.wait_for(waiter.future, timeout)

    def _forget(self, waiter: _Waiter) -> None:
        if waiter in self._waiters:
            self._waiters.remove(waiter)
        if waiter.future.done() and not waiter.future.cancelled():
            waiter.future.exception()  # mark retrieved: the caller already raised something else

    async def _wait(self, ready: Callable[[], bool], *, owns: Callable[[str], bool] = lambda _: False,
                    partial: Callable[[], Any] = lambda: None, timeout: float | None = None) -> None:
        """Return when `ready()` holds; raise what the pump routes to this wait."""
        if ready():
            return
        waiter = self._expect(ready, owns=owns, partial=partial)
        try:
            await self._until(waiter, timeout)
        finally:
            self._forget(waiter)

    async def _exchange(self, ready: Callable[[], bool], event: dict[str, Any], *,
                        partial: Callable[[], Any] = lambda: None) -> None:
        """Send one client event and wait for `ready()`; a server error for that event is raised here."""
        sent: list[str] = []
        waiter = self._expect(ready, owns=sent.__contains__, partial=partial)
        try:
            sent.append(await self._send(event))
            await self._until(waiter)
        finally:
            self._forget(waiter)

    def _expect_turn(self, reply: Response) -> _Waiter:
        return self._expect(lambda: _turn_done(reply), owns=lambda eid: _owns(reply, eid),
                            partial=lambda: reply.final)

    def _notify(self) -> None:
        for waiter in list(self._waiters):
            if not waiter.future.done() and waiter.ready():
                waiter.future.set_result(None)

    # -- the pump --------------------------------------------------------------------------------

    async def _run_pump(self) -> None:
        reason = "the server closed the connection"
        try:
            async for event in self._connection:
                self._handle(event)
        except asyncio.CancelledError:
            reason = "the session was closed"
            raise
        except Exception as err:  # websockets / SDK errors all mean the same here: the connection is gone
            reason = f"{type(err).__name__}: {err}"
        finally:
            self._connection_gone(reason)

    def _handle(self, event: Any) -> None:
        now = self._clock()
        kind = getattr(event, "type", "?")
        self.events.record("in", event, now)
        try:
            touched = self.conversation.apply(event, now)
        except Exception as err:  # a malformed event must not stop the pump
            warnings.warn(f"realtime_kit could not fold a {kind} event: {err}", RuntimeWarning, stacklevel=2)
            touched = None
        if touched is not None and self._streams:
            self._stream(kind, event, touched)
        if not kind.endswith(".delta"):
            self._counts[kind] += 1
            item_id = getattr(event, "item_id", None)
            if item_id:
                self._counts[(kind, item_id)] += 1
            if kind == "input_audio_buffer.committed":
                self._last_committed = item_id
            elif kind == "error":
                self._route_error(event)
            elif kind == "response.done" and touched is not None:
                self._after_response(touched, now)
            self._notify()
        self._dispatch(kind, event)

    def _dispatch(self, kind: str, event: Any) -> None:
        for callback in [*self._listeners.get(kind, ()), *self._listeners.get("*", ())]:
            try:
                result = callback(event)
                if asyncio.iscoroutine(result):
                    self._spawn(result)
            except Exception as err:
                warnings.warn(f"session.on callback {getattr(callback, '__name__', callback)!r} raised "
                              f"{type(err).__name__}: {err}", RuntimeWarning, stacklevel=2)

    def _stream(self, kind: str, event: Any, response: Response) -> None:
        queue = self._streams.get(response)
        if queue is None:
            return
        if kind == "response.output_audio_transcript.delta":
            queue.put_nowait(Delta("transcript", event.delta, response))
        elif kind == "response.output_text.delta":
            queue.put_nowait(Delta("text", event.delta, response))
        elif kind == "response.output_audio.delta":
            from .audio import Audio

            fmt, rate = self.conversation.output_format
            queue.put_nowait(Delta("audio", Audio.from_bytes(base64.b64decode(event.delta), fmt, rate), response))

    def _route_error(self, event: Any) -> None:
        error = event.error
        event_id = getattr(error, "event_id", None)
        client_event = self._sent.get(event_id) if event_id else None
        exc = RealtimeError(getattr(error, "message", None) or "The server reported an error.",
                            code=getattr(error, "code", None), param=getattr(error, "param", None),
                            error_type=getattr(error, "type", None), event_id=event_id, client_event=client_event)
        if client_event is not None and client_event.get("type") == "response.create":
            tag = ((client_event.get("response") or {}).get("metadata") or {}).get(REQUEST_TAG)
            for pending in [r for r in self.conversation.pending if r.tag == tag]:
                self.conversation.withdraw(pending)
        waiting = [w for w in self._waiters if not w.future.done()]
        owners = [w for w in waiting if event_id and w.owns(event_id)]
        if not owners and client_event is None and waiting:
            owners = waiting[:1]  # an error about nothing we sent concerns the call in progress
        for owner in owners:
            owner.future.set_exception(exc)
        if not owners:
            self.errors.append(exc)
            warnings.warn(f"Realtime server error: {exc}", RuntimeWarning, stacklevel=2)

    def _connection_gone(self, reason: str) -> None:
        if self._lost is None and not self._closing:
            self._lost = reason
        for waiter in self._waiters:
            if not waiter.future.done():
                partial = waiter.partial()
                waiter.future.set_exception(ConnectionLost(
                    f"The connection closed before the turn finished ({reason}); `.partial` keeps what "
                    f"arrived. Connect again with rk.connect().", partial=partial))
        for task in list(self._tasks):
            task.cancel()

    # -- tools -----------------------------------------------------------------------------------

    def _after_response(self, response: Response, now: float) -> None:
        calls = [c for c in response.tool_calls if c.response_id == response.id and not c.finished]
        if response.status != "completed" or not any(c.name in self._tools for c in calls):
            return
        follow_up = self.conversation.request(now, tag=self._new_tag())
        follow_up.tool_calls = list(response.tool_calls)
        response.follow_up = follow_up
        if response in self._streams:
            self._streams[follow_up] = self._streams[response]
        self._spawn(self._answer_tools(calls, response, follow_up))

    async def _answer_tools(self, calls: list[ToolCall], response: Response, follow_up: Response) -> None:
        try:
            for call in calls:
                output = await self._run_tool(call, follow_up)
                follow_up.request_event_ids.append(await self._send({"type": "conversation.item.create", "item": {
                    "type": "function_call_output", "call_id": call.call_id, "output": output}}))
            follow_up.request_event_ids.append(await self._send(self._response_create(follow_up.tag, {})))
        except (ConnectionLost, InvalidState):
            self.conversation.withdraw(follow_up)  # the pump already told whoever waits

    async def _run_tool(self, call: ToolCall, follow_up: Response) -> str:
        tool = self._tools.get(call.name)
        try:
            if tool is None:
                raise LookupError(f"no Python function is registered for the tool {call.name!r}")
            call.result = await tool.call(call.arguments)
            return output_text(call.result)
        except Exception as err:
            call.error = f"{type(err).__name__}: {err}"
            note = f"Tool {call.name!r} raised {call.error}; the model was told and the session goes on."
            follow_up.notes.append(note)
            warnings.warn(note, RuntimeWarning, stacklevel=2)
            return error_text(err)
        finally:
            call.finished = True

    def _spawn(self, coroutine: Any) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


# -- helpers --------------------------------------------------------------------------------------


def _chain(reply: Response) -> list[Response]:
    chain = [reply]
    step = reply.follow_up
    while step is not None:
        chain.append(step)
        step = step.follow_up
    return chain


def _turn_done(reply: Response) -> bool:
    """The turn is over when the last response of its tool chain is done and asks for nothing more."""
    return reply.final.done and reply.final.follow_up is None


def _owns(reply: Response, event_id: str) -> bool:
    return any(event_id in response.request_event_ids for response in _chain(reply))


def _silence_needed(clip: Any, turn: Mapping[str, Any]) -> float:
    """Seconds of silence to append so server VAD hears the end of speech (minus what the clip has)."""
    wanted = (turn.get("silence_duration_ms") or 500) / 1000 + 0.3 if turn.get("type") != "semantic_vad" else 1.0
    samples = np.abs(clip.samples.astype(np.int32))
    loud = np.flatnonzero(samples > 104)  # about -50 dBFS
    trailing = (len(samples) - 1 - loud[-1]) / clip.rate if len(loud) else clip.duration
    return max(0.0, wanted - trailing)
