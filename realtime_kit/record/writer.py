"""Write a recording as it happens: events to events.jsonl, audio to WAV tracks, nothing held in memory.

    writer = RecordingWriter.create("lesson.rkrec", target=session.target, secrets=["sk-..."])
    writer.write(0.01, "out", {"type": "session.update", ...})
    writer.write(0.20, "in", server_event_model, audio_format=("audio/pcm", 24000))
    writer.close()

Each line is written (buffered) when the event happens and the buffer is flushed at every
``response.done``, so a long session costs disk, not memory. Audio payloads are decoded once and
appended to the track of their direction and rate (G.711 is stored as PCM16 at 8 kHz); the line keeps
the event with `<N bytes base64 audio>` and where the bytes went. A server event given with the
frame it came in (``raw``) is written as the service sent it, its audio payload cut out: no
re-encoding, and the recording keeps exactly what came over the wire. Keys and tokens are never
written: events carry none (credentials travel in headers), and any string of ``secrets`` is
redacted anyway.
"""

from __future__ import annotations

import base64
import datetime
import json
import os
import shutil
import struct
from collections.abc import Iterable, Mapping
from json.encoder import encode_basestring
from pathlib import Path
from typing import IO, Any

from ..session.eventlog import scrub
from .format import EVENTS, FORMAT, META, REDACTED, VERSION, audio_field, line, redact, track_name

__all__ = ["RecordingWriter"]

_FLUSH_AT = frozenset({"response.done", "session.updated", "error"})
_JSON = json.JSONEncoder(ensure_ascii=False)  # made once: json.dumps would build one per audio delta
_TEXT_DELTAS = frozenset({"response.output_audio_transcript.delta", "response.output_text.delta"})
_BATCH = 64         # lines joined into one write
_DELTA_KEY = b'"delta":'  # where an output audio delta's payload starts in the service's compact JSON
_BUFFER = 1 << 20   # bytes buffered per file: few system calls, and memory that does not grow
_IOV_MAX = 1024     # buffers per writev (the POSIX minimum of IOV_MAX)
# Server events that may carry base64 audio outside the output deltas: dumped and scrubbed the slow way.
_SCRUBBED_IN = ("conversation.item.", "response.output_item.", "response.done")


class _Track:
    """One WAV file of PCM16 mono at one rate, appended to as audio arrives.

    The 44-byte header is written first with sizes 0 and patched at close(); a reader finding the
    sizes unpatched (a crash) takes the data to the end of the file (recording.wav_data).
    Chunks are kept by reference and written together with one writev per ~1 MiB: a single copy
    into the OS (a buffered file would copy each chunk twice, and a system call per chunk costs more).
    """

    def __init__(self, path: Path, rate: int) -> None:
        self.path, self.rate, self.nbytes = path, rate, 0
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        self._chunks: list[bytes] = [_wav_header(rate, 0)]
        self._held = 0

    def append(self, pcm16: bytes) -> int:
        """Append PCM16 bytes; returns their byte offset in the track's data."""
        offset = self.nbytes
        self._chunks.append(pcm16)
        self.nbytes += len(pcm16)
        self._held += len(pcm16)
        if self._held >= _BUFFER:
            self.flush()
        return offset

    def flush(self) -> None:
        while self._chunks:
            written = os.writev(self._fd, self._chunks[:_IOV_MAX])
            self._drop_written(written)
        self._held = 0

    def _drop_written(self, written: int) -> None:
        while written and self._chunks:
            first = self._chunks[0]
            if written >= len(first):
                written -= len(first)
                self._chunks.pop(0)
            else:  # a short write: keep the rest of that chunk
                self._chunks[0], written = first[written:], 0

    def close(self) -> None:
        self.flush()
        os.pwrite(self._fd, _wav_header(self.rate, self.nbytes), 0)
        os.close(self._fd)


def _wav_header(rate: int, nbytes: int) -> bytes:
    """The canonical 44-byte header of a PCM16 mono WAV file holding ``nbytes`` of data."""
    return struct.pack("<4sI4s4sIHHIIHH4sI", b"RIFF", 36 + nbytes, b"WAVE", b"fmt ", 16, 1, 1, rate, rate * 2, 2,
                       16, b"data", nbytes)


