"""Speech synthesis: espeak-ng through ctypes, one distinct voice per GA voice name, at the stated rate and pitch.

Stated bounds at speed 1.0: every voice speaks EVERYDAY_PHRASES (15 phrases, 78 words; time from the first
to the last 10 ms above -40 dBFS) at 190-280 words per minute, measured 212-257 (3 runs on 2026-11-29);
and each voice's median pitch on SENTENCE is within 10% of MEASURED_PITCH_HZ, which varied by under 2%
between runs on 2026-11-29 (espeak-ng's samples differ a little from call to call).
"""

from __future__ import annotations

import itertools
import threading

import numpy as np
import pytest
from speech_fixtures import EVERYDAY_PHRASES, median_pitch_hz, speech, speech_bounds_ms

from realtime_kit.errors import ConfigError
from realtime_kit.server.voice import (
    GA_VOICES,
    VOICE_STYLES,
    _rate_and_gap,
    synthesize,
    synthesize_words,
)

pytestmark = pytest.mark.engines

SENTENCE = "The quick brown fox jumps over the lazy dog. How are you today?"
FEMALE = ("alloy", "coral", "sage", "shimmer", "marin")
MALE = ("ash", "ballad", "echo", "verse", "cedar")
# median pitch of SENTENCE at 16 kHz, measured 2026-11-29 (median_pitch_hz)
MEASURED_PITCH_HZ = {"alloy": 210, "ash": 95, "ballad": 80, "coral": 250, "echo": 107, "sage": 152, "shimmer": 302,
                     "verse": 134, "marin": 168, "cedar": 66}


@pytest.fixture(scope="module")
def pitches() -> dict[str, float]:
    return {voice: median_pitch_hz(speech(SENTENCE, voice, rate=16000), 16000) for voice in GA_VOICES}


def test_every_ga_voice_has_its_own_espeak_voice() -> None:
    """All ten GA voice names are mapped, each to a different espeak voice and variant."""
    assert set(VOICE_STYLES) == set(GA_VOICES)
    assert len({style.espeak_name for style in VOICE_STYLES.values()}) == len(GA_VOICES)


def test_synthesize_gives_int16_mono_at_the_requested_rate() -> None:
    """The same text lasts as long at 24 kHz as at 8 kHz, as int16 mono samples."""
    wide, narrow = synthesize("Hello there.", "alloy", 24000), synthesize("Hello there.", "alloy", 8000)
    assert wide.dtype == np.int16 and wide.ndim == 1 and narrow.dtype == np.int16
    assert wide.size / 24000 == pytest.approx(narrow.size / 8000, rel=0.02)
    assert 0.4 < wide.size / 24000 < 2.0
    assert np.abs(wide).max() > 3000  # audible, not a whisper of rounding noise


def test_blank_text_gives_no_samples() -> None:
    """Empty or whitespace-only text synthesises to an empty int16 array, and no word pieces."""
    assert synthesize("").size == 0 and synthesize("  \n\t").dtype == np.int16
    assert synthesize_words("   ") == []


def test_ga_voices_differ_pairwise_in_pitch(pitches: dict[str, float]) -> None:
    """Every pair of GA voices differs by at least 5% in median pitch."""
    for first, second in itertools.combinations(GA_VOICES, 2):
        low, high = sorted((pitches[first], pitches[second]))
        assert high / low > 1.05, f"{first} ({pitches[first]:.0f} Hz) vs {second} ({pitches[second]:.0f} Hz)"


def test_female_voices_are_higher_than_male_voices(pitches: dict[str, float]) -> None:
    """The lowest female-ish voice is pitched above the highest male-ish voice."""
    assert min(pitches[v] for v in FEMALE) > 1.1 * max(pitches[v] for v in MALE)
    assert all(60 < pitch < 350 for pitch in pitches.values())


def test_every_voice_is_pitched_within_ten_percent_of_its_measured_pitch(pitches: dict[str, float]) -> None:
    """Each GA voice's median pitch is within 10% of the figure measured for it (MEASURED_PITCH_HZ)."""
    assert set(MEASURED_PITCH_HZ) == set(GA_VOICES)
    off = {voice: round(pitches[voice]) for voice, hz in MEASURED_PITCH_HZ.items()
           if abs(pitches[voice] / hz - 1) > 0.1}
    assert off == {}, f"pitches now (Hz): {off}; measured: {MEASURED_PITCH_HZ}"


