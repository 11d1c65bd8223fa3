"""Every event of a session, both ways, with times: a notebook table, filters and a JSONL export.

Audio payloads are summarised as ``<N bytes base64 audio>`` and never kept, shown or exported::

    >>> log = EventLog(start=0.0)
    >>> row = log.record("out", {"type": "input_audio_buffer.append", "audio": "AAAA"}, at=0.5)
    >>> row.event
    {'type': 'input_audio_buffer.append', 'audio': '<3 bytes base64 audio>'}
    >>> len(log.filter("input_audio_buffer.*", direction="out"))
    1

A session's log exports as JSON lines: ``session.events.to_jsonl("events.jsonl")``.
"""

from __future__ import annotations

import fnmatch
import html
import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

Direction = Literal["in", "out", "note"]   # note: the session's own entries (a reconnect)

# Fields that carry base64 audio in GA events (append, output deltas, input_audio content parts).
_AUDIO_FIELDS = frozenset({"audio", "delta"})
_AUDIO_DELTA = "response.output_audio.delta"
_ARROWS = {"out": "→", "in": "←", "note": "•"}


def audio_summary(b64: str) -> str:
    """How a base64 audio payload appears in logs and exports: its decoded size, never its content."""
    if b64.startswith("<"):  # already a summary (a recording read back)
        return b64
    size = len(b64) * 3 // 4 - (b64[-2:].count("=") if len(b64) % 4 == 0 else 0)
    return f"<{size} bytes base64 audio>"


@dataclass
class EventRow:
    """One event as logged: who sent it, when, what it concerns, and a scrubbed copy of it."""

    direction: Direction
    type: str
    t: float                       # seconds since the session started
    response_id: str | None
    item_id: str | None
    source: Any                    # the SDK model, a scrubbed dict, or a summary record; never raw audio

    @property
    def event(self) -> dict[str, Any]:
        """The event as a JSON-ready dict with audio payloads summarised."""
        return scrub(_as_dict(self.source), self.type)

    @property
    def summary(self) -> str:
        """One short line that says what the event was."""
        return summarize(self.type, self.event)

    def as_dict(self) -> dict[str, Any]:
        return {"direction": self.direction, "type": self.type, "t": round(self.t, 6),
                "response_id": self.response_id, "item_id": self.item_id, "event": self.event}


