"""The engines' worker processes: espeak-ng and pocketsphinx hold the GIL (and global state), so they run here.

    workers = EngineWorkers.shared()            # started once per process, stopped at exit
    samples = await workers.synthesize(Synthesize("Hello.", "alloy", 24000, 1.0))
    workers.listen(Listen("item_1", "start", empty, 24000))          # a turn heard live, in order ...
    words = await workers.listen(Listen("item_1", "end", tail, 24000))

Synthesis is stateless: a `ProcessPoolExecutor` at a lower priority, and a one-process pool for responses' first
sentences (someone waits for those; later ones have the playback time of the earlier ones). The
same sentence asked for again while it is being made waits for that one synthesis, and recent
sentences are kept (`SYNTH_CACHE_BYTES`, dropped when the room leaves): a workshop room running the
same cell at once costs one synthesis, not fifty.
Listening is not: each turn keeps a streaming pocketsphinx decoder in one process, fed as the audio
arrives, so the words are ready right after speech stops. A turn goes to the process with the fewest
turns in hand (`TurnRouter`), which also keeps each session's CMN between its turns; a process hears
the turns whose speech has stopped before the others' newer audio (`TurnInbox`). Each process has a
sender and a reader thread (a busy process never blocks the caller). A process holds up to
`LIVE_DECODERS` decoders; a turn beyond that waits for one, holding its audio, and a process hearing several
turns builds a free decoder ahead while it has nothing else to do (outside a room, whose decoders are built before it
talks). A turn whose start waited in the inbox more than
`HURRY_BEHIND_S` (its speaker is that far ahead of the decoder), or that starts while more than that of other turns'
audio waits, is decoded with a cheaper search (live_stt.py). When `ROOM_MICROPHONES` sessions stream microphone audio
at once (a room), every listener builds the decoders the room's turns will need while it is still quiet, and lets them
go when the room has left (`Room`).
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import itertools
import multiprocessing
import multiprocessing.connection
import os
import queue
import threading
import time
from collections import Counter, OrderedDict, deque
from multiprocessing.connection import Connection
from typing import Any

import numpy as np

from .work import Listen, Synthesize, Transcribe

__all__ = ["HURRY_BEHIND_S", "LISTENER_NICENESS", "LIVE_DECODERS", "ROOM_MICROPHONES", "EngineWorkers", "Room",
           "TurnInbox", "TurnRouter"]

LIVE_DECODERS = 4      # streaming decoders per process (about 0.2 s of CPU and ~57 MB each, built on first need)
# added to the nice value of the engine processes whose work has slack (listeners, later sentences): they get what
# the server and first sentences leave
LISTENER_NICENESS = 10
# a turn starting with more of other turns' audio than this in its process's inbox is decoded hurried (behind)
HURRY_BEHIND_S = 1.0
SYNTH_CACHE_BYTES = 8 << 20    # recent sentences kept, by samples' bytes (about three minutes of speech)
# sessions streaming microphone audio at once that make a room (a workshop, not a notebook comparing a few configs)
ROOM_MICROPHONES = 8

_SynthKey = tuple[str, str, int, float]


class EngineWorkers:
    """Synthesis and transcription in worker processes, shared by every session of the process's servers."""

    _shared: EngineWorkers | None = None
    _shared_lock = threading.Lock()
    processes = max(1, os.cpu_count() or 1)   # per kind, for the shared workers (the CLI's --workers divides)

    def __init__(self, processes: int) -> None:
        context = multiprocessing.get_context("spawn")   # no fork of a threaded server
        self._synth = concurrent.futures.ProcessPoolExecutor(processes, mp_context=context,
                                                             initializer=_warm_later_voice)
        # first sentences skip the queue of later ones (a long story's sentences have playback slack)
        self._first = concurrent.futures.ProcessPoolExecutor(1, mp_context=context, initializer=_warm_voice)
        self._listeners = [_Listener(context) for _ in range(processes)]
        self._router = TurnRouter(processes)
        self._room = Room(ROOM_MICROPHONES)
        self._router_lock = threading.Lock()
        self._made: OrderedDict[_SynthKey, np.ndarray] = OrderedDict()   # least recently used first
        self._made_bytes = 0
        self._making: dict[_SynthKey, concurrent.futures.Future[np.ndarray]] = {}
        self._made_lock = threading.Lock()   # servers in several threads share these workers

    @classmethod
    def shared(cls) -> EngineWorkers:
        """The process-wide workers (`processes` of each kind), started on first use, stopped at exit."""
        with cls._shared_lock:
            if cls._shared is None:
                cls._shared = cls(cls.processes)
                atexit.register(cls._shared.close)
            return cls._shared

    async def synthesize(self, job: Synthesize) -> np.ndarray:
        """The samples of one sentence (read-only: they may be shared with other sessions)."""
        # shielded: one waiter giving up must not cancel the synthesis the others wait for
        return await asyncio.shield(asyncio.wrap_future(self.synthesis(job)))

    def synthesis(self, job: Synthesize) -> concurrent.futures.Future[np.ndarray]:
        """The future samples of one sentence, shared by everyone asking for it; already done if it was kept."""
        key = (job.text, job.voice, job.rate, job.speed)
        with self._made_lock:
            made = self._made.get(key)
            if made is not None:
                self._made.move_to_end(key)
                kept: concurrent.futures.Future[np.ndarray] = concurrent.futures.Future()
                kept.set_result(made)
                return kept
            future = self._making.get(key)
            if future is not None:
                return future
            pool = self._first if job.first else self._synth
            future = self._making[key] = pool.submit(_synthesize, *key)
        # outside the lock: a future already done runs its callback (which takes the lock) at once
        future.add_done_callback(lambda done: self._keep(key, done))
        return future

    @classmethod
    def forget_shared_sentences(cls) -> None:
        """The shared workers drop their kept sentences (the room left); nothing is started if none run."""
        with cls._shared_lock:
            shared = cls._shared
        if shared is not None:
            shared.forget_sentences()

    def forget_sentences(self) -> None:
        """Drop the kept sentences (the room left: its memory goes back)."""
        with self._made_lock:
            self._made.clear()
            self._made_bytes = 0

    def _keep(self, key: _SynthKey, done: concurrent.futures.Future[np.ndarray]) -> None:
        with self._made_lock:
            self._making.pop(key, None)
            if done.cancelled() or done.exception() is not None:
                return
            samples = done.result()
            samples.flags.writeable = False
            self._made[key] = samples
            self._made_bytes += samples.nbytes
            while self._made_bytes > SYNTH_CACHE_BYTES and self._made:
                self._made_bytes -= self._made.popitem(last=False)[1].nbytes

    async def transcribe(self, job: Transcribe) -> str:
        listener = self._listeners[0]
        return str(await asyncio.wrap_future(listener.ask("transcribe", "", job.samples, job.rate)))

    def listen(self, job: Listen) -> concurrent.futures.Future[Any]:
        """Send one step of a live turn (in order); the future holds the words after "end", else None."""
        index: int | None
        normalisation = ""
        with self._router_lock:
            if job.step == "start":
                index, normalisation = self._router.start(job.item_id, job.session_id)
            else:
                index = self._router.where(job.item_id)
        if index is None:   # a step of a turn never started here (or already ended): nothing to hear
            done: concurrent.futures.Future[Any] = concurrent.futures.Future()
            done.set_result("" if job.step == "end" else None)
            return done
        asked = self._listeners[index].ask(job.step, job.item_id, job.samples, job.rate, normalisation)
        if job.step != "end":
            return asked
        words: concurrent.futures.Future[Any] = concurrent.futures.Future()
        asked.add_done_callback(lambda heard: self._heard(job.item_id, heard, words))
        return words

    def _heard(self, item_id: str, heard: concurrent.futures.Future[Any],
               words: concurrent.futures.Future[Any]) -> None:
        """A turn's end came back: its speaker's CMN is kept for their next turn, the words go to the caller."""
        error = heard.exception()
        with self._router_lock:
            self._router.end(item_id, "" if error else heard.result()[1])
        if not words.set_running_or_notify_cancel():
            return
        words.set_exception(error) if error else words.set_result(heard.result()[0])

    def forget_session(self, session_id: str) -> None:
        """The session ended: its speaker's CMN is dropped."""
        with self._router_lock:
            self._router.forget(session_id)

    def microphone(self, opened: bool) -> None:
        """A session began (or stopped) streaming microphone audio: a room forming or leaving tells every listener."""
        with self._router_lock:
            change = self._room.opened() if opened else self._room.closed()
        if change is not None:
            for listener in self._listeners:
                listener.ask(change, "", np.zeros(0, np.int16), 24000)

    def decoders(self, timeout: float = 30.0) -> list[tuple[int, int]]:
        """The decoders each listener holds now, as (full, hurried), after what was asked of it before."""
        asked = [listener.ask("decoders", "", np.zeros(0, np.int16), 24000) for listener in self._listeners]
        return [tuple(future.result(timeout)) for future in asked]

    def warm_up(self) -> None:
        """Start the processes and load espeak-ng in them now (a first turn then shows the protocol's latency)."""
        for pool in (self._synth, self._first):
            list(pool.map(_synthesize, ["Hello."], ["alloy"], [24000], [1.0]))
        for listener in self._listeners:
            listener.ask("warm", "", np.zeros(0, np.int16), 24000).result()

    def close(self) -> None:
        """Stop every engine process now (they hold no state worth a graceful goodbye)."""
        for pool in (self._synth, self._first):
            processes = list(getattr(pool, "_processes", {}).values())  # CPython's pool keeps them here
            pool.shutdown(wait=False, cancel_futures=True)
            for process in processes:
                process.terminate()
        for listener in self._listeners:
            listener.close()


