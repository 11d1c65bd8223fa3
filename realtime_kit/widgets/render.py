"""HTML for the playground's read-only parts: transcript, turns, event log, config and errors.

    transcript_html(fold.lines)          # both sides of the conversation, newest last
    event_log_html(rows)                 # compact: repeated deltas collapse into one row with a count

Pure string functions (html-escaped), so the panel's look is tested without a browser.
"""

from __future__ import annotations

import html
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .transcript import Line, Turn

RED = "#c62828"
WAVE_WIDTH, WAVE_HEIGHT = 360, 48  # the per-turn waveform, small enough for a row
BOX = "border:1px solid #ddd;border-radius:4px;padding:6px;background:var(--jp-layout-color1,#fff)"


@dataclass
class LogRow:
    """One line of the compact event log; `count` > 1 when consecutive events of one type collapsed."""

    t: float
    direction: str  # "in" (server to us) or "out" (what the panel sent)
    type: str
    summary: str
    count: int = 1


def add_log_row(rows: list[LogRow], row: LogRow, keep: int = 200, look_back: int = 3) -> None:
    """Append `row`, folding a delta into a recent row of its type when only deltas came in between
    (interleaved transcript and audio deltas collapse into one row each, with a count)."""
    if row.type.endswith(".delta"):
        for recent in reversed(rows[-look_back:]):
            if not recent.type.endswith(".delta"):
                break
            if recent.type == row.type and recent.direction == row.direction:
                recent.count += 1
                recent.summary = row.summary
                return
    rows.append(row)
    del rows[:-keep]


def event_log_html(rows: Sequence[LogRow], last: int = 25) -> str:
    """The last `last` log rows, newest first, as a small scrollable table."""
    body = "".join(
        f"<tr><td style='color:#777'>{row.t:7.2f}</td><td>{'→' if row.direction == 'out' else '←'}</td>"
        f"<td><code>{html.escape(row.type)}</code>{f' ×{row.count}' if row.count > 1 else ''}</td>"
        f"<td style='color:#555'>{html.escape(_clip(row.summary, 90))}</td></tr>"
        for row in reversed(rows[-last:])  # newest first: the box shows the top without scrolling
    )
    hidden = len(rows) - last
    more = f"<div style='color:#777'>{hidden} earlier rows not shown</div>" if hidden > 0 else ""
    return (f"<div class='rk-event-log' style='{BOX};max-height:220px;overflow:auto;font-size:11px'>{more}"
            f"<table style='border-collapse:collapse'>{body}</table></div>")


def transcript_html(lines: Sequence[Line], last: int = 60) -> str:
    """Both sides of the conversation, one paragraph per item, oldest first; the latest `last` items
    (the view scrolls itself to the newest)."""
    parts = [_line_html(line) for line in lines[-last:]]
    if len(lines) > last:
        parts.insert(0, f"<div style='color:#777'>{len(lines) - last} earlier items</div>")
    if not parts:
        parts = ["<div style='color:#777'>Type a message and press Enter, or press Start listening.</div>"]
    return f"<div class='rk-transcript' style='{BOX}'>{''.join(parts)}</div>"


def _line_html(line: Line) -> str:
    who, color = ("You", "#1565c0") if line.role == "user" else ("Assistant", "#2e7d32")
    text = html.escape(line.text)
    if not text:
        text = "<i style='color:#777'>(speech…)</i>" if line.role == "user" else "<i style='color:#777'>…</i>"
    elif line.pending:
        text += " <span style='color:#777'>…</span>"
    note = f" <span class='rk-note' style='color:#b26a00'>[{html.escape(line.note)}]</span>" if line.note else ""
    return (f"<div class='rk-line rk-{line.role}' data-item='{html.escape(line.item_id)}' style='margin:3px 0'>"
            f"<b style='color:{color}'>{who}:</b> {text}{note}</div>")


