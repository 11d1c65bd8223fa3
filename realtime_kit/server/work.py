"""Engine work the protocol asks for and never does itself: synthesize, detect speech, listen, transcribe.

`RealtimeProtocol` is sans-I/O like websockets' protocol: it queues `Work`, the shell runs it (espeak-ng
and pocketsphinx in worker processes, Silero on a thread) and hands each result back with
`RealtimeProtocol.work_done`. A response that needs a result yields nothing until it is there.
Given engines (`Engines`), the protocol runs its work at once in-line instead: the pure tests' way.

    >>> queue = WorkQueue(run=None)
    >>> work = queue.request(Synthesize("Hi.", "alloy", 24000, 1.0))
    >>> [w.job for w in queue.take()] == [work.job], work.done
    (True, False)
    >>> work.finish("audio"); work.done, work.result
    (True, 'audio')
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["DetectSpeech", "Listen", "Synthesize", "Transcribe", "Work", "WorkQueue"]


@dataclass(frozen=True)
class Synthesize:
    """Speak ``text``: int16 samples at ``rate``."""

    text: str
    voice: str
    rate: int
    speed: float
    first: bool = False              # a response's first sentence: someone waits for it (the others have slack)


@dataclass(frozen=True)
class DetectSpeech:
    """Feed a session's detector (a new one when ``detector`` changes): [(kind, ms since its start)]."""

    samples: np.ndarray
    detector: tuple[Any, ...]        # (epoch, threshold, prefix_ms, silence_ms, rate): one detector per value
    origin_ms: float                 # where that detector's clock starts, in ms of the session's input audio
    end_ms: float = float("inf")     # where these samples end, in ms of the session's input audio


@dataclass(frozen=True)
class Listen:
    """Live transcription of one turn, in order: "start", "feed" (samples), "end" (-> the words heard)."""

    item_id: str
    step: str
    samples: np.ndarray
    rate: int
    session_id: str = ""     # whose voice: a session's turns adapt to it, and to no other session's


@dataclass(frozen=True)
class Transcribe:
    """The words in a whole stretch of audio (a manual commit, an item sent with audio)."""

    samples: np.ndarray
    rate: int


Job = Synthesize | DetectSpeech | Listen | Transcribe


@dataclass(eq=False)
class Work:
    """One job and, once the shell has run it, its result or error."""

    job: Job
    result: Any = None
    error: BaseException | None = None
    done: bool = False
    on_done: list[Callable[[Work], None]] = field(default_factory=list)

    def finish(self, result: Any = None, error: BaseException | None = None) -> None:
        self.result, self.error, self.done = result, error, True
        for callback in self.on_done:
            callback(self)


class WorkQueue:
    """The work a protocol has asked for; with ``run`` (in-line engines) each job runs as it is asked for."""

    def __init__(self, run: Callable[[Job], Any] | None) -> None:
        self._run = run
        self._pending: list[Work] = []

    @property
    def inline(self) -> bool:
        return self._run is not None

    def request(self, job: Job, on_done: Callable[[Work], None] | None = None) -> Work:
        work = Work(job, on_done=[on_done] if on_done else [])
        if self._run is None:
            self._pending.append(work)
            return work
        try:
            result = self._run(job)
        except Exception as err:  # an engine failure is the job's result, as it would be from a worker
            work.finish(error=err)
        else:
            work.finish(result)
        return work

    def take(self) -> list[Work]:
        """The jobs asked for since the last call, for the shell to run."""
        taken, self._pending = self._pending, []
        return taken
