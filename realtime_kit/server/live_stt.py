"""Live transcription: each turn fed to a streaming pocketsphinx decoder while the user speaks.

pocketsphinx decodes as audio arrives, so at the end of a turn only the last frames and the
second (fwdflat) pass remain: the words are ready a fraction of a second after speech stops,
instead of a whole decode later. Runs inside a worker process (`workers.py`): one object per process.

    turns = LiveTurns(max_decoders=2)
    turns.handle("start", "item_1", empty, 24000)
    turns.handle("feed", "item_1", chunk, 24000)          # as often as audio comes
    turns.handle("end", "item_1", last_chunk, 24000)      # -> "hello my name is"
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .stt import DECODER_RATE, PADDING_S, SILENCE_RMS, transcribe, words_of
from .vad import StreamingResampler

__all__ = ["LiveTurns"]


@dataclass(eq=False)
class _Decoder:
    """A streaming decoder and the feature normalisation (CMN) every turn starts from."""

    decoder: Any
    prior: str

    def start(self) -> None:
        # pocketsphinx carries CMN from one utterance to the next: reset it, so the words heard
        # depend on the turn's audio alone, not on what another session said before on this decoder
        self.decoder.set_cmn(self.prior)
        self.decoder.start_utt()


@dataclass(eq=False)
class _Turn:
    """One turn being heard: its decoder (None when all were busy: decoded whole at the end) and level."""

    decoder: _Decoder | None
    resampler: StreamingResampler
    rate: int
    held: list[np.ndarray] = field(default_factory=list)    # the audio, kept only when there is no decoder
    energy: float = 0.0
    samples: int = 0


class LiveTurns:
    """The turns one process is hearing, each on its own streaming decoder (at most ``max_decoders``)."""

    def __init__(self, max_decoders: int) -> None:
        self._max = max_decoders
        self._idle: list[_Decoder] = []
        self._built = 0
        self._prior = ""   # the CMN every turn starts from, measured with the first decoder
        self._turns: dict[str, _Turn] = {}

    def handle(self, step: str, key: str, samples: np.ndarray, rate: int) -> str | None:
        if step == "transcribe":
            return transcribe(samples, rate)
        if step == "warm":      # build a decoder now (1-2 s, the first), so the first turn does not wait for it
            decoder = self._decoder()
            if decoder is not None:
                self._idle.append(decoder)
            return None
        if step == "start":
            self._start(key, rate)
        turn = self._turns.get(key)
        if turn is None:
            return "" if step == "end" else None
        self._feed(turn, samples)
        return self._end(key) if step == "end" else None

    def _start(self, key: str, rate: int) -> None:
        decoder = self._decoder()
        if decoder is not None:
            decoder.start()
        turn = _Turn(decoder, StreamingResampler(rate, DECODER_RATE), rate)
        self._turns[key] = turn
        self._feed(turn, np.zeros(int(PADDING_S * rate), np.int16))  # the decoder misses words cut tight

    def _feed(self, turn: _Turn, samples: np.ndarray) -> None:
        if not samples.size:
            return
        turn.energy += float(np.sum(samples.astype(np.float64) ** 2))
        turn.samples += samples.size
        if turn.decoder is None:
            turn.held.append(samples)
            return
        pcm = np.clip(turn.resampler.process(samples.astype(np.float64)), -32768, 32767).astype(np.int16)
        if pcm.size:
            turn.decoder.decoder.process_raw(pcm.tobytes(), full_utt=False)

    def _end(self, key: str) -> str:
        turn = self._turns.pop(key)
        if turn.decoder is None:
            return transcribe(np.concatenate(turn.held), turn.rate) if turn.held else ""
        padding = np.zeros(int(PADDING_S * DECODER_RATE), np.int16)
        turn.decoder.decoder.process_raw(padding.tobytes(), full_utt=False)
        turn.decoder.decoder.end_utt()
        hypothesis = turn.decoder.decoder.hyp()
        self._idle.append(turn.decoder)
        loud = turn.samples and (turn.energy / turn.samples) ** 0.5 >= SILENCE_RMS
        return words_of(hypothesis.hypstr) if hypothesis is not None and loud else ""

    def _decoder(self) -> _Decoder | None:
        if self._idle:
            return self._idle.pop()
        if self._built < self._max:
            self._built += 1
            decoder = _new_decoder()
            self._prior = self._prior or _speech_prior(decoder)
            return _Decoder(decoder, self._prior)
        return None


# No second (fwdflat) pass: it runs over the whole turn at its end, the wait this module exists to remove
# (0.37 s CPU for a 4 s turn without it 0.24 s; accuracy on the bench phrases was the same or better).
LIVE_OPTIONS = {"cmn": "batch", "fwdflat": False}


def _new_decoder() -> Any:
    from pocketsphinx import Decoder

    return Decoder(**LIVE_OPTIONS)


# Sentences in four voices: the CMN they leave suits speech at large better than one sentence's did, and better
# than CMN carried from turn to turn (`python3 bench/bench_engines.py --live`: words heard x1.10)
_PRIMERS = (
    ("Hello, how are you today?", "alloy"),
    ("Good morning, I would like to ask a question.", "echo"),
    ("Thank you very much, that is all for now.", "shimmer"),
    ("Could you please repeat that more slowly?", "cedar"),
)


def _speech_prior(decoder: Any) -> str:
    """The CMN of a few spoken sentences, for every turn to start from (about a second, once per process): the
    model's default garbles the first words of a streamed turn ("one two" came back "well you do")."""
    from .voice import synthesize

    prior = ""
    for text, voice in _PRIMERS:
        decoder.start_utt()
        decoder.process_raw(np.asarray(synthesize(text, voice=voice, rate=DECODER_RATE), np.int16).tobytes(),
                            full_utt=False)
        prior = decoder.get_cmn(True)  # the mean updated with this sentence (without update: the model's default)
        decoder.end_utt()
    return prior
