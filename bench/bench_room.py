"""A workshop room on one server: 30 good sessions, then the same with one hostile client; timing and memory.

    python3 bench/bench_room.py                          # 20 s quiet room, then 60 s with the hostile client
    python3 bench/bench_room.py --quiet-s 10 --hostile-s 30 --sessions 20

The server runs as `python -m realtime_kit.server --pace realtime` in a subprocess on loopback. Good
sessions: most send text turns one after another (a short pause between), `--spoken` of them stream a
spoken question at real-time pace in 100 ms appends with server VAD. The hostile client cycles
through issue 15's cases: a non-reading client flooding conversation.item.retrieve of a 1 MiB item,
"repeat after me: banana x20000", 15 MiB appends (server VAD on, and off until the buffer cap),
{"audio": null}, "[" x 100000, NaN, a close mid-response, duplicate and non-UTF-8 key headers,
?api-key=, 100 TCP connections that open and leave, a client that stops answering pings.

Printed for each phase (the quiet room is the baseline measured in the same run): p99 audio chunk
lateness of the good sessions (arrival minus the playback time of the audio before it, counted from
the response's first delta; negative = early, which the 400 ms lead allows), p95 time to first audio
(text: from response.create; spoken: from input_audio_buffer.speech_stopped), turns, and errors the
good sessions saw (the goal is 0). Server memory: RSS at start, peak, and after the room left.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import multiprocessing
import os
import random
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from bench_server import _delta_bytes, cpu_seconds, event_type, pct, start_server
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

BYTES_PER_MS = 48.0
TEXT_PROMPTS = ("Hello!", "What is 6 times 7?", "Count to 10.", "How are you?")
SPOKEN_PROMPT = "What is six times seven?"
GOALS = {"late_p99": 20.0, "first_p95": 100.0}


@dataclass
class Phase:
    """What the good sessions measured in one phase."""

    lateness_ms: list[float] = field(default_factory=list)
    first_text_ms: list[float] = field(default_factory=list)
    first_spoken_ms: list[float] = field(default_factory=list)
    turns: int = 0
    errors: list[str] = field(default_factory=list)


# -- good sessions -------------------------------------------------------------------------------------


async def _recv(ws: ClientConnection, timeout: float = 30.0) -> str:
    raw = await asyncio.wait_for(ws.recv(), timeout)
    return raw if isinstance(raw, str) else raw.decode()


async def _stream_reply(ws: ClientConnection, phase: Phase, started: float, first: list[float]) -> None:
    """Read to response.done, timing the first audio delta from ``started`` and the lateness of the rest."""
    first_at, audio_ms = 0.0, 0.0
    while True:
        raw = await _recv(ws)
        now = time.perf_counter()
        kind = event_type(raw)
        if kind == "response.output_audio.delta":
            if not first_at:
                first_at = now
                first.append((now - started) * 1000)
            else:
                phase.lateness_ms.append((now - first_at) * 1000 - audio_ms)
            audio_ms += _delta_bytes(raw) / BYTES_PER_MS
        elif kind == "error":
            raise RuntimeError(f"error event: {raw[:160]}")
        elif kind == "response.done":
            phase.turns += 1
            return


async def text_session(url: str, phase: Phase, until: float, rng: random.Random) -> None:
    try:
        async with connect(url, max_size=None, compression=None) as ws:
            await _recv(ws)
            while time.perf_counter() < until:
                await asyncio.sleep(rng.uniform(0.2, 2.0))
                await ws.send(json.dumps({"type": "conversation.item.create", "item": {
                    "type": "message", "role": "user",
                    "content": [{"type": "input_text", "text": rng.choice(TEXT_PROMPTS)}]}}))
                started = time.perf_counter()
                await ws.send(json.dumps({"type": "response.create"}))
                await _stream_reply(ws, phase, started, phase.first_text_ms)
    except Exception as exc:  # counted: the goal is none
        phase.errors.append(f"text: {type(exc).__name__}: {exc}")


async def spoken_session(url: str, phase: Phase, until: float, chunks: list[str], rng: random.Random) -> None:
    try:
        async with connect(url, max_size=None, compression=None) as ws:
            await _recv(ws)
            while time.perf_counter() < until:
                await asyncio.sleep(rng.uniform(0.2, 2.0))
                # the question streams on while its events are read, so each is timed as it arrives
                speaking = asyncio.create_task(_speak(ws, chunks))
                try:
                    stopped = await _until_stopped(ws)
                    await _stream_reply(ws, phase, stopped, phase.first_spoken_ms)
                except BaseException:
                    speaking.cancel()
                    raise
                await speaking
    except Exception as exc:
        phase.errors.append(f"spoken: {type(exc).__name__}: {exc}")


async def _speak(ws: ClientConnection, chunks: list[str]) -> None:
    """Stream the question at real-time pace."""
    start = time.perf_counter()
    for index, chunk in enumerate(chunks):
        await ws.send(json.dumps({"type": "input_audio_buffer.append", "audio": chunk}))
        await asyncio.sleep(max(0.0, start + (index + 1) * 0.1 - time.perf_counter()))


async def _until_stopped(ws: ClientConnection) -> float:
    """The time speech_stopped arrived (the reply is then due)."""
    while True:
        raw = await _recv(ws)
        if event_type(raw) == "input_audio_buffer.speech_stopped":
            return time.perf_counter()
        if event_type(raw) == "error":
            raise RuntimeError(f"error event: {raw[:160]}")


def spoken_chunks() -> list[str]:
    """The spoken question with silence around it, as base64 100 ms appends (synthesised once, here)."""
    from realtime_kit.server.voice import synthesize

    words = synthesize(SPOKEN_PROMPT, voice="alloy", rate=24000)
    audio = np.concatenate([np.zeros(12000, np.int16), words, np.zeros(24000, np.int16)]).astype("<i2")
    return [base64.b64encode(audio[i:i + 2400].tobytes()).decode() for i in range(0, len(audio), 2400)]


# -- the hostile client --------------------------------------------------------------------------------


async def hostile(url: str, port: int, until: float, log: list[str], names: list[str] | None = None) -> None:
    """Run issue 15's cases (``names``, or all) one after another until ``until``; note each outcome."""
    cases = [case for case in HOSTILE_CASES if not names or case.__name__.strip("_") in names]
    while time.perf_counter() < until:
        for case in cases:
            if time.perf_counter() >= until:
                return
            started = time.perf_counter()
            try:
                outcome = await asyncio.wait_for(case(url, port), 90)
            except Exception as exc:
                outcome = f"{type(exc).__name__}: {exc}"
            log.append(f"{case.__name__.strip('_'):<20} {time.perf_counter() - started:5.1f} s  {outcome}")


