"""Recording a long spoken answer: the client CPU it adds, and the memory the recorder holds.

One embedded server at pace "fast" in its own process (`python -m realtime_kit.server`), so all the
CPU this process spends is the client's. The local assistant repeats a long text (bench_collect.py's
way); a reply is capped at 4000 characters (about 4 minutes of speech, as the service caps an answer
at 4096 tokens), so "a 10-minute answer" is long answers back to back in one session until 10
minutes of audio have come. Interleaved runs with and without `rk.connect(record=...)`; the client
process's CPU time (all its threads) is compared. Goal: recording adds <= 5% client CPU.

On a shared machine the in-session ratio is noisy (how frames bunch up on loopback changes the
client's work by tens of percent from run to run), so the same frames are also replayed from
memory: the session's frames captured once, then fed to the client's pump (parse, fold, event log,
recorder) with and without a recording, best of `--repeats`: the client's whole receive path
without the network's jitter (its denominator leaves out the socket work, so the ratio is if
anything high). And the writer is timed alone: the same number of audio and transcript deltas
written to a fresh recording, best of five, as a share of the client's CPU.

Memory: a separate run under tracemalloc counts what is still allocated, at response.done, by
code in realtime_kit/record/ (the writer's buffers and open files): it must not grow with the
answer's length (1 minute vs 10 minutes), because events and audio go to disk as they arrive.

    python3 bench/bench_record.py                 # about a minute on two cores
    python3 bench/bench_record.py --minutes 2 --repeats 1
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any, cast

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import realtime_kit as rk

SENTENCE = "The quiet river flows past green fields, old stone walls and tall trees near the village. "
SECONDS_PER_SENTENCE = 5.3  # espeak-ng at normal speed (bench_collect.py)
RECORD_CODE = str(Path(rk.__file__).resolve().parent / "record")


ANSWER_CHARS = 3900  # under the server's 4000-character reply cap


def long_text(minutes: float) -> str:
    return "repeat after me: " + SENTENCE * max(1, round(minutes * 60 / SECONDS_PER_SENTENCE))


def answers(minutes: float) -> list[str]:
    """Requests whose answers together last about ``minutes``, each under the reply cap."""
    per_answer = ANSWER_CHARS // len(SENTENCE)
    sentences = max(1, round(minutes * 60 / SECONDS_PER_SENTENCE))
    return ["repeat after me: " + SENTENCE * min(per_answer, sentences - start)
            for start in range(0, sentences, per_answer)]


def start_server() -> tuple[subprocess.Popen[str], str]:
    """``python -m realtime_kit.server --pace fast`` on a free port; (process, its URL)."""
    proc = subprocess.Popen([sys.executable, "-m", "realtime_kit.server", "--port", "0", "--pace", "fast"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            cwd=Path(__file__).resolve().parents[1])
    assert proc.stdout is not None
    for text in proc.stdout:
        if "OpenAI-style" in text:
            url = text.split("websocket_base_url:", 1)[1].strip().removesuffix("/v1")
            return proc, url
    raise RuntimeError("the server did not start")


async def one_session(url: str, texts: list[str], record: Path | None) -> tuple[float, float, dict[str, int]]:
    """(client CPU seconds, audio seconds, event counts by type) of long answers back to back, recorded or not."""
    options = {"record": record} if record is not None else {}
    async with rk.connect(url, **options) as session:
        cpu = time.process_time()
        audio = 0.0
        for text in texts:
            audio += (await session.send_text(text)).audio_duration
        cpu = time.process_time() - cpu
    return cpu, audio, session.events.types()


def writer_alone(counts: dict[str, int], folder: Path) -> float:
    """CPU seconds the RecordingWriter takes for this many audio and transcript deltas (best of five)."""
    from openai.types.realtime import ResponseAudioDeltaEvent, ResponseAudioTranscriptDeltaEvent

    from realtime_kit.record import RecordingWriter

    pcm = bytes(12000)
    ids = {"event_id": "event_" + "x" * 21, "response_id": "resp_" + "x" * 21, "item_id": "item_" + "x" * 21,
           "output_index": 0, "content_index": 0}
    audio = ResponseAudioDeltaEvent(type="response.output_audio.delta", delta=base64.b64encode(pcm).decode(), **ids)
    words = ResponseAudioTranscriptDeltaEvent(type="response.output_audio_transcript.delta", delta=" river", **ids)
    raw_audio, raw_words = audio.model_dump_json().encode(), words.model_dump_json().encode()  # the frames
    n_audio = counts.get("response.output_audio.delta", 0)
    n_words = counts.get("response.output_audio_transcript.delta", 0)
    best = float("inf")
    for _ in range(5):
        writer = RecordingWriter.create(folder / "alone.rkrec", overwrite=True)
        cpu = time.process_time()
        for index in range(max(n_audio, n_words)):
            if index < n_audio:
                writer.write(index * 0.25, "in", audio, ("audio/pcm", 24000), pcm, raw_audio)
            if index < n_words:
                writer.write(index * 0.25, "in", words, ("audio/pcm", 24000), raw=raw_words)
        writer.close()
        best = min(best, time.process_time() - cpu)
    shutil.rmtree(folder / "alone.rkrec")
    return best


async def recorder_memory(url: str, texts: list[str], folder: Path) -> tuple[float, float]:
    """(KiB held by realtime_kit/record/ code after the last response.done, audio seconds), under tracemalloc."""
    tracemalloc.start(5)
    try:
        async with rk.connect(url, record=folder / "mem.rkrec") as session:
            audio = 0.0
            for text in texts:
                audio += (await session.send_text(text)).audio_duration
            snapshot = tracemalloc.take_snapshot()
    finally:
        tracemalloc.stop()
    shutil.rmtree(folder / "mem.rkrec")
    held = snapshot.filter_traces([tracemalloc.Filter(True, RECORD_CODE + "/*")])
    return sum(stat.size for stat in held.statistics("filename")) / 1024, audio


async def capture(url: str, texts: list[str]) -> list[bytes]:
    """Every frame the server sends for these requests (session.created first), as bytes."""
    from websockets.asyncio.client import connect

    frames: list[bytes] = []
    async with connect(url + "/v1/realtime?model=gpt-realtime", max_size=None, compression=None) as ws:
        frames.append(await ws.recv(decode=False))
        for text in texts:
            await ws.send(json.dumps({"type": "conversation.item.create", "item": {
                "type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}}))
            await ws.send(json.dumps({"type": "response.create"}))
            while True:
                frames.append(await ws.recv(decode=False))
                if b'"response.done"' in frames[-1][:40]:
                    break
    return frames


class FramesConnection:
    """Replays captured frames to a pump the SDK's way (recv_bytes, parse_event); then closes cleanly."""

    def __init__(self, frames: list[bytes]) -> None:
        self._frames = iter(frames)

    async def recv_bytes(self) -> bytes:
        from websockets.exceptions import ConnectionClosedOK
        from websockets.frames import Close

        frame = next(self._frames, None)
        if frame is None:
            raise ConnectionClosedOK(Close(1000, ""), Close(1000, ""), True)
        return frame

    def parse_event(self, data: bytes) -> Any:
        from openai._models import construct_type_unchecked
        from openai.types.realtime import RealtimeServerEvent

        return construct_type_unchecked(value=json.loads(data), type_=cast(Any, RealtimeServerEvent))

    async def send(self, event: Any) -> None:
        pass

    async def close(self) -> None:
        pass


