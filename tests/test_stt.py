"""Input transcription: pocketsphinx hears what the local voice says.

Measured with bench/bench_engines.py (15 everyday phrases, 24 kHz): alloy 92% of words right and
12/15 phrases exact; echo 72%, coral 67%, verse 54%, cedar 49%, the other voices 8-20%; alloy at
8 kHz (G.711) about 40-47%, because the acoustic model expects wideband speech. The phrases below
are ones alloy gets right; the test asks for 60% so a slightly different synthesis still passes.
"""

from __future__ import annotations

import threading

import numpy as np
import pytest
from speech_fixtures import (
    CLEAR_PHRASES,
    silence,
    speech,
    speech_with_silence,
    white_noise,
    word_overlap,
)

from realtime_kit.server import stt
from realtime_kit.server.stt import transcribe, words_of

pytestmark = pytest.mark.engines

ROUND_TRIP = CLEAR_PHRASES[:3]


def test_round_trip_of_synthesised_speech_gets_most_words_right() -> None:
    """Three sentences spoken by alloy come back with at least 60% of their words, on average."""
    scores = [word_overlap(text, transcribe(speech_with_silence(text, 0.2, 0.2), 24000)) for text in ROUND_TRIP]
    assert sum(scores) / len(scores) >= 0.6, scores


def test_transcript_is_lower_case_words() -> None:
    """The transcript is lower-case words separated by single spaces."""
    heard = transcribe(speech("what time is it"), 24000)
    assert heard and heard == heard.lower() and heard == " ".join(heard.split())


def test_eight_kilohertz_input_is_understood() -> None:
    """Speech at G.711's 8 kHz is resampled and still roughly half understood (40-47% over 15 phrases)."""
    texts = ("hello how are you today", "i would like a cup of coffee")
    scores = [word_overlap(text, transcribe(speech(text, rate=8000), 8000)) for text in texts]
    assert sum(scores) / len(scores) >= 0.5, scores


def test_silence_gives_an_empty_transcript() -> None:
    """Digital silence, near-silent noise and an empty array all transcribe to ""."""
    assert transcribe(silence(1.0), 24000) == ""
    assert transcribe(white_noise(1.0, dbfs=-70.0), 24000) == ""
    assert transcribe(np.zeros(0, np.int16), 24000) == ""


def test_hypotheses_are_normalised() -> None:
    """Pronunciation markers and fillers are dropped, words lower-cased."""
    assert words_of("HELLO(2) <sil> [NOISE] World ++UH++") == "hello world"
    assert words_of("") == ""


def test_concurrent_transcriptions_match_serial_ones() -> None:
    """Two threads transcribing at once get exactly what each clip gives alone."""
    clips = [speech_with_silence(text, 0.1, 0.1, rate=16000) for text in ("thank you", "what time is it")]
    serial = [transcribe(clip, 16000) for clip in clips]
    results: dict[int, str] = {}

    def work(index: int) -> None:
        results[index] = transcribe(clips[index], 16000)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [results[0], results[1]] == serial


def test_one_decoder_is_built_and_reused(monkeypatch: pytest.MonkeyPatch) -> None:
    """Building a decoder costs half a second: transcriptions after the first reuse the same one."""
    built: list[object] = []

    def counting_decoder() -> object:
        built.append(real_decoder())
        return built[-1]

    real_decoder = stt._new_decoder
    monkeypatch.setattr(stt, "_decoder", None)
    monkeypatch.setattr(stt, "_new_decoder", counting_decoder)
    clip = speech_with_silence("thank you", 0.1, 0.1, rate=16000)
    first, second = transcribe(clip, 16000), transcribe(clip, 16000)
    assert len(built) == 1
    assert first == second != ""
