"""Input noise reduction for the local server: ``near_field`` and ``far_field`` filters (scipy.signal).

The SDK: "Noise reduction filters audio added to the input audio buffer before it is sent to VAD and
the model"; ``near_field`` "is for close-talking microphones such as headphones, far_field is for
far-field microphones such as laptop or conference room microphones"; ``strength`` "Defaults to 1
when noise reduction is first enabled. Omitting strength from a session update preserves the current
strength." The local filters, two stages each, streaming (state carried from append to append):

- a Butterworth filter (``scipy.signal.butter``, second-order sections, ``sosfilt`` with its state):
  near_field a high-pass at 80 Hz (breath and handling rumble); far_field a band-pass 200-3800 Hz
  (room rumble and hiss outside the speech band), so far_field sounds like a telephone;
- a downward expander per 10 ms frame: frames within 6 dB of the noise floor (the quietest frame of the
  last two seconds, exact digital silence aside) are turned down by ``strength`` x 12 dB (near) or
  x 20 dB (far), so steady noise between words falls away while speech passes.

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> hiss = (rng.normal(0, 300, 24000)).astype(np.int16)
    >>> quieter = NoiseReducer("far_field", 1.0, 24000).process(hiss)
    >>> bool(np.abs(quieter).mean() < np.abs(hiss).mean() / 3)
    True
"""

from __future__ import annotations

import base64
from collections import deque
from collections.abc import Mapping
from typing import Any

import numpy as np

from .audio_format import decode, encode, rate_of
from .wire import b64decode

__all__ = ["BANDS", "InputFilter", "NoiseReducer", "merged_noise_reduction", "reduce_noise"]

# type -> (Butterworth band in Hz (low, high or None), order, dB turned down at strength 1)
BANDS: dict[str, tuple[tuple[float, float | None], int, float]] = {
    "near_field": ((80.0, None), 2, 12.0),
    "far_field": ((200.0, 3800.0), 4, 20.0),
}
FRAME_MS = 10
FLOOR_WINDOW_MS = 2000       # the noise floor is the quietest frame of this much recent audio
EXPAND_BELOW_DB = 6.0        # frames this close to the floor count as noise
DIGITAL_SILENCE = 1.0        # int16 RMS below which a frame is exact silence, not noise


class NoiseReducer:
    """One session's input filter: feed int16 chunks in order to `process`; state carries across chunks."""

    def __init__(self, kind: str, strength: float, rate: int) -> None:
        from scipy import signal  # imported here: the server starts without it until a session asks

        self._signal = signal
        (low, high), order, depth_db = BANDS[kind]
        nyquist = rate / 2
        if high is None or high >= nyquist:
            self._sos = signal.butter(order, low, btype="highpass", fs=rate, output="sos")
        else:
            self._sos = signal.butter(order, (low, high), btype="bandpass", fs=rate, output="sos")
        self._state = signal.sosfilt_zi(self._sos) * 0.0
        self._cut = 10 ** (-depth_db * max(0.0, strength) / 20)
        self._frame = max(1, rate * FRAME_MS // 1000)
        self._levels: deque[float] = deque(maxlen=FLOOR_WINDOW_MS // FRAME_MS)
        self.settings = (kind, strength, rate)

    def process(self, samples: np.ndarray) -> np.ndarray:
        """The filtered int16 samples (same length)."""
        if samples.size == 0:
            return samples
        filtered, self._state = self._signal.sosfilt(self._sos, samples.astype(np.float64), zi=self._state)
        return np.clip(self._expand(filtered), -32768, 32767).astype(np.int16)

    def _expand(self, audio: np.ndarray) -> np.ndarray:
        out = audio.copy()
        for start in range(0, len(audio), self._frame):
            frame = out[start:start + self._frame]
            level = float(np.sqrt(np.mean(frame ** 2))) + 1e-9
            if level >= DIGITAL_SILENCE:   # a file's exact zeros are no noise floor (no microphone gives them)
                self._levels.append(level)
            floor = min(self._levels, default=level)
            if 20 * np.log10(level / floor) < EXPAND_BELOW_DB:
                frame *= self._cut
        return out


class InputFilter:
    """A session's noise reduction on its appends: rebuilt when the settings change, off when null."""

    def __init__(self) -> None:
        self._reducer: NoiseReducer | None = None

    def apply(self, encoded: str, kind: str, settings: Any) -> str:
        """The base64 audio of one append, filtered when ``settings`` (audio.input.noise_reduction) is on."""
        if not isinstance(settings, Mapping) or settings.get("type") not in BANDS:
            self._reducer = None
            return encoded
        key = (str(settings["type"]), float(settings.get("strength", 1.0)), rate_of(kind))
        if self._reducer is None or self._reducer.settings != key:
            self._reducer = NoiseReducer(*key)
        samples = decode(b64decode(encoded, "audio"), kind)
        return base64.b64encode(encode(self._reducer.process(samples), kind)).decode("ascii")


def reduce_noise(samples: np.ndarray, rate: int, kind: str = "near_field", strength: float = 1.0) -> np.ndarray:
    """The local server's noise reduction applied to a whole clip (what VAD and transcription get).

        cleaned = reduce_noise(audio.samples, audio.rate, "far_field")
    """
    return NoiseReducer(kind, strength, rate).process(np.asarray(samples).reshape(-1).astype(np.int16, copy=False))


def merged_noise_reduction(current: Any, update: Any) -> Any:
    """The effective noise_reduction after an update: strength 1 when first enabled, kept when omitted.

        >>> merged_noise_reduction(None, {"type": "near_field"})
        {'type': 'near_field', 'strength': 1.0}
        >>> merged_noise_reduction({"type": "near_field", "strength": 0.3}, {"type": "far_field"})
        {'type': 'far_field', 'strength': 0.3}
    """
    if not isinstance(update, Mapping):
        return update
    strength = current.get("strength", 1.0) if isinstance(current, Mapping) else 1.0
    return {"type": update.get("type") or (current or {}).get("type"), "strength": strength, **{
        key: value for key, value in update.items() if key != "type" and value is not None}}
