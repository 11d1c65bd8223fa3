"""Speech synthesis for the local server: espeak-ng from the `espeakng-loader` wheel, through ctypes.

    from realtime_kit.server.voice import synthesize, synthesize_words
    samples = synthesize("Hello there.", voice="coral", rate=24000)   # int16 mono at 24 kHz
    for piece, audio in synthesize_words("Hello there.", voice="ash"):  # transcript piece + its audio
        ...

Each GA voice name is a different espeak-ng voice: a variant (formants, pitch band, breathiness), an
accent, a pitch, a pitch range (how much the intonation moves) and a speaking rate.

    voice    espeak voice       pitch range  wpm   median f0  sounds like
    alloy    en-us+f5             55    50   165   ~210 Hz    clear, breathy American female (best for STT)
    ash      en-us+m3             45    45   175    ~95 Hz    plain American male
    ballad   en-gb-x-rp+m7        10    60   150    ~80 Hz    slow, soft British male
    coral    en-us+f2             75    70   180   ~250 Hz    bright, lively female
    echo     en-us+edward         60    40   165   ~107 Hz    smooth Klatt-synthesised male
    sage     en-gb-x-rp+f4        40    35   160   ~153 Hz    calm British female, a little echo
    shimmer  en-us+f3             90    60   185   ~300 Hz    high, quick female
    verse    en-us+klatt4         75    90   175   ~134 Hz    expressive, buzzy Klatt male
    marin    en-029+f1            45    55   170   ~168 Hz    Caribbean-accented female
    cedar    en-us+m6             10    30   155    ~66 Hz    deep, slow male

espeak-ng renders at 22050 Hz; the result is resampled with `scipy.signal.resample_poly` to the
rate asked for (24000 for PCM16, 8000 for G.711). `speed` follows the GA `audio.output.speed`
(0.25 to 1.5) and scales the words per minute; below espeak-ng's 80 wpm floor the missing time is
added as pauses between words. The library keeps global state, so one lock serialises every call;
part of that state (the phase of the pitch flutter) carries over from call to call, so the same
text may come out a few samples different each time.
"""

from __future__ import annotations

import ctypes
import threading
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..audio.core import resample_int16 as resample
from ..errors import ConfigError
from ..rules import SPEED_RANGE, voices

GA_VOICES = voices()
ESPEAK_RATE = 22050
MIN_SPEED, MAX_SPEED = SPEED_RANGE


@dataclass(frozen=True)
class VoiceStyle:
    """How one GA voice is rendered by espeak-ng (pitch and range are espeak's 0..100 scales)."""

    espeak_name: str
    pitch: int
    pitch_range: int
    words_per_minute: int
    description: str


VOICE_STYLES: dict[str, VoiceStyle] = {
    "alloy": VoiceStyle("en-us+f5", 55, 50, 165, "clear, breathy American female"),
    "ash": VoiceStyle("en-us+m3", 45, 45, 175, "plain American male"),
    "ballad": VoiceStyle("en-gb-x-rp+m7", 10, 60, 150, "slow, soft British male"),
    "coral": VoiceStyle("en-us+f2", 75, 70, 180, "bright, lively female"),
    "echo": VoiceStyle("en-us+edward", 60, 40, 165, "smooth Klatt-synthesised male"),
    "sage": VoiceStyle("en-gb-x-rp+f4", 40, 35, 160, "calm British female, a little echo"),
    "shimmer": VoiceStyle("en-us+f3", 90, 60, 185, "high, quick female"),
    "verse": VoiceStyle("en-us+klatt4", 75, 90, 175, "expressive, buzzy Klatt male"),
    "marin": VoiceStyle("en-029+f1", 45, 55, 170, "Caribbean-accented female"),
    "cedar": VoiceStyle("en-us+m6", 10, 30, 155, "deep, slow male"),
}

