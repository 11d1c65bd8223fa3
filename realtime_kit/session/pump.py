"""The machinery under Session: send client events, run the one event pump, resolve what callers await.

One task per session reads the connection and folds every server event into a `Conversation`
(`_handle`). A call that waits registers a `Waiter` before it sends; the pump resolves it when its
condition holds, fails it with the server `error` that answers an event it sent, or with
`ConnectionLost` (carrying the partial response) when the connection drops. This is what
`exchange` does::

    waiter = self.expect(ready, owns=sent.__contains__)   # first, so a fast answer is not missed
    sent.append(await self.send(event))
    await self.until(waiter)                               # the server's error for `event` is raised here

The pump calls nothing above it. What others need from it is a narrow interface: `send`, `wait`,
`exchange` (and `expect`/`until`/`forget` for a wait that spans several sends), `subscribe` to server
events, `on_response_done` (the tool runner answers function calls there), response streams, and a
`Recovery` strategy (reconnect.py) it asks when the connection ends. Session (core.py) owns one.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import itertools
import time
import warnings
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from ..errors import ConfigError, ConnectionLost, InvalidState, RealtimeError, TargetError
from .conversation import REQUEST_TAG, Conversation, Delta, Response
from .eventlog import EventLog

# Seconds to wait for session.created after the WebSocket opens.
CREATED_TIMEOUT = 30.0


@dataclass(eq=False)
class Waiter:
    """An awaiting call: done when `ready()` holds; errors for the events it `owns` are raised in it."""

    ready: Callable[[], bool]
    owns: Callable[[str], bool]
    partial: Callable[[], Any]
    future: asyncio.Future[None]


class Recovery(Protocol):
    """What the pump asks when sending and when the connection ends: reconnect.py's Reconnector is one."""

    async def ready_to_send(self) -> None:
        """Return once sending makes sense (a reconnect under way has restored the session)."""

    async def recover(self, reason: str) -> bool:
        """The connection ended for `reason`: True once a new one is in place."""

    def absorbs(self, error: Any) -> bool:
        """True for a server error that is the expected end of a connection (nobody should raise it)."""


