"""When server VAD says speech stopped, in the audio's own clock: about silence_duration_ms after the end of speech.

Silero's score trails the end of speech by 20-40 ms and comes in 32 ms windows; the segmenter starts the
silence clock where loud audio really ended and closes it as soon as the audio heard (scored, or quiet
past the last window) covers the silence. These run the real Silero model on espeak-ng speech, which
is deterministic: no recognition luck involved.
"""

from __future__ import annotations

import numpy as np
import pytest
from speech_fixtures import silence, speech

from realtime_kit.server.vad import SileroVad, SpeechSegmenter, VadEvent

pytestmark = pytest.mark.engines

RATE = 24000
QUESTIONS = ("what time is it", "where is the nearest train station", "i would like a cup of coffee")


def loud_end_ms(samples: np.ndarray) -> float:
    """Where the last sample above -40 dBFS (328 of int16) ends: the end of speech, by the VAD's own measure."""
    return (np.flatnonzero(np.abs(samples.astype(np.int32)) > 328)[-1] + 1) * 1000 / RATE


def stopped_at(samples: np.ndarray, chunk_ms: int, silence_ms: int) -> tuple[float, VadEvent]:
    """(ms of audio fed when speech_stopped came out, the event), feeding ``chunk_ms`` chunks."""
    vad = SileroVad(0.5, 300, silence_ms, RATE)
    step = RATE * chunk_ms // 1000
    for start in range(0, samples.size, step):
        for event in vad.feed(samples[start:start + step]):
            if event.kind == "speech_stopped":
                return (start + step) * 1000 / RATE, event
    raise AssertionError("no speech_stopped")


@pytest.mark.parametrize("lead_ms", [500, 537, 571])
@pytest.mark.parametrize("text", QUESTIONS)
def test_speech_stopped_comes_about_the_silence_duration_after_the_end_of_speech(text: str, lead_ms: int) -> None:
    """Fed in 20 ms chunks, speech_stopped comes out within silence + 60 ms of the end of speech (the last
    sample above -40 dBFS), and its audio_ms is at most 50 ms after that end (a window and a half of Silero)."""
    samples = np.concatenate([silence(lead_ms / 1000, RATE), speech(text, "alloy", RATE), silence(1.5, RATE)])
    end_ms = loud_end_ms(samples)
    decided_ms, event = stopped_at(samples, 20, 200)
    assert 200 <= decided_ms - end_ms <= 260, (decided_ms, end_ms)
    assert -10 <= event.audio_ms - end_ms <= 50, (event.audio_ms, end_ms)


def test_the_decision_waits_for_a_chunk_that_covers_the_silence() -> None:
    """With 100 ms chunks the decision comes with the chunk that completes the silence, never before it."""
    samples = np.concatenate([silence(0.5, RATE), speech("what time is it", "alloy", RATE), silence(1.5, RATE)])
    end_ms = loud_end_ms(samples)
    decided_ms, event = stopped_at(samples, 100, 200)
    assert decided_ms - event.audio_ms >= 200 and decided_ms - end_ms <= 200 + 100 + 40


def fed_until_stop(voice: np.ndarray, tail: np.ndarray, chunk: int) -> tuple[float, int]:
    """Feed ``voice`` whole, then ``tail`` in ``chunk``-sample pieces; (ms fed at speech_stopped, its audio_ms)."""
    vad = SileroVad(0.5, 0, 200, RATE)
    vad.feed(voice)
    for start in range(0, tail.size, chunk):
        stops = [e for e in vad.feed(tail[start:start + chunk]) if e.kind == "speech_stopped"]
        if stops:
            return (voice.size + start + chunk) * 1000 / RATE, stops[0].audio_ms
    raise AssertionError("no speech_stopped")


def test_a_quiet_tail_closes_between_windows_and_a_loud_one_waits_for_silero() -> None:
    """In 4 ms chunks, silence heard past the last 32 ms window ends the turn within 4 ms of the silence
    duration; the same tail with a click in every chunk is not called silence until Silero scores it."""
    voice = np.concatenate([silence(0.5, RATE), speech("what time is it", "alloy", RATE)])
    quiet = silence(1.0, RATE)
    clicks = quiet.copy()
    clicks[::96] = 1000  # one sample above SPEECH_PEAK every 4 ms
    quiet_at, quiet_from = fed_until_stop(voice, quiet, 96)
    click_at, _ = fed_until_stop(voice, clicks, 96)
    assert 200 <= quiet_at - quiet_from < 204
    assert click_at > quiet_at


def test_segmenter_without_loudness_keeps_window_timing() -> None:
    """Told only probabilities, the silence starts at the first quiet window, as before."""
    segmenter = SpeechSegmenter(threshold=0.5, prefix_padding_ms=0, silence_duration_ms=64)
    assert [segmenter.step(p) for p in (0.9, 0.9, 0.1, 0.1)][-1] == VadEvent("speech_stopped", 64)


def test_silence_clock_starts_where_loud_audio_ended_but_not_before_the_previous_window() -> None:
    """The loud end moves the silence start back into the last window or the one before, never earlier."""
    near = SpeechSegmenter(threshold=0.5, prefix_padding_ms=0, silence_duration_ms=1000)
    near.step(0.9, loud_end_ms=32)
    near.step(0.9, loud_end_ms=12)   # loud audio ends at 32 + 12 = 44 ms
    near.step(0.1)                    # Silero calls window 64..96 silent
    assert near.heard_quiet_until(1044) == VadEvent("speech_stopped", 44)
    far = SpeechSegmenter(threshold=0.5, prefix_padding_ms=0, silence_duration_ms=1000)
    far.step(0.9, loud_end_ms=4)
    for _ in range(4):
        far.step(0.9)                 # Silero still hears speech in quiet windows (its score lags)
    far.step(0.1)                     # window 160..192 silent: the clock starts no earlier than 128
    assert far.heard_quiet_until(1127) is None and far.heard_quiet_until(1128) == VadEvent("speech_stopped", 128)