# espeak_lib.h enums, by value
_AUDIO_OUTPUT_SYNCHRONOUS = 2
_POS_CHARACTER = 1
_CHARS_UTF8 = 1
_EVENT_LIST_TERMINATED, _EVENT_WORD = 0, 1
_PARAM_RATE, _PARAM_PITCH, _PARAM_RANGE, _PARAM_WORDGAP = 1, 3, 4, 7
_MIN_WPM, _MAX_WPM = 80, 450
_SECONDS_PER_GAP_UNIT = 0.036  # measured: one espeakWORDGAP unit adds about 36 ms per word at 80 wpm


class _EspeakEvent(ctypes.Structure):
    # espeak_EVENT; the trailing union (number | name | char[8]) is pointer-sized
    _fields_ = [
        ("type", ctypes.c_int),
        ("unique_identifier", ctypes.c_uint),
        ("text_position", ctypes.c_int),
        ("length", ctypes.c_int),
        ("audio_position", ctypes.c_int),
        ("sample", ctypes.c_int),
        ("user_data", ctypes.c_void_p),
        ("id", ctypes.c_void_p),
    ]


_SynthCallback = ctypes.CFUNCTYPE(
    ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.POINTER(_EspeakEvent)
)


@dataclass(frozen=True)
class _Rendered:
    samples: np.ndarray  # int16 at ESPEAK_RATE
    word_starts: list[tuple[int, int]]  # (0-based character index in the text, sample index)


class _Espeak:
    """The process-wide espeak-ng library: loaded on first use, one synthesis at a time."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._lib: Any = None
        self._callback: Any = None  # keeps the ctypes callback alive as long as the library holds it
        self._chunks: list[np.ndarray] = []
        self._words: list[tuple[int, int]] = []

    def _load(self) -> Any:
        import espeakng_loader

        lib = ctypes.CDLL(espeakng_loader.get_library_path())
        lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        lib.espeak_Synth.argtypes = [
            ctypes.c_void_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int,
            ctypes.c_uint, ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p,
        ]  # fmt: skip
        data_path = espeakng_loader.get_data_path().encode()
        rate = lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 0, data_path, 0)
        if rate != ESPEAK_RATE:
            raise RuntimeError(f"espeak-ng failed to start (returned {rate}); reinstall the espeakng-loader wheel.")
        self._callback = _SynthCallback(self._collect)
        lib.espeak_SetSynthCallback(self._callback)
        return lib

    def _collect(self, wav: Any, count: int, events: Any) -> int:
        if count > 0:
            self._chunks.append(np.ctypeslib.as_array(wav, (count,)).copy())
        index = 0
        while events[index].type != _EVENT_LIST_TERMINATED:
            event = events[index]
            if event.type == _EVENT_WORD:
                self._words.append((event.text_position - 1, event.sample))
            index += 1
        return 0  # 0 = carry on synthesising

    def render(self, text: str, style: VoiceStyle, speed: float) -> _Rendered:
        with self._lock:
            if self._lib is None:
                self._lib = self._load()
            self._configure(style, speed)
            self._chunks, self._words = [], []
            data = text.replace("\0", " ").encode("utf-8") + b"\0"  # a NUL inside would end the text
            status = self._lib.espeak_Synth(data, len(data), 0, _POS_CHARACTER, 0, _CHARS_UTF8, None, None)
            self._lib.espeak_Synchronize()
            if status != 0:
                raise RuntimeError(f"espeak-ng could not synthesise the text (status {status}).")
            samples = np.concatenate(self._chunks) if self._chunks else np.zeros(0, np.int16)
            return _Rendered(samples.astype(np.int16, copy=False), list(self._words))

    def _configure(self, style: VoiceStyle, speed: float) -> None:
        if self._lib.espeak_SetVoiceByName(style.espeak_name.encode()) != 0:
            raise RuntimeError(f"espeak-ng has no voice {style.espeak_name!r}; reinstall espeakng-loader.")
        words_per_minute, word_gap = _rate_and_gap(style.words_per_minute * speed)
        self._lib.espeak_SetParameter(_PARAM_RATE, words_per_minute, 0)
        self._lib.espeak_SetParameter(_PARAM_WORDGAP, word_gap, 0)
        self._lib.espeak_SetParameter(_PARAM_PITCH, style.pitch, 0)
        self._lib.espeak_SetParameter(_PARAM_RANGE, style.pitch_range, 0)


def _rate_and_gap(words_per_minute: float) -> tuple[int, int]:
    """espeak's rate in wpm, plus the pause between words (10 ms units) that makes up for its floor."""
    if words_per_minute >= _MIN_WPM:
        return min(round(words_per_minute), _MAX_WPM), 0
    missing_seconds = 60.0 / words_per_minute - 60.0 / _MIN_WPM
    return _MIN_WPM, round(missing_seconds / _SECONDS_PER_GAP_UNIT)