class RecordingWriter:
    """Streams one session to a .rkrec folder; see the module docstring."""

    def __init__(self, folder: Path, meta: dict[str, Any], secrets: Iterable[str] = ()) -> None:
        self.folder = folder
        self._meta = meta
        self._secrets = [s for s in secrets if s]
        self._events: IO[bytes] = (folder / EVENTS).open("wb", buffering=_BUFFER)
        self._tracks: dict[tuple[str, int], _Track] = {}
        self._count = 0
        self._pending: list[bytes] = []
        self._secret_bytes = [s.encode() for s in self._secrets]
        self._last_t = 0.0
        self.closed = False
        self._write_meta()

    @classmethod
    def create(cls, path: str | Path, *, target: Any = None, secrets: Iterable[str] = (),
               overwrite: bool = False) -> RecordingWriter:
        """A new recording folder at ``path`` (an existing one is refused unless ``overwrite``)."""
        folder = Path(path)
        if folder.exists():
            if not overwrite:
                raise FileExistsError(f"A recording already exists at {str(folder)!r}; pick another name, delete "
                                      "it, or pass record_overwrite=True.")
            shutil.rmtree(folder) if folder.is_dir() else folder.unlink()
        folder.mkdir(parents=True)
        meta = {"format": FORMAT, "version": VERSION, "started": _now(), "target": _target_meta(target),
                "tracks": {}, "events": 0, "duration_s": 0.0, "complete": False}
        return cls(folder, meta, secrets)

    def write(self, t: float, direction: str, event: Any, audio_format: tuple[str, int] | None = None,
              decoded: bytes | None = None, raw: bytes | None = None) -> None:
        """Write one event: ``direction`` "out" (client to server), "in" or "note"; ``t`` seconds since the start.

        ``decoded`` is the audio payload already decoded from base64 (the fold has it), to decode it once;
        ``raw`` the frame a server event came in, written as it is (its audio payload cut out).
        """
        if self.closed:
            return
        kind = (event.get("type") if isinstance(event, dict) else getattr(event, "type", None)) or "?"
        if raw is not None:
            data = self._raw_line(t, direction, kind, raw, audio_format, decoded)
            if data is not None:
                self._add(data, kind, t)
                return
        audio = audio_field(kind)
        if audio is not None and audio_format is not None:
            text = self._audio_line(t, direction, kind, event, audio, audio_format, decoded)
        elif isinstance(event, Mapping) or kind.startswith(_SCRUBBED_IN):
            text = line(t, direction, redact({"type": kind, **scrub(_as_dict(event), kind)}))  # type first
        elif kind in _TEXT_DELTAS:  # the other hot path: written field by field, like an audio delta
            body = _delta_json(kind, event, _esc(event.delta))
            text = f'{{"t": {round(t, 6)}, "dir": "{direction}", "event": {body}}}'
        else:  # pydantic writes the JSON; nothing is parsed again
            text = f'{{"t": {round(t, 6)}, "dir": "{direction}", "event": {event.model_dump_json(exclude_unset=True)}}}'
        for secret in self._secrets:  # one substring test per line: events carry no secrets, but be sure
            if secret in text:
                text = text.replace(secret, REDACTED)
        self._add(text.encode("utf-8"), kind, t)

    def _add(self, data: bytes, kind: str, t: float) -> None:
        self._pending.append(data)  # lines go to the file in batches: one write call per _BATCH lines
        self._count += 1
        self._last_t = t
        if len(self._pending) >= _BATCH or kind in _FLUSH_AT:
            self._write_pending()
        if kind in _FLUSH_AT:  # at the end of each answer everything so far is on disk
            self._events.flush()
            for track in self._tracks.values():
                track.flush()

    def close(self) -> None:
        """Finish the WAV headers and meta.json. Safe to call twice."""
        if self.closed:
            return
        self.closed = True
        self._write_pending()
        self._events.close()
        for track in self._tracks.values():
            track.close()
        self._meta.update(complete=True, events=self._count, duration_s=round(self._last_t, 3), ended=_now())
        self._write_meta()

    def _write_pending(self) -> None:
        if self._pending:
            self._pending.append(b"")
            self._events.write(b"\n".join(self._pending))
            self._pending.clear()

    def _raw_line(self, t: float, direction: str, kind: str, raw: bytes, audio_format: tuple[str, int] | None,
                  decoded: bytes | None) -> bytes | None:
        """The line of a server event from its frame, or None when it must take the parsed path
        (events that may hold audio in items, a frame split over lines, a delta not where expected)."""
        if direction != "in" or kind.startswith(_SCRUBBED_IN):
            return None
        head = b'{"t": ' + repr(round(t, 6)).encode() + b', "dir": "in", "event": '
        if kind != "response.output_audio.delta":
            if b"\n" in raw:
                return None
            data = head + raw + b"}"
        else:
            if audio_format is None or decoded is None:
                return None
            start = raw.find(_DELTA_KEY)
            quote = raw.find(b'"', start + len(_DELTA_KEY)) if start >= 0 else -1
            # the payload is the base64 of `decoded`: its length is known, no need to scan it for its end
            end = quote + 1 + (len(decoded) + 2) // 3 * 4
            if quote < 0 or raw[end:end + 1] != b'"':
                return None
            before, after = raw[:quote], raw[end + 1:]
            if b"\n" in before or b"\n" in after:  # the payload itself parsed as a JSON string: it has none
                return None
            stored = self._store_audio("out", decoded, audio_format).encode()
            data = head + before + b'"<%d bytes base64 audio>"' % len(decoded) + after + b', ' + stored + b'}'
        for secret in self._secret_bytes:
            if secret in data:
                data = data.replace(secret, REDACTED.encode())
        return data

    def _audio_line(self, t: float, direction: str, kind: str, event: Any, audio: tuple[str, str],
                    audio_format: tuple[str, int], decoded: bytes | None) -> str:
        """format.line's shape for an audio event, built directly: this runs for every audio delta."""
        field, track_direction = audio
        data = decoded if decoded is not None else base64.b64decode(_get(event, field) or "")
        stored = self._store_audio(track_direction, data, audio_format)
        if isinstance(event, Mapping):  # our own input_audio_buffer.append
            body = _JSON.encode({**event, field: f"<{len(data)} bytes base64 audio>"})
        else:
            body = _delta_json(kind, event, f'"<{len(data)} bytes base64 audio>"')
        return f'{{"t": {round(t, 6)}, "dir": "{direction}", "event": {body}, {stored}}}'

    def _store_audio(self, direction: str, data: bytes, audio_format: tuple[str, int]) -> str:
        """Append wire audio to its track; the line's `"audio": {...}` naming where the bytes went."""
        pcm16, rate = _pcm16(data, *audio_format)
        track = self._track(direction, rate)
        offset = track.append(pcm16)
        return f'"audio": {{"track": "{track.path.name}", "offset": {offset}, "bytes": {len(pcm16)}}}'

    def _track(self, direction: str, rate: int) -> _Track:
        key = (direction, rate)
        if key not in self._tracks:
            first = not any(d == direction for d, _ in self._tracks)
            name = track_name(direction, rate, first=first)
            self._tracks[key] = _Track(self.folder / name, rate)
            self._meta["tracks"][name] = {"direction": direction, "rate": rate, "format": "pcm16 mono"}
            self._write_meta()
        return self._tracks[key]

    def _write_meta(self) -> None:
        text = json.dumps(redact(self._meta, self._secrets), indent=2, ensure_ascii=False, default=str)
        (self.folder / META).write_text(text + "\n", encoding="utf-8")