class EventLog:
    """Rows of events in arrival order; `filter` returns another EventLog over the same rows."""

    def __init__(self, start: float = 0.0, rows: list[EventRow] | None = None) -> None:
        self.start = start
        self.rows: list[EventRow] = rows if rows is not None else []

    def record(self, direction: Direction, event: Any, at: float) -> EventRow:
        """Log one event (SDK model or dict) at time `at` (same clock as `start`)."""
        kind = _get(event, "type") or "?"
        if direction == "out" and isinstance(event, Mapping):
            source: Any = scrub(event, kind)  # drop our own audio now, so it is never held twice
        elif kind == _AUDIO_DELTA:
            source = {"type": kind, "event_id": _get(event, "event_id"), "response_id": _get(event, "response_id"),
                      "item_id": _get(event, "item_id"), "delta": audio_summary(_get(event, "delta") or "")}
        else:
            source = event
        row = EventRow(direction, kind, at - self.start, _response_id(event), _item_id(event), source)
        self.rows.append(row)
        return row

    def __len__(self) -> int:
        return len(self.rows)

    def __iter__(self) -> Iterator[EventRow]:
        return iter(self.rows)

    def __getitem__(self, index: int) -> EventRow:
        return self.rows[index]

    def filter(self, type: str | Iterable[str] | None = None, *, direction: Direction | None = None,
               response_id: str | None = None, item_id: str | None = None) -> EventLog:
        """Rows matching all the given criteria; `type` may be a glob ("response.output_audio*")."""
        patterns = [type] if isinstance(type, str) else list(type) if type is not None else None
        rows = [row for row in self.rows
                if (patterns is None or any(fnmatch.fnmatchcase(row.type, p) for p in patterns))
                and (direction is None or row.direction == direction)
                and (response_id is None or row.response_id == response_id)
                and (item_id is None or row.item_id == item_id)]
        return EventLog(self.start, rows)

    def types(self) -> dict[str, int]:
        """How many events of each type, in order of first appearance."""
        counts: dict[str, int] = {}
        for row in self.rows:
            counts[row.type] = counts.get(row.type, 0) + 1
        return counts

    def table(self, last: int | None = 30) -> str:
        """A plain-text table of the last `last` rows (all rows with None)."""
        rows = self.rows if last is None else self.rows[-last:]
        lines = [f"{'t (s)':>8}  dir  {'type':<44} {'response':<14} {'item':<14} summary"]
        for row in rows:
            lines.append(f"{row.t:8.3f}  {row.direction:<3}  {row.type:<44} {_short(row.response_id):<14} "
                         f"{_short(row.item_id):<14} {row.summary}")
        if last is not None and len(self.rows) > last:
            lines.insert(1, f"... {len(self.rows) - last} earlier events")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"EventLog({len(self.rows)} events)\n{self.table(last=15)}"

    def _repr_html_(self, head: int = 12, tail: int = 18) -> str:
        """The log as a table: runs of deltas collapsed into one row each, the start and the end shown."""
        runs = collapse(self.rows)
        shown: list[Run | None] = list(runs)
        if len(runs) > head + tail:
            shown = [*runs[:head], None, *runs[-tail:]]
        cell = "<td style='text-align:left;white-space:nowrap;padding:1px 8px;vertical-align:top'>"
        head_cells = "".join(f"<th style='text-align:left;padding:1px 8px'>{h}</th>" for h in
                             ("t (s)", "dir", "type", "response", "item", "summary"))
        body = []
        for run in shown:
            if run is None:
                hidden = runs[head:-tail]
                body.append(f"<tr><td colspan='6' style='text-align:left;color:#777;padding:1px 8px'>… "
                            f"{sum(r.count for r in hidden)} events in {len(hidden)} rows not shown "
                            "(session.events.table(last=None) lists them all) …</td></tr>")
                continue
            first = run.first
            count = f" ×{run.count}" if run.count > 1 else ""
            body.append(
                f"<tr>{cell}{first.t:.3f}</td>{cell}{'→' if first.direction == 'out' else '←'}</td>"
                f"{cell}<code>{html.escape(first.type)}</code>{count}</td>{cell}{html.escape(_short(first.response_id))}"
                f"</td>{cell}{html.escape(_short(first.item_id))}</td>"
                f"<td style='text-align:left;padding:1px 8px'>{html.escape(_clip(run.summary, 100))}</td></tr>")
        return (f"<div><b>{len(self.rows)} events</b> (runs of deltas collapsed)<table style='border-collapse:"
                f"collapse;font-size:12px'><tr>{head_cells}</tr>{''.join(body)}</table></div>")

    def to_dicts(self) -> list[dict[str, Any]]:
        """Every row as a JSON-ready dict (audio summarised)."""
        return [row.as_dict() for row in self.rows]

    def to_jsonl(self, path: str | Path) -> Path:
        """Write one JSON object per line; returns the path."""
        target = Path(path)
        with target.open("w", encoding="utf-8") as out:
            for row in self.rows:
                out.write(json.dumps(row.as_dict(), ensure_ascii=False, default=str) + "\n")
        return target

    def to_dataframe(self) -> Any:
        """A pandas DataFrame of the rows (needs pandas: `pip install pandas`)."""
        try:
            import pandas as pd
        except ImportError as err:
            raise ImportError("EventLog.to_dataframe needs pandas: pip install pandas") from err
        return pd.DataFrame([{**{k: v for k, v in row.as_dict().items() if k != "event"},
                              "summary": row.summary} for row in self.rows])


@dataclass
class Run:
    """Consecutive streaming events of one type and response, shown as one row (a single event is a run of 1)."""

    first: EventRow
    count: int = 1
    text: str = ""          # text deltas joined
    audio_bytes: int = 0    # decoded size of the audio payloads

    @property
    def summary(self) -> str:
        if self.count == 1 and not _streaming(self.first):
            return self.first.summary
        if self.audio_bytes:
            return f"{self.audio_bytes} bytes of audio in {self.count} events"
        return repr(self.text)


_AUDIO_SIZE = re.compile(r"^<(\d+) bytes base64 audio>$")


def _streaming(row: EventRow) -> bool:
    return row.type.endswith(".delta") or row.type == "input_audio_buffer.append"