async def from_memory(frames: list[bytes], folder: Path, record: bool) -> float:
    """Client CPU seconds to fold the frames through a SessionPump, with or without a recorder."""
    from types import SimpleNamespace

    from realtime_kit.record import RecordingWriter
    from realtime_kit.session.pump import SessionPump

    pump = SessionPump(FramesConnection(frames), SimpleNamespace(description="memory"))
    if record:
        pump.recorder = RecordingWriter.create(folder / "memory.rkrec", overwrite=True)
    cpu = time.process_time()
    await pump.start()
    await pump.wait(lambda: pump.closed, timeout=120)
    if pump.recorder is not None:
        pump.recorder.close()
    return time.process_time() - cpu


async def main(minutes: float, repeats: int) -> None:
    folder = Path(tempfile.mkdtemp(prefix="bench_record_"))
    proc, url = start_server()
    try:
        texts = answers(minutes)
        await one_session(url, answers(minutes / 10), folder / "warm.rkrec")  # engines, imports
        plain: list[float] = []
        recorded: list[float] = []
        audio = 0.0
        for index in range(repeats):  # interleaved, alternating who goes first, so load hits both alike
            for record in ((False, True) if index % 2 == 0 else (True, False)):
                path = folder / f"run{index}.rkrec" if record else None
                cpu, audio, counts = await one_session(url, texts, path)
                (recorded if record else plain).append(cpu)
                if path is not None:
                    size = sum(p.stat().st_size for p in path.iterdir()) / 2**20
                    shutil.rmtree(path)
        frames = await capture(url, texts)
        memory: dict[bool, list[float]] = {False: [], True: []}
        for index in range(repeats):
            for record in ((False, True) if index % 2 == 0 else (True, False)):
                memory[record].append(await from_memory(frames, folder, record))
        short_kib, short_audio = await recorder_memory(url, answers(minutes / 10), folder)
        long_kib, long_audio = await recorder_memory(url, texts, folder)
        alone = writer_alone(counts, folder)
    finally:
        proc.terminate()
        proc.wait()
        shutil.rmtree(folder, ignore_errors=True)

    best_plain, best_recorded = min(plain), min(recorded)
    pairs = [r / p for p, r in zip(plain, recorded, strict=True)]
    print(f"session: {len(texts)} answers, {audio / 60:.1f} min of audio; recording on disk {size:.0f} MiB; "
          f"repeats {repeats}")
    print(f"not recording : {best_plain:6.2f} s client CPU (runs: {', '.join(f'{c:.2f}' for c in plain)})")
    print(f"recording     : {best_recorded:6.2f} s client CPU (runs: {', '.join(f'{c:.2f}' for c in recorded)})")
    print(f"ratio recording / not: {best_recorded / best_plain:.3f} best of each, "
          f"{statistics.median(recorded) / statistics.median(plain):.3f} median of each, "
          f"{statistics.median(pairs):.3f} median of pairs (goal <= 1.05)")
    print(f"from memory, the same {len(frames)} frames through the client's pump: not recording "
          f"{min(memory[False]):.3f} s, recording {min(memory[True]):.3f} s CPU (best of {repeats}); ratio "
          f"{min(memory[True]) / min(memory[False]):.3f} (goal <= 1.05); median of each "
          f"{statistics.median(memory[True]) / statistics.median(memory[False]):.3f}")
    print(f"the writer alone, same {counts.get('response.output_audio.delta', 0)} audio and "
          f"{counts.get('response.output_audio_transcript.delta', 0)} transcript deltas: {alone:.3f} s CPU = "
          f"{100 * alone / best_plain:.1f}% of the not-recording client CPU")
    print(f"held by the recorder at response.done: {short_kib:.1f} KiB after {short_audio / 60:.1f} min, "
          f"{long_kib:.1f} KiB after {long_audio / 60:.1f} min of audio (flat: about the same)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="minutes of answers in the session")
    parser.add_argument("--repeats", type=int, default=3, help="runs of each kind; the best is kept")
    args = parser.parse_args()
    asyncio.run(main(args.minutes, args.repeats))
