"""The tone engines the wire tests hear exact words with: what they promise holds, so exact asserts are honest."""

from __future__ import annotations

import numpy as np
import pytest
from speech_fixtures import white_noise
from tone_engines import EnergyVad, tone_speech, tone_synthesize, tone_transcribe, tone_words

from realtime_kit.audio import Audio
from realtime_kit.server.noise import reduce_noise

pytestmark = pytest.mark.pure

TEXT = "What's 6 times 7? It's 42, isn't it."


def test_the_code_spells_the_text_and_is_read_back_exactly() -> None:
    """Every letter, digit and apostrophe round-trips; case and punctuation fold as a transcript's would."""
    assert tone_words(TEXT) == "what's 6 times 7 it's 42 isn't it"
    assert tone_transcribe(tone_speech(TEXT), 24000) == tone_words(TEXT)
    everything = "abcdefghijklmnopqrstuvwxyz 0123456789 '"
    assert tone_transcribe(tone_synthesize(everything), 24000) == everything


@pytest.mark.parametrize("rate", [8000, 16000, 44100, 48000])
def test_words_survive_resampling(rate: int) -> None:
    """Resampled to another rate (as clients and the server do), the same words are read back."""
    moved = Audio(tone_speech(TEXT), 24000).resample(rate)
    assert tone_transcribe(moved.samples, rate) == tone_words(TEXT)


@pytest.mark.parametrize("kind", ["near_field", "far_field"])
def test_words_survive_the_servers_noise_reduction(kind: str) -> None:
    """The server's noise filters change the level and the band edges, not the words."""
    assert tone_transcribe(reduce_noise(tone_speech(TEXT), 24000, kind), 24000) == tone_words(TEXT)


@pytest.mark.parametrize("speed", [0.25, 1.0, 1.5])
def test_every_speed_is_read_back_and_scales_the_duration(speed: float) -> None:
    """Any GA speed keeps the words; the audio lasts 1/speed as long."""
    said = tone_synthesize(TEXT, speed=speed)
    assert tone_transcribe(said, 24000) == tone_words(TEXT)
    assert said.size == pytest.approx(tone_synthesize(TEXT).size / speed, rel=0.01)


def test_silence_quiet_noise_and_nothing_are_no_words() -> None:
    """Digital silence, white noise at -40 dBFS and an empty array all give ""; so does text with no letters."""
    assert tone_transcribe(np.zeros(24000, np.int16), 24000) == ""
    assert tone_transcribe(white_noise(1.0, dbfs=-40.0), 24000) == ""
    assert tone_transcribe(np.zeros(0, np.int16), 24000) == ""
    assert tone_synthesize("?!").size == 0


def test_the_energy_vad_finds_the_words_where_they_are() -> None:
    """One turn: started at the first tone (minus prefix), stopped after the last, once silence_ms has passed."""
    clip = tone_speech("hello there", lead_s=0.5, tail_s=1.0)
    events = EnergyVad(0.5, 100, 500, 24000).feed(clip)
    spoken_ms = round(tone_synthesize("hello there").size / 24)
    assert [(e.kind, e.audio_ms) for e in events] == [("speech_started", 400),
                                                      ("speech_stopped", 500 + spoken_ms - 20)]
