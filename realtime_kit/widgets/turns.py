"""The playground's list of finished turns: what the user said, latency, waveform and a player each.

    turns = TurnList(fold, on_error=print)
    turns.add("resp_1", pcm16_bytes)     # at response.done: a row on top (newest first)
    turns.refresh("item_1")              # after a truncation: the row shows where the listener cut in
    turns.snapshot_rows()                # (turn, title, waveform PNG) for the saved-notebook snapshot

Only the latest KEEP_TURNS rows stay live (older ones are closed, freeing their comms); the snapshot
keeps the latest SNAPSHOT_TURNS turns as still pictures.
"""

from __future__ import annotations

import base64
from collections.abc import Callable

import ipywidgets as w
import numpy as np

from .closing import close_tree
from .render import WAVE_HEIGHT, WAVE_WIDTH, turn_html
from .transcript import TranscriptFold, Turn
from .views import ClipPlayer

KEEP_TURNS = 8  # live rows with players; older ones are closed to free their comms
SNAPSHOT_TURNS = 30  # turns kept (with their waveforms) in the saved snapshot


class TurnList:
    """A scrolling box of turn rows, newest first, read from the panel's fold."""

    def __init__(self, fold: TranscriptFold, on_error: Callable[[str], None]) -> None:
        self.fold = fold
        self.box = w.VBox(layout=w.Layout(max_height="260px", overflow="auto", display="block"))
        self._on_error = on_error
        self._rows: dict[str, tuple[w.HBox, str]] = {}  # response id -> its row, waveform PNG
        self._snapshot: list[tuple[Turn, str]] = []

    def add(self, response_id: str, pcm: bytes | None) -> None:
        """A row for a finished response, on top; its audio (PCM16) gives the waveform and the player."""
        turn = self.fold.turns.get(response_id)
        if turn is None:
            return
        png, clip = "", None
        if pcm:
            try:
                png, clip = turn_media(pcm, turn.audio_rate)
            except Exception as err:
                self._on_error(f"The waveform of {response_id} could not be drawn: {err!r}")
        head = w.HTML(turn_html(turn, self.fold.asked(turn), png), layout=w.Layout(flex="1 1 auto", min_width="0"))
        if clip is not None:
            clip.layout.flex = "0 0 auto"  # the player keeps its size; the text wraps beside it
        row = w.HBox([head, clip] if clip is not None else [head],
                     layout=w.Layout(align_items="center", border_bottom="1px solid #eee"))
        self._rows[response_id] = (row, png)
        kept = [row, *self.box.children]
        for old in kept[KEEP_TURNS:]:
            close_tree(old)
        self.box.children = kept[:KEEP_TURNS]
        self._rows = {rid: entry for rid, entry in self._rows.items() if entry[0] in self.box.children}
        self._snapshot = [*self._snapshot, (turn, png)][-SNAPSHOT_TURNS:]

    def refresh(self, item_id: str) -> None:
        """Redraw the row of the response that produced `item_id` (after a truncation)."""
        for response_id, turn in self.fold.turns.items():
            if item_id in turn.item_ids and response_id in self._rows:
                row, png = self._rows[response_id]
                row.children[0].value = turn_html(turn, self.fold.asked(turn), png)

    def snapshot_rows(self) -> list[tuple[Turn, str, str]]:
        """(turn, title, waveform PNG as base64) of the turns a saved notebook keeps, oldest first."""
        return [(turn, self.fold.asked(turn), png) for turn, png in self._snapshot]


def turn_media(pcm: bytes, rate: int) -> tuple[str, ClipPlayer]:
    """A turn's waveform (a small base64 PNG, drawn once) and its player (the PCM goes as bytes)."""
    from ..audio.core import Audio
    from ..audio.plots import waveform_png

    audio = Audio(np.frombuffer(pcm, dtype="<i2"), rate=rate)
    png = base64.b64encode(waveform_png(audio, WAVE_WIDTH, WAVE_HEIGHT)).decode("ascii")
    return png, ClipPlayer.of(audio)