class _Listener:
    """One pocketsphinx process, its pipe, and the thread that reads its answers."""

    def __init__(self, context: Any) -> None:
        self._conn, child = context.Pipe()
        self._process = context.Process(target=_listener_main, args=(child,), daemon=True,
                                        name="realtime-kit-listener")
        self._process.start()
        child.close()
        self._tickets = itertools.count()
        self._waiting: dict[int, concurrent.futures.Future[Any]] = {}
        self._lock = threading.Lock()
        # a full pipe (the process busy decoding) must not block the caller's event loop: a thread sends
        self._outbox: queue.SimpleQueue[tuple[Any, ...] | None] = queue.SimpleQueue()
        for target, name in ((self._read, "reader"), (self._send, "sender")):
            threading.Thread(target=target, daemon=True, name=f"realtime-kit-listener-{name}").start()

    def ask(self, step: str, key: str, samples: np.ndarray, rate: int,
            normalisation: str = "") -> concurrent.futures.Future[Any]:
        """Queue one step (never blocks); the future holds its answer."""
        future: concurrent.futures.Future[Any] = concurrent.futures.Future()
        with self._lock:
            ticket = next(self._tickets)
            self._waiting[ticket] = future
            self._outbox.put((ticket, step, key, np.asarray(samples, np.int16).tobytes(), rate, normalisation))
        return future

    def _send(self) -> None:
        while (message := self._outbox.get()) is not None:
            try:
                self._conn.send(message)
            except OSError:
                return

    def _read(self) -> None:
        while True:
            try:
                ticket, result, error = self._conn.recv()
            except (EOFError, OSError):
                break
            with self._lock:
                future = self._waiting.pop(ticket, None)
            if future is None or not future.set_running_or_notify_cancel():
                continue    # nobody waits any more (the session ended)
            future.set_exception(RuntimeError(error)) if error else future.set_result(result)
        for future in self._waiting.values():
            if future.set_running_or_notify_cancel():
                future.set_exception(RuntimeError("the transcription process stopped"))

    def close(self) -> None:
        self._outbox.put(None)
        self._process.terminate()
        self._process.join(2)
        self._conn.close()


