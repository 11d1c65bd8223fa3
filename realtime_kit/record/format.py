"""The .rkrec format in one place: file names, one events.jsonl line, audio tracks, secret scrubbing.

A recording is a folder (or a zip of that folder) that needs nothing but json and WAV to read:

    lesson.rkrec/
      meta.json           {"format": "rkrec", "version": 1, "target": {...}, "started": "...", ...}
      events.jsonl        one line per event, both ways, in order (see `line`)
      audio_in.wav        what the client sent (input_audio_buffer.append), PCM16 mono
      audio_out.wav       what the server sent (response.output_audio.delta), PCM16 mono

An audio event keeps its shape, its base64 payload replaced by the usual `<N bytes base64 audio>`;
its line names where the bytes went (`"audio": {"track": "audio_out.wav", "offset": 0, "bytes": 4800}`,
offsets in bytes of the track's PCM16 data). docs/recording-format.md is the full description.

    >>> line(0.5, "in", {"type": "response.done"})
    '{"t": 0.5, "dir": "in", "event": {"type": "response.done"}}'
    >>> track_name("out", 24000, first=True), track_name("out", 8000, first=False)
    ('audio_out.wav', 'audio_out_8000.wav')
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["EVENTS", "FORMAT", "META", "REDACTED", "VERSION", "audio_field", "line", "redact", "track_name"]

FORMAT = "rkrec"
VERSION = 1
EVENTS = "events.jsonl"
META = "meta.json"
REDACTED = "********"

# The client and server events whose base64 payload goes to a track: (event type, field, direction).
_AUDIO_EVENTS = {"input_audio_buffer.append": ("audio", "in"), "response.output_audio.delta": ("delta", "out")}
# Keys whose values are never written, whatever the event (defence in depth: GA events carry none).
_SECRET_KEYS = frozenset({"authorization", "api-key", "api_key", "client_secret", "token", "access_token"})


def audio_field(event_type: str) -> tuple[str, str] | None:
    """(payload field, track direction) of an event whose audio goes to a track, else None.

        >>> audio_field("input_audio_buffer.append"), audio_field("response.done")
        (('audio', 'in'), None)
    """
    return _AUDIO_EVENTS.get(event_type)


def track_name(direction: str, rate: int, *, first: bool) -> str:
    """audio_in.wav / audio_out.wav for a direction's first rate; audio_out_8000.wav for another one."""
    return f"audio_{direction}.wav" if first else f"audio_{direction}_{rate}.wav"


def line(t: float, direction: str, event: Mapping[str, Any], audio: Mapping[str, Any] | None = None) -> str:
    """One events.jsonl line: seconds since the start, "in" (from the server) or "out", the event."""
    row: dict[str, Any] = {"t": round(t, 6), "dir": direction, "event": event}
    if audio is not None:
        row["audio"] = audio
    return json.dumps(row, ensure_ascii=False, separators=(", ", ": "), default=str)


def redact(value: Any, secrets: Iterable[str] = ()) -> Any:
    """``value`` with secret-named keys dropped and any known secret string replaced by REDACTED.

        >>> redact({"type": "x", "api_key": "sk-1", "note": "key sk-1 here"}, ["sk-1"])
        {'type': 'x', 'note': 'key ******** here'}
    """
    known = [s for s in secrets if s]
    if isinstance(value, Mapping):
        return {k: redact(v, known) for k, v in value.items() if str(k).lower() not in _SECRET_KEYS}
    if isinstance(value, list):
        return [redact(v, known) for v in value]
    if isinstance(value, str) and known:
        for secret in known:
            value = value.replace(secret, REDACTED)
    return value
