"""The Azure quickstart through realtime_kit: one text turn, streamed, with the answer saved as a WAV.

    python -m realtime_kit.quickstart                       # the target comes from the environment
    python -m realtime_kit.quickstart --text "Hi!" --voice coral --save reply.wav

With no AZURE_OPENAI_ENDPOINT or OPENAI_API_KEY set, it runs against the embedded local server, offline.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from .errors import RealtimeKitError

# The quickstart's session config in the GA shape, with its `create_responese` typo fixed.
QUICKSTART_SESSION = {
    "type": "realtime",
    "instructions": "You are a helpful assistant. You respond by voice and text.",
    "output_modalities": ["audio"],
    "audio": {
        "input": {
            "transcription": {"model": "whisper-1"},
            "format": {"type": "audio/pcm", "rate": 24000},
            "turn_detection": {"type": "server_vad", "threshold": 0.5, "prefix_padding_ms": 300,
                               "silence_duration_ms": 200, "create_response": True},
        },
        "output": {"voice": "alloy", "format": {"type": "audio/pcm", "rate": 24000}},
    },
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m realtime_kit.quickstart", description=__doc__.splitlines()[0])
    parser.add_argument("--text", default="How are you today?", help="what to say to the model")
    parser.add_argument("--voice", default="alloy", help="a GA voice: alloy, ash, ballad, coral, echo, ...")
    parser.add_argument("--target", default=None, help='"local", "azure", "openai" or a ws:// URL (default: env)')
    parser.add_argument("--save", default="reply.wav", help="where to write the spoken answer (WAV)")
    return parser.parse_args(argv)


async def run_quickstart(args: argparse.Namespace) -> None:
    from . import connect

    async with connect(args.target) as session:
        await session.update(QUICKSTART_SESSION, voice=args.voice)
        print(f"You: {args.text}")
        audio_bytes = 0
        async for delta in session.stream_text(args.text):
            if delta.kind in ("transcript", "text"):
                print(f"Transcript delta: {delta.value!r}")
            elif delta.kind == "audio":
                size = delta.value.samples.nbytes
                audio_bytes += size
                print(f"Audio delta: {size} bytes")
        reply = session.responses[-1]
        reply.audio.to_wav(args.save)
        timings = ", ".join(f"{name} {seconds * 1000:.0f} ms" for name, seconds in reply.timings.items())
        print(f"\nAssistant: {reply.transcript}")
        print(f"Audio: {reply.audio.duration:.2f} s ({audio_bytes} bytes PCM16 at {reply.audio.rate} Hz), "
              f"saved to {args.save}")
        print(f"Timings: {timings}")
        tokens = reply.usage["total_tokens"] if reply.usage else "?"
        print(f"Status: {reply.status}; usage: {tokens} tokens")


def main(argv: list[str] | None = None) -> int:
    try:
        asyncio.run(run_quickstart(parse_args(argv)))
    except RealtimeKitError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
