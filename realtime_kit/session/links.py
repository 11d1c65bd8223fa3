"""rk.connect's options about the connection's life: record=, replay=, replay_pace=, reconnect=.

    async with rk.connect(record="lesson.rkrec") as s: ...     # a recording of everything, as it happens
    s = await rk.connect(replay="lesson.rkrec")                # a private embedded server answers as recorded
    s = await rk.connect(replay="lesson.rkrec", replay_pace="fast")   # no recorded pauses
    s = await rk.connect(reconnect=False)                      # end the session with its connection

`reconnect` defaults to True: a workshop's Wi-Fi drops and the service's time limit should cost
the answer in flight (reported, with its partial audio), not the conversation.
A replay mismatch (the user said something else than in the recording) is a `ReplayMismatch`
warning raised in the caller's cell, and listed in `session.replay_mismatches`.
"""

from __future__ import annotations

import asyncio
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ConfigError

__all__ = ["Links"]

_PACES = ("recorded", "fast")


@dataclass
class Links:
    """The record/replay/reconnect options of one rk.connect call, checked."""

    record: Path | None = None
    record_overwrite: bool = False
    replay: Path | None = None
    replay_pace: str = "recorded"
    reconnect: bool = True
    mismatches: list[Any] = field(default_factory=list)

    @classmethod
    def of(cls, options: Mapping[str, Any]) -> Links:
        links = cls(**options)
        if links.replay_pace not in _PACES:
            raise ConfigError(f"rk.connect: replay_pace={links.replay_pace!r} is not one of {_PACES}; 'recorded' "
                              "waits as the recorded model did, 'fast' answers at once.")
        if links.replay is not None and not Path(links.replay).exists():
            raise ConfigError(f"rk.connect: replay={str(links.replay)!r} does not exist; record one first with "
                              f"rk.connect(record={str(links.replay)!r}).")
        links.record = Path(links.record) if links.record is not None else None
        links.replay = Path(links.replay) if links.replay is not None else None
        return links

    def start_replay_server(self, target: str | None) -> Any:
        """With replay=: a private embedded server answering from the recording (None otherwise)."""
        if self.replay is None:
            return None
        if target not in (None, "local"):
            raise ConfigError(f"rk.connect: replay= answers from the embedded server, so it takes no target "
                              f"(got {target!r}); drop the target.")
        from ..record import Recording
        from ..server import LocalServer
        from ..server.replay import replay_protocol_factory

        recording = Recording.load(self.replay)
        loop = asyncio.get_running_loop()

        def warn(mismatch: Any) -> None:  # on the server's thread: hand it to the caller's loop
            self.mismatches.append(mismatch)
            loop.call_soon_threadsafe(warnings.warn, mismatch)

        factory = replay_protocol_factory(recording, pace=self.replay_pace, shared=True,  # type: ignore[arg-type]
                                          on_mismatch=warn)
        pace: Any = "realtime" if self.replay_pace == "recorded" else "fast"
        return LocalServer(pace=pace, protocol_factory=factory).start()

    def stop(self, server: Any) -> None:
        if server is not None:
            server.stop()

    def attach(self, session: Any, target: Any) -> None:
        """Start the recording (before session.created, so it is in it) and link the replay's mismatches."""
        session.replay_mismatches = self.mismatches
        if self.record is None:
            return
        from ..record import RecordingWriter

        key = target.api_key.reveal() if getattr(target, "api_key", None) is not None else None
        if target.kind == "local" and key == "local":
            key = None  # the embedded server's placeholder, not a secret (and a word the assistant says)
        session.recorder = RecordingWriter.create(self.record, target=target, secrets=[key] if key else [],
                                                  overwrite=self.record_overwrite)