async def _flood_retrieves(url: str, port: int) -> str:
    async with connect(url, max_size=None, max_queue=1) as ws:
        audio = base64.b64encode(bytes(1024 * 1024)).decode()
        await ws.send(json.dumps({"type": "conversation.item.create", "item": {"id": "item_big", "type": "message",
                                  "role": "user", "content": [{"type": "input_audio", "audio": audio}]}}))
        for _ in range(400):
            await ws.send(json.dumps({"type": "conversation.item.retrieve", "item_id": "item_big"}))
        await asyncio.sleep(12)  # reading nothing meanwhile: the server should give up on us
        frames = 0
        with contextlib.suppress(ConnectionClosed):
            while True:
                await _recv(ws, 10)
                frames += 1
        return f"dropped by the server after {frames} frames (close code {ws.close_code})"


async def _banana(url: str, port: int) -> str:
    async with connect(url, max_size=None) as ws:
        await ws.send(json.dumps({"type": "conversation.item.create", "item": {"type": "message", "role": "user",
                      "content": [{"type": "input_text", "text": "repeat after me: " + "banana " * 20000}]}}))
        await ws.send(json.dumps({"type": "response.create", "response": {"max_output_tokens": "inf"}}))
        while event_type(await _recv(ws, 60)) != "response.output_audio.delta":
            pass
        await asyncio.sleep(5)  # it streams minutes of audio at real-time pace: listen a little, then leave
        return "first audio came; left mid-reply"


async def _big_appends(url: str, port: int) -> str:
    frame = json.dumps({"type": "input_audio_buffer.append", "audio": base64.b64encode(bytes(15 << 20)).decode()})
    async with connect(url, max_size=None) as ws:
        for _ in range(2):
            await ws.send(frame)
        await asyncio.sleep(2)
    return "2 x 15 MiB sent, left"


