"""How long audio.plot() takes for an hour of 24 kHz audio, against matplotlib drawing every sample.

    python3 bench/bench_plot.py [--minutes 60] [--slice-minutes 5]

Both sides render to Agg and call fig.canvas.draw(), so drawing is measured, not just building the
figure. Plotting all 86.4 million samples of an hour with plt.plot takes minutes and gigabytes, so
the baseline is measured on a slice and scaled linearly to the full length (the output says so and
shows a second, shorter slice to back the linear scaling). Goal: a ratio of 20 or more.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # bench only: measure the drawing without a window

import matplotlib.pyplot as plt
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from realtime_kit.audio import Audio

RATE = 24000


def speechlike(minutes: float, seed: int = 0) -> np.ndarray:
    """int16 noise under a slowly varying envelope, made a minute at a time to keep memory small."""
    rng = np.random.default_rng(seed)
    blocks = []
    for _ in range(round(minutes)):
        n = 60 * RATE
        shape = np.abs(np.sin(np.linspace(0, 40, n, dtype=np.float32))) * 0.5
        blocks.append((rng.standard_normal(n, dtype=np.float32) * shape * 9000).astype(np.int16))
    return np.concatenate(blocks)


def time_ours(audio: Audio, repeats: int = 3) -> float:
    """Median seconds for a figure, audio.plot() on it and a full draw (same figure as the baseline)."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fig, ax = plt.subplots(figsize=(10, 2.5), layout="constrained")
        audio.plot(ax)
        fig.canvas.draw()
        times.append(time.perf_counter() - start)
        plt.close(fig)
    return statistics.median(times)


def time_every_sample(samples: np.ndarray) -> float:
    """Seconds for plt.plot of every sample (seconds on x) plus a full draw, matplotlib defaults."""
    start = time.perf_counter()
    fig, ax = plt.subplots(figsize=(10, 2.5), layout="constrained")
    ax.plot(np.arange(samples.size) / RATE, samples / 32768.0, linewidth=0.8)
    fig.canvas.draw()
    elapsed = time.perf_counter() - start
    plt.close(fig)
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=60.0, help="length of the audio plotted by audio.plot()")
    parser.add_argument("--slice-minutes", type=float, default=5.0, help="slice drawn sample by sample")
    args = parser.parse_args()

    samples = speechlike(args.minutes)
    audio = Audio(samples, RATE)
    print(f"audio: {audio!r}, {samples.size:,} samples")
    time_ours(Audio.tone(440, 1.0))  # warm up matplotlib's caches for both sides

    ours = time_ours(audio)
    print(f"audio.plot() + draw, {args.minutes:g} min:           {ours:8.3f} s (median of 3)")

    short = min(1.0, args.slice_minutes)
    short_time = time_every_sample(samples[: round(short * 60 * RATE)])
    slice_time = time_every_sample(samples[: round(args.slice_minutes * 60 * RATE)])
    scaled = slice_time * args.minutes / args.slice_minutes
    print(f"plt.plot every sample + draw, {short:g} min slice:   {short_time:8.3f} s")
    print(f"plt.plot every sample + draw, {args.slice_minutes:g} min slice:   {slice_time:8.3f} s")
    factor = args.minutes / args.slice_minutes
    print(f"plt.plot every sample, scaled to {args.minutes:g} min:   {scaled:8.3f} s "
          f"(MEASURED on the {args.slice_minutes:g} min slice and scaled linearly x{factor:g};"
          f" the full {samples.size:,} points were not drawn)")
    # fixed costs make the linear scale generous; the marginal cost per minute between the slices is not
    per_minute = (slice_time - short_time) / (args.slice_minutes - short) if args.slice_minutes > short else 0.0
    marginal = short_time + (args.minutes - short) * per_minute
    print(f"plt.plot every sample, marginal estimate:  {marginal:8.3f} s "
          f"({per_minute:.3f} s per extra minute between the two slices)")
    baseline = min(scaled, marginal) if marginal > 0 else scaled
    ratio = baseline / ours
    print(f"ratio (the lower estimate / audio.plot()): {ratio:.0f}x faster (goal >= 20x) -> "
          f"{'OK' if ratio >= 20 else 'BELOW GOAL'}")

if __name__ == "__main__":
    main()
