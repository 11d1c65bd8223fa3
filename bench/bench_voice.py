"""Spoken turns on the embedded server, streamed like microphones, with text sessions beside them.

    python3 bench/bench_voice.py                        # 1 speaker, then 30; 20 text sessions each time
    python3 bench/bench_voice.py --speakers 1 --seconds 30
    python3 bench/bench_voice.py --speakers 30 --question "What time is it in London today, and will it rain later?"

The server runs as `python -m realtime_kit.server --pace realtime` in a subprocess on loopback. Each
speaker session streams 20 ms chunks at real-time pace (a browser's audio worklet or WebRTC sends
20 ms frames; `--chunk-ms 100` for the notebook microphone's size, which alone adds up to 100 ms of
waiting for the chunk that holds the end of the silence): silence, and every ~20 s (first at a
random moment of the first 20 s: 30 speakers ask 1.5 questions a second from the start) a spoken
question of about 3.1 s (espeak-ng's `alloy`, made once, with no pause inside it as long as the
silence); `server_vad` with `silence_duration_ms` 200 answers it. Per question, from the end of speech
(the last sample above -40 dBFS, in the stream's clock):
`input_audio_buffer.speech_stopped`, `response.created` and the first `response.output_audio.delta`
arrival, p50/p95. Beside them, text sessions ask for a long
spoken story over and over; their chunk lateness (as in bench_server.py: arrival minus when the
audio before it would have finished playing) shows whether speakers slow everybody else.
Goals (issue 10): speech_stopped p95 <= silence + 60 ms; first audio p95 <= 600 ms at 30 speakers;
text lateness p99 < 20 ms. The client shares the machine with the server: say so with the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import math
import os
import random
import re
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from bench_server import cpu_seconds, event_type, one_session, pct, start_server, tree_cpu_seconds
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

_RESPONSE_ID = re.compile(r'"response_id"\s*:\s*"([^"]+)"')
# ~3.1 s of speech, the 3 s issue 10 asks for (until 2026-12-01: "What time is it in London today, please?", 2.5 s).
# It ends cleanly: a question ending on a faint voiced tail ("... will it rain later?") is still speech to Silero
# 30-50 ms past its last sample above -40 dBFS, in some of espeak-ng's renderings; try one with --question
QUESTION = "What time is it right now in London and in Paris please?"
RATE = 24000
SILENCE_MS = 200


@dataclass
class Spoken:
    """One question's timings, ms after the end of its speech."""

    stopped: float | None = None
    created: float | None = None
    first_audio: float | None = None


@dataclass
class Results:
    spoken: list[Spoken] = field(default_factory=list)
    lateness_ms: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    appends: int = 0                  # input_audio_buffer.append frames the microphones sent


def question_audio(text: str = QUESTION) -> tuple[np.ndarray, float]:
    """The spoken question (int16, 24 kHz) and where its speech ends, in seconds."""
    from realtime_kit.server.voice import synthesize

    audio = synthesize(text, voice="alloy", rate=RATE)
    loud = np.flatnonzero(np.abs(audio.astype(np.int32)) > 328)
    return audio, (loud[-1] + 1) / RATE if loud.size else audio.size / RATE


async def speaker(url: str, question: np.ndarray, speech_end_s: float, seconds: float, seed: int,
                  results: Results, chunk_s: float) -> None:
    """Stream a microphone: silence with a question every ~20 s; time each answer against the speech's end."""
    rng = random.Random(seed)
    step = int(RATE * chunk_s)
    stream = np.zeros(int(RATE * seconds), np.int16)
    speech_ends: list[float] = []
    at = rng.uniform(0.5, 20.5)   # a random phase in the ~20 s period (0.5-15 s crowded the first round by 38%)
    while at + question.size / RATE + 2.0 < seconds:
        start = int(at * RATE)
        stream[start:start + question.size] = question
        speech_ends.append(at + speech_end_s)
        at += rng.uniform(17.0, 23.0)
    turns = [Spoken() for _ in speech_ends]
    appends = _append_messages(stream, step)
    try:
        async with connect(url, max_size=None, compression=None) as ws:
            await ws.recv()
            await ws.send(json.dumps({"type": "session.update", "session": {"type": "realtime", "audio": {
                "input": {"turn_detection": {"type": "server_vad", "silence_duration_ms": SILENCE_MS}}}}}))
            began = time.perf_counter()
            reader = asyncio.create_task(_read_turns(ws, began, speech_ends, turns))
            for index, message in enumerate(appends):
                await asyncio.sleep(max(0.0, began + (index + 1) * chunk_s - time.perf_counter()))
                await ws.send(message)
                results.appends += 1
            await asyncio.sleep(3.0)
            reader.cancel()
    except Exception as err:  # a failed session is reported, not fatal to the run
        results.errors.append(f"speaker: {err!r}")
    results.spoken.extend(turns)


