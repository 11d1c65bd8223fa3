"""Noise reduction, pure: near_field and far_field filters, and that VAD and transcription get the filtered audio."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import signal
from test_protocol import append, drain, new, of_type, send, speech

from realtime_kit.server.noise import NoiseReducer, reduce_noise

pytestmark = pytest.mark.pure

RATE = 24000


def tone(hz: float, seconds: float, amplitude: float) -> np.ndarray:
    t = np.arange(int(RATE * seconds)) / RATE
    return (amplitude * np.sin(2 * np.pi * hz * t)).astype(np.int16)


def band_level(samples: np.ndarray, low: float, high: float) -> float:
    """Mean power spectral density between low and high Hz (scipy.signal.welch)."""
    freqs, power = signal.welch(samples.astype(np.float64), fs=RATE, nperseg=2048)
    return float(power[(freqs >= low) & (freqs <= high)].mean())


def test_far_field_keeps_the_speech_band_and_near_field_keeps_the_highs() -> None:
    """The band filters (strength 0, no expander): far_field cuts 6 kHz 20 dB below near_field; both keep 1 kHz."""
    mix = tone(40, 2, 3000) + tone(1000, 2, 3000) + tone(6000, 2, 3000)
    near, far = reduce_noise(mix, RATE, "near_field", 0.0), reduce_noise(mix, RATE, "far_field", 0.0)
    for cleaned in (near, far):
        assert band_level(cleaned, 900, 1100) > 0.5 * band_level(mix, 900, 1100)
        assert band_level(cleaned, 30, 50) < 0.2 * band_level(mix, 30, 50)
    assert band_level(far, 5900, 6100) < 0.01 * band_level(near, 5900, 6100)


def test_steady_noise_between_words_is_turned_down_by_strength() -> None:
    """Hiss alone falls by strength x the type's depth; strength 0 leaves only the band filter."""
    hiss = np.random.default_rng(1).normal(0, 400, RATE * 3).astype(np.int16)
    level = {strength: float(np.sqrt(np.mean(reduce_noise(hiss, RATE, "near_field", strength)[RATE:] ** 2.0)))
             for strength in (0.0, 0.5, 1.0)}
    assert level[1.0] < level[0.5] < level[0.0]
    assert 20 * np.log10(level[0.0] / level[1.0]) == pytest.approx(12.0, abs=2.0)


def test_streaming_in_chunks_equals_one_pass() -> None:
    """The filter state carries across appends: 100 ms chunks give the same samples as the whole clip."""
    clip = np.random.default_rng(2).normal(0, 2000, RATE).astype(np.int16)
    reducer = NoiseReducer("far_field", 1.0, RATE)
    chunked = np.concatenate([reducer.process(clip[i:i + 2400]) for i in range(0, len(clip), 2400)])
    assert np.array_equal(chunked, reduce_noise(clip, RATE, "far_field"))


def hum_session(noise_reduction: dict[str, object] | None) -> list[dict[str, object]]:
    """Half a second of silence, then 2 s of 50 Hz mains hum, with the test's energy VAD and transcription on."""
    proto = new()
    send(proto, type="session.update", session={"type": "realtime", "audio": {"input": {
        "noise_reduction": noise_reduction, "transcription": {"model": "whisper-1"},
        "turn_detection": {"type": "server_vad", "create_response": False}}}})
    updated = of_type(drain(proto), "session.updated")[0]["session"]
    append(proto, np.zeros(RATE // 2, np.int16))
    append(proto, tone(50, 2.0, 1500))
    append(proto, np.zeros(RATE, np.int16))
    return [updated, *[out.event for out in drain(proto)]]


def test_noise_reduction_moves_vad_decisions_and_what_transcription_hears() -> None:
    """Hum is speech to the VAD (and words to transcription) without reduction; with near_field, nothing."""
    plain = hum_session(None)
    assert [e for e in plain if e["type"] == "input_audio_buffer.speech_started"]
    assert next(e for e in plain if e["type"].endswith("transcription.completed"))["transcript"]
    cleaned = hum_session({"type": "near_field"})
    assert cleaned[0]["audio"]["input"]["noise_reduction"] == {"type": "near_field", "strength": 1.0}
    assert not [e for e in cleaned if e["type"].startswith("input_audio_buffer.speech")]


def test_speech_still_gets_through_far_field() -> None:
    """A loud 440 Hz 'voice' (the test's speech) still starts and ends a turn through far_field."""
    proto = new()
    send(proto, type="session.update", session={"type": "realtime", "audio": {"input": {
        "noise_reduction": {"type": "far_field", "strength": 0.5},
        "turn_detection": {"type": "server_vad", "create_response": False}}}})
    drain(proto)
    append(proto, speech(1.0))
    append(proto, np.zeros(RATE, np.int16))
    assert of_type(drain(proto), "input_audio_buffer.speech_stopped")
