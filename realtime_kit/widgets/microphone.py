"""The browser's microphone as a widget: capture runs in the browser, audio reaches the kernel as bytes.

    mic = rk.Microphone()
    mic                                   # Start / Stop buttons, a level meter, errors in red
    mic.audio                             # rk.Audio of everything recorded, 24 kHz int16
    mic.on_chunk(lambda samples, rate: print(len(samples), rate))   # ~100 ms int16 chunks while recording

The kernel needs no sound card: microphone.js records with getUserMedia and an AudioWorklet,
resamples to 24 kHz PCM16 and sends ~100 ms binary buffers over the widget comm.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from typing import Any

import anywidget
import numpy as np
import traitlets

from .closing import close_own_parts
from .esm import widget_module

ChunkCallback = Callable[[np.ndarray, int], None]
TakeCallback = Callable[[Any], None]  # receives the rk.Audio of one Start..Stop take


class Microphone(anywidget.AnyWidget):
    """Records from the browser's microphone into an `rk.Audio`; streams chunks to callbacks.

        mic = Microphone()
        mic.start(); ...; mic.stop()      # or the widget's own buttons
        mic.audio.duration
    """

    _esm = widget_module("microphone.js")
    _key = traitlets.Unicode().tag(sync=True)  # finds the model's capture controller from each view
    recording = traitlets.Bool(False, help="True while the browser captures").tag(sync=True)
    rate = traitlets.Int(24000, help="sample rate of the chunks the browser sends").tag(sync=True)
    error = traitlets.Unicode("", help="why the browser could not record, as a sentence").tag(sync=True)
    show_button = traitlets.Bool(True, help="show the widget's own Start/Stop button").tag(sync=True)
    level = traitlets.Float(-100.0, help="input level in dBFS, as last saved by the browser").tag(sync=True)

    def __init__(self, *, rate: int = 24000, keep_audio: bool = True, **kwargs: Any) -> None:
        super().__init__(_key=uuid.uuid4().hex, rate=rate, **kwargs)
        self.keep_audio = keep_audio
        self._chunks: list[np.ndarray] = []
        self._take: list[np.ndarray] = []
        self._chunk_callbacks: list[ChunkCallback] = []
        self._take_callbacks: list[TakeCallback] = []
        self.on_msg(self._on_browser_message)

    def start(self) -> None:
        """Ask the browser to record (it may ask the user for permission first)."""
        self.error = ""
        self.recording = True

    def stop(self) -> None:
        """Ask the browser to stop; the last partial chunk still arrives after this returns."""
        self.recording = False

    def clear(self) -> None:
        """Forget what was recorded so far."""
        self._chunks.clear()

    @property
    def audio(self) -> Any:
        """Everything recorded since the widget was made (or cleared), as an `rk.Audio`."""
        return _as_audio(self._chunks, self.rate)

    def on_chunk(self, callback: ChunkCallback) -> Callable[[], None]:
        """Call `callback(samples_int16, rate)` for every chunk; returns a function that unsubscribes."""
        self._chunk_callbacks.append(callback)
        return lambda: _discard(self._chunk_callbacks, callback)

    def on_take(self, callback: TakeCallback) -> Callable[[], None]:
        """Call `callback(audio)` with each Start..Stop recording once its last chunk has arrived."""
        self._take_callbacks.append(callback)
        return lambda: _discard(self._take_callbacks, callback)

    def close(self) -> None:
        """Close the widget and its Layout (no comm stays open)."""
        close_own_parts(self)
        super().close()

    def _on_browser_message(self, _widget: Any, content: dict[str, Any], buffers: Sequence[Any]) -> None:
        kind = content.get("type")
        if kind == "chunk" and buffers:
            self._receive_chunk(pcm16_samples(buffers[0]), int(content.get("rate") or self.rate))
        elif kind == "started":
            self._take = []
        elif kind == "stopped":
            take, self._take = self._take, []
            for take_callback in list(self._take_callbacks):
                take_callback(_as_audio(take, self.rate))

    def _receive_chunk(self, samples: np.ndarray, rate: int) -> None:
        if self.keep_audio:
            self._chunks.append(samples)
        if self._take_callbacks:
            self._take.append(samples)
        for callback in list(self._chunk_callbacks):
            callback(samples, rate)


def pcm16_samples(buffer: Any) -> np.ndarray:
    """Little-endian PCM16 bytes (bytes, memoryview or bytearray) as a fresh int16 array."""
    data = bytes(buffer)
    if len(data) % 2:
        data = data[:-1]  # a torn sample cannot be decoded; drop it rather than fail the stream
    return np.frombuffer(data, dtype="<i2").astype(np.int16)


def _as_audio(chunks: Sequence[np.ndarray], rate: int) -> Any:
    from ..audio.core import Audio  # numpy/scipy-heavy; loaded when the audio is first asked for

    samples = np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.int16)
    return Audio(samples, rate=rate)


def _discard(callbacks: list[Any], callback: Any) -> None:
    if callback in callbacks:
        callbacks.remove(callback)
