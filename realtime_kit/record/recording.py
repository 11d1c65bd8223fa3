"""A recording loaded back: its turns, events, audio tracks and metadata, shown in a notebook.

    rec = rk.Recording.load("lesson.rkrec")        # the folder, or a .zip of it
    rec                                            # in a cell: each turn's text, players, latencies
    rec.turns[0].user_text, rec.turns[0].transcript, rec.turns[0].audio_out, rec.turns[0].audio_in
    rec.events                                     # an rk.EventLog: table, filters, JSONL export
    rec.compare(rk.Recording.load("other.rkrec"))  # turn by turn: text, durations, latencies
"""

from __future__ import annotations

import html
import json
import struct
import zipfile
from collections.abc import Mapping
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..session.eventlog import EventLog
from .format import EVENTS, FORMAT, META
from .turns import AudioRef, Turn, fold_turns

if TYPE_CHECKING:
    from ..audio.core import Audio
    from .compare import Comparison

__all__ = ["Recording", "wav_data"]


class Recording:
    """A .rkrec recording: `Recording.load(path)`; see the module docstring."""

    def __init__(self, meta: Mapping[str, Any], lines: list[dict[str, Any]], tracks: Mapping[str, bytes],
                 path: Path | None = None) -> None:
        self.meta = dict(meta)
        self.lines = lines
        self.path = path
        self._tracks = dict(tracks)

    @classmethod
    def load(cls, path: str | Path) -> Recording:
        """Read a recording folder (or a zip of one); a clear error if it is not one."""
        source = Path(path)
        if not source.exists():
            raise FileNotFoundError(f"No recording at {str(source)!r}; record one with "
                                    f"rk.connect(record={str(source)!r}).")
        files = _read_folder(source) if source.is_dir() else _read_zip(source)
        if EVENTS not in files:
            raise ValueError(f"{str(source)!r} is not a recording: it has no {EVENTS} (see docs/recording-format.md).")
        meta = json.loads(files.get(META) or b"{}")
        if meta.get("format", FORMAT) != FORMAT:
            raise ValueError(f"{str(source)!r} has format {meta.get('format')!r}, not {FORMAT!r}.")
        lines = [json.loads(text) for text in files[EVENTS].decode("utf-8").splitlines() if text.strip()]
        tracks = {name: data for name, data in files.items() if name.endswith(".wav")}
        return cls(meta, lines, tracks, source)

    # -- what users read -------------------------------------------------------------------------

    @cached_property
    def turns(self) -> list[Turn]:
        """One Turn per response, in order."""
        rates = {name: wav_data(data)[1] for name, data in self._tracks.items()}
        return fold_turns(self.lines, self._audio, rates)

    @cached_property
    def events(self) -> EventLog:
        """Every event both ways, as an rk.EventLog (audio summarised; reconnects as notes)."""
        log = EventLog(start=0.0)
        for row in self.lines:
            direction = row.get("dir") if row.get("dir") in ("in", "out") else "note"
            log.record(direction, row.get("event") or {}, float(row.get("t", 0.0)))  # type: ignore[arg-type]
        return log

    @property
    def duration(self) -> float:
        """Seconds from the first to the last event."""
        return float(self.lines[-1]["t"]) if self.lines else 0.0

    @property
    def reconnects(self) -> list[dict[str, Any]]:
        """The reconnects the recorded session made (their note events)."""
        return [row["event"] for row in self.lines if row.get("dir") == "note"
                and (row.get("event") or {}).get("type") == "rk.reconnect"]

    def track(self, name: str = "audio_out.wav") -> Audio:
        """A whole audio track as an rk.Audio (audio_in.wav, audio_out.wav, ...)."""
        from ..audio.core import Audio

        if name not in self._tracks:
            raise KeyError(f"This recording has no track {name!r}; it has {sorted(self._tracks)}.")
        data, rate = wav_data(self._tracks[name])
        return Audio.from_bytes(data, "audio/pcm", rate)

    def compare(self, other: Recording) -> Comparison:
        """Turn by turn against another recording: what was said, durations, latencies."""
        from .compare import Comparison

        return Comparison(self, other)

    def _audio(self, refs: list[AudioRef]) -> Audio | None:
        from ..audio.core import Audio

        if not refs:
            return None
        name, rate = str(refs[0]["track"]), int(refs[0].get("rate", 24000))
        data = wav_data(self._tracks[name])[0] if name in self._tracks else b""
        pcm = b"".join(data[int(r["offset"]):int(r["offset"]) + int(r["bytes"])] for r in refs if r["track"] == name)
        return Audio.from_bytes(pcm, "audio/pcm", rate)

    # -- display ---------------------------------------------------------------------------------

    def __repr__(self) -> str:
        target = (self.meta.get("target") or {}).get("description") or "unknown target"
        head = f"Recording({len(self.turns)} turns, {self.duration:.1f} s, {target})"
        rows = [f"  {t.index}: {_short(t.user_text)!s:<32} -> {_short(t.said)!s:<40} {_ms(t.latency)}"
                for t in self.turns]
        return "\n".join([head, *rows])

    def _repr_html_(self) -> str:
        target = html.escape(str((self.meta.get("target") or {}).get("description") or "unknown target"))
        rows = "".join(_turn_row(turn) for turn in self.turns)
        head = "".join(f"<th style='text-align:left'>{h}</th>" for h in
                       ("#", "user", "assistant", "latency", "answer audio"))
        return (f"<div><b>Recording</b>: {len(self.turns)} turns, {self.duration:.1f} s, {target}"
                f"<table>{head}{rows}</table></div>")


