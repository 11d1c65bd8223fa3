"""Two small anywidgets for the playground: a transcript that keeps its newest line in view, and a clip player.

    view = TranscriptView(html="<div>...</div>")   # re-rendered freely; stays scrolled to the newest line
    clip = ClipPlayer.of(reply.audio)               # a play button; the PCM crosses the comm as bytes

The transcript scrolls itself to the bottom after each update unless the reader scrolled up to read
older lines (then it stays put until they scroll back down). The clip player asks for its audio when
first played; it arrives as a binary buffer and becomes a WAV blob in the browser: no base64 in any
HTML, and no audio in the saved widget state.
"""

from __future__ import annotations

from typing import Any

import anywidget
import numpy as np
import traitlets

from .closing import close_own_parts
from .esm import widget_module


class TranscriptView(anywidget.AnyWidget):
    """HTML that sticks to its bottom (the newest turn) as it grows, up to `max_height` pixels tall."""

    _esm = widget_module("transcript_view.js")
    html = traitlets.Unicode("").tag(sync=True)
    max_height = traitlets.Int(360).tag(sync=True)

    def close(self) -> None:
        close_own_parts(self)
        super().close()


class ClipPlayer(anywidget.AnyWidget):
    """A play button for one clip of PCM16 mono audio; the audio crosses the comm as bytes when first played.

    The audio is not widget state, so a notebook saved with its widget state stays small.
    """

    _esm = widget_module("clip.js")
    rate = traitlets.Int(24000).tag(sync=True)
    duration_s = traitlets.Float(0.0).tag(sync=True)

    def __init__(self, pcm: bytes = b"", rate: int = 24000, **kwargs: Any) -> None:
        super().__init__(rate=rate, duration_s=len(pcm) / 2 / rate, **kwargs)
        self.pcm = pcm
        self.on_msg(self._on_browser_message)

    @classmethod
    def of(cls, audio: Any) -> ClipPlayer:
        """A player for an rk.Audio (or anything with int16 `.samples` and `.rate`)."""
        samples = np.asarray(audio.samples, dtype="<i2")
        return cls(samples.tobytes(), int(audio.rate))

    def _on_browser_message(self, _widget: Any, content: dict[str, Any], _buffers: Any) -> None:
        if content.get("type") == "load":
            self.send({"type": "pcm", "rate": self.rate}, [self.pcm])

    def close(self) -> None:
        close_own_parts(self)
        super().close()
