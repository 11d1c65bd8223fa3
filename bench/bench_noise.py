"""Noise reduction's cost on the server's append path: filtered appends against plain ones, same run.

Streams 60 s of noisy audio as 100 ms input_audio_buffer.append payloads through the filter the
server applies (`noise.InputFilter.apply`: base64 decode, near_field/far_field filter, encode) and,
as the baseline, through the same decode + encode with noise reduction off. Prints the median time
per append for each, the ratio to the baseline, and the share of real time (100 ms of audio per append).

    python3 bench/bench_noise.py                 # a few seconds
    python3 bench/bench_noise.py --seconds 120 --repeats 5
"""

from __future__ import annotations

import argparse
import base64
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np

from realtime_kit.server.audio_format import decode, encode
from realtime_kit.server.noise import InputFilter

RATE, CHUNK_MS = 24000, 100


def payloads(seconds: float) -> list[str]:
    rng = np.random.default_rng(0)
    audio = np.clip(rng.normal(0, 800, int(RATE * seconds)), -32768, 32767).astype(np.int16)
    step = RATE * CHUNK_MS // 1000
    return [base64.b64encode(audio[i:i + step].tobytes()).decode() for i in range(0, len(audio), step)]


def per_append(chunks: list[str], settings: dict[str, object] | None) -> float:
    """Median seconds per append through the server's filter (settings None: decode + encode only)."""
    noise = InputFilter()
    times = []
    for chunk in chunks:
        start = time.perf_counter()
        if settings is None:
            base64.b64encode(encode(decode(base64.b64decode(chunk), "audio/pcm"), "audio/pcm")).decode()
        else:
            noise.apply(chunk, "audio/pcm", settings)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    chunks = payloads(args.seconds)
    for kind in ("near_field", "far_field"):
        base = min(per_append(chunks, None) for _ in range(args.repeats))
        filtered = min(per_append(chunks, {"type": kind, "strength": 1.0}) for _ in range(args.repeats))
        print(f"{kind:10}  baseline {base * 1e6:7.1f} us/append  filtered {filtered * 1e6:7.1f} us/append  "
              f"ratio {filtered / base:5.1f}x  real-time share {filtered / (CHUNK_MS / 1000):.2%}")


if __name__ == "__main__":
    main()