def test_every_voice_speaks_at_the_stated_rate() -> None:
    """At speed 1.0 each voice says the 15 everyday phrases at 190-280 words per minute (measured 212-257)."""
    words = sum(len(text.split()) for text in EVERYDAY_PHRASES)
    rates = {}
    for voice in GA_VOICES:
        bounds = [speech_bounds_ms(speech(text, voice, rate=16000), 16000) for text in EVERYDAY_PHRASES]
        rates[voice] = round(words / sum(end - start for start, end in bounds) * 60_000)
    assert all(190 <= wpm <= 280 for wpm in rates.values()), rates


def test_speed_scales_the_duration() -> None:
    """Speed 0.5 takes about twice as long as 1.0, 1.5 about two thirds, 0.25 about four times."""
    text = "the cat sat on the mat and then it went to sleep"
    normal = synthesize(text, "alloy", 16000).size
    assert 1.6 < synthesize(text, "alloy", 16000, speed=0.5).size / normal < 2.4
    assert 0.55 < synthesize(text, "alloy", 16000, speed=1.5).size / normal < 0.8
    assert 3.0 < synthesize(text, "alloy", 16000, speed=0.25).size / normal < 5.0


def test_rate_below_espeaks_floor_becomes_pauses_between_words() -> None:
    """Word rates espeak cannot go down to are clamped at 80 wpm plus a word gap; others pass through."""
    assert _rate_and_gap(170.0) == (170, 0)
    assert _rate_and_gap(900.0) == (450, 0)
    words_per_minute, gap = _rate_and_gap(40.0)
    assert words_per_minute == 80 and gap > 0


def test_unknown_voice_and_bad_speed_are_config_errors() -> None:
    """An unknown voice names the valid ones; a speed outside 0.25..1.5 names the range."""
    with pytest.raises(ConfigError, match="alloy, ash, ballad"):
        synthesize("hi", "nova")
    with pytest.raises(ConfigError, match=r"0\.25 to 1\.5"):
        synthesize("hi", "alloy", speed=2.0)


def test_word_pieces_join_back_to_the_text_and_cover_the_speech() -> None:
    """synthesize_words cuts at word starts: texts join to the input, each piece has audio."""
    text = "  Hello there, how are you today? Café au lait."
    pieces = synthesize_words(text, "coral", rate=24000)
    assert "".join(piece for piece, _ in pieces) == text
    assert [piece.strip() for piece, _ in pieces][:3] == ["Hello", "there,", "how"]
    assert all(audio.size > 0 and audio.dtype == np.int16 for _, audio in pieces)
    joined = np.concatenate([audio for _, audio in pieces])
    assert joined.size == pytest.approx(synthesize(text, "coral").size, rel=0.02)


def test_word_pieces_are_in_spoken_order() -> None:
    """A long word's piece lasts longer than a short word's piece in the same sentence."""
    pieces = dict((piece.strip(" ,."), audio.size) for piece, audio in synthesize_words("a, extraordinarily."))
    assert pieces["extraordinarily"] > 2 * pieces["a"]


def test_concurrent_synthesis_from_threads_is_safe() -> None:
    """Four threads synthesising at once each get a complete clip of the expected length."""
    expected = synthesize("one two three four", "echo", 16000).size
    results: list[np.ndarray] = []

    def work() -> None:
        results.append(synthesize("one two three four", "echo", 16000))

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 4
    assert all(abs(clip.size - expected) < 0.02 * expected for clip in results)


def test_synthesised_speech_starts_near_the_beginning() -> None:
    """The voice begins within 150 ms of the clip's start and ends within 150 ms of its end."""
    clip = synthesize("Good morning everyone.", "sage", 24000)
    start_ms, end_ms = speech_bounds_ms(clip, 24000)
    assert start_ms < 150 and clip.size / 24 - end_ms < 150