# -- in the worker processes -----------------------------------------------------------------------


def _leave_with_parent() -> None:
    """End this worker when the server process ends, however it ends (a blocked wait, not a poll)."""
    parent = multiprocessing.parent_process()
    if parent is not None:
        def watch() -> None:
            multiprocessing.connection.wait([parent.sentinel])
            os._exit(0)

        threading.Thread(target=watch, daemon=True, name="realtime-kit-parent-watch").start()


def _warm_voice() -> None:
    _leave_with_parent()
    _synthesize("Hello.", "alloy", 24000, 1.0)


def _warm_later_voice() -> None:
    # later sentences have the playback of the earlier ones as slack: on a full machine a first sentence goes first
    # (the burst's first sentence took 28 ms for 11 ms of work beside the next two, at the same priority)
    os.nice(LISTENER_NICENESS)
    _warm_voice()


def _synthesize(text: str, voice: str, rate: int, speed: float) -> np.ndarray:
    from .voice import synthesize

    return synthesize(text, voice=voice, rate=rate, speed=speed)


def _listener_main(conn: Connection) -> None:
    """Serve one pipe: whole transcriptions, and live turns on streaming decoders."""
    from .live_stt import LiveTurns

    _leave_with_parent()
    # decoding has slack (a turn being spoken); the server's loop and VAD do not: on a full machine they go first
    # (30 speakers in 20 ms appends, 2 runs each: speech_stopped p95 306 and 464 ms -> 229 and 230 ms)
    os.nice(LISTENER_NICENESS)
    turns = LiveTurns(LIVE_DECODERS)
    inbox = TurnInbox()
    while True:
        try:
            # nothing to do: build a decoder a coming turn would wait for (one, then look at the pipe again)
            while not inbox and not conn.poll() and turns.prepare():
                pass
            if not inbox:
                inbox.put(conn.recv(), time.monotonic())
            while conn.poll():        # take in everything already sent, so that turns whose speech stopped go first
                inbox.put(conn.recv(), time.monotonic())
        except (EOFError, OSError):  # the server went away
            return
        message = inbox.take()
        if message is None:
            return
        ticket, step, key, data, rate, normalisation = message
        try:
            result = turns.handle(step, key, np.frombuffer(data, np.int16), rate, normalisation,
                                  hurry=step == "start" and inbox.behind(key, time.monotonic()))   # read at a start
        except Exception as err:  # the turn fails, the process carries on
            conn.send((ticket, None, f"{type(err).__name__}: {err}"))
        else:
            conn.send((ticket, result, None))


