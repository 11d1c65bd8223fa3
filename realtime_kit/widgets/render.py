"""HTML for the playground's read-only parts: transcript, turns, event log, config and errors.

    transcript_html(session.conversation.messages)   # both sides of the conversation, newest last
    turn_html(turn_row(reply, messages), png)        # a finished turn: title, latencies, waveform
    event_log_html(session.events)                   # compact: runs of deltas collapse into one row

Pure string functions (html-escaped) over what the session's fold and event log hold, so the panel's
look is tested without a browser, and its latencies are the ones in `reply.timings`.
"""

from __future__ import annotations

import html
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..session.conversation import Response
from ..session.eventlog import EventRow, collapse
from ..session.messages import Message, Messages

RED = "#c62828"
WAVE_WIDTH, WAVE_HEIGHT = 360, 48  # the per-turn waveform, small enough for a row
BOX = "border:1px solid #ddd;border-radius:4px;padding:6px;background:var(--jp-layout-color1,#fff)"
LOG_TAIL = 400  # events the log collapses on each redraw: enough for its last rows, cheap at any length


@dataclass(frozen=True)
class TurnRow:
    """What a turn's row shows, read from a Response and the conversation's messages."""

    response_id: str
    title: str
    latency: str
    audio_seconds: float
    heard_ms: int | None = None


def turn_row(response: Response, messages: Messages) -> TurnRow:
    """The row of one response: what it answers, its latencies (from `response.timings`), how it ended."""
    spoken = messages.get(response.item_id)
    heard = spoken.heard_ms if spoken is not None else None
    return TurnRow(str(response.id), turn_title(response, messages), latency_line(response, heard),
                   response.audio_duration, heard)


def turn_title(response: Response, messages: Messages) -> str:
    """What the user said or typed that this response answers."""
    if response.answers is None:
        return "(follow-up response)"
    asked = messages.get(response.answers)
    if asked is None:
        return "…"
    return asked.text or ("(speech, transcribing…)" if asked.pending else "(speech)")


def latency_line(response: Response, heard_ms: int | None = None) -> str:
    """The response's latencies as one short line, from `response.timings` (after speech stopped when
    the server's VAD took the turn, else after the request).

    >>> reply = Response(0.0)
    >>> reply.timings.update(created=0.05, first_transcript=0.12, first_audio=0.2, done=1.5)
    >>> latency_line(reply)
    'first text 120 ms · first audio 200 ms · done 1.50 s (after the request)'
    """
    timings = response.timings
    origin = timings.get("speech_stopped")
    since = "after the request" if origin is None else "after speech stopped"
    firsts = [timings[key] for key in ("first_text", "first_transcript") if key in timings]
    parts = [f"{label} {_duration(at - (origin or 0.0))}" for label, at in (
        ("first text", min(firsts, default=None)), ("first audio", timings.get("first_audio")),
        ("done", timings.get("done"))) if at is not None]
    if response.audio_duration:
        parts.append(f"{response.audio_duration:.1f} s of audio")
    if heard_ms is not None:
        parts.append(f"interrupted: {heard_ms / 1000:.2f} s heard")
    if response.status not in (None, "in_progress", "completed"):
        reason = _status_reason(response.status_details)
        parts.append(f"{response.status}: {reason}" if reason else str(response.status))
    return " · ".join(parts) + (f" ({since})" if parts else "")


def _status_reason(details: Mapping[str, Any] | None) -> str:
    details = details or {}
    error = details.get("error") or {}
    return str(error.get("message") or error.get("code") or details.get("reason") or "")


def _duration(seconds: float) -> str:
    """Under a second in milliseconds (the local server answers in tens of them), else in seconds.

    >>> _duration(0.0423), _duration(2.5)
    ('42 ms', '2.50 s')
    """
    return f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.2f} s"


def event_log_html(rows: Sequence[EventRow], last: int = 25) -> str:
    """The session's latest events, newest first, runs of deltas collapsed into one row with a count."""
    runs = collapse(rows[-LOG_TAIL:])
    body = "".join(
        f"<tr><td style='color:#777'>{run.first.t:7.2f}</td><td>{'→' if run.first.direction == 'out' else '←'}"
        f"</td><td><code>{html.escape(run.first.type)}</code>{f' ×{run.count}' if run.count > 1 else ''}</td>"
        f"<td style='color:#555'>{html.escape(_clip(run.summary, 90))}</td></tr>"
        for run in reversed(runs[-last:])  # newest first: the box shows the top without scrolling
    )
    hidden = len(rows) - sum(run.count for run in runs[-last:])
    more = f"<div style='color:#777'>{hidden} earlier events not shown</div>" if hidden > 0 else ""
    return (f"<div class='rk-event-log' style='{BOX};max-height:220px;overflow:auto;font-size:11px'>{more}"
            f"<table style='border-collapse:collapse'>{body}</table></div>")


def transcript_html(messages: Iterable[Message], last: int = 60) -> str:
    """Both sides of the conversation, one paragraph per item, oldest first; the latest `last` items
    (the view scrolls itself to the newest)."""
    lines = list(messages)
    parts = [_line_html(line) for line in lines[-last:]]
    if len(lines) > last:
        parts.insert(0, f"<div style='color:#777'>{len(lines) - last} earlier items</div>")
    if not parts:
        parts = ["<div style='color:#777'>Type a message and press Enter, or press Start listening.</div>"]
    return f"<div class='rk-transcript' style='{BOX}'>{''.join(parts)}</div>"


def _line_html(line: Message) -> str:
    who, color = ("You", "#1565c0") if line.role == "user" else ("Assistant", "#2e7d32")
    text = html.escape(line.text)
    if not text:
        text = "<i style='color:#777'>(speech…)</i>" if line.role == "user" else "<i style='color:#777'>…</i>"
    elif line.pending:
        text += " <span style='color:#777'>…</span>"
    note = f" <span class='rk-note' style='color:#b26a00'>[{html.escape(line.note)}]</span>" if line.note else ""
    return (f"<div class='rk-line rk-{line.role}' data-item='{html.escape(line.item_id)}' style='margin:3px 0'>"
            f"<b style='color:{color}'>{who}:</b> {text}{note}</div>")


def turn_html(turn: TurnRow, waveform_png_b64: str = "") -> str:
    """One response in a compact row: what the user said, latency figures and a small waveform (a red
    line marks where the listener cut it off). The turn's player is a widget beside it."""
    head = (f"<div style='font-size:12px'>"
            f"<b class='rk-turn-title'>{html.escape(_clip(turn.title, 70))}</b> · "
            f"<span class='rk-latency' style='color:#555'>{html.escape(turn.latency)}</span></div>")
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


def snapshot_html(messages: Iterable[Message], turns: Sequence[tuple[TurnRow, str]]) -> str:
    """A still picture of the playground: the transcript and each turn's title, latency and waveform.

    `turns` holds (turn row, waveform PNG as base64) for each finished response."""
    rows = "".join(turn_html(turn, png) for turn, png in turns)
    note = "<div style='color:#777;font-size:12px'>A snapshot of the playground: run the cell for a live panel.</div>"
    return (f"{SNAPSHOT_STYLE}<div class='rk-snapshot' style='max-width:900px'><b>Realtime playground</b>{note}"
            f"{transcript_html(messages)}<div class='rk-snapshot-turns'>{rows}</div></div>")


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