def _append_messages(stream: np.ndarray, step: int) -> list[str]:
    """Every input_audio_buffer.append of a stream, made before its clock starts (the microphones this client stands
    for run on other machines: its encoding must not take CPU from the server it measures); equal chunks (silence)
    share one string."""
    made: dict[bytes, str] = {}
    messages = []
    for start in range(0, stream.size, step):
        chunk = stream[start:start + step].astype("<i2").tobytes()
        if chunk not in made:
            made[chunk] = json.dumps({"type": "input_audio_buffer.append", "audio": base64.b64encode(chunk).decode()})
        messages.append(made[chunk])
    return messages


async def _read_turns(ws: Any, began: float, speech_ends: list[float], turns: list[Spoken]) -> None:
    """Match each speech_stopped to the next question; then its response.created and first audio."""
    current: Spoken | None = None
    end_at, taken, answer = 0.0, 0, None
    async for raw in _frames(ws):
        now = time.perf_counter() - began
        kind = event_type(raw)      # not json.loads: an audio delta carries kilobytes of base64
        if kind == "input_audio_buffer.speech_stopped" and taken < len(turns):
            current, end_at = turns[taken], speech_ends[taken]
            taken += 1
            current.stopped = (now - end_at) * 1000
        elif current is not None and kind == "response.created" and current.created is None:
            current.created, answer = (now - end_at) * 1000, json.loads(raw)["response"]["id"]
        elif current is not None and kind == "response.output_audio.delta" and current.first_audio is None \
                and _RESPONSE_ID.search(raw if isinstance(raw, str) else raw.decode()).group(1) == answer:
            current.first_audio = (now - end_at) * 1000


async def _frames(ws: Any) -> AsyncIterator[str | bytes]:
    """The frames of a connection until it closes (a closed session is counted by its missing answers)."""
    with contextlib.suppress(ConnectionClosed):
        async for raw in ws:
            yield raw


async def texter(url: str, seconds: float, seed: int, results: Results) -> None:
    """Ask for long spoken stories back to back; keep every chunk's lateness."""
    stop_at = time.perf_counter() + seconds
    await asyncio.sleep(random.Random(seed).uniform(0, 2.0))
    while time.perf_counter() < stop_at - 5:
        turn = await one_session(url, 0.0, stop_at + 30)
        if turn.error:
            results.errors.append(f"text: {turn.error}")
            return
        results.lateness_ms.extend(turn.lateness_ms)


async def run(url: str, question: np.ndarray, speech_end_s: float, speakers: int, texters: int, seconds: float,
              chunk_s: float) -> Results:
    results = Results()
    await asyncio.gather(*(speaker(url, question, speech_end_s, seconds, seed, results, chunk_s)
                           for seed in range(speakers)),
                         *(texter(url, seconds, 100 + seed, results) for seed in range(texters)))
    return results


def decoding_cost(question: np.ndarray) -> float:
    """This machine's speed where the room's load lands: CPU seconds a fixed pocketsphinx search (its defaults, no
    second pass: the live search before its limits) takes per second of the question, fed in 100 ms pieces. The
    same work in every version of the code: these shared machines differ from day to day, even run to run, by 2-3x."""
    from pocketsphinx import Decoder

    from realtime_kit.server.vad import StreamingResampler

    decoder = Decoder(cmn="batch", fwdflat=False, loglevel="FATAL")
    pcm = StreamingResampler(RATE, 16000).process(question.astype(np.float64)).astype(np.int16)
    spent = []
    for _ in range(3):
        start = time.process_time()
        decoder.start_utt()
        for piece in range(0, pcm.size, 1600):
            decoder.process_raw(pcm[piece:piece + 1600].tobytes(), full_utt=False)
        decoder.end_utt()
        spent.append(time.process_time() - start)
    return float(np.median(spent)) / (question.size / RATE)


def report(speakers: int, texters: int, results: Results, cpu_share: float, own_share: float, seconds: float) -> None:
    def line(name: str, values: list[float | None]) -> str:
        got = np.array([v for v in values if v is not None])
        return f"{name:>15}: p50 {pct(got, 50):7.0f}  p95 {pct(got, 95):7.0f}  (n={got.size})"

    spoken = results.spoken
    asked = len(spoken)
    print(f"\n{speakers} speaker(s), {texters} text sessions: {asked} questions, "
          f"{sum(s.stopped is not None for s in spoken)} heard; server tree CPU {cpu_share:.0f}% of one core (the "
          f"server process {own_share:.0f}%, its engine processes the rest; {results.appends / seconds:.0f} appends/s)")
    print(line("speech_stopped", [s.stopped for s in spoken]))
    print(line("response.created", [s.created for s in spoken]))
    print(line("first audio", [s.first_audio for s in spoken]))
    late = np.array(results.lateness_ms)
    print(f"{'text lateness':>15}: p50 {pct(late, 50):7.1f}  p99 {pct(late, 99):7.1f}  max {pct(late, 100):7.1f}  "
          f"(n={late.size}; < 0 = early)")
    if results.errors:
        print(f"   {len(results.errors)} errors; first: {results.errors[0]}")
    print(f"{'goals':>15}: " + "; ".join(verdicts(speakers, results)))


