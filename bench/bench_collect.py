"""Collecting a long spoken answer: realtime_kit's send_text against a bare openai SDK loop.

One run against the embedded server at pace "fast". The local assistant repeats a long text
("repeat after me: ..."), so the answer is ~10 minutes of audio. Both clients wait for
session.created, then time from sending the request to response.done:

* bare: `async for event in connection`, base64-decoding each audio delta into a list (nothing else);
* rk:   `await session.send_text(...)`, then `reply.audio` (event log, fold, AudioBuffer, timings).

Prints the wall-time ratio rk / bare (goal <= 1.15), the client thread's CPU time for each (the
server runs in another thread, so this isolates the client's own cost), and rk at 1 min vs 10 min
of audio to show that collection grows linearly.

    python3 bench/bench_collect.py            # about half a minute on two cores
    python3 bench/bench_collect.py --minutes 2 --repeats 1
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import openai

import realtime_kit as rk
from realtime_kit.server import LocalServer

SENTENCE = "The quiet river flows past green fields, old stone walls and tall trees near the village. "
SECONDS_PER_SENTENCE = 5.3  # espeak-ng at normal speed, measured for SENTENCE


def long_text(minutes: float) -> str:
    return "repeat after me: " + SENTENCE * max(1, round(minutes * 60 / SECONDS_PER_SENTENCE))


async def bare_sdk(server: LocalServer, text: str) -> tuple[float, float, float]:
    """(wall seconds, client CPU seconds, audio seconds) for the plain SDK loop."""
    client = openai.AsyncOpenAI(websocket_base_url=server.azure_base_url, api_key="local")
    async with client.realtime.connect(model="gpt-realtime") as connection:
        async for event in connection:
            if event.type == "session.created":
                break
        wall, cpu = time.perf_counter(), time.thread_time()
        await connection.send({"type": "conversation.item.create", "item": {
            "type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}})
        await connection.send({"type": "response.create"})
        chunks: list[bytes] = []
        async for event in connection:
            if event.type == "response.output_audio.delta":
                chunks.append(base64.b64decode(event.delta))
            elif event.type == "response.done":
                break
        wall, cpu = time.perf_counter() - wall, time.thread_time() - cpu
    await client.close()
    return wall, cpu, sum(len(c) for c in chunks) / 2 / 24000


async def with_rk(server: LocalServer, text: str) -> tuple[float, float, float]:
    """(wall seconds, client CPU seconds, audio seconds) for rk's send_text."""
    async with rk.connect(server.url) as session:
        wall, cpu = time.perf_counter(), time.thread_time()
        reply = await session.send_text(text)
        audio = reply.audio
        wall, cpu = time.perf_counter() - wall, time.thread_time() - cpu
    return wall, cpu, audio.duration


Run = Callable[[LocalServer, str], Awaitable[tuple[float, float, float]]]


async def best_of(repeats: int, run: Run, server: LocalServer, text: str) -> tuple[float, float, float]:
    results = [await run(server, text) for _ in range(repeats)]
    return min(r[0] for r in results), min(r[1] for r in results), results[0][2]


async def main(minutes: float, repeats: int) -> None:
    with LocalServer(pace="fast") as server:
        text = long_text(minutes)
        # warm up with the same texts: engines loaded, imports done, any server-side caches filled
        await with_rk(server, long_text(minutes / 10))
        await bare_sdk(server, text)
        bare_runs: list[tuple[float, float, float]] = []
        rk_runs: list[tuple[float, float, float]] = []
        for index in range(repeats):  # interleaved, alternating who goes first, so load hits both alike
            order = (bare_sdk, with_rk) if index % 2 == 0 else (with_rk, bare_sdk)
            for run in order:
                (bare_runs if run is bare_sdk else rk_runs).append(await run(server, text))
        bare = (min(r[0] for r in bare_runs), min(r[1] for r in bare_runs), bare_runs[0][2])
        ours = (min(r[0] for r in rk_runs), min(r[1] for r in rk_runs), rk_runs[0][2])
        short = await best_of(repeats, with_rk, server, long_text(minutes / 10))

    print(f"answer: {ours[2] / 60:.1f} min of audio (bare SDK got {bare[2] / 60:.1f} min)")
    print(f"bare SDK loop : {bare[0]:7.2f} s wall, {bare[1]:6.2f} s client CPU")
    print(f"rk send_text  : {ours[0]:7.2f} s wall, {ours[1]:6.2f} s client CPU")
    print(f"ratio rk/bare : {ours[0] / bare[0]:.3f} wall (goal <= 1.15), {ours[1] / bare[1]:.3f} client CPU")
    print(f"rk {short[2] / 60:.1f} min -> {ours[2] / 60:.1f} min of audio: "
          f"{ours[0] / short[0]:.2f}x wall, {ours[1] / short[1]:.2f}x client CPU for "
          f"{ours[2] / short[2]:.2f}x the audio (linear: the same factor); "
          f"{1000 * short[1] / short[2]:.2f} vs {1000 * ours[1] / ours[2]:.2f} ms client CPU per audio second")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="length of the long answer")
    parser.add_argument("--repeats", type=int, default=2, help="runs of each client; the best is kept")
    args = parser.parse_args()
    asyncio.run(main(args.minutes, args.repeats))
