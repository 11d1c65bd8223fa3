"""`import realtime_kit` against `import openai`: median over fresh interpreters, and what it drags in.

    python3 bench/bench_import.py [--repeats 7]

Each measurement is a new `python3 -c` process timing only the import statement (perf_counter around
it), so interpreter start-up is left out and no module is cached from an earlier run. Goal: at most
1.5 times openai's import, with matplotlib, scipy, ipywidgets and IPython not loaded.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
HEAVY = ("matplotlib", "scipy", "ipywidgets", "IPython", "anywidget")
TIMER = "import time; t = time.perf_counter(); {statement}; print(time.perf_counter() - t)"
LOADED = "import sys, json; {statement}; print(json.dumps([m for m in {heavy!r} if m in sys.modules]))"


def run(code: str) -> str:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    return done.stdout.strip()


def median_import(statement: str, repeats: int) -> float:
    run(statement)  # one untimed run so the OS file cache is warm for both sides alike
    return statistics.median([float(run(TIMER.format(statement=statement))) for _ in range(repeats)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()

    statements = ["import openai", "import realtime_kit", "import realtime_kit.audio",
                  "import realtime_kit as rk; rk.Audio"]
    medians = {statement: median_import(statement, args.repeats) for statement in statements}
    for statement, seconds in medians.items():
        print(f"{statement:<40} {seconds * 1000:8.1f} ms (median of {args.repeats} fresh processes)")
    ratio = medians["import realtime_kit"] / medians["import openai"]
    print(f"ratio import realtime_kit / import openai: {ratio:.2f} (goal <= 1.5) -> "
          f"{'OK' if ratio <= 1.5 else 'ABOVE GOAL'}")
    for statement in statements[1:]:
        heavy = json.loads(run(LOADED.format(statement=statement, heavy=HEAVY)))
        print(f"heavy modules after `{statement}`: {', '.join(heavy) if heavy else 'none'}")


if __name__ == "__main__":
    main()
