"""The engines the protocol speaks, listens and transcribes with, injected so tests can pass fakes.

`Engines.default()` loads espeak-ng, Silero and pocketsphinx on first use; `Engines.silent()` needs
nothing installed. Inject others in-line with `RealtimeProtocol(engines=...)` (pure tests), or through
the shell's work path with `LocalServer(engines=...)` (wire tests; tests/tone_engines.py hears exact words).

    >>> engines = Engines.silent()
    >>> len(engines.synthesize("two words", "alloy", 24000, 1.0)), engines.transcribe(np.zeros(10, np.int16), 24000)
    (2880, '')
"""

from __future__ import annotations

import typing
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .audio_format import PCM_RATE
from .input_audio import VadEventLike, VadLike
from .work import DetectSpeech, Job, Listen, Synthesize, Transcribe

__all__ = ["Engines", "SessionEngines"]


@dataclass(frozen=True)
class Engines:
    """Speech synthesis, VAD and transcription, injected so pure tests can pass fakes.

        engines = Engines.default()          # espeak-ng, Silero, pocketsphinx (loaded on first use)
        engines = Engines.silent()           # silence of plausible length, no VAD events, no words
    """

    synthesize: Callable[[str, str, int, float], np.ndarray]   # (text, voice, rate, speed) -> int16
    make_vad: Callable[[float, int, int, int], VadLike]         # (threshold, prefix_ms, silence_ms, rate)
    transcribe: Callable[[np.ndarray, int], str]                # (int16 samples, rate) -> words

    @classmethod
    def default(cls) -> Engines:
        """The real engines; each is imported on its first call, so building this is cheap."""
        return cls(synthesize=_default_synthesize, make_vad=_default_vad, transcribe=_default_transcribe)

    def warm_up(self) -> None:
        """Load the speech engine now (espeak-ng takes ~0.7 s on its first call), e.g. at server start."""
        self.synthesize("Hello.", "alloy", PCM_RATE, 1.0)

    @classmethod
    def silent(cls) -> Engines:
        """Engines that need nothing installed: 60 ms of silence per word, a deaf VAD, no words."""
        return cls(synthesize=_silent_synthesize, make_vad=lambda *_: _DeafVad(), transcribe=lambda *_: "")


class SessionEngines:
    """Runs one session's jobs on `Engines`, in the order given: its detector, its turns being heard.

        run = SessionEngines(Engines.silent()).run
        run(Synthesize("Hi.", "alloy", 24000, 1.0)).size      # 1440
    """

    def __init__(self, engines: Engines) -> None:
        self.engines = engines
        self._detector: tuple[object, ...] | None = None
        self._vad: VadLike | None = None
        self._heard: dict[str, list[np.ndarray]] = {}   # a turn's audio so far, for engines that only decode whole

    def run(self, job: Job) -> object:
        if isinstance(job, Synthesize):
            return self.engines.synthesize(job.text, job.voice, job.rate, job.speed)
        if isinstance(job, Transcribe):
            return self.engines.transcribe(job.samples, job.rate)
        if isinstance(job, DetectSpeech):
            return self.detect(job)
        return self.listen(job)

    def detect(self, job: DetectSpeech) -> list[tuple[str, int]]:
        if job.detector != self._detector or self._vad is None:
            self._detector, self._vad = job.detector, self.engines.make_vad(*job.detector[1:])
        return [(event.kind, int(event.audio_ms)) for event in self._vad.feed(job.samples)]

    def listen(self, job: Listen) -> str | None:
        if job.step == "start":
            self._heard[job.item_id] = []
        chunks = self._heard.setdefault(job.item_id, [])
        if job.samples.size:
            chunks.append(job.samples)
        if job.step != "end":
            return None
        audio = np.concatenate(self._heard.pop(job.item_id)) if chunks else np.zeros(0, np.int16)
        return self.engines.transcribe(audio, job.rate)


def _default_synthesize(text: str, voice: str, rate: int, speed: float) -> np.ndarray:
    from .voice import synthesize

    return synthesize(text, voice=voice, rate=rate, speed=speed)


def _default_vad(threshold: float, prefix_ms: int, silence_ms: int, rate: int) -> VadLike:
    from .vad import SileroVad

    return typing.cast(VadLike, SileroVad(threshold=threshold, prefix_padding_ms=prefix_ms,
                                          silence_duration_ms=silence_ms, rate=rate))


def _default_transcribe(samples: np.ndarray, rate: int) -> str:
    from .stt import transcribe

    return transcribe(samples, rate)


def _silent_synthesize(text: str, voice: str, rate: int, speed: float) -> np.ndarray:
    return np.zeros(int(rate * 0.06 * max(1, len(text.split())) / speed), dtype=np.int16)


class _DeafVad:
    def feed(self, samples: np.ndarray) -> list[VadEventLike]:
        return []

    def reset(self) -> None:
        pass