def turn_html(turn: Turn, title: str, waveform_png_b64: str = "") -> str:
    """One response in a compact row: what the user said, latency figures and a small waveform (a red
    line marks where the listener cut it off). The turn's player is a widget beside it."""
    head = (f"<div style='font-size:12px'>"
            f"<b class='rk-turn-title'>{html.escape(_clip(title, 70))}</b> · "
            f"<span class='rk-latency' style='color:#555'>{html.escape(turn.latency_line())}</span></div>")
    opening = (f"<div class='rk-turn' data-response='{html.escape(turn.response_id)}' "
               f"title='{html.escape(turn.response_id)}' style='margin:2px 0'>")
    if not waveform_png_b64:
        return f"{opening}{head}</div>"
    marker = ""
    if turn.heard_ms is not None and turn.audio_seconds > 0:
        left = min(100.0, 100.0 * turn.heard_ms / 1000 / turn.audio_seconds)
        marker = (f"<div class='rk-heard' title='heard until here' style='position:absolute;top:0;bottom:0;"
                  f"left:{left:.1f}%;border-left:2px solid {RED}'></div>")
    wave = (f"<div style='position:relative;width:{WAVE_WIDTH}px;height:{WAVE_HEIGHT}px;flex:none'>"
            f"<img alt='waveform' src='data:image/png;base64,{waveform_png_b64}' "
            f"style='width:100%;height:100%;display:block'/>{marker}</div>")
    return f"{opening}{head}{wave}</div>"


# Shown when a saved notebook is reopened without its kernel: the live panel is gone, this stays. While the
# panel is live the snapshot hides itself, and once it is gone so does the widget's "model not found".
SNAPSHOT_STYLE = ("<style>.jp-OutputArea:has(.rk-playground) .rk-snapshot{display:none}"
                  ".jp-OutputArea:has(.rk-snapshot) .jupyter-widgets:not(:has(*)){display:none}</style>")


def snapshot_html(lines: Sequence[Line], turns: Sequence[tuple[Turn, str, str]]) -> str:
    """A still picture of the playground: the transcript and each turn's title, latency and waveform.

    `turns` holds (turn, title, waveform PNG as base64) for each finished response."""
    rows = "".join(turn_html(turn, title, png) for turn, title, png in turns)
    note = "<div style='color:#777;font-size:12px'>A snapshot of the playground: run the cell for a live panel.</div>"
    return (f"{SNAPSHOT_STYLE}<div class='rk-snapshot' style='max-width:900px'><b>Realtime playground</b>{note}"
            f"{transcript_html(lines)}<div class='rk-snapshot-turns'>{rows}</div></div>")


def config_html(effective: Mapping[str, Any], changes: Sequence[Any] = ()) -> str:
    """The effective session after Apply, with any field the server changed from the request."""
    notes = "".join(f"<li>{html.escape(str(change))}</li>" for change in changes)
    changed = f"<div>The server changed:</div><ul>{notes}</ul>" if notes else ""
    text = json.dumps(_without_tools(effective), indent=1, default=str)
    return (f"<div class='rk-config' style='font-size:11px'>{changed}<details><summary>Effective session "
            f"(applied)</summary><pre style='max-height:200px;overflow:auto'>{html.escape(text)}</pre>"
            f"</details></div>")


def error_html(messages: Sequence[str], last: int = 5) -> str:
    """The latest errors in red; empty when there were none."""
    if not messages:
        return ""
    items = "".join(f"<div>⚠ {html.escape(message)}</div>" for message in messages[-last:])
    style = f"color:{RED};border:1px solid {RED};padding:4px;border-radius:4px"
    return f"<div class='rk-errors' style='{style}'>{items}</div>"


def _without_tools(effective: Mapping[str, Any]) -> dict[str, Any]:
    shown = dict(effective)
    if isinstance(shown.get("tools"), list) and shown["tools"]:
        shown["tools"] = [tool.get("name", "?") if isinstance(tool, Mapping) else tool for tool in shown["tools"]]
    return shown


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"
