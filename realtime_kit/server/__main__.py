"""``python -m realtime_kit.server``: serve the GA Realtime protocol until Ctrl-C or SIGTERM.

    $ python -m realtime_kit.server --port 8765 --api-key workshop
    realtime_kit local server: ws://127.0.0.1:8765/openai/v1/realtime (pace realtime, API key required)
      Azure-style  websocket_base_url: ws://127.0.0.1:8765/openai/v1
      OpenAI-style websocket_base_url: ws://127.0.0.1:8765/v1
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import signal
import sys
from collections.abc import Callable, Sequence
from typing import Any

from ..errors import ConfigError
from ..rules import profile_for
from .app import PATHS, Limits, LocalServer
from .limits import freeze_startup_objects, own_server_process
from .more_servers import serve_more
from .workers import EngineWorkers

API_KEY_VARIABLE = "REALTIME_KIT_SERVER_API_KEY"


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m realtime_kit.server",
        description="Serve the GPT Realtime API (GA) offline: a real voice, VAD and transcription, on loopback.",
    )
    parser.add_argument("--host", default="127.0.0.1",
                        help="interface to listen on (default 127.0.0.1; 0.0.0.0 shares it with a room)")
    parser.add_argument("--port", type=int, default=8765, help="TCP port (default 8765; 0 picks a free one)")
    parser.add_argument("--api-key", default=os.environ.get(API_KEY_VARIABLE) or None,
                        help="refuse clients that do not send this key (Bearer or api-key header); "
                             f"{API_KEY_VARIABLE} sets it without showing it in the process list")
    parser.add_argument("--certfile", default=None, help="PEM certificate: serve wss:// (needs --keyfile)")
    parser.add_argument("--keyfile", default=None, help="PEM private key of --certfile")
    parser.add_argument("--pace", choices=("realtime", "fast"), default="realtime",
                        help="stream audio at playback speed (default) or as fast as it is made")
    parser.add_argument("--max-session-s", type=float, default=3600.0,
                        help="close sessions after this many seconds, like the service (default 3600)")
    replay = parser.add_argument_group("replay and faults")
    replay.add_argument("--replay", default=None, metavar="RECORDING",
                        help="answer every session as this recording (.rkrec) did, turn by turn")
    replay.add_argument("--replay-pace", choices=("recorded", "fast"), default="recorded",
                        help="wait as the recorded model did before each answer (default), or answer at once")
    replay.add_argument("--fault-close-after-s", type=float, default=None, metavar="N",
                        help="end every session after N s with the service's session_expired error")
    replay.add_argument("--fault-drop-after-s", type=float, default=None, metavar="N",
                        help="cut every session's TCP connection after N s, with no close frame")
    replay.add_argument("--fault-drop-after-audio", type=int, default=None, metavar="N",
                        help="cut every session's TCP connection after its Nth audio delta (mid-answer)")
    replay.add_argument("--fault-refuse", type=int, default=0, metavar="N",
                        help="refuse the first N connections with HTTP 503")
    parser.add_argument("--max-sessions", type=int, default=Limits().max_sessions,
                        help=f"refuse new sessions (503) past this many at once (default {Limits().max_sessions})")
    parser.add_argument("--max-server-mib", type=int, default=Limits().max_server_bytes >> 20,
                        help="audio and items all sessions may hold together, in MiB "
                             f"(default {Limits().max_server_bytes >> 20})")
    parser.add_argument("--deployment", action="append", default=[], metavar="NAME=MODEL",
                        help="an Azure deployment name this server answers to (repeatable); the model names the "
                             "openai SDK lists are deployments of themselves")
    parser.add_argument("--workers", type=int, default=1,
                        help="server processes sharing the port (SO_REUSEPORT), e.g. one per core on a bigger "
                             "machine; each has its share of the engine processes (default 1)")
    args = parser.parse_args(argv)
    args.deployments = dict(_deployment(text, parser) for text in args.deployment)
    if args.workers < 1:
        parser.error(f"--workers {args.workers}: use 1 or more server processes")
    return args


def _deployment(text: str, parser: argparse.ArgumentParser) -> tuple[str, str]:
    name, _, model = text.partition("=")
    if not name or profile_for(model or "gpt-realtime") is None:
        parser.error(f"--deployment {text!r}: use NAME=MODEL with a realtime model the openai SDK lists, "
                     "e.g. --deployment my-voice=gpt-realtime")
    return name, model or "gpt-realtime"


def settings_of(args: argparse.Namespace) -> dict[str, Any]:
    """What every server process of the CLI is started with (picklable: --workers sends it to the others)."""
    return dict(host=args.host, port=args.port, api_key=args.api_key, pace=args.pace, certfile=args.certfile,
                keyfile=args.keyfile, max_session_s=args.max_session_s, deployments=args.deployments,
                reuse_port=args.workers > 1, limits=limits_of(args))


def server_of(args: argparse.Namespace) -> LocalServer:
    """The LocalServer the CLI's options describe (replay and faults included)."""
    from .faults import Faults

    factory = None
    if args.replay:
        from .replay import replay_protocol_factory

        factory = replay_protocol_factory(args.replay, pace=args.replay_pace)
    faults = Faults(close_after_s=args.fault_close_after_s, drop_after_s=args.fault_drop_after_s,
                    drop_after_audio_deltas=args.fault_drop_after_audio, refuse=args.fault_refuse)
    return LocalServer(**settings_of(args), protocol_factory=factory, faults=faults)


