"""The embedded GA Realtime server: any unchanged GA client can talk to it, offline.

    from realtime_kit.server import LocalServer
    with LocalServer() as server:                     # loopback, free port, own thread
        print(server.azure_base_url)                  # ws://127.0.0.1:54321/openai/v1

From a shell: ``python -m realtime_kit.server --port 8765``. The protocol itself (and its speech
engines) loads only when the first session opens, so importing this package stays cheap.
"""

from __future__ import annotations

import importlib
from typing import Any

from .app import PATHS, REALTIME_LEAD_MS, Handshake, Limits, LocalServer, Pacer, shared_server
from .engines import Engines

__all__ = ["PATHS", "REALTIME_LEAD_MS", "Engines", "Handshake", "Limits", "LocalServer", "Pacer", "RealtimeProtocol",
           "shared_server"]


def __getattr__(name: str) -> Any:
    # The protocol pulls in the speech engines: load it on first use only.
    if name == "RealtimeProtocol":
        return importlib.import_module("realtime_kit.server.protocol").RealtimeProtocol
    raise AttributeError(f"module 'realtime_kit.server' has no attribute {name!r}")
