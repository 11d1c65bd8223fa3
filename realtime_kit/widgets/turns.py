"""The playground's list of finished turns: what the user said, latency, waveform and a player each.

    turns = TurnList(session.conversation, on_error=print)
    turns.add(reply)                     # at response.done: a row on top (newest first)
    turns.refresh("item_1")              # after a truncation: the row shows where the listener cut in
    turns.snapshot_rows()                # (row, waveform PNG) for the saved-notebook snapshot

Every row is read from the session's fold: the Response's audio, timings and status, and the
messages' words. Only the latest KEEP_TURNS rows stay live (older ones are closed, freeing their
comms); the snapshot keeps the latest SNAPSHOT_TURNS turns as still pictures.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

import ipywidgets as w

from ..session.conversation import Conversation, Response
from .closing import close_tree
from .render import WAVE_HEIGHT, WAVE_WIDTH, TurnRow, turn_html, turn_row
from .views import ClipPlayer

KEEP_TURNS = 8  # live rows with players; older ones are closed to free their comms
SNAPSHOT_TURNS = 30  # turns kept (with their waveforms) in the saved snapshot


class TurnList:
    """A scrolling box of turn rows, newest first, read from the session's conversation fold."""

    def __init__(self, conversation: Conversation, on_error: Callable[[str], None]) -> None:
        self.conversation = conversation
        self.box = w.VBox(layout=w.Layout(max_height="260px", overflow="auto", display="block"))
        self._on_error = on_error
        self._rows: dict[Response, tuple[w.HBox, str]] = {}  # its row and waveform PNG, per live response
        self._snapshot: list[tuple[Response, str]] = []

    def add(self, response: Response) -> None:
        """A row for a finished response, on top; its audio gives the waveform and the player."""
        png, clip = "", None
        if response.audio_duration > 0:
            try:
                png, clip = turn_media(response.audio)
            except Exception as err:
                self._on_error(f"The waveform of {response.id} could not be drawn: {err!r}")
        head = w.HTML(turn_html(self._row(response), png), layout=w.Layout(flex="1 1 auto", min_width="0"))
        if clip is not None:
            clip.layout.flex = "0 0 auto"  # the player keeps its size; the text wraps beside it
        row = w.HBox([head, clip] if clip is not None else [head],
                     layout=w.Layout(align_items="center", border_bottom="1px solid #eee"))
        self._rows[response] = (row, png)
        kept = [row, *self.box.children]
        for old in kept[KEEP_TURNS:]:
            close_tree(old)
        self.box.children = kept[:KEEP_TURNS]
        self._rows = {done: entry for done, entry in self._rows.items() if entry[0] in self.box.children}
        self._snapshot = [*self._snapshot, (response, png)][-SNAPSHOT_TURNS:]

    def refresh(self, item_id: str) -> None:
        """Redraw the row of the response that produced `item_id` (after a truncation)."""
        for response, (row, png) in self._rows.items():
            if response.item_id == item_id:
                row.children[0].value = turn_html(self._row(response), png)

    def snapshot_rows(self) -> list[tuple[TurnRow, str]]:
        """(row, waveform PNG as base64) of the turns a saved notebook keeps, oldest first."""
        return [(self._row(response), png) for response, png in self._snapshot]

    def _row(self, response: Response) -> TurnRow:
        return turn_row(response, self.conversation.messages)


def turn_media(audio: Any) -> tuple[str, ClipPlayer]:
    """A turn's waveform (a small base64 PNG, drawn once) and its player (the PCM goes as bytes)."""
    from ..audio.plots import waveform_png

    png = base64.b64encode(waveform_png(audio, WAVE_WIDTH, WAVE_HEIGHT)).decode("ascii")
    return png, ClipPlayer.of(audio)
