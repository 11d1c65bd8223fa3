"""The experiment runner: its overhead over the same turns by hand, and what concurrency buys.

Against the embedded server on loopback, both measured in this run:

1. Overhead at concurrency 1. The same turns (2 configs x 2 text turns and 1 spoken question x 2 repeats),
   in the same order, each in a fresh session as the runner does: by hand with
   `rk.connect` / `session.update` / `send_text` / `send_audio`, and with `rk.Experiment(concurrency=1)`
   (which adds the metrics, the rows and the table). Runs alternate hand / runner; prints the median
   wall time of each and the ratio runner / hand (goal <= 1.10).
2. Concurrency. 48 text turns at concurrency 1 and at 8 (goal: 8 is >= 4x faster), on a server at
   pace "realtime" (audio streamed like the service, so a turn mostly waits, as it does on the cloud),
   and for comparison at pace "fast", where the in-process server's CPU is the limit.

    python3 bench/bench_experiment.py                    # about two minutes on two cores
    python3 bench/bench_experiment.py --turns 16 --runs 3
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import realtime_kit as rk
from realtime_kit.server import LocalServer
from realtime_kit.server.voice import synthesize

CONFIGS = {"eager": {"silence_duration_ms": 200}, "patient": {"silence_duration_ms": 800, "voice": "cedar"}}


def turns() -> list[object]:
    question = rk.Audio.silence(0.3, 16000) + rk.Audio(synthesize("what time is it", rate=16000), 16000)
    return ["Hello there.", "How are you?", question]


async def by_hand(server: LocalServer, experiment: rk.Experiment) -> tuple[float, float]:
    """(wall, client CPU) seconds for the experiment's turns, one by one, in fresh sessions, with no runner."""
    started, cpu = time.perf_counter(), time.thread_time()
    for job in experiment.jobs():
        async with rk.connect(server.url) as session:
            await session.update(**job.config)
            if job.turn.text is not None:
                await session.send_text(job.turn.text)
            else:
                await session.send_audio(job.turn.audio, vad_timeout=experiment.vad_timeout)
    return time.perf_counter() - started, time.thread_time() - cpu


async def with_runner(experiment: rk.Experiment) -> tuple[float, float]:
    """(wall, client CPU) seconds for `experiment.run()` (the server's own thread is not counted in CPU)."""
    started, cpu = time.perf_counter(), time.thread_time()
    results = await experiment.run()
    assert len(results.errors) == 0, results.errors[["status", "error"]]
    return time.perf_counter() - started, time.thread_time() - cpu


async def overhead(runs: int) -> None:
    with LocalServer(pace="fast") as server:
        clips = turns()
        make = lambda: rk.Experiment(CONFIGS, clips, targets=[server], repeats=2, concurrency=1,  # noqa: E731
                                     progress=False)
        await with_runner(make())  # warm up the engines and both code paths once
        n = len(make().jobs())
        hand, runner = [], []
        for _ in range(runs):
            hand.append(await by_hand(server, make()))
            runner.append(await with_runner(make()))
    print(f"overhead, {n} turns at concurrency 1, {runs} alternating runs each (wall; client thread CPU):")
    for name, pick in (("median", statistics.median), ("best", min)):
        (hw, hc), (rw, rc) = [(pick(w for w, _ in runs_), pick(c for _, c in runs_)) for runs_ in (hand, runner)]
        print(f"  {name:6}  wall: hand {hw:6.2f} s  runner {rw:6.2f} s  ratio {rw / hw:.3f} (goal <= 1.10)   "
              f"CPU: hand {hc:5.2f} s  runner {rc:5.2f} s  ratio {rc / hc:.3f}")
    paired = statistics.median(r / h for (h, _), (r, _) in zip(hand, runner, strict=True))
    print(f"  paired  wall: median of runner / hand over back-to-back pairs {paired:.3f}")
    print(f"  every run, wall: hand {[round(w, 2) for w, _ in hand]}  runner {[round(w, 2) for w, _ in runner]}")


async def concurrency(count: int, pace: str) -> None:
    with LocalServer(pace=pace) as server:  # type: ignore[arg-type]
        texts = ["say hello there"] * count
        walls = {}
        await with_runner(rk.Experiment({"a": {}}, texts[:2], targets=[server], concurrency=2, progress=False))
        for level in (1, 8):
            walls[level], _ = await with_runner(rk.Experiment({"a": {}}, texts, targets=[server], concurrency=level,
                                                           progress=False))
    print(f"concurrency, {count} text turns, server pace {pace!r}:")
    print(f"  at 1 {walls[1]:6.2f} s   at 8 {walls[8]:6.2f} s   speed-up {walls[1] / walls[8]:.2f}x  (goal >= 4x)")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--turns", type=int, default=48, help="text turns in the concurrency run")
    parser.add_argument("--runs", type=int, default=5, help="alternating runs in the overhead comparison")
    parser.add_argument("--only", choices=["overhead", "concurrency"], help="run one of the two parts")
    args = parser.parse_args()
    if args.only != "concurrency":
        await overhead(args.runs)
    if args.only != "overhead":
        await concurrency(args.turns, "realtime")
        await concurrency(args.turns, "fast")


if __name__ == "__main__":
    asyncio.run(main())