def limits_of(args: argparse.Namespace) -> Limits:
    """The server's limits from --max-sessions and --max-server-mib."""
    if args.max_sessions < 1 or args.max_server_mib < 1:
        raise ConfigError("--max-sessions and --max-server-mib must be at least 1.")
    return Limits(max_sessions=args.max_sessions, max_server_bytes=args.max_server_mib << 20)


def banner(server: LocalServer, processes: int = 1) -> str:
    """What the CLI prints once listening: the endpoint and the two base URLs clients need."""
    auth = "API key required" if server.requires_key else "any credential accepted"
    lines = [
        f"realtime_kit local server: {server.url}{PATHS[0]} (pace {server.pace}, {auth})",
        f"  Azure-style  websocket_base_url: {server.azure_base_url}",
        f"  OpenAI-style websocket_base_url: {server.openai_base_url}",
    ]
    if server.host not in ("127.0.0.1", "localhost", "::1"):
        lines.append(f"  Listening on {server.host}: other machines reach it by this machine's address"
                     + ("." if server.requires_key else "; consider --api-key."))
    if processes > 1:
        lines.append(f"  {processes} server processes share the port.")
    lines.append("Stop with Ctrl-C.")
    return "\n".join(lines)


async def serve(server: LocalServer, on_ready: Callable[[LocalServer], object] | None = None,
                on_stop: Callable[[], object] | None = None) -> None:
    """Serve until SIGINT or SIGTERM (then ``on_stop()``), then close every session cleanly."""
    loop = asyncio.get_running_loop()

    def stop() -> None:
        if on_stop is not None:
            on_stop()
        server.stop()

    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop)
    await server.serve_forever(on_ready=on_ready or (lambda s: print(banner(s), flush=True)))


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    own_server_process()
    special = args.replay or args.fault_refuse or any(
        value is not None for value in (args.fault_close_after_s, args.fault_drop_after_s, args.fault_drop_after_audio))
    if args.workers > 1 and special:
        print("error: --replay and --fault-* work with one server process; drop --workers.", file=sys.stderr)
        return 2
    EngineWorkers.processes = engine_processes = max(1, (os.cpu_count() or 1) // args.workers)
    others: list[multiprocessing.process.BaseProcess] = []

    def ready(server: LocalServer) -> None:
        context = multiprocessing.get_context("spawn")
        for _ in range(args.workers - 1):  # they bind the port this one got (port 0 included)
            settings = {**settings_of(args), "port": server.port}
            process = context.Process(target=serve_more, args=(settings, engine_processes),
                                      name="realtime-kit-server", daemon=False)
            process.start()
            others.append(process)
        freeze_startup_objects()
        print(banner(server, args.workers), flush=True)

    def stop_others() -> None:  # at once, so they close their sessions while this one closes its own
        for process in others:
            process.terminate()

    try:
        server = server_of(args)
        if args.replay:
            print(f"Replaying {args.replay} (pace {args.replay_pace}).", flush=True)
        try:
            asyncio.run(serve(server, on_ready=ready, on_stop=stop_others))
        finally:
            stop_others()
            for process in others:
                process.join(20)
                if process.is_alive():
                    process.kill()
    except (ConfigError, ValueError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"error: cannot listen on {args.host}:{args.port} ({exc.strerror or exc}); "
              "pick another --port, or 0 for a free one.", file=sys.stderr)
        return 1
    print("realtime_kit local server stopped.", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
