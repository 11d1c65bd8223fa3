"""How many concurrent sessions the embedded server streams at real-time pace, and how soon audio starts.

    python3 bench/bench_server.py                       # ramp 1, 10, 25, 50, 75 sessions
    python3 bench/bench_server.py --steps 1 10 --spread-s 1

The server runs as `python -m realtime_kit.server --pace realtime` in a subprocess on loopback (so
the clients below do not share its event loop or GIL). Each step opens N sessions, then each sends
one text turn whose answer is a long-ish spoken story (about 20 s of audio), starting at a random
moment within `--spread-s` seconds (people in a room do not all press Enter in the same
millisecond); `--burst` then runs `--bursts` steps where all turns start in the same instant. Per audio
delta, lateness = arrival - (arrival of the response's first delta + the audio received before it,
in playback time), over every delta after the first; negative means early, which the server's
400 ms lead allows (about -150 ms for 250 ms chunks). First audio = first
`response.output_audio.delta` arrival - `response.create` send time. The verdict is the largest
step whose p99 lateness is under 20 ms.
Bounded: every step has a deadline and the whole run stops by itself.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from websockets.asyncio.client import ClientConnection, connect

REPO = Path(__file__).resolve().parent.parent
BYTES_PER_MS = 48.0  # PCM16 mono at 24 kHz
LATENESS_GOAL_MS = 20.0
FIRST_AUDIO_GOAL_MS = 50.0
PROMPT = "Please tell me a story."


@dataclass
class Turn:
    """What one session measured for its turn."""

    first_audio_ms: float | None = None
    lateness_ms: list[float] = field(default_factory=list)
    audio_ms: float = 0.0
    error: str | None = None


async def one_session(url: str, start_delay_s: float, deadline: float) -> Turn:
    """Open a session, wait `start_delay_s`, run one text turn, and time its audio deltas."""
    turn = Turn()
    try:
        async with connect(url, max_size=None, compression=None) as ws:
            await _expect(ws, "session.created", deadline)
            await asyncio.sleep(start_delay_s)
            await ws.send(json.dumps({"type": "conversation.item.create", "item": {
                "type": "message", "role": "user", "content": [{"type": "input_text", "text": PROMPT}]}}))
            sent_at = time.perf_counter()
            await ws.send(json.dumps({"type": "response.create"}))
            await _time_deltas(ws, turn, sent_at, deadline)
    except (OSError, TimeoutError, RuntimeError) as exc:
        turn.error = f"{type(exc).__name__}: {exc}"
    return turn


async def _time_deltas(ws: ClientConnection, turn: Turn, sent_at: float, deadline: float) -> None:
    first_at = 0.0
    while True:
        raw = await asyncio.wait_for(ws.recv(), timeout=max(0.01, deadline - time.perf_counter()))
        now = time.perf_counter()
        kind = event_type(raw)
        if kind == "response.output_audio.delta":
            if turn.first_audio_ms is None:  # the playback clock starts here: its own lateness is 0
                first_at = now
                turn.first_audio_ms = (now - sent_at) * 1000
            else:
                turn.lateness_ms.append((now - first_at) * 1000 - turn.audio_ms)
            turn.audio_ms += _delta_bytes(raw) / BYTES_PER_MS
        elif kind == "error":
            raise RuntimeError(f"error event: {raw[:200]!r}")
        elif kind == "response.done":
            return


async def _expect(ws: ClientConnection, kind: str, deadline: float) -> None:
    raw = await asyncio.wait_for(ws.recv(), timeout=max(0.01, deadline - time.perf_counter()))
    if event_type(raw) != kind:
        raise RuntimeError(f"expected {kind}, got {raw[:120]!r}")


_TYPE = re.compile(r'"type"\s*:\s*"([^"]+)"')
_DELTA = re.compile(r'"delta"\s*:\s*"([^"]*)"')


def event_type(raw: str | bytes) -> str:
    """The event's type without parsing 16 kB of base64 (the client must not be the bottleneck)."""
    text = raw if isinstance(raw, str) else raw.decode()
    match = _TYPE.search(text)
    return match.group(1) if match else ""


def _delta_bytes(raw: str | bytes) -> float:
    text = raw if isinstance(raw, str) else raw.decode()
    match = _DELTA.search(text)
    b64 = match.group(1) if match else ""
    return len(b64) * 3 / 4 - b64[-2:].count("=")


async def run_step(url: str, sessions: int, spread_s: float, budget_s: float, seed: int) -> list[Turn]:
    rng = random.Random(seed)
    deadline = time.perf_counter() + budget_s
    delays = [rng.uniform(0, spread_s) for _ in range(sessions)]
    return await asyncio.gather(*(one_session(url, delay, deadline) for delay in delays))


