"""Input transcription for the local server: pocketsphinx with the en-us model its wheel ships.

    from realtime_kit.server.stt import transcribe
    transcribe(samples_int16, rate=24000)      # -> "what time is it"   ("" for silence)

Audio is resampled to 16 kHz and decoded as one utterance with the default en-us acoustic model,
language model and dictionary. Cepstral mean normalisation runs per utterance ("batch"), so the
result depends only on the audio, not on what a decoder heard before. A decoder takes about half a
second to build, so one is built on first use and reused. `transcribe` is safe to call from several
threads: decoding is serialised by a lock, because two decoders running at once in threads were seen
to change each other's hypotheses.

Accuracy is that of a 2015-era small-vocabulary recogniser: good on clear, simple sentences, weak on
names and long words. Of voice.py's voices, `alloy` comes back best (92% of words), then echo and
coral (about 70%); 8 kHz G.711 input drops to 40-47% (numbers from bench/bench_engines.py).
"""

from __future__ import annotations

import re
import threading
from typing import Any

import numpy as np

from ..audio.core import resample_int16 as resample

DECODER_RATE = 16000
SILENCE_RMS = 30.0  # int16 units (about -60 dBFS): quieter clips are not worth decoding
PADDING_S = 0.15  # silence added at both ends: the decoder misses words cut tight by the VAD
_DECODER_OPTIONS = {"cmn": "batch"}  # per-utterance CMN; keep fwdflat: steadier accuracy, ~30% slower
_ALTERNATE_PRONUNCIATION = re.compile(r"\(\d+\)$")  # cmudict marks variants as word(2)


def _new_decoder() -> Any:
    """A pocketsphinx decoder with the wheel's en-us model (about half a second to build)."""
    from pocketsphinx import Decoder

    return Decoder(**_DECODER_OPTIONS)


# pocketsphinx decoders running at once in threads change each other's results: decode one at a time,
# so one decoder, built on first use (about half a second), serves every call
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
        decoder.start_utt()
        decoder.process_raw(pcm, full_utt=True)
        decoder.end_utt()
        hypothesis = decoder.hyp()
    return words_of(hypothesis.hypstr) if hypothesis is not None else ""