class SessionPump:
    """A session's connection half: sending, waiting and the event pump (owned by Session)."""

    def __init__(self, connection: Any, target: Any, *, clock: Callable[[], float] = time.perf_counter) -> None:
        self.target = target
        self.conversation = Conversation()
        self.clock = clock
        self.started_at = clock()
        self.events = EventLog(start=self.started_at)
        self.errors: list[RealtimeError] = []      # errors no awaiting call claimed
        self.counts: Counter[Any] = Counter()      # non-delta server events seen, by type and (type, item)
        self.last_committed: str | None = None     # the item id of the latest input_audio_buffer.committed
        self.recorder: Any = None                  # a record.RecordingWriter when connect(record=...)
        self.recovery: Recovery | None = None      # asked when the connection ends (None: the session ends)
        self._connection = connection
        self._sent: dict[str, Any] = {}            # event_id -> scrubbed client event, for error reports
        self._waiters: list[Waiter] = []
        self._listeners: dict[str, list[Callable[[Any], Any]]] = {}
        self._response_done: list[Callable[[Response, float], None]] = []
        self._streams: dict[Response, asyncio.Queue[Any]] = {}
        self._ids = itertools.count(1)
        self._tasks: set[asyncio.Task[Any]] = set()
        self._pump: asyncio.Task[None] | None = None
        self._closing = False
        self._lost: str | None = None

    # -- lifecycle -------------------------------------------------------------------------------

    @property
    def loop(self) -> asyncio.AbstractEventLoop | None:
        """The event loop the pump runs on (None before start)."""
        return self._pump.get_loop() if self._pump is not None else None

    async def start(self) -> None:
        """Start the pump and return at session.created (a TargetError if it never comes)."""
        self._pump = asyncio.get_running_loop().create_task(self._run_pump(), name="realtime-kit-pump")
        try:
            await self.wait(lambda: self.conversation.session_created, timeout=CREATED_TIMEOUT)
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
    def closing(self) -> bool:
        """True once close() was called (the connection may still be going)."""
        return self._closing

    @property
    def closed(self) -> bool:
        """True once closed by us or by the server."""
        return self._closing or self._lost is not None

    @property
    def config(self) -> dict[str, Any]:
        """The effective session config (from the latest session.created / session.updated)."""
        return self.conversation.session

    async def drop_connection(self, lost: str | None = None) -> None:
        """Close the current connection (the pump sees it end); with `lost`, the session ends with it."""
        if lost is not None:
            self._lost = lost
        with contextlib.suppress(Exception):  # already gone: nothing left to close
            await self._connection.close()

    async def replace_connection(self, connection: Any) -> None:
        """Read and send on `connection` from now on (a reconnect); the old one is closed."""
        old, self._connection = self._connection, connection
        with contextlib.suppress(Exception):
            await old.close()

    # -- sending ---------------------------------------------------------------------------------

    async def send(self, event: dict[str, Any]) -> str:
        """Validate, log and send one client event; returns its event_id."""
        if self.recovery is not None:
            await self.recovery.ready_to_send()
        event = self.prepare(event)
        now = self.clock()
        row = self.events.record("out", event, now)
        self._sent[event["event_id"]] = row.source
        if self.recorder is not None:
            self.recorder.write(now - self.started_at, "out", event, self.conversation.input_format)
        try:
            await self._connection.send(event)
        except Exception as err:
            if self.recovery is None:  # with a recovery, the pump sees the connection end and recovers
                self._connection_gone(f"sending {event['type']} failed: {err}")
            raise ConnectionLost(f"The connection closed while sending {event['type']}; try again (a session "
                                 f"that reconnects does so now), or connect again with rk.connect().") from err
        return str(event["event_id"])

    def prepare(self, event: dict[str, Any]) -> dict[str, Any]:
        """The event with its event_id, checked against the SDK's client event types."""
        from ..spec import SpecViolation, validate_client_event

        self.check_open()
        event = {**event, "event_id": event.get("event_id") or f"rk_{next(self._ids)}"}
        try:
            validate_client_event(event)
        except SpecViolation as err:
            raise ConfigError(f"{event['type']}: {err.message} Nothing was sent.", path=err.param) from None
        return event

    def check_open(self) -> None:
        """Raise ConnectionLost or InvalidState, saying what to do, once the session is over."""
        if self._lost is not None:
            raise ConnectionLost(f"This session is no longer connected ({self._lost}); open a new one with "
                                 f"`session = await rk.connect()`.")
        if self._closing:
            raise InvalidState("This session is closed; open a new one with `session = await rk.connect()`.")

    def new_id(self) -> int:
        """A number unique in this session (event ids and turn tags)."""
        return next(self._ids)

    # -- waiting ---------------------------------------------------------------------------------

    def expect(self, ready: Callable[[], bool], *, owns: Callable[[str], bool] = lambda _: False,
               partial: Callable[[], Any] = lambda: None) -> Waiter:
        """Register interest before sending, so an answer (or error) arriving meanwhile is not missed."""
        self.check_open()
        waiter = Waiter(ready, owns, partial, asyncio.get_running_loop().create_future())
        self._waiters.append(waiter)
        return waiter

    async def until(self, waiter: Waiter, timeout: float | None = None) -> None:
        """Wait until the waiter's condition holds (checked after every non-delta server event)."""
        if waiter.ready() and not waiter.future.done():
            waiter.future.set_result(None)
        await asyncio.wait_for(waiter.future, timeout)

    def forget(self, waiter: Waiter) -> None:
        """Stop routing to this waiter (call it in a finally)."""
        if waiter in self._waiters:
            self._waiters.remove(waiter)
        if waiter.future.done() and not waiter.future.cancelled():
            waiter.future.exception()  # mark retrieved: the caller already raised something else

    async def wait(self, ready: Callable[[], bool], *, owns: Callable[[str], bool] = lambda _: False,
                   partial: Callable[[], Any] = lambda: None, timeout: float | None = None) -> None:
        """Return when `ready()` holds; raise what the pump routes to this wait."""
        if ready():
            return
        waiter = self.expect(ready, owns=owns, partial=partial)
        try:
            await self.until(waiter, timeout)
        finally:
            self.forget(waiter)

    async def exchange(self, ready: Callable[[], bool], event: dict[str, Any], *,
                       partial: Callable[[], Any] = lambda: None) -> None:
        """Send one client event and wait for `ready()`; a server error for that event is raised here."""
        sent: list[str] = []
        waiter = self.expect(ready, owns=sent.__contains__, partial=partial)
        try:
            sent.append(await self.send(event))
            await self.until(waiter)
        finally:
            self.forget(waiter)

    def fail_waiters(self, message: str) -> None:
        """Every pending call raises ConnectionLost(message) with what it had; tool runs stop."""
        for waiter in self._waiters:
            if not waiter.future.done():
                waiter.future.set_exception(ConnectionLost(message, partial=waiter.partial()))
        for task in list(self._tasks):
            task.cancel()

    def _notify(self) -> None:
        for waiter in list(self._waiters):
            if not waiter.future.done() and waiter.ready():
                waiter.future.set_result(None)

    # -- subscriptions ---------------------------------------------------------------------------

    def subscribe(self, event_type: str, callback: Callable[[Any], Any]) -> Callable[[], None]:
        """Call `callback(event)` for every server event of this type ("*" for all); returns unsubscribe."""
        self._listeners.setdefault(event_type, []).append(callback)

        def unsubscribe() -> None:
            if callback in self._listeners.get(event_type, []):
                self._listeners[event_type].remove(callback)

        return unsubscribe

    def on_response_done(self, callback: Callable[[Response, float], None]) -> None:
        """Call `callback(response, now)` at each response.done, before waiters are woken."""
        self._response_done.append(callback)

    def open_stream(self, reply: Response) -> asyncio.Queue[Any]:
        """A queue of this response's Deltas (and its tool follow-ups'), until close_stream."""
        queue: asyncio.Queue[Any] = asyncio.Queue()
        self._streams[reply] = queue
        return queue

    def close_stream(self, reply: Response) -> None:
        """Stop streaming the reply and its follow-ups."""
        step: Response | None = reply
        while step is not None:
            self._streams.pop(step, None)
            step = step.follow_up

    def spawn(self, coroutine: Any, context: contextvars.Context | None = None) -> asyncio.Task[Any]:
        """Run a task of this session: close() and a lost connection cancel it."""
        task = asyncio.get_running_loop().create_task(coroutine, context=context)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def note(self, event: dict[str, Any]) -> None:
        """Put a note of the session's own (a reconnect) in the event log and the recording."""
        now = self.clock()
        self.events.record("note", event, now)
        if self.recorder is not None:
            self.recorder.write(now - self.started_at, "note", event)

    # -- the pump --------------------------------------------------------------------------------

    async def _run_pump(self) -> None:
        reason = "the session was closed"
        try:
            while True:
                reason = await self._read_connection()
                if self._closing or self.recovery is None or not await self.recovery.recover(reason):
                    break
        except asyncio.CancelledError:
            reason = "the session was closed"
            raise
        finally:
            self._connection_gone(reason)

    async def _read_connection(self) -> str:
        """Fold events until the connection ends; returns why it ended."""
        from websockets.exceptions import ConnectionClosedOK

        connection = self._connection
        try:
            if not hasattr(connection, "recv_bytes"):  # a stand-in connection that only iterates events
                async for event in connection:
                    self._handle(event)
                return "the server closed the connection"
            while True:  # the SDK's own iteration (recv = parse_event(recv_bytes())), keeping each frame
                try:
                    frame = await connection.recv_bytes()
                except ConnectionClosedOK:
                    return "the server closed the connection"
                self._handle(connection.parse_event(frame), frame)
        except asyncio.CancelledError:
            raise
        except Exception as err:  # websockets / SDK errors all mean the same here: the connection is gone
            return f"{type(err).__name__}: {err}"

    def _handle(self, event: Any, frame: bytes | None = None) -> None:
        now = self.clock()
        kind = getattr(event, "type", "?")
        self.events.record("in", event, now)
        try:
            touched = self.conversation.apply(event, now)
        except Exception as err:  # a malformed event must not stop the pump
            warnings.warn(f"realtime_kit could not fold a {kind} event: {err}", RuntimeWarning, stacklevel=2)
            touched = None
        if self.recorder is not None:
            self._record_in(kind, event, touched, now, frame)
        if touched is not None and self._streams:
            self._stream(kind, event, touched)
        if not kind.endswith(".delta"):
            self.counts[kind] += 1
            item_id = getattr(event, "item_id", None)
            if item_id:
                self.counts[(kind, item_id)] += 1
            if kind == "input_audio_buffer.committed":
                self.last_committed = item_id
            elif kind == "error":
                self._route_error(event)
            elif kind == "response.done" and touched is not None:
                self._after_response(touched, now)
            self._notify()
        self._dispatch(kind, event)

    def _after_response(self, response: Response, now: float) -> None:
        for callback in self._response_done:
            callback(response, now)
        if response.follow_up is not None and response in self._streams:  # a tool chain streams on
            self._streams[response.follow_up] = self._streams[response]

    def _record_in(self, kind: str, event: Any, touched: Response | None, now: float, frame: bytes | None) -> None:
        """The recorder writes the frame as it came; an audio delta with the bytes the fold decoded from it."""
        if kind == "response.output_audio.delta":
            decoded = touched.last_audio if touched is not None else None
            self.recorder.write(now - self.started_at, "in", event, self.conversation.output_format, decoded, frame)
        else:
            self.recorder.write(now - self.started_at, "in", event, raw=frame)

    def _dispatch(self, kind: str, event: Any) -> None:
        for callback in [*self._listeners.get(kind, ()), *self._listeners.get("*", ())]:
            try:
                result = callback(event)
                if asyncio.iscoroutine(result):
                    self.spawn(result)
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
            from ..audio.core import Audio

            fmt, rate = self.conversation.output_format
            queue.put_nowait(Delta("audio", Audio.from_bytes(response.last_audio, fmt, rate), response))

    def _route_error(self, event: Any) -> None:
        error = event.error
        if self.recovery is not None and self.recovery.absorbs(error):
            return  # the expected end of a connection (the service's time limit): recovery follows
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
        self.fail_waiters(f"The connection closed before the turn finished ({reason}); `.partial` keeps what "
                           f"arrived. Connect again with rk.connect().")
        if self.recorder is not None:
            self.recorder.close()

