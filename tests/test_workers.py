"""The engine worker processes: a sentence asked for by many sessions at once is synthesised once, and kept; turns
heard live across the listener processes."""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import threading
import time
from collections.abc import Iterator

import numpy as np
import pytest
from speech_fixtures import speech_with_silence

from realtime_kit.server import workers as workers_module
from realtime_kit.server.work import Listen, Synthesize
from realtime_kit.server.workers import LISTENER_NICENESS, ROOM_MICROPHONES, EngineWorkers

pytestmark = pytest.mark.engines


@pytest.fixture(scope="module")
def workers() -> Iterator[EngineWorkers]:
    engine_workers = EngineWorkers(1)
    yield engine_workers
    engine_workers.close()


def test_the_same_sentence_asked_at_once_is_synthesised_once(workers: EngineWorkers) -> None:
    """Fifty sessions asking for the same sentence in the same instant get one read-only array; it is kept."""
    job = Synthesize("The whole room asked the same thing.", "alloy", 24000, 1.0, first=True)

    async def ask() -> list[np.ndarray]:
        return list(await asyncio.gather(*(workers.synthesize(job) for _ in range(50))))

    answers = asyncio.run(ask())
    assert all(answer is answers[0] for answer in answers) and answers[0].size > 24000
    assert not answers[0].flags.writeable
    assert asyncio.run(workers.synthesize(job)) is answers[0]          # kept for the next one
    other = asyncio.run(workers.synthesize(Synthesize(job.text, "echo", 24000, 1.0)))
    assert other is not answers[0] and not np.array_equal(other[:other.size // 2], answers[0][:other.size // 2])


def test_later_sentences_are_made_at_a_lower_priority_than_first_ones(workers: EngineWorkers) -> None:
    """Someone waits for a response's first sentence; later ones have the playback of the earlier ones as slack, so
    their processes run at the listeners' lower priority and a full machine makes first sentences first."""
    asyncio.run(workers.synthesize(Synthesize("A first sentence, waited for.", "alloy", 24000, 1.0, first=True)))
    asyncio.run(workers.synthesize(Synthesize("A later sentence, with slack.", "alloy", 24000, 1.0)))
    ours = os.getpriority(os.PRIO_PROCESS, 0)
    later = {os.getpriority(os.PRIO_PROCESS, pid) for pid in workers._synth._processes}   # type: ignore[attr-defined]
    first = {os.getpriority(os.PRIO_PROCESS, pid) for pid in workers._first._processes}   # type: ignore[attr-defined]
    assert later == {min(19, ours + LISTENER_NICENESS)} and first == {ours}


def test_one_waiter_giving_up_does_not_cancel_the_others(workers: EngineWorkers) -> None:
    """A session that leaves while its sentence is being made does not take it from the sessions still waiting."""
    job = Synthesize("Somebody left before the answer came.", "coral", 24000, 1.0)

    async def leave_early() -> np.ndarray:
        leaving = asyncio.ensure_future(workers.synthesize(job))
        staying = asyncio.ensure_future(workers.synthesize(job))
        await asyncio.sleep(0)
        leaving.cancel()
        return await staying

    assert asyncio.run(leave_early()).size > 0


def test_kept_sentences_are_bounded_by_bytes(workers: EngineWorkers, monkeypatch: pytest.MonkeyPatch) -> None:
    """Past SYNTH_CACHE_BYTES the least recently used sentences are dropped; all go when the room leaves."""
    monkeypatch.setattr(workers_module, "SYNTH_CACHE_BYTES", 200_000)
    for word in ("one", "two", "three", "four", "five", "six"):
        asyncio.run(workers.synthesize(Synthesize(f"Number {word}, said slowly and clearly.", "alloy", 24000, 1.0)))
    assert workers._made_bytes <= 200_000 and 0 < len(workers._made) < 6
    assert list(workers._made)[-1][0] == "Number six, said slowly and clearly."
    workers.forget_sentences()  # the room left
    assert workers._made_bytes == 0 and not workers._made


def test_a_synthesis_finished_before_it_is_watched_does_not_deadlock(workers: EngineWorkers,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """A pool that hands back a future already done (its callback runs at once) gets its answer, not a hang."""
    finished: concurrent.futures.Future[np.ndarray] = concurrent.futures.Future()
    finished.set_result(np.ones(2400, np.int16))
    monkeypatch.setattr(workers._synth, "submit", lambda *args, **kwargs: finished)
    answers: list[np.ndarray] = []
    asking = threading.Thread(target=lambda: answers.append(
        asyncio.run(workers.synthesize(Synthesize("Done before anyone looked.", "alloy", 24000, 1.0)))), daemon=True)
    asking.start()
    asking.join(10)
    assert not asking.is_alive(), "synthesize deadlocked on its own lock"
    assert answers[0].size == 2400 and workers._made[("Done before anyone looked.", "alloy", 24000, 1.0)] is answers[0]


def test_forgetting_shared_sentences_starts_no_workers(monkeypatch: pytest.MonkeyPatch) -> None:
    """A room leaving a server whose sessions never needed the engine processes does not start them."""
    monkeypatch.setattr(EngineWorkers, "_shared", None)
    EngineWorkers.forget_shared_sentences()
    assert EngineWorkers._shared is None


def test_a_turn_heard_live_in_a_worker_gives_its_words_and_keeps_its_speakers_normalisation() -> None:
    """Two listener processes: turns spread over both, the words come back, a session's CMN is kept between its
    turns and dropped when it ends; the processes yield the CPU to the server's loop. Recognition: "thank you very
    much" in alloy, at least 3 of its 4 words: all 4 in each of 30 renderings (espeak-ng's differ), where "hello how
    are you today" lost 3 of its 5 words in 1 of 30 ("the golf on you today"; it failed a suite on 2026-12-01)."""
    workers = EngineWorkers(2)
    try:
        clip = speech_with_silence("thank you very much", 0.2, 0.3)
        empty = np.zeros(0, np.int16)

        def turn(item_id: str) -> concurrent.futures.Future[object]:
            workers.listen(Listen(item_id, "start", empty, 24000, "sess_a"))
            for start in range(0, clip.size, 2400):
                workers.listen(Listen(item_id, "feed", clip[start:start + 2400], 24000, "sess_a"))
            return workers.listen(Listen(item_id, "end", empty, 24000, "sess_a"))

        first, second = turn("item_1"), turn("item_2")        # both in hand at once: one on each process
        words = [str(first.result(60)), str(second.result(60))]
        assert all(len(set(heard.split()) & {"thank", "you", "very", "much"}) >= 3 for heard in words), words
        ours = os.getpriority(os.PRIO_PROCESS, 0)
        assert [os.getpriority(os.PRIO_PROCESS, listener._process.pid) for listener in workers._listeners] \
            == [min(19, ours + LISTENER_NICENESS)] * 2
        _, kept = workers._router.start("item_3", "sess_a")
        assert kept.count(",") == 12       # the 13 numbers of the CMN its last turn left
        workers.forget_session("sess_a")
        assert workers._router.start("item_4", "sess_a")[1] == ""
        assert workers.listen(Listen("never_started", "end", empty, 24000, "sess_a")).result(1) == ""
    finally:
        workers.close()


def test_a_room_forming_has_each_listener_build_its_decoders_and_leaving_lets_them_go(workers: EngineWorkers) -> None:
    """ROOM_MICROPHONES sessions streaming at once: the idle listener builds ROOM_DECODERS of each search (real
    pocketsphinx decoders, about 0.4 s each); when the last microphone stops, it keeps one full decoder."""

    def decoders_become(wanted: list[tuple[int, int]]) -> None:
        deadline = time.monotonic() + 60
        while (held := workers.decoders()) != wanted:
            assert time.monotonic() < deadline, f"the listener holds {held} decoders, not {wanted}"
            time.sleep(0.2)

    assert workers.decoders() == [(0, 0)]          # nothing built yet: no turn, no warm-up in this test
    for _ in range(ROOM_MICROPHONES - 1):
        workers.microphone(opened=True)
    time.sleep(0.5)
    assert workers.decoders() == [(0, 0)]          # one microphone short of a room
    workers.microphone(opened=True)
    decoders_become([(2, 2)])
    for _ in range(ROOM_MICROPHONES):
        workers.microphone(opened=False)
    decoders_become([(1, 0)])