async def _unbounded_buffer(url: str, port: int) -> str:
    frame = json.dumps({"type": "input_audio_buffer.append", "audio": base64.b64encode(bytes(8 << 20)).decode()})
    async with connect(url, max_size=None) as ws:
        await _recv(ws)
        await ws.send(json.dumps({"type": "session.update", "session": {"type": "realtime",
                                  "audio": {"input": {"turn_detection": None}}}}))
        await _recv(ws)
        for _ in range(3):
            await ws.send(frame)
        raw = await _recv(ws, 80)  # big frames queue on the server's one bulk worker, behind other big ones
        return f"third 8 MiB append: {json.loads(raw).get('error', {}).get('code')}"


async def _bad_json(url: str, port: int) -> str:
    codes = []
    async with connect(url, max_size=None) as ws:
        await _recv(ws)
        for frame in ('{"type": "session.update", "session": {"type": "realtime", "audio": null}}', "[" * 100_000,
                      '{"type": "session.update", "session": {"type": "realtime", "audio": {"output": '
                      '{"speed": NaN}}}}'):
            await ws.send(frame)
            codes.append(json.loads(await _recv(ws))["error"]["code"])
    return ", ".join(codes)


async def _close_mid_response(url: str, port: int) -> str:
    for _ in range(10):
        async with connect(url, max_size=None) as ws:
            await ws.send(json.dumps({"type": "response.create"}))
            while event_type(await _recv(ws)) != "response.output_audio.delta":
                pass
    return "10 clean closes mid-response"


async def _raw(port: int, head: bytes) -> int:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(head)
    status = int((await asyncio.wait_for(reader.readline(), 10)).split()[1])
    writer.close()
    return status