_ENGINE = _Espeak()


def voice_style(voice: str) -> VoiceStyle:
    """The espeak rendering of a GA voice name; ConfigError naming the valid ones otherwise."""
    style = VOICE_STYLES.get(voice)
    if style is None:
        raise ConfigError(
            f"Unknown voice {voice!r}; the local server speaks with one of: {', '.join(GA_VOICES)}.",
            path="session.audio.output.voice",
        )
    return style


def _check_speed(speed: float) -> None:
    if not MIN_SPEED <= speed <= MAX_SPEED:
        raise ConfigError(
            f"Speed {speed} is out of range; use a value from {MIN_SPEED} to {MAX_SPEED} (1.0 is normal).",
            path="session.audio.output.speed",
        )


def synthesize(text: str, voice: str = "alloy", rate: int = 24000, speed: float = 1.0) -> np.ndarray:
    """Speak `text` in a GA voice: int16 mono samples at `rate`; empty for blank text. Thread-safe.

    >>> synthesize("Hi.", "verse", rate=8000).dtype
    dtype('int16')
    """
    style = voice_style(voice)
    _check_speed(speed)
    if not text.strip():
        return np.zeros(0, np.int16)
    return resample(_ENGINE.render(text, style, speed).samples, ESPEAK_RATE, rate)


def synthesize_words(
    text: str, voice: str = "alloy", rate: int = 24000, speed: float = 1.0
) -> list[tuple[str, np.ndarray]]:
    """Speak `text` once and cut it at word starts: (text piece, its audio) pairs, in order.

    The pieces' texts join back to `text` and their audio joins back to one rendering of the whole
    text (natural prosody across words), so a server can send each transcript delta just before the
    audio that speaks it. Numbers split into pieces too: "$25.50" -> "$", "2", "5.50 ".

    >>> [piece for piece, _ in synthesize_words("Hello there.")]
    ['Hello ', 'there.']
    """
    style = voice_style(voice)
    _check_speed(speed)
    if not text.strip():
        return []
    rendered = _ENGINE.render(text, style, speed)
    audio = resample(rendered.samples, ESPEAK_RATE, rate)
    cuts = _word_cuts(rendered.word_starts, len(text), rendered.samples.size)
    # cut points at the output rate; the last one is the end of the resampled audio itself
    edges = [round(sample * rate / ESPEAK_RATE) for _, sample in cuts[:-1]] + [audio.size]
    return [(text[cuts[i][0] : cuts[i + 1][0]], audio[edges[i] : edges[i + 1]]) for i in range(len(cuts) - 1)]


def _word_cuts(word_starts: list[tuple[int, int]], text_length: int, sample_count: int) -> list[tuple[int, int]]:
    """(char, sample) boundaries from 0 to the end, increasing in both, one per word after the first."""
    cuts = [(0, 0)]
    for char_index, sample_index in word_starts:
        if cuts[-1][0] < char_index < text_length and sample_index > cuts[-1][1]:
            cuts.append((char_index, min(sample_index, sample_count)))
    cuts.append((text_length, sample_count))
    return cuts