# -- pure parts, tested on their own -----------------------------------------------------------------


class TurnRouter:
    """Which listener process hears each turn, and each session's CMN between its turns.

        router = TurnRouter(2)
        router.start("item_1", "sess_a")      # (0, ""): the least busy process; "" = the speech prior
        router.end("item_1", "cmn after")     # sess_a's next turn starts from "cmn after", on any process

    A turn goes to the process with the fewest turns in hand (ties: the lowest index), so a room's turns
    spread evenly whichever sessions speak; the CMN travels with the turn, so no process keeps a session.
    """

    def __init__(self, listeners: int) -> None:
        self._in_hand = [0] * listeners
        self._turns: dict[str, tuple[int, str]] = {}     # item id -> (its process, its session)
        self._normalisation: dict[str, str] = {}          # session id -> the CMN its last turn left

    def start(self, item_id: str, session_id: str) -> tuple[int, str]:
        """The process for a new turn, and the CMN it starts from."""
        index = min(range(len(self._in_hand)), key=self._in_hand.__getitem__)
        self._in_hand[index] += 1
        self._turns[item_id] = index, session_id
        return index, self._normalisation.get(session_id, "")

    def where(self, item_id: str) -> int | None:
        turn = self._turns.get(item_id)
        return None if turn is None else turn[0]

    def end(self, item_id: str, normalisation: str) -> None:
        """The turn's words are back: its process has one turn fewer; its session keeps the CMN it left."""
        index, session_id = self._turns.pop(item_id, (None, ""))
        if index is None:
            return
        self._in_hand[index] -= 1
        if session_id and normalisation:
            self._normalisation[session_id] = normalisation

    def forget(self, session_id: str) -> None:
        """The session ended: its CMN goes, and its turns still in hand will not keep theirs."""
        self._normalisation.pop(session_id, None)
        for item_id, (index, owner) in self._turns.items():
            if owner == session_id:
                self._turns[item_id] = index, ""


