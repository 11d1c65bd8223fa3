"""Speech, silence and noise for tests, made on the spot by the local server's voice (no files shipped).

    from speech_fixtures import speech, speech_with_silence, speech_bounds_ms
    samples = speech_with_silence("what time is it", lead_s=0.5, tail_s=1.0)   # int16 at 24 kHz
    start_ms, end_ms = speech_bounds_ms(samples, 24000)                       # where the voice really is
    path = write_wav(tmp_path / "question.wav", samples, 24000)

`alloy` is the default voice because pocketsphinx understands it best (WER about 0.1 at 24 kHz: test_stt.py).
espeak-ng's samples differ slightly from call to call (so do the engines' figures); `speech` caches one per process.
"""

from __future__ import annotations

import typing
import wave
from functools import lru_cache
from pathlib import Path

import numpy as np

from realtime_kit.server.live_stt import LiveTurns
from realtime_kit.server.voice import synthesize
from realtime_kit.server.workers import TurnRouter

# a fixed set of everyday requests: the engine tests state their accuracy over it, bench/bench_engines.py measures it
EVERYDAY_PHRASES = (
    "hello how are you today",
    "what is the weather like in london",
    "please turn on the lights",
    "i would like a cup of coffee",
    "tell me a joke",
    "the quick brown fox jumps over the lazy dog",
    "good morning everyone",
    "can you hear me now",
    "thank you very much",
    "what time is it",
    "open the door please",
    "i want to book a table for two",
    "where is the nearest train station",
    "my name is john",
    "play some music",
)
# requests with rarer words (none of them in the 15 above): the vocabulary the decoders search is judged on them too
WIDER_PHRASES = (
    "can you summarize the meeting notes from yesterday",
    "translate this paragraph into french",
    "what is the weather forecast for tomorrow in seattle",
    "set a timer for ten minutes",
    "how far is the airport from the city center",
    "remind me to call my mother on sunday",
    "what is the capital of australia",
    "explain how a microphone turns sound into electricity",
    "the temperature should be around twenty degrees",
    "please speak more slowly",
    "i think the latency is too high today",
    "change the voice to something more cheerful",
    "what does this error message mean",
    "schedule a meeting with the engineering team",
    "how many people live in new york",
    "read me the latest news about technology",
    "i need a recipe for chocolate cake",
    "the train was delayed by forty five minutes",
    "could you recommend a good book about history",
    "my computer keeps crashing when i open the browser",
)


@lru_cache(maxsize=64)
def _cached_speech(text: str, voice: str, rate: int, speed: float) -> np.ndarray:
    samples = synthesize(text, voice, rate, speed)
    samples.setflags(write=False)
    return samples


def speech(text: str, voice: str = "alloy", rate: int = 24000, speed: float = 1.0) -> np.ndarray:
    """`text` spoken by a GA voice: int16 mono at `rate` (cached, so a fresh writable copy each call)."""
    return _cached_speech(text, voice, rate, speed).copy()


def silence(seconds: float, rate: int = 24000) -> np.ndarray:
    """Digital silence: int16 zeros."""
    return np.zeros(round(seconds * rate), np.int16)


def white_noise(seconds: float, rate: int = 24000, dbfs: float = -40.0, seed: int = 0) -> np.ndarray:
    """Gaussian white noise whose RMS is `dbfs` relative to int16 full scale (seeded: repeatable)."""
    rms = 32768 * 10 ** (dbfs / 20)
    noise = np.random.default_rng(seed).normal(0.0, rms, round(seconds * rate))
    return np.clip(np.round(noise), -32768, 32767).astype(np.int16)


def speech_with_silence(
    text: str, lead_s: float = 0.5, tail_s: float = 1.0, voice: str = "alloy", rate: int = 24000
) -> np.ndarray:
    """`text` spoken with `lead_s` seconds of silence before and `tail_s` after."""
    return np.concatenate([silence(lead_s, rate), speech(text, voice, rate), silence(tail_s, rate)])


def speech_bounds_ms(samples: np.ndarray, rate: int, threshold_dbfs: float = -40.0) -> tuple[int, int]:
    """(first, last) ms where the signal's 10 ms RMS exceeds threshold_dbfs: the true speech extent."""
    frame = rate // 100
    frames = samples[: samples.size - samples.size % frame].astype(np.float64).reshape(-1, frame)
    loud = np.flatnonzero(np.sqrt(np.mean(frames**2, axis=1)) > 32768 * 10 ** (threshold_dbfs / 20))
    if loud.size == 0:
        raise ValueError("No speech found: every 10 ms frame is below the threshold; lower threshold_dbfs.")
    return int(loud[0]) * 10, int(loud[-1] + 1) * 10


def write_wav(path: str | Path, samples: np.ndarray, rate: int = 24000) -> Path:
    """Write int16 mono samples to a 16-bit PCM WAV file and return its path."""
    path = Path(path)
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(np.asarray(samples, np.int16).tobytes())
    return path


def median_pitch_hz(samples: np.ndarray, rate: int) -> float:
    """Median fundamental frequency of the voiced 40 ms frames (autocorrelation, 60-400 Hz)."""
    audio = samples.astype(np.float64) / 32768
    frame, lowest_lag, highest_lag = int(0.04 * rate), int(rate / 400), int(rate / 60)
    pitches = []
    for start in range(0, audio.size - frame, frame // 2):
        chunk = audio[start : start + frame] - audio[start : start + frame].mean()
        if np.sqrt(np.mean(chunk**2)) < 0.02:
            continue  # too quiet to be a voiced sound
        correlation = np.correlate(chunk, chunk, "full")[frame - 1 :]
        lag = lowest_lag + int(np.argmax(correlation[lowest_lag:highest_lag]))
        if correlation[lag] > 0.5 * correlation[0]:  # clearly periodic: voiced
            pitches.append(rate / lag)
    return float(np.median(pitches)) if pitches else 0.0


def spectral_centroid_hz(samples: np.ndarray, rate: int) -> float:
    """Magnitude-weighted mean frequency of the whole clip: brightness of a voice."""
    magnitude = np.abs(np.fft.rfft(samples.astype(np.float64)))
    return float((magnitude * np.fft.rfftfreq(samples.size, 1 / rate)).sum() / magnitude.sum())


def hear_live(turns: LiveTurns, router: TurnRouter, clip: np.ndarray, item_id: str, session_id: str,
              rate: int = 24000, hurry: bool = False) -> str:
    """One turn through the server's live decoders, streamed in 100 ms chunks like a microphone; ``router`` keeps
    each session's CMN between its turns, as the server's workers do; ``hurry``: the cheaper search."""
    chunk = rate // 10
    _, normalisation = router.start(item_id, session_id)
    turns.handle("start", item_id, np.zeros(0, np.int16), rate, normalisation, hurry=hurry)
    for start in range(0, clip.size, chunk):
        turns.handle("feed", item_id, clip[start:start + chunk], rate)
    words, left = typing.cast(tuple[str, str], turns.handle("end", item_id, np.zeros(0, np.int16), rate))
    router.end(item_id, left)
    return words
