"""One WebSocket session of the embedded server: a receiver feeding the protocol, a sender pacing its events.

    session = ServerSession(connection, RealtimeProtocol(model="gpt-realtime"), executor,
                            Pacer.for_pace("realtime"), max_session_s=3600.0)
    await session.run()          # returns once the client left, the session expired, or the server failed

Everything the GA protocol means lives in ``protocol.RealtimeProtocol`` (dicts in, dicts out); this
module only moves frames, runs the engine work the protocol asks for, and decides *when* each event
leaves. The receiver task feeds every client frame to the protocol at once (so ``response.cancel`` is
seen mid-response) and the sender task pulls server events and paces audio. Protocol calls run on the
event loop (they are cheap: no engine runs in them), serialised per session by a lock. Engine work
(`work.py`) runs beside them: espeak-ng and pocketsphinx in worker processes (`workers.py`), this
session's Silero detector in order: a quiet microphone-sized chunk right here (the energy gate answers it with
a max()), speech on a thread (Silero lets go of the GIL while it computes). Each result is handed back with
``work_done`` and wakes the sender (no polling); a sentence many sessions wait for reaches each by one loop callback.
Frames due at the same moment leave in one write.
Protocol calls for frames carrying seconds of audio at once go to a worker of their own, so they queue behind
each other rather than in front of the room. Back-pressure: a frame is fed only once the client has read what
came before, and a client that leaves a send unread for ``Limits.send_stall_s`` is dropped (1008) instead of
buffered without end.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import functools
import json
import logging
import math
import re
import time
import typing
from collections.abc import Awaitable, Callable, Coroutine
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed
from websockets.frames import CloseCode

from .engines import Engines, SessionEngines
from .limits import Limits, release_free_memory
from .pacing import Pacer
from .vad import under_gate
from .work import DetectSpeech, Listen, Synthesize, Transcribe, Work
from .workers import EngineWorkers

if TYPE_CHECKING:
    from .protocol import Outgoing

__all__ = ["ServerSession", "SessionProtocol", "SlowReader", "WorkingProtocol", "write_frames"]

logger = logging.getLogger("realtime_kit.server")

# Pull events up to (and including) one audio delta at a time: cheap, yet cancel stays prompt.
_MAX_BATCH = 64
# Client frames wait while this many answers to earlier ones are unsent: what a client asks for is bounded by
# what it reads (400 retrieves of a 1 MiB item would otherwise queue 560 MB before a send could stall).
_MAX_UNSENT = 16
_EXPIRY_SLACK_S = 0.05
# an append that names its type first (the SDKs and browsers do) need not wait for the detections before it
_APPEND_FRAME = re.compile(r'\s*\{\s*"type"\s*:\s*"input_audio_buffer\.append"')


class SessionProtocol(Protocol):
    """What the shell needs from a session's protocol (``protocol.RealtimeProtocol``; fakes in tests)."""

    @property
    def ready(self) -> bool: ...
    @property
    def unsent(self) -> int: ...
    def start(self) -> None: ...
    def receive(self, frame: str | bytes) -> None: ...
    def next_event(self) -> Outgoing | None: ...


class WorkingProtocol(SessionProtocol, Protocol):
    """A protocol that leaves its engine work to the shell (``RealtimeProtocol(offload=True)``)."""

    def work_to_do(self) -> list[Work]: ...
    def work_done(self, work: Work, result: Any = None, error: BaseException | None = None) -> None: ...