def _upgrade(path: str = "/v1/realtime", extra: bytes = b"") -> bytes:
    return (f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n").encode() + extra + b"\r\n"


async def _bad_handshakes(url: str, port: int) -> str:
    statuses = [await _raw(port, _upgrade(extra=b"api-key: a\r\napi-key: b\r\n")),
                await _raw(port, _upgrade(extra=b"api-key: \xff\xfe\r\n")),
                await _raw(port, _upgrade("/v1/realtime?api-key=k"))]
    statuses += [await _raw(port, _upgrade("/wrong", b"X-" + b"a" * 8000 + b": v\r\n")) for _ in range(50)]
    return f"statuses {sorted(set(statuses))}"


async def _idle_connections(url: str, port: int) -> str:
    idle = [await asyncio.open_connection("127.0.0.1", port) for _ in range(100)]
    await asyncio.sleep(1)
    for _, writer in idle:
        writer.close()
    return "100 opened and left"


async def _dead_client(url: str, port: int) -> str:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(_upgrade())
    await reader.readline()
    writer.transport.pause_reading()  # nothing read from now on: pings go unanswered
    await asyncio.sleep(35)  # the server drops it after its ping interval + timeout (30 s)
    writer.transport.resume_reading()
    data = await asyncio.wait_for(reader.read(), 10)
    writer.close()
    return f"read {len(data)} bytes then EOF: dropped by the server"


HOSTILE_CASES = [_flood_retrieves, _banana, _big_appends, _unbounded_buffer, _bad_json, _close_mid_response,
                 _bad_handshakes, _idle_connections, _dead_client]


def hostile_process(url: str, port: int, seconds: float, queue: multiprocessing.Queue[list[str]],
                    names: list[str] | None) -> None:
    """The hostile client in its own process, so its 15 MiB payloads do not stall the good clients' timing."""
    log: list[str] = []
    asyncio.run(hostile(url, port, time.perf_counter() + seconds, log, names))
    queue.put(log)


# -- the room ------------------------------------------------------------------------------------------


def rss_mib(pid: int) -> tuple[float, float]:
    """(resident now, peak resident) of a process in MiB, from /proc."""
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


async def run_phase(url: str, port: int, args: argparse.Namespace, seconds: float, with_hostile: bool,
                    chunks: list[str]) -> tuple[Phase, list[str]]:
    phase, log = Phase(), []
    until = time.perf_counter() + seconds
    rng = random.Random(7)
    queue: multiprocessing.Queue[list[str]] = multiprocessing.Queue()
    rogue = multiprocessing.Process(target=hostile_process, args=(url, port, seconds, queue, args.cases),
                                    daemon=True)
    if with_hostile:
        rogue.start()
    good = [spoken_session(url, phase, until, chunks, random.Random(rng.random())) for _ in range(args.spoken)]
    good += [text_session(url, phase, until, random.Random(rng.random())) for _ in range(args.sessions - args.spoken)]
    await asyncio.gather(*good)
    if with_hostile:
        log = await asyncio.to_thread(queue.get, True, 150)
        rogue.join(10)
    return phase, log


def report(name: str, phase: Phase, cpu_pct: float) -> dict[str, float]:
    lateness = np.array(phase.lateness_ms)
    first = np.array(phase.first_text_ms + phase.first_spoken_ms)
    row = {"late_p50": pct(lateness, 50), "late_p99": pct(lateness, 99),
           "first_p50": pct(first, 50), "first_p95": pct(first, 95),
           "text_p95": pct(np.array(phase.first_text_ms), 95), "spoken_p95": pct(np.array(phase.first_spoken_ms), 95)}
    print(f"{name:<14} turns {phase.turns:>4}  deltas {lateness.size:>5}  lateness p50 {row['late_p50']:7.1f} "
          f"p99 {row['late_p99']:7.1f} ms  first audio p50 {row['first_p50']:6.1f} p95 {row['first_p95']:7.1f} ms "
          f"(text {row['text_p95']:.1f}, spoken {row['spoken_p95']:.1f})  errors {len(phase.errors)}  "
          f"server cpu {cpu_pct:.0f}%")
    for error in phase.errors[:5]:
        print(f"    {error}")
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sessions", type=int, default=30, help="good sessions in the room")
    parser.add_argument("--spoken", type=int, default=5, help="how many of them speak (the rest type)")
    parser.add_argument("--quiet-s", type=float, default=20.0, help="the baseline: the room without the hostile client")
    parser.add_argument("--hostile-s", type=float, default=60.0, help="the room with the hostile client")
    parser.add_argument("--cases", nargs="+", default=None,
                        help="only these hostile cases, e.g. big_appends banana (default: all)")
    args = parser.parse_args()

    chunks = spoken_chunks()
    proc, url = start_server(["--port", "0"])
    port = int(url.split(":")[2].split("/")[0])
    try:
        warm = argparse.Namespace(sessions=2, spoken=1, cases=None)
        asyncio.run(run_phase(url, port, warm, 8.0, False, chunks))  # engines loaded: start is the ready server
        start_rss, _ = rss_mib(proc.pid)
        rows = {}
        for name, seconds, with_hostile in (("quiet room", args.quiet_s, False),
                                            ("with hostile", args.hostile_s, True)):
            cpu, wall = cpu_seconds(proc.pid), time.perf_counter()
            phase, log = asyncio.run(run_phase(url, port, args, seconds, with_hostile, chunks))
            rows[name] = report(name, phase, 100 * (cpu_seconds(proc.pid) - cpu) / (time.perf_counter() - wall))
            for line in log:
                print(f"    hostile: {line}")
        left = time.perf_counter()
        while time.perf_counter() - left < 60:  # the room has left: wait until the server is idle (< 5% CPU)
            cpu = cpu_seconds(proc.pid)
            time.sleep(2.0)
            if cpu_seconds(proc.pid) - cpu < 0.1:
                break
        end_rss, peak_rss = rss_mib(proc.pid)
        print(f"server idle {time.perf_counter() - left:.0f} s after the room left")
    finally:
        proc.terminate()
        proc.wait(30)
    quiet, loud = rows["quiet room"], rows["with hostile"]
    print(f"\nserver memory: start {start_rss:.0f} MiB, peak {peak_rss:.0f} MiB, after the room left {end_rss:.0f} MiB "
          f"({100 * (end_rss / start_rss - 1):+.0f}% of start)")
    print(f"with the hostile client / quiet room: lateness p99 x{loud['late_p99'] / quiet['late_p99']:.2f}, "
          f"first audio p95 x{loud['first_p95'] / quiet['first_p95']:.2f}")
    print(f"goals: lateness p99 < {GOALS['late_p99']:.0f} ms, first audio p95 < {GOALS['first_p95']:.0f} ms, "
          "peak < 1024 MiB, after the room within 10% of start, 0 errors")
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at the end (shared)")


if __name__ == "__main__":
    main()
