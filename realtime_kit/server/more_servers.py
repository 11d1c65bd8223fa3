"""More server processes on one port (the CLI's ``--workers N``): the kernel spreads connections (SO_REUSEPORT).

    process = multiprocessing.get_context("spawn").Process(target=serve_more, args=(settings, 1))

Lives outside ``__main__`` so a spawned process can import it.
"""

from __future__ import annotations

import asyncio
import signal
from typing import Any

from .app import LocalServer
from .limits import freeze_startup_objects, own_server_process
from .workers import EngineWorkers

__all__ = ["serve_more"]


def serve_more(settings: dict[str, Any], engine_processes: int) -> None:
    """Serve ``LocalServer(**settings)`` (with ``reuse_port``) until SIGTERM or SIGINT, then close cleanly."""
    own_server_process()
    EngineWorkers.processes = engine_processes
    server = LocalServer(**settings)

    async def run() -> None:
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, server.stop)
        await server.serve_forever(on_ready=lambda _server: freeze_startup_objects())

    asyncio.run(run())