class Room:
    """Sessions streaming microphone audio at once: ``size`` of them make a room, which lasts until the last one stops.

        room = Room(3)
        [room.opened() for _ in range(3)]      # [None, None, "room"]: the listeners build its decoders
        [room.closed() for _ in range(3)]      # [None, None, "room-left"]: they may let them go
    """

    def __init__(self, size: int) -> None:
        self._size = size
        self._open = 0
        self._formed = False

    def opened(self) -> str | None:
        self._open += 1
        if self._formed or self._open < self._size:
            return None
        self._formed = True
        return "room"

    def closed(self) -> str | None:
        self._open = max(0, self._open - 1)
        if self._open or not self._formed:
            return None
        self._formed = False
        return "room-left"


class TurnInbox:
    """A listener's messages not yet handled: a turn whose end has come first, then the turn that began first.

    A turn whose speech stopped has someone waiting for its words. Among turns still being spoken, the one that
    began first is likely to stop next: kept caught up, its words are ready when it does, while newer turns have
    the rest of their speech as slack (sharing a behind process evenly made every turn's end wait for its
    backlog). Each turn's own messages keep their order (an end never passes its feeds); a whole transcription
    (no turn: key "") is someone waiting too, so it goes first as well.

        inbox = TurnInbox()
        for message in received: inbox.put(message, time.monotonic())   # (ticket, step, key, data, rate, cmn)
        message = inbox.take()     # the oldest of the turn whose end came first, else of the turn begun first
        inbox.waiting_s()          # seconds of audio in the messages not yet taken: how far behind the process is
        inbox.behind("item_2", time.monotonic())   # item_2's start waited, or other turns' audio waits, too long
    """

    def __init__(self) -> None:
        self._turns: dict[str | None, deque[Any]] = {}    # key -> its messages; turns in the order they began
        self._ending: dict[str | None, int] = {}   # key -> its ends (or whole transcriptions) here; first come first
        # key -> {sample rate: samples waiting at it} (exact, unlike a float sum of seconds)
        self._waiting: dict[str | None, Counter[int]] = {}
        self._started_at: dict[str | None, float] = {}   # key -> when its start came in: how long its audio waited

    def __bool__(self) -> bool:
        return any(self._turns.values())

    def waiting_s(self, besides: str | None = None) -> float:
        """Seconds of audio in the messages not yet taken, but for the turn ``besides``."""
        return sum(samples / rate for key, counts in self._waiting.items() if key != besides
                   for rate, samples in counts.items())

    def behind(self, turn: str, now: float) -> bool:
        """``turn``, starting now, is decoded hurried: its start waited here more than `HURRY_BEHIND_S` (its speaker
        is that far ahead of the decoder), or more than that of other turns' audio waits.

        Its own waiting audio does not count: a client that sends a whole clip at once has its words decoded in full.
        """
        waited = now - self._started_at.get(turn, now)
        return waited > HURRY_BEHIND_S or self.waiting_s(besides=turn) > HURRY_BEHIND_S

    def put(self, message: Any, at: float) -> None:
        """Queue ``message``, come in ``at`` (a monotonic clock's seconds)."""
        key = None if message is None else message[2]
        self._turns.setdefault(key, deque()).append(message)
        if message is not None:
            self._waiting.setdefault(key, Counter())[message[4]] += len(message[3]) // 2
            if message[1] == "start":
                self._started_at[key] = at
        if self._awaited(message):
            self._ending[key] = self._ending.get(key, 0) + 1

    def take(self) -> Any:
        ended = next(iter(self._ending), None)
        key = ended if ended is not None else next(key for key, waiting in self._turns.items() if waiting)
        waiting = self._turns[key]
        message = waiting.popleft()
        if message is not None:
            self._waiting[key][message[4]] -= len(message[3]) // 2
        if self._awaited(message):
            self._ending[key] -= 1
            if not self._ending[key]:
                del self._ending[key]
            if not waiting:
                del self._turns[key]    # the turn is over (a caught-up turn still being spoken keeps its place)
                self._waiting.pop(key, None)
                self._started_at.pop(key, None)
        return message

    @staticmethod
    def _awaited(message: Any) -> bool:
        """A turn's end, or a whole transcription (no turn): someone waits for its answer."""
        return message is not None and (message[1] == "end" or not message[2])