def collapse(rows: Iterable[EventRow]) -> list[Run]:
    """Rows with each run of deltas (or appends) of one type and response folded into one Run.

    Interleaved transcript and audio deltas become two runs; any other event ends the runs.

        >>> log = EventLog(start=0.0)
        >>> for i, kind in enumerate(["response.created", *["response.output_audio_transcript.delta"] * 3]):
        ...     _ = log.record("in", {"type": kind, "response_id": "r", "delta": "ab"}, at=i)
        >>> [(run.first.type, run.count, run.summary) for run in collapse(log.rows)][1]
        ('response.output_audio_transcript.delta', 3, "'ababab'")
    """
    runs: list[Run] = []
    open_runs: dict[tuple[str, str, str | None], Run] = {}
    for row in rows:
        if not _streaming(row):
            open_runs.clear()
            runs.append(Run(row))
            continue
        key = (row.direction, row.type, row.response_id)
        run = open_runs.get(key)
        if run is None:
            run = open_runs[key] = Run(row, 0)
            runs.append(run)
        run.count += 1
        payload = _payload(row.source)  # read in place: a redraw of the log dumps no event
        size = _AUDIO_SIZE.match(payload) if isinstance(payload, str) else None
        if size:
            run.audio_bytes += int(size.group(1))
        elif isinstance(payload, str):
            run.text += payload
    return runs


def _payload(source: Any) -> Any:
    """The delta (or appended audio's summary) of a streaming row's source."""
    delta = _get(source, "delta")
    return delta if delta is not None else _get(source, "audio")


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def scrub(event: Any, event_type: str | None = None) -> Any:
    """A copy of `event` with every base64 audio payload replaced by its summary."""
    if isinstance(event, Mapping):
        kind = event_type or event.get("type")
        out: dict[str, Any] = {}
        for key, value in event.items():
            is_audio = key == "audio" or (key == "delta" and kind == _AUDIO_DELTA)
            if is_audio and isinstance(value, str) and not value.startswith("<"):
                out[key] = audio_summary(value)
            else:
                out[key] = scrub(value, kind)
        return out
    if isinstance(event, list):
        return [scrub(value, event_type) for value in event]
    return event


def summarize(kind: str, event: Mapping[str, Any]) -> str:
    """One line for a table: the fields that matter for this event type."""
    if kind == "error":
        error = event.get("error") or {}
        return f"{error.get('code') or error.get('type')}: {error.get('message')}"
    if kind.endswith(".delta"):
        delta = event.get("delta")
        return delta if isinstance(delta, str) and delta.startswith("<") else repr(delta)
    if kind in ("response.created", "response.done"):
        response = event.get("response") or {}
        return _compact({"status": response.get("status"), "usage": _token_summary(response.get("usage"))})
    if kind in ("session.created", "session.updated", "session.update"):
        return _session_summary(event.get("session") or {})
    rest = {k: v for k, v in event.items() if k not in _SHOWN_ELSEWHERE}
    return _compact(rest)


# Columns of their own (or noise) in a table row, left out of the summary.
_SHOWN_ELSEWHERE = frozenset({"type", "event_id", "response_id", "item_id", "output_index", "content_index",
                              "previous_item_id"})


def _session_summary(session: Mapping[str, Any]) -> str:
    audio = session.get("audio") or {}
    output = audio.get("output") or {}
    inp = audio.get("input") or {}
    turn = inp.get("turn_detection")
    fields = {"voice": output.get("voice"), "modalities": session.get("output_modalities"),
              "turn_detection": turn.get("type") if isinstance(turn, Mapping) else turn,
              "instructions": session.get("instructions")}
    return _compact({k: v for k, v in fields.items() if k in ("turn_detection",) or v is not None})


def _token_summary(usage: Any) -> str | None:
    if not isinstance(usage, Mapping):
        return None
    return f"{usage.get('input_tokens')} in / {usage.get('output_tokens')} out tokens"


def _compact(value: Any, width: int = 100) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str, separators=(", ", ": "))
    return text if len(text) <= width else text[: width - 3] + "..."


def _short(identifier: str | None) -> str:
    if not identifier:
        return ""
    return identifier if len(identifier) <= 14 else identifier[:6] + "…" + identifier[-6:]


def _get(event: Any, key: str) -> Any:
    return event.get(key) if isinstance(event, Mapping) else getattr(event, key, None)


def _response_id(event: Any) -> str | None:
    found = _get(event, "response_id")
    if found is None:
        response = _get(event, "response")
        found = _get(response, "id") if response is not None else None
    return found if isinstance(found, str) else None


def _item_id(event: Any) -> str | None:
    found = _get(event, "item_id")
    if found is None:
        item = _get(event, "item")
        found = _get(item, "id") if item is not None else None
    return found if isinstance(found, str) else None


def _as_dict(source: Any) -> dict[str, Any]:
    if hasattr(source, "model_dump"):
        return source.model_dump(mode="json", exclude_unset=True, by_alias=True)
    if isinstance(source, Mapping):
        return dict(source)
    return {"type": getattr(source, "type", "?")}