def verdicts(speakers: int, results: Results) -> list[str]:
    """Each of issue 10's goals this run can judge, with its figure and whether it was met.

    >>> for verdict in verdicts(30, Results(spoken=[Spoken(210.0, 211.0, 700.0)], lateness_ms=[-100.0])):
    ...     print(verdict)
    speech_stopped p95 210 <= 260 met
    first audio p95 700 <= 600 NOT met
    text lateness p99 -100.0 < 20 met
    1 of 1 questions heard
    """
    def judged(name: str, value: float, limit: float, strictly_under: bool = False, digits: int = 0) -> str:
        met = value < limit if strictly_under else value <= limit   # the rule printed is the rule applied
        sign = "<" if strictly_under else "<="
        return f"{name} {value:.{digits}f} {sign} {limit:g} {'met' if met else 'NOT met'}"

    def p95(values: list[float | None]) -> float:
        # a question never answered counts as infinitely late, so a room that falls behind cannot look fast
        got = np.array([math.inf if v is None else v for v in values])
        # no interpolation toward an inf (it would give nan): the nearest value above instead
        return pct(got, 95) if np.isfinite(got).all() else float(np.percentile(got, 95, method="higher"))

    stopped = p95([s.stopped for s in results.spoken])
    first_audio = p95([s.first_audio for s in results.spoken])
    late = pct(np.array(results.lateness_ms), 99)
    out = [judged("speech_stopped p95", stopped, SILENCE_MS + 60)]
    if speakers >= 30:   # the goal is set for a room of 30; one speaker's first audio is printed above
        out.append(judged("first audio p95", first_audio, 600))
    out.append(judged("text lateness p99", late, 20, strictly_under=True, digits=1))
    heard = sum(s.first_audio is not None for s in results.spoken)
    all_heard = heard == len(results.spoken)
    out.append(f"{heard} of {len(results.spoken)} questions heard" + ("" if all_heard else " NOT met"))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--speakers", type=int, nargs="+", default=[1, 30])
    parser.add_argument("--texters", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=90.0,
                        help="length of each run (90 s: about 4 questions from 1 speaker and 130 from 30, so that "
                             "one burst does not decide a p95)")
    parser.add_argument("--chunk-ms", type=int, default=20, help="audio per input_audio_buffer.append")
    parser.add_argument("--workers", type=int, default=1, help="server processes (--workers)")
    parser.add_argument("--question", default=QUESTION, help="what every speaker asks (espeak-ng's alloy)")
    args = parser.parse_args()
    # made once: espeak-ng's breath noise differs from one rendering to the next, so every run hears the same audio
    question, speech_end_s = question_audio(args.question)
    cost = decoding_cost(question)
    proc, url = start_server(["--port", "0", "--workers", str(args.workers)])
    try:
        asyncio.run(one_session(url, 0.0, time.perf_counter() + 60))   # warm: engines loaded, decoders built
        for speakers in args.speakers:
            cpu_before, own_before = tree_cpu_seconds(proc.pid), cpu_seconds(proc.pid)
            wall_before = time.perf_counter()
            results = asyncio.run(run(url, question, speech_end_s, speakers, args.texters, args.seconds,
                                      args.chunk_ms / 1000))
            wall = time.perf_counter() - wall_before
            share, own = (100 * (after - before) / wall for after, before in (
                (tree_cpu_seconds(proc.pid), cpu_before), (cpu_seconds(proc.pid), own_before)))
            report(speakers, args.texters, results, share, own, wall)
    finally:
        proc.terminate()
        proc.wait(30)
    print(f"\n(ms after the end of speech, the last sample above -40 dBFS of {args.question!r}, {speech_end_s:.2f} s "
          f"into its audio; {args.chunk_ms} ms chunks; {args.workers} server process(es); "
          f"silence_duration_ms {SILENCE_MS}; goals: speech_stopped p95 <= "
          f"{SILENCE_MS + 60}, first audio p95 <= 600 at 30 speakers, text lateness p99 < 20)")
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at the end (shared); "
          f"before the runs, alone, pocketsphinx's default search took {cost:.3f} CPU s per s of the question")


if __name__ == "__main__":
    main()