def _pcm16(data: bytes, fmt: str, rate: int) -> tuple[bytes, int]:
    """Wire bytes -> (PCM16 little-endian bytes, rate); G.711 decoded at 8 kHz, PCM kept as is."""
    if fmt == "audio/pcm":
        return (data if len(data) % 2 == 0 else data[:-1]), rate  # an odd byte is dropped; no copy otherwise
    from ..audio import g711

    decoded = g711.decode_ulaw(data) if fmt == "audio/pcmu" else g711.decode_alaw(data)
    return decoded.astype("<i2", copy=False).tobytes(), 8000


def _delta_json(kind: str, event: Any, delta: str) -> str:
    """A server delta event's JSON, field by field (each string JSON-escaped by the json module's C helper)."""
    extra = getattr(event, "obfuscation", None)  # the service pads deltas with it; kept as it came
    return (f'{{"type": "{kind}", "event_id": {_esc(event.event_id)}, "response_id": {_esc(event.response_id)}, '
            f'"item_id": {_esc(event.item_id)}, "output_index": {int(event.output_index)}, '
            f'"content_index": {int(event.content_index)}, "delta": {delta}'
            + (f', "obfuscation": {_esc(extra)}}}' if extra is not None else "}"))


def _esc(value: Any) -> str:
    """A JSON string (or null) for an id."""
    return "null" if value is None else encode_basestring(str(value))


def _target_meta(target: Any) -> dict[str, Any]:
    """Where the session went, without its credential (a Target's fields never include one)."""
    if target is None:
        return {}
    return {"kind": getattr(target, "kind", None), "model": getattr(target, "model", None),
            "auth": getattr(target, "auth", None), "description": getattr(target, "description", None)}


def _get(event: Any, key: str) -> Any:
    return event.get(key) if isinstance(event, Mapping) else getattr(event, key, None)


def _as_dict(event: Any) -> dict[str, Any]:
    if hasattr(event, "model_dump"):
        return event.model_dump(mode="json", exclude_unset=True, by_alias=True)
    return dict(event)


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
