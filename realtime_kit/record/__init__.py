"""Recordings of realtime sessions: write them as they happen, load, compare, replay; reconnect support.

    async with rk.connect(record="lesson.rkrec") as s: ...       # every event both ways, both audio tracks
    rec = rk.Recording.load("lesson.rkrec"); rec                 # turns, transcripts, players, latencies
    s = await rk.connect(replay="lesson.rkrec")                  # the embedded server answers as recorded
    rk.Recording.load("a.rkrec").compare(rk.Recording.load("b.rkrec"))

The format (a folder of events.jsonl, WAV tracks and meta.json) is in `format` and
docs/recording-format.md; `writer` streams it to disk, `turns` folds it back, `recording` loads it,
`compare` pairs two, `reconnect` holds what a session re-sends on a new connection. The server's
replay answers come from `realtime_kit.server.replay`.
"""

from __future__ import annotations

from .compare import Comparison
from .reconnect import Reconnect
from .recording import Recording
from .turns import Turn
from .writer import RecordingWriter

__all__ = ["Comparison", "Reconnect", "Recording", "RecordingWriter", "Turn"]
