"""Deterministic engines for wire tests: a tone code the transcriber reads back word for word, an energy VAD.

    from tone_engines import TONE_ENGINES, tone_speech
    with LocalServer(engines=TONE_ENGINES) as server: ...         # the server's seam (conftest: tone_server)
    samples = tone_speech("one two three", lead_s=0.5, tail_s=1.5)  # int16 at 24 kHz
    tone_transcribe(samples, 24000)                                 # 'one two three', always

The code spells text: each character is a 40 ms tone of its own frequency (400-2620 Hz, inside G.711's
band) and then 20 ms of silence; a spoken text ends with a space, so sentences synthesized one by one
join back into the whole answer. The transcriber finds the bursts and reads each one's frequency, so
resampling (8-48 kHz), gain, G.711 and the server's noise filter leave the words intact. The synthesizer
speaks every answer in the same code, so an answer played back as input is heard exactly. Tests whose
subject is the protocol or the client assert exact words on these; the real engines' accuracy is stated
by their own tests (test_stt.py, test_vad.py, test_voice.py).
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import numpy as np

from realtime_kit.server.engines import Engines

__all__ = ["TONE_ENGINES", "EnergyVad", "tone_speech", "tone_synthesize", "tone_transcribe", "tone_words"]

ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789' "
LOWEST_HZ, STEP_HZ = 400.0, 60.0
TONE_S, GAP_S = 0.040, 0.020
LEVEL = 8000          # about -12 dBFS: far above the energy VAD's 500
_LOUD = 500           # a 5 ms frame with a sample beyond this is part of a burst
_RATE = 24000


def tone_words(text: str) -> str:
    """What the code can say of ``text``: lower case, letters, digits, apostrophes, single spaces."""
    kept = "".join(c for c in text.lower() if c in ALPHABET)
    return " ".join(kept.split())


def tone_synthesize(text: str, voice: str = "alloy", rate: int = _RATE, speed: float = 1.0) -> np.ndarray:
    """``text`` in the tone code, int16 at ``rate`` (``speed`` shortens tones and gaps alike; voice is ignored)."""
    tone_n, gap_n = round(rate * TONE_S / speed), round(rate * GAP_S / speed)
    t = np.arange(tone_n) / rate
    ramp = np.minimum(1.0, np.minimum(np.arange(tone_n), np.arange(tone_n)[::-1]) / (0.003 * rate))  # no clicks
    words, pieces = tone_words(text), []
    for char in f"{words} " if words else "":   # a space after: sentences synthesized apart join with one
        hz = LOWEST_HZ + STEP_HZ * ALPHABET.index(char)
        pieces += [LEVEL * ramp * np.sin(2 * np.pi * hz * t), np.zeros(gap_n)]
    return np.concatenate(pieces).astype(np.int16) if pieces else np.zeros(0, np.int16)


def tone_speech(text: str, lead_s: float = 0.5, tail_s: float = 1.5, rate: int = _RATE) -> np.ndarray:
    """``text`` in the tone code between silences, int16 at ``rate``."""
    quiet = (np.zeros(round(lead_s * rate), np.int16), np.zeros(round(tail_s * rate), np.int16))
    return np.concatenate([quiet[0], tone_synthesize(text, rate=rate), quiet[1]])


def tone_transcribe(samples: np.ndarray, rate: int) -> str:
    """The text spelt by the tone bursts in ``samples``; "" for silence or noise below the burst level."""
    frame = max(1, rate // 200)
    audio = np.asarray(samples, np.int16)[: samples.size - samples.size % frame].astype(np.float64)
    loud = np.abs(audio.reshape(-1, frame)).max(axis=1, initial=0) > _LOUD
    edges = np.flatnonzero(np.diff(np.concatenate([[0], loud.astype(np.int8), [0]])))
    chars = []
    for start, stop in zip(edges[::2] * frame, edges[1::2] * frame, strict=True):
        middle = audio[start + (stop - start) // 5: stop - (stop - start) // 5]
        if middle.size >= rate // 200:   # a burst of at least 5 ms after trimming its edges
            chars.append(_symbol(middle, rate))
    return " ".join("".join(chars).split())


def _symbol(burst: np.ndarray, rate: int) -> str:
    spectrum = np.abs(np.fft.rfft(burst * np.hanning(burst.size), n=8 * rate // 10))   # 1.25 Hz bins
    hz = float(np.fft.rfftfreq(8 * rate // 10, 1 / rate)[int(np.argmax(spectrum))])
    index = round((hz - LOWEST_HZ) / STEP_HZ)
    return ALPHABET[index] if 0 <= index < len(ALPHABET) else ""


class EnergyVad:
    """A scripted VAD: 10 ms frames louder than 500 are speech; honours prefix and silence (not threshold)."""

    def __init__(self, threshold: float, prefix_ms: int, silence_ms: int, rate: int) -> None:
        self.prefix_ms, self.silence_ms, self.rate = prefix_ms, silence_ms, rate
        self.settings = (threshold, prefix_ms, silence_ms, rate)
        self.reset()

    def reset(self) -> None:
        self.carry = np.zeros(0, dtype=np.int16)
        self.frames, self.speaking, self.quiet_ms, self.last_loud_ms = 0, False, 0, 0

    def feed(self, samples: np.ndarray) -> list[Any]:
        frame = self.rate // 100
        data = np.concatenate([self.carry, samples])
        events = []
        while len(data) >= frame:
            chunk, data = data[:frame], data[frame:]
            start_ms, self.frames = self.frames * 10, self.frames + 1
            loud = int(np.abs(chunk.astype(np.int32)).max()) > _LOUD
            if loud and not self.speaking:
                self.speaking = True
                events.append(SimpleNamespace(kind="speech_started", audio_ms=max(0, start_ms - self.prefix_ms)))
            if loud:
                self.quiet_ms, self.last_loud_ms = 0, start_ms + 10
            elif self.speaking:
                self.quiet_ms += 10
                if self.quiet_ms >= self.silence_ms:
                    self.speaking = False
                    events.append(SimpleNamespace(kind="speech_stopped", audio_ms=self.last_loud_ms))
        self.carry = data
        return events


TONE_ENGINES = Engines(synthesize=tone_synthesize, make_vad=EnergyVad, transcribe=tone_transcribe)
