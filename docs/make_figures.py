"""Redraws the README's figures from a real turn against the embedded server: python3 docs/make_figures.py"""

import asyncio
from pathlib import Path

import matplotlib

import realtime_kit as rk

matplotlib.use("Agg")
HERE = Path(__file__).resolve().parent


async def main() -> None:
    async with rk.connect("local", voice="coral", pace="realtime") as session:  # timings as a class sees them
        reply = await session.send_text("Please tell me a story.")
    figure = reply.timeline()
    figure.savefig(HERE / "turn_timeline.png", bbox_inches="tight")  # the slides style: 150 dpi
    print(f"{reply.audio.duration:.1f} s reply; wrote {HERE / 'turn_timeline.png'}")


if __name__ == "__main__":
    asyncio.run(main())