def pct(values: np.ndarray, q: float) -> float:
    return float(np.percentile(values, q)) if values.size else float("nan")


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process so far (Linux /proc; NaN elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def tree_cpu_seconds(pid: int) -> float:
    """CPU seconds of a process and all its descendants (the engine worker processes)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                parent = int(Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[1])
            except OSError:
                continue
            children.setdefault(parent, []).append(int(entry))
    total, todo = 0.0, [pid]
    while todo:
        current = todo.pop()
        total += cpu_seconds(current) if not np.isnan(cpu_seconds(current)) else 0.0
        todo.extend(children.get(current, []))
    return total


def summarise(sessions: int, turns: list[Turn]) -> dict[str, float]:
    lateness = np.array([x for t in turns for x in t.lateness_ms]) if turns else np.zeros(0)
    first = np.array([t.first_audio_ms for t in turns if t.first_audio_ms is not None])
    return {
        "sessions": sessions,
        "errors": sum(t.error is not None for t in turns),
        "deltas": int(lateness.size),
        "audio_s": sum(t.audio_ms for t in turns) / 1000 / max(1, len(turns)),
        "late_p50": pct(lateness, 50), "late_p99": pct(lateness, 99), "late_max": pct(lateness, 100),
        "first_p50": pct(first, 50), "first_p99": pct(first, 99),
    }


def print_table(rows: list[dict[str, float]]) -> None:
    print(f"{'sessions':>8} {'errors':>6} {'deltas':>6} {'audio s':>7} {'late p50':>9} {'late p99':>9} "
          f"{'late max':>9} {'1st p50':>8} {'1st p99':>8} {'srv cpu':>7}")
    for r in rows:
        print(f"{r['sessions']:>8} {r['errors']:>6} {r['deltas']:>6} {r['audio_s']:>7.1f} {r['late_p50']:>9.1f} "
              f"{r['late_p99']:>9.1f} {r['late_max']:>9.1f} {r['first_p50']:>8.1f} {r['first_p99']:>8.1f} "
              f"{r['server_cpu']:>6.0f}%")
    print("(times in ms; lateness < 0 = early; audio s = per turn; srv cpu = server and its engine processes, "
          "% of one core)")


def start_server(port_args: list[str]) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "realtime_kit.server", "--pace", "realtime", *port_args],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert proc.stdout is not None
    for line in proc.stdout:
        match = re.search(r"OpenAI-style +websocket_base_url: (\S+)", line)
        if match:
            return proc, match.group(1) + "/realtime?model=gpt-realtime"
    raise SystemExit("the server exited before printing its URL")


async def warm_up(url: str) -> None:
    """One turn first, so engine loading is not counted in the first step."""
    await one_session(url, 0.0, time.perf_counter() + 60)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, nargs="+", default=[1, 10, 25, 50, 75])
    parser.add_argument("--spread-s", type=float, default=2.0, help="turn starts spread over this many seconds")
    parser.add_argument("--step-budget-s", type=float, default=90.0, help="deadline per step")
    parser.add_argument("--burst", type=int, default=50,
                        help="then this many sessions all starting in the same instant (0: skip)")
    parser.add_argument("--bursts", type=int, default=5,
                        help="bursts run one after another; the verdict reads their median first audio p50 (one "
                             "burst's p50 moved 41-82 ms between runs of the same code on this machine)")
    args = parser.parse_args()

    proc, url = start_server(["--port", "0"])
    try:
        asyncio.run(warm_up(url))
        rows = [measure(url, proc.pid, n, args.spread_s, args.step_budget_s, seed)
                for seed, n in enumerate(args.steps)]
        burst = [measure(url, proc.pid, args.burst, 0.0, args.step_budget_s, 99 + index)
                 for index in range(args.bursts)] if args.burst else []
    finally:
        proc.terminate()
        proc.wait(30)
    print(f"\nturn starts spread uniformly over {args.spread_s:g} s:")
    print_table(rows)
    ok = [r for r in rows if not r["errors"] and r["late_p99"] < LATENESS_GOAL_MS]
    best = max((int(r["sessions"]) for r in ok), default=0)
    print(f"\nlargest session count with p99 lateness < {LATENESS_GOAL_MS:.0f} ms: {best} "
          f"(goal 50; first audio goal < {FIRST_AUDIO_GOAL_MS:.0f} ms)")
    if burst:
        print("\nburst: every turn starts in the same instant (speech synthesis is serial, so first audio queues):")
        print_table(burst)
        middle = float(np.median([row["first_p50"] for row in burst]))
        print(f"first audio p50, median of {len(burst)} bursts: {middle:.1f} ms (goal < {FIRST_AUDIO_GOAL_MS:.0f} ms)")
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at the end")


def measure(url: str, server_pid: int, sessions: int, spread_s: float, budget_s: float, seed: int,
            ) -> dict[str, float]:
    """Run one step and print a progress line; also the server's CPU use (share of one core) meanwhile."""
    cpu_before, wall_before = tree_cpu_seconds(server_pid), time.perf_counter()
    turns = asyncio.run(run_step(url, sessions, spread_s, budget_s, seed))
    row = summarise(sessions, turns)
    row["server_cpu"] = 100 * (tree_cpu_seconds(server_pid) - cpu_before) / (time.perf_counter() - wall_before)
    print(f"{sessions:>3} sessions (spread {spread_s:g} s): p99 lateness {row['late_p99']:.1f} ms, "
          f"first audio p50 {row['first_p50']:.1f} / p99 {row['first_p99']:.1f} ms", flush=True)
    errors = [t.error for t in turns if t.error]
    if errors:
        print(f"   {len(errors)} failed; first: {errors[0]}")
    return row


if __name__ == "__main__":
    main()
