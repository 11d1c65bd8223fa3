"""Input transcription: pocketsphinx hears what the local voice says, as well as stated here.

Stated accuracy: jiwer's WER over EVERYDAY_PHRASES (15 phrases, 78 words) spoken by alloy between 0.2 s
silences. espeak-ng's samples differ a little from call to call, so the figure does too:
- 24 kHz: WER <= 0.25; measured 0.08 to 0.14 (11-12 of 15 phrases exact) over 5 runs on 2026-11-29.
- 8 kHz (G.711): WER <= 0.80; measured 0.51 to 0.64 (2-4 exact) over 5 runs on 2026-11-29: the acoustic
  model expects wideband speech.
Searching the language model's 20,000 most likely words (stt.SEARCH_WORDS), 3 processes on 2026-11-30: 0.09 to 0.13 at
24 kHz, 0.49 to 0.59 at 8 kHz.
Other voices are heard worse (bench/bench_engines.py: echo 72% of words, cedar 49%, several under 20%).
Wire tests that assert exact words therefore run on the tone engines (tone_engines.py), not on these.
"""

from __future__ import annotations

import threading
from pathlib import Path

import jiwer
import numpy as np
import pytest
from speech_fixtures import EVERYDAY_PHRASES, silence, speech, speech_with_silence, white_noise

from realtime_kit.server import stt
from realtime_kit.server.stt import transcribe, words_of

pytestmark = pytest.mark.engines


def word_error_rate(rate: int) -> float:
    """jiwer's WER of pocketsphinx over EVERYDAY_PHRASES spoken by alloy at ``rate``."""
    heard = [transcribe(speech_with_silence(text, 0.2, 0.2, rate=rate), rate) for text in EVERYDAY_PHRASES]
    return float(jiwer.wer(list(EVERYDAY_PHRASES), heard))


def test_wideband_speech_is_heard_within_the_stated_word_error_rate() -> None:
    """alloy at 24 kHz over the 15 everyday phrases: WER <= 0.25 (measured 0.08-0.14)."""
    wer = word_error_rate(24000)
    assert wer <= 0.25, f"WER {wer:.3f} over {len(EVERYDAY_PHRASES)} phrases"


def test_transcript_is_lower_case_words() -> None:
    """The transcript is lower-case words separated by single spaces."""
    heard = transcribe(speech("what time is it"), 24000)
    assert heard and heard == heard.lower() and heard == " ".join(heard.split())


def test_eight_kilohertz_speech_is_heard_within_the_stated_word_error_rate() -> None:
    """alloy at G.711's 8 kHz over the 15 everyday phrases: resampled, WER <= 0.80 (measured 0.51-0.64)."""
    wer = word_error_rate(8000)
    assert wer <= 0.80, f"WER {wer:.3f} over {len(EVERYDAY_PHRASES)} phrases"


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


def test_a_clip_is_heard_as_by_a_new_decoder_whatever_was_heard_before(monkeypatch: pytest.MonkeyPatch) -> None:
    """The shared decoder hears a clip exactly as a new one does, the same words and path score, after loud noise and
    another clip (pocketsphinx's noise estimate carried from one utterance to the next before)."""
    clip = speech_with_silence("what time is it", 0.1, 0.1, rate=16000)
    monkeypatch.setattr(stt, "_decoder", None)
    first = transcribe(clip, 16000), stt._decoder.hyp().best_score
    transcribe(np.random.default_rng(7).normal(0, 6000, 16000).astype(np.int16), 16000)
    transcribe(speech_with_silence("thank you very much", 0.1, 0.1, voice="ash", rate=16000), 16000)
    assert (transcribe(clip, 16000), stt._decoder.hyp().best_score) == first


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


def _dictionary_lines(path: str) -> list[str]:
    return Path(path).read_text(encoding="utf-8").splitlines(keepends=True)


def _dictionary_words(path: str) -> list[str]:
    return [stt._word(line) for line in _dictionary_lines(path) if line.strip()]


def test_decoders_search_the_language_models_most_likely_words(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The search dictionary holds exactly the ``words`` most likely by the language model, each with all its
    pronunciations from the wheel's dictionary; it is made once and read again (not rewritten) by a later call."""
    from pocketsphinx import NGramModel, get_model_path

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    path = stt.search_dictionary.__wrapped__(300)
    assert path.startswith(str(tmp_path)), path
    words = _dictionary_words(path)
    assert len(set(words)) == 300
    model = f"{get_model_path()}/en-us"
    kept = set(words)
    whole = [line for line in _dictionary_lines(f"{model}/cmudict-en-us.dict") if stt._word(line) in kept]
    assert _dictionary_lines(path) == whole     # every pronunciation, in the wheel's order
    language_model = NGramModel.readfile(f"{model}/en-us.lm.bin")
    least_kept = min(language_model.prob([word]) for word in words)
    left_out = [word for word in ("london", "weather", "microphone") if word not in words]
    assert {"the", "what", "is"} <= set(words) and left_out, left_out
    assert all(language_model.prob([word]) <= least_kept for word in left_out)
    made_at = Path(path).stat().st_mtime_ns
    assert stt.search_dictionary.__wrapped__(300) == path
    assert Path(path).stat().st_mtime_ns == made_at


def test_another_installation_of_the_same_wheel_reads_the_same_dictionary(tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """The file is named after the model, not where it is installed: a second virtual environment's copy of the same
    wheel (here links to its files in another folder) finds the file the first one made and does not rewrite it."""
    import pocketsphinx

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    made = stt.search_dictionary.__wrapped__(200)
    made_at = Path(made).stat().st_mtime_ns
    elsewhere = tmp_path / "other-venv" / "model"
    (elsewhere / "en-us").mkdir(parents=True)
    for name in ("cmudict-en-us.dict", "en-us.lm.bin"):
        (elsewhere / "en-us" / name).symlink_to(Path(pocketsphinx.get_model_path()) / "en-us" / name)
    monkeypatch.setattr(pocketsphinx, "get_model_path", lambda: str(elsewhere))
    assert stt.search_dictionary.__wrapped__(200) == made
    assert Path(made).stat().st_mtime_ns == made_at
    assert stt.search_dictionary.__wrapped__(201) != made     # another cut is another file


def test_a_read_only_cache_folder_gives_a_private_temporary_dictionary(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """A cache folder that cannot be made (here a file is in its way) does not stop transcription."""
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocked))
    path = stt.search_dictionary.__wrapped__(50)
    assert not path.startswith(str(blocked)), path
    assert len(set(_dictionary_words(path))) == 50


def test_a_decoder_knows_the_searched_words_and_not_the_rest() -> None:
    """`new_decoder`'s dictionary is the search dictionary: an everyday word is in it, a rare one of the wheel's not."""
    decoder = stt.new_decoder(cmn="batch")
    assert decoder.lookup_word("london") is not None and decoder.lookup_word("weather") is not None
    assert len(set(_dictionary_words(stt.search_dictionary()))) == stt.SEARCH_WORDS
    rare = "xylophone"   # in the wheel's dictionary and its language model, far beyond the cut
    from pocketsphinx import Decoder

    assert Decoder(cmn="batch").lookup_word(rare) is not None
    assert decoder.lookup_word(rare) is None
