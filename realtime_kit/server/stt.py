"""Input transcription for the local server: pocketsphinx with the en-us model its wheel ships.

    from realtime_kit.server.stt import transcribe
    transcribe(samples_int16, rate=24000)      # -> "what time is it"   ("" for silence)

Audio is resampled to 16 kHz and decoded as one utterance with the default en-us acoustic model and
language model, searching the language model's `SEARCH_WORDS` most likely words (`search_dictionary`).
Cepstral mean normalisation runs per utterance ("batch"), so the result depends only on the audio, not
on what a decoder heard before. A decoder takes a fraction of a second to build, so one is built on
first use and reused. `transcribe` is safe to call from several threads: decoding is serialised by a
lock, because two decoders running at once in threads were seen to change each other's hypotheses.

Accuracy is that of a 2015-era small-vocabulary recogniser: good on clear, simple sentences, weak on
names and long words. Of voice.py's voices, `alloy` comes back best (92% of words), then echo and
coral (about 70%); 8 kHz G.711 input drops to 40-47% (numbers from bench/bench_engines.py).
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
import tempfile
import threading
from pathlib import Path
from typing import Any

import numpy as np

from ..audio.core import resample_int16 as resample

DECODER_RATE = 16000
SILENCE_RMS = 30.0  # int16 units (about -60 dBFS): quieter clips are not worth decoding
PADDING_S = 0.15  # silence added at both ends: the decoder misses words cut tight by the VAD
_DECODER_OPTIONS = {"cmn": "batch"}  # per-utterance CMN; keep fwdflat: steadier accuracy, ~30% slower
_ALTERNATE_PRONUNCIATION = re.compile(r"\(\d+\)$")  # cmudict marks variants as word(2)


# The words every decoder searches: the language model's most likely, not the dictionary's 126,000 (72,500 of them in
# the model). Live, over 5 voices: 0.76x the CPU, half the build and 57 MB instead of 95, for no more words wrong
# (fewer on rarer requests); 10,000 lost everyday words ("summarize", "latency") (`bench/bench_engines.py --vocabulary`)
SEARCH_WORDS = 20000


def new_decoder(**options: Any) -> Any:
    """A pocketsphinx decoder with the wheel's en-us model, searching `search_dictionary`'s words."""
    from pocketsphinx import Decoder

    return Decoder(dict=search_dictionary(), **options)


def _new_decoder() -> Any:
    return new_decoder(**_DECODER_OPTIONS)


def start_utterance(decoder: Any, normalisation: str | None = None) -> None:
    """Start an utterance on ``decoder`` as on one just built, from ``normalisation`` (a CMN) if given.

    pocketsphinx carries its noise estimate (`remove_noise`) from one utterance to the next, so the same audio was
    heard differently after other audio, another session's included (45 clips on one decoder, against a new one
    each: 34 scores and 2 transcripts differed); re-making the features clears it (~25 us) for the same WER
    (`bench_engines.py --noise-estimate`).
    """
    decoder.reinit_feat()
    if normalisation is not None:
        decoder.set_cmn(normalisation)
    decoder.start_utt()


@functools.cache
def search_dictionary(words: int = SEARCH_WORDS) -> str:
    """The path of the wheel's pronunciation dictionary cut to the ``words`` its language model finds most likely.

    Made from the installed model on first use (about 2 s, once) and kept in the user's cache directory, named after
    pocketsphinx's version and the model files' names and sizes (not where they are installed), so every process,
    later run and virtual environment with the same wheel reads the same file.
    """
    from importlib.metadata import version

    from platformdirs import user_cache_dir
    from pocketsphinx import NGramModel, get_model_path

    model = Path(get_model_path()) / "en-us"
    sources = (model / "cmudict-en-us.dict", model / "en-us.lm.bin")
    made_from = repr((words, version("pocketsphinx"), [(path.name, path.stat().st_size) for path in sources]))
    key = hashlib.sha256(made_from.encode()).hexdigest()[:16]
    path = Path(user_cache_dir("realtime-kit")) / f"search-words-{key}.dict"
    if path.is_file():
        return str(path)
    lines = sources[0].read_text(encoding="utf-8").splitlines(keepends=True)
    line_words = [_word(line) for line in lines]
    kept = _most_likely(NGramModel.readfile(str(sources[1])), {word for word in line_words if word.strip()}, words)
    cut = [line for line, word in zip(lines, line_words, strict=True) if word in kept]
    try:
        _write_whole(path, cut)
    except OSError:   # a read-only home: a private temporary folder, for this process
        path = Path(tempfile.mkdtemp(prefix="realtime-kit-")) / path.name
        _write_whole(path, cut)
    return str(path)


def _write_whole(path: Path, lines: list[str]) -> None:
    """Write ``lines`` to ``path`` through a temporary file and a rename: a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", encoding="utf-8", dir=path.parent, delete=False, suffix=".part") as part:
        part.writelines(lines)
    os.replace(part.name, path)


def _word(line: str) -> str:
    """A dictionary line's word, without cmudict's alternate-pronunciation mark ("read(2) R EH D" -> "read")."""
    return _ALTERNATE_PRONUNCIATION.sub("", line.split(" ", 1)[0])


def _most_likely(language_model: Any, known: set[str], words: int) -> set[str]:
    """The ``words`` of ``known`` with the highest unigram probability (ties: alphabetical)."""
    return set(sorted(known, key=lambda word: (-language_model.prob([word]), word))[:words])


# pocketsphinx decoders running at once in threads change each other's results: decode one at a time,
# so one decoder, built on first use, serves every call
_DECODE_LOCK = threading.Lock()
_decoder: Any = None


def _shared_decoder() -> Any:
    """The one decoder; call with _DECODE_LOCK held."""
    global _decoder
    if _decoder is None:
        _decoder = _new_decoder()
    return _decoder


def words_of(hypothesis: str) -> str:
    """Normalise a decoder hypothesis: lower case, no pronunciation markers or fillers, single spaces.

    >>> words_of("HELLO(2) <sil> World")
    'hello world'
    """
    words = (_ALTERNATE_PRONUNCIATION.sub("", word).lower() for word in hypothesis.split())
    return " ".join(word for word in words if word and not word.startswith(("<", "[", "++")))


def transcribe(samples: np.ndarray, rate: int) -> str:
    """int16 mono samples at `rate` -> the words heard, lower case; "" for silence. Thread-safe.

    >>> transcribe(np.zeros(24000, np.int16), 24000)
    ''
    """
    audio = np.asarray(samples).reshape(-1).astype(np.int16, copy=False)
    if audio.size == 0 or float(np.sqrt(np.mean(audio.astype(np.float64) ** 2))) < SILENCE_RMS:
        return ""
    padding = np.zeros(int(PADDING_S * DECODER_RATE), np.int16)
    pcm = np.concatenate([padding, resample(audio, rate, DECODER_RATE), padding]).tobytes()
    with _DECODE_LOCK:
        decoder = _shared_decoder()
        start_utterance(decoder)   # what was heard before changes nothing
        decoder.process_raw(pcm, full_utt=True)
        decoder.end_utt()
        hypothesis = decoder.hyp()
    return words_of(hypothesis.hypstr) if hypothesis is not None else ""
