"""realtime_kit: the GPT Realtime API (GA) from a notebook.

    import realtime_kit as rk
    session = await rk.connect()                 # Azure, OpenAI, or the embedded local server
    reply = await session.send_text("How are you?")
    reply.transcript, reply.audio.samples, reply.timings
    rk.Recording.load("lesson.rkrec")            # a session recorded with rk.connect(record=...)

Heavy modules (matplotlib, scipy, widgets, the server's engines) load only when first used.
"""

from __future__ import annotations

import importlib
from typing import Any

from . import friendly as _friendly
from .errors import (
    ConfigError,
    ConnectionLost,
    InvalidState,
    RealtimeError,
    RealtimeKitError,
    TargetError,
)

__version__ = "0.1.0"

_friendly.install_if_in_ipython()  # "did you forget `await`?" hints in notebooks

# public name -> module that defines it; loaded on first attribute access to keep `import` fast
_LAZY = {
    "Audio": "realtime_kit.audio",
    "connect": "realtime_kit.session",
    "Session": "realtime_kit.session",
    "Response": "realtime_kit.session.conversation",
    "Delta": "realtime_kit.session.conversation",
    "ToolCall": "realtime_kit.session.conversation",
    "SessionState": "realtime_kit.session",
    "EventLog": "realtime_kit.session.eventlog",
    "Recording": "realtime_kit.record",
    "ReplayMismatch": "realtime_kit.server.replay",
    "Experiment": "realtime_kit.experiment",
    "vad_sweep": "realtime_kit.experiment",
    "function_tool": "realtime_kit.session.tools",
    "Tool": "realtime_kit.session.tools",
    "AudioBuffer": "realtime_kit.audio",
    "run": "realtime_kit.session",
    "LocalServer": "realtime_kit.server",
    "shared_server": "realtime_kit.server",
    "Playground": "realtime_kit.widgets",
    "Microphone": "realtime_kit.widgets",
    "StreamingPlayer": "realtime_kit.widgets",
    "transcribe": "realtime_kit.session.transcription",
    "Transcription": "realtime_kit.session.transcription",
}

__all__ = [
    "Audio",
    "AudioBuffer",
    "ConfigError",
    "ConnectionLost",
    "Delta",
    "EventLog",
    "Experiment",
    "InvalidState",
    "LocalServer",
    "Microphone",
    "Playground",
    "RealtimeError",
    "RealtimeKitError",
    "Recording",
    "ReplayMismatch",
    "Response",
    "Session",
    "SessionState",
    "StreamingPlayer",
    "TargetError",
    "Tool",
    "ToolCall",
    "Transcription",
    "__version__",
    "connect",
    "function_tool",
    "run",
    "shared_server",
    "transcribe",
    "vad_sweep",
]


# modules users import by their short name (`from realtime_kit import plots`), now inside a subpackage
_SUBMODULES = {"plots": "realtime_kit.audio.plots", "g711": "realtime_kit.audio.g711"}


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        return importlib.import_module(_SUBMODULES[name])
    module_name = _LAZY.get(name)
    if module_name is None:
        raise AttributeError(f"module 'realtime_kit' has no attribute {name!r}")
    value = getattr(importlib.import_module(module_name), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