class ServerSession:
    """One WebSocket session: a receiver feeding the protocol and a sender pacing what it makes."""

    def __init__(
        self,
        connection: ServerConnection,
        protocol: SessionProtocol,
        executor: concurrent.futures.Executor,
        pacer: Pacer,
        max_session_s: float,
        workers: EngineWorkers | None = None,
        *,
        limits: Limits | None = None,
        bulk_executor: concurrent.futures.Executor | None = None,
        engines: Engines | None = None,
    ) -> None:
        self.connection, self.protocol, self.pacer = connection, protocol, pacer
        self._executor = executor
        self._bulk_executor = bulk_executor or executor
        self._limits = limits or Limits()
        self._drained = asyncio.Event()  # set while no send waits on a client that is not reading
        self._drained.set()
        self._pulled = asyncio.Event()   # set at each pull: a receiver held by unsent answers looks again
        self._workers = workers
        # this session's detector, and every job the workers do not take (all of them without workers)
        self._engines = SessionEngines(engines or Engines.default())
        self._detections: asyncio.Queue[Work] = asyncio.Queue()
        self._detecting = 0     # detection jobs queued or running on the thread: later ones wait behind them
        self._working: set[asyncio.Future[Any]] = set()
        self._listening: set[str] = set()                   # turns heard live, not yet ended
        self._speakers: set[str] = set()                    # the session ids its turns were heard under
        self._microphone = False                            # it streams audio to a detector (counted for a room)
        self._turn = asyncio.Lock()  # the protocol is not thread-safe: one call at a time
        self._failed: asyncio.Future[None] = asyncio.get_running_loop().create_future()  # a handed-back result broke
        # a connection with faults to inject (faults.DroppingConnection) counts what it writes
        self._write: Callable[[list[str]], Awaitable[None]] = \
            getattr(connection, "write_frames", None) or functools.partial(write_frames, connection)
        self._ended = False
        self._wake = asyncio.Event()
        self._max_session_s = max_session_s
        self._deadline = math.inf
        self._expired = False
        self._dropped: SlowReader | None = None
        self.ending = "open"   # how it ended: "client left", "expired", "not reading (1008)" or "failed (1011)"

    async def run(self) -> None:
        """Serve the session until the client leaves, it expires, or the protocol fails."""
        try:
            await self._call(self.protocol.start)
        except Exception as exc:
            await self._finish(exc)
            return
        # The protocol owns the clock; this only wakes an idle session just after its cap to let it expire.
        self._deadline = time.monotonic() + self._max_session_s + _EXPIRY_SLACK_S
        sender = asyncio.create_task(self._send_loop())
        receiver = asyncio.create_task(self._receive_loop())
        # a client gone mid-call ends the session now: its queued protocol calls are cancelled, not run
        gone = asyncio.create_task(self.connection.wait_closed())
        detector = asyncio.create_task(self._detect_loop())
        failure: BaseException | None = None
        try:
            done, _ = await asyncio.wait({sender, receiver, gone, detector, self._failed},
                                         return_when=asyncio.FIRST_COMPLETED)
            failure = next((t.exception() for t in done if not t.cancelled() and t.exception()), None)
            failure = self._dropped or failure  # dropped for not reading: whichever task noticed the end first
            if isinstance(failure, ConnectionClosed):  # the client left (mid-response, say): not a failure
                logger.debug("client left: %s", failure)
                failure = None
        finally:
            self._ended = True   # sentences made from now on find no one to give them to
            self._failed.cancel()
            for task in (sender, receiver, gone, detector, *self._working):
                task.cancel()
            await asyncio.gather(sender, receiver, gone, detector, *self._working, return_exceptions=True)
            self._end_listening()
        await self._finish(failure)

    async def _finish(self, failure: BaseException | None) -> None:
        """Close after expiry (1000), or tell the client about a server failure (error event, 1011)."""
        if self._expired:
            self.ending = "expired"
            await self.connection.close(1000, "session expired")
        elif isinstance(failure, SlowReader):
            self.ending = "not reading (1008)"
            logger.warning("closed a session (1008): %s", failure)
        elif failure is None:
            self.ending = "client left"
        else:
            self.ending = "failed (1011)"
            logger.error("session failed", exc_info=failure)
            with contextlib.suppress(ConnectionClosed):
                await self.connection.send(json.dumps(server_error_event(failure)))
            await self.connection.close(1011, "internal server error")

    async def _call(self, fn: Callable[..., Any], *args: Any, bulk: bool = False) -> Any:
        """Run one protocol call, one at a time for this session; then start its engine work.

        A call on a frame carrying seconds of audio runs on the bulk worker; every other call is cheap (the engines
        run elsewhere) and runs right here on the loop: a thread hop per call, with 50 sessions contending for the
        GIL, cost more than the call itself.
        """
        async with self._turn:
            if bulk:
                result = await asyncio.get_running_loop().run_in_executor(self._bulk_executor, fn, *args)
            else:
                result = fn(*args)
            self._start_asked_work()
        return result

    def _start_asked_work(self) -> bool:
        """Start the engine work the protocol asked for (called under the lock: in the order asked, none lost);
        True if there was any."""
        work_to_do = getattr(self.protocol, "work_to_do", None)
        started = False
        while work_to_do is not None and (batch := work_to_do()):   # work done in-line may ask for more
            for work in batch:
                self._start_work(work)
            started = True
        return started

    # -- engine work ---------------------------------------------------------------------------------

    def _start_work(self, work: Work) -> None:
        job = work.job
        if not self._microphone and isinstance(job, DetectSpeech) and self._workers is not None:   # once a session
            self._microphone = True
            self._workers.microphone(opened=True)
        if isinstance(job, DetectSpeech) and not self._detecting and job.samples.size <= job.detector[-1] // 10 \
                and under_gate(job.samples):
            self._detect_here(work)     # up to 100 ms of quiet: a max(), where a thread hop would cost far more
            return
        if isinstance(job, DetectSpeech) or (isinstance(job, Listen) and self._workers is None):
            self._detecting += 1
            self._detections.put_nowait(work)          # this session's detector and turns: in order, on a thread
            return
        if isinstance(job, Listen) and self._workers is not None:
            future = self._workers.listen(job)          # in order on the turn's process
            if job.step == "start":
                self._listening.add(job.item_id)
                self._speakers.add(job.session_id)
            elif job.step == "end":
                self._listening.discard(job.item_id)
                self._track(self._hand_back(work, asyncio.wrap_future(future)))
            return
        if isinstance(job, Synthesize) and self._workers is not None:
            self._synthesize(work, self._workers.synthesis(job))
            return
        self._track(self._hand_back(work, self._run_elsewhere(work)))

    def _synthesize(self, work: Work, future: concurrent.futures.Future[Any]) -> None:
        """Hand a kept sentence back now; else hand it back from the loop's next turn once it is made.

        One callback per session instead of a task awaiting a wrapped, shielded future: four turns of the loop to
        the sender became two, and in a burst (50 turns at once) each turn of the loop is long.
        """
        if future.done():
            self._finish_here(work, *_outcome(future))  # the caller holds the lock; its loop takes what this asks
            return
        loop = asyncio.get_running_loop()

        def on_loop(done: concurrent.futures.Future[Any]) -> None:
            with contextlib.suppress(RuntimeError):  # the server stopped and closed its loop meanwhile
                loop.call_soon_threadsafe(self._synthesized, work, done)

        future.add_done_callback(on_loop)

    def _synthesized(self, work: Work, done: concurrent.futures.Future[Any]) -> None:
        if self._ended:
            return
        if self._turn.locked():   # a protocol call runs on a thread (a bulk frame): queue behind it
            self._track(self._hand_back(work, asyncio.wrap_future(done)))
            return
        self._give(work, *_outcome(done))

    def _track(self, coroutine: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(coroutine)
        self._working.add(task)
        task.add_done_callback(self._working.discard)

    async def _run_elsewhere(self, work: Work) -> Any:
        job, loop = work.job, asyncio.get_running_loop()
        if self._workers is not None and isinstance(job, Transcribe):
            return await self._workers.transcribe(job)
        return await loop.run_in_executor(self._executor, self._engines.run, job)

    async def _hand_back(self, work: Work, running: Awaitable[Any]) -> None:
        """Wait for a job, give its result (or error) to the protocol, and wake the sender."""
        try:
            result, error = await running, None
        except asyncio.CancelledError:
            raise
        except Exception as err:  # the engine's failure is the job's result
            result, error = None, err
        async with self._turn:  # cheap (no engine runs in it): on the loop, no thread hop
            self._give(work, result, error)

    async def _detect_loop(self) -> None:
        """This session's detection jobs, one after another (the detector keeps state)."""
        loop = asyncio.get_running_loop()
        while True:
            work = await self._detections.get()
            try:
                await self._hand_back(work, loop.run_in_executor(self._executor, self._engines.run, work.job))
            finally:
                self._detecting -= 1
                self._detections.task_done()

    def _detect_here(self, work: Work) -> None:
        """Run one small detection job now, on the loop (the caller holds the lock; nothing of it is queued)."""
        try:
            result, error = self._engines.run(work.job), None
        except Exception as err:  # the engine's failure is the job's result
            result, error = None, err
        self._finish_here(work, result, error)

    def _give(self, work: Work, result: Any, error: BaseException | None) -> None:
        """Give a finished job's result to the protocol and start the work it asks next (no other call runs)."""
        try:
            self._finish_here(work, result, error)
            self._start_asked_work()
        except Exception as exc:
            self._fail(exc)

    def _fail(self, failure: Exception) -> None:
        """The protocol broke on a handed-back result: the session fails (1011), as on a client frame."""
        if not self._failed.done():
            self._failed.set_exception(failure)

    def _finish_here(self, work: Work, result: Any, error: BaseException | None) -> None:
        """Give a job's result to the protocol now, on the loop, and wake the sender (no other call is running)."""
        typing.cast(WorkingProtocol, self.protocol).work_done(work, result, error)
        self._wake_sender()

    def _wake_sender(self) -> None:
        # only when there is something to pull: a microphone's 20 ms append usually makes nothing to send
        if self.protocol.ready:
            self._wake.set()

    def _end_listening(self) -> None:
        """Free the decoders of turns still being heard when the session ends, and forget its speaker."""
        if self._workers is not None:
            for item_id in self._listening:
                self._workers.listen(Listen(item_id, "end", np.zeros(0, np.int16), 24000))
            for session_id in self._speakers:
                self._workers.forget_session(session_id)
            if self._microphone:
                self._workers.microphone(opened=False)
        self._listening.clear()
        self._microphone = False

    async def _receive_loop(self) -> None:
        with contextlib.suppress(ConnectionClosed):
            async for frame in self.connection:
                # back-pressure: what this frame makes waits until the client has read what came before
                await self._drained.wait()
                # any other event acts after the speech found in the audio before it, as with engines run in-line:
                # a clear or commit sent right after the audio must not overtake its speech_started
                if self._detecting and not (isinstance(frame, str) and _APPEND_FRAME.match(frame)):
                    await self._detections.join()
                # big frames (seconds of audio at once) queue on their own worker, so they cannot starve the room
                bulk = len(frame) > self._limits.bulk_frame_bytes
                await self._call(self.protocol.receive, frame, bulk=bulk)
                self._wake_sender()
                while self.protocol.unsent > _MAX_UNSENT:  # the sender takes them as fast as the client reads
                    self._pulled.clear()
                    await self._pulled.wait()
                if bulk:  # tens of MB of copies were just freed: give them back rather than keep the peak
                    self._bulk_executor.submit(release_free_memory, False)

    async def _send_loop(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            self._wake.clear()  # cleared before pulling, so a frame received meanwhile is not missed
            batch = await self._call(self._pull)
            self._pulled.set()
            if batch:
                if await self._send_batch(batch, loop):
                    return
                await asyncio.sleep(0)  # let the other sessions on this loop have a turn
                continue
            await self._idle()

    def _pull(self) -> list[Outgoing]:
        """Events up to and including the next audio delta.

        A response that stops to ask for its sentence gets it started here: a kept sentence is handed back at once,
        so its first audio delta leaves in this batch, not one turn of the loop later (in a burst, a turn serves 50).
        """
        batch: list[Outgoing] = []
        while len(batch) < _MAX_BATCH:
            out = self.protocol.next_event()
            if out is None and self._start_asked_work():
                out = self.protocol.next_event()
            if out is None:
                break
            batch.append(out)
            if out.audio_ms > 0:
                break
        return batch

    async def _send_batch(self, batch: list[Outgoing], loop: asyncio.AbstractEventLoop) -> bool:
        """Send in order, pacing audio; True once the session has expired and must close.

        Frames due at the same moment leave in one write (one system call, as few TCP segments as the kernel
        makes): a room whose turns start at once gets its first audio sooner than with a write per frame.
        A pause for pacing first writes what was due before it.
        """
        due: list[str] = []
        for out in batch:
            delay = max(self.pacer.delay_s(out.response_id, out.audio_ms, loop.time()), out.wait_ms / 1000.0)
            if delay > 0:
                await self._send(due)
                due = []
                await asyncio.sleep(delay)
            due.append(json.dumps(out.event))
            self.pacer.sent(out.response_id, out.audio_ms, loop.time())
            if is_session_expired(out.event):
                await self._send(due)
                self._expired = True
                return True
        await self._send(due)
        return False

    async def _send(self, texts: list[str]) -> None:
        """Send frames; a client that leaves them unread for ``send_stall_s`` is dropped (1008)."""
        if not texts:
            return
        transport = self.connection.transport
        size = sum(len(text) + 16 for text in texts)    # json.dumps escapes to ASCII: characters are bytes
        if transport.get_write_buffer_size() + size < transport.get_write_buffer_limits()[1]:
            await self._write(texts)  # stays under the high-water mark: cannot wait on the reader
            return
        sending = asyncio.ensure_future(self._write(texts))
        sending.add_done_callback(_retrieved)
        self._drained.clear()
        done, _ = await asyncio.wait({sending}, timeout=self._limits.send_stall_s)
        if not done:  # _drained stays clear: the receiver feeds nothing more
            reason = f"client did not read server events for {self._limits.send_stall_s:g} s"
            self._dropped = SlowReader(f"{reason} ({self.connection.remote_address})")
            self._drop(reason)
            raise self._dropped
        self._drained.set()
        sending.result()

    def _drop(self, reason: str) -> None:
        """Queue a 1008 close frame behind the unread data, flush what the client will still read, then cut."""
        transport = self.connection.transport
        with contextlib.suppress(Exception):  # best effort: the client may already be gone
            self.connection.protocol.fail(CloseCode.POLICY_VIOLATION, reason)
            for data in self.connection.protocol.data_to_send():
                if data:
                    transport.write(data)
        transport.close()  # once the buffer drains, which a client that reads nothing never lets happen, so:
        asyncio.get_running_loop().call_later(self._limits.send_stall_s, transport.abort)

    async def _idle(self) -> None:
        """Wait for a client frame or finished engine work, waking at the session cap."""
        until_cap = self._deadline - time.monotonic()
        timeout = until_cap if until_cap > 0 else 1.0  # past the cap: the next pull expires the session
        # asyncio.timeout, not wait_for: no task made per wait (a speaker's every 20 ms append wakes this loop)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await self._wake.wait()


async def write_frames(connection: ServerConnection, texts: list[str]) -> None:
    """Frame the texts and write them at once: websockets' `send` writes each frame with its own system call."""
    async with connection.send_context():   # checks the connection is open; waits while the buffer is full
        for text in texts:
            connection.protocol.send_text(text.encode())
        connection.transport.write(b"".join(connection.protocol.data_to_send()))


def _outcome(done: concurrent.futures.Future[Any]) -> tuple[Any, BaseException | None]:
    """A finished engine future as (result, error): the engine's failure is the job's result."""
    if done.cancelled():
        return None, RuntimeError("the engine processes stopped (the server is stopping)")
    error = done.exception()
    return (None, error) if error is not None else (done.result(), None)


def _retrieved(task: asyncio.Future[None]) -> None:
    """Mark a send's outcome as seen (the session may have ended while it was pending): no asyncio warning."""
    if not task.cancelled():
        task.exception()


class SlowReader(Exception):
    """The client stopped reading: the session was closed with 1008 rather than buffer without end."""


def is_session_expired(event: dict[str, Any]) -> bool:
    """True for the protocol's ``session_expired`` error: the session must close after it.

        >>> is_session_expired({"type": "error", "error": {"code": "session_expired"}})
        True
    """
    error = event.get("error") if event.get("type") == "error" else None
    return isinstance(error, dict) and error.get("code") == "session_expired"


def server_error_event(failure: BaseException) -> dict[str, Any]:
    """The service's shape for its own failures: an `error` event of type server_error.

        >>> server_error_event(RuntimeError("boom"))["error"]["type"]
        'server_error'
    """
    return {"type": "error", "event_id": f"event_server_error_{id(failure):x}", "error": {
        "type": "server_error", "code": None, "param": None, "event_id": None,
        "message": f"The local realtime server failed ({type(failure).__name__}: {failure}); "
                   "see the server's log, and reconnect to start a new session.",
    }}