def _turn_row(turn: Turn) -> str:
    audio = turn.audio_out
    player = audio.play()._repr_html_() if audio is not None and 0 < audio.duration <= 600 else ""
    calls = "".join(f"<div><code>{html.escape(str(c['name']))}({html.escape(str(c['arguments']))})</code></div>"
                    for c in turn.tool_calls)
    return (f"<tr><td>{turn.index}</td><td>{html.escape(turn.user_text or '')}</td>"
            f"<td>{html.escape(turn.said)}{calls}</td><td>{_ms(turn.latency)}</td><td>{player}</td></tr>")


def _short(text: str | None, width: int = 30) -> str:
    text = (text or "").replace("\n", " ")
    return text if len(text) <= width else text[: width - 1] + "…"


def _ms(seconds: float | None) -> str:
    return "" if seconds is None else f"{seconds * 1000:.0f} ms"


def wav_data(raw: bytes) -> tuple[bytes, int]:
    """(PCM16 data, rate) of a WAV file; in one left unfinished by a crash, the data runs to the end."""
    if raw[:4] != b"RIFF" or raw[8:12] != b"WAVE":
        raise ValueError("not a WAV file (no RIFF/WAVE header)")
    rate, position = 24000, 12
    finished = struct.unpack("<I", raw[4:8])[0] + 8 == len(raw)  # close() wrote the final sizes
    while position + 8 <= len(raw):
        chunk, size = raw[position:position + 4], struct.unpack("<I", raw[position + 4:position + 8])[0]
        body = position + 8
        if chunk == b"fmt ":
            rate = struct.unpack("<I", raw[body + 4:body + 8])[0]
        elif chunk == b"data":
            end = min(len(raw), body + size) if finished else len(raw)
            return raw[body:end], rate
        position = body + size + (size & 1)
    return b"", rate


def _read_folder(folder: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in folder.iterdir() if path.is_file()}


def _read_zip(path: Path) -> dict[str, bytes]:
    if not zipfile.is_zipfile(path):
        raise ValueError(f"{str(path)!r} is neither a recording folder nor a zip of one.")
    with zipfile.ZipFile(path) as archive:
        return {Path(name).name: archive.read(name) for name in archive.namelist() if not name.endswith("/")}
