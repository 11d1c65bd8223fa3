"""Audio you can hold: numpy samples plus a rate, from and to the wire, WAV files and the notebook.

    >>> import realtime_kit as rk
    >>> beep = rk.Audio.tone(440, 0.5)              # 0.5 s of A4 at 24 kHz, peak -12 dBFS
    >>> beep.samples.dtype, beep.rate, beep.duration
    (dtype('int16'), 24000, 0.5)
    >>> chunks = beep.to_base64_chunks(ms=100)      # five input_audio_buffer.append payloads
    >>> rk.Audio.from_base64(chunks) == beep
    True

The wire formats are the GA names "audio/pcm" (PCM16 little-endian, 24 kHz), "audio/pcmu" (G.711
mu-law, 8 kHz) and "audio/pcma" (G.711 A-law, 8 kHz); the preview names "pcm16", "g711_ulaw" and
"g711_alaw" and a GA format dict {"type": "audio/pcm", "rate": 24000} are accepted too.
scipy, matplotlib and IPython are imported inside the methods that need them, so importing this
module costs only numpy.
"""

from __future__ import annotations

import base64
import binascii
import html
import io
import math
import os
import warnings
from collections.abc import Iterable, Mapping, Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike

from ..rules import G711_RATE, PCM_RATE
from . import g711

if TYPE_CHECKING:
    from IPython.display import Audio as IPythonAudio
    from matplotlib.axes import Axes

__all__ = ["Audio", "AudioBuffer", "ClippingWarning", "coerce_audio"]

PCM = "audio/pcm"
PCMU = "audio/pcmu"
PCMA = "audio/pcma"
_FORMAT_ALIASES = {
    PCM: PCM,
    "pcm16": PCM,
    PCMU: PCMU,
    "g711_ulaw": PCMU,
    PCMA: PCMA,
    "g711_alaw": PCMA,
}
_DEFAULT_RATES = {PCM: PCM_RATE, PCMU: G711_RATE, PCMA: G711_RATE}
_BYTES_PER_SAMPLE = {PCM: 2, PCMU: 1, PCMA: 1}
# Longer audio gets no embedded player in the repr: base64 WAV of 10 minutes is already ~38 MB of HTML.
_REPR_PLAYER_MAX_SECONDS = 600.0


class ClippingWarning(UserWarning):
    """Float samples outside [-1, 1] were clipped to full scale."""


# ---------------------------------------------------------------------------------------------- pure helpers


def _check_rate(rate: Any) -> int:
    """A sample rate as a positive int; a sentence naming the fix otherwise."""
    if isinstance(rate, bool) or not isinstance(rate, int | float | np.integer | np.floating):
        raise TypeError(f"rate must be a whole number of samples per second such as 24000, got {rate!r}")
    if rate <= 0 or rate != int(rate):
        raise ValueError(f"rate must be a positive whole number of samples per second such as 24000, got {rate!r}")
    return int(rate)


def _wire_format(fmt: str | Mapping[str, Any], rate: int | None) -> tuple[str, int]:
    """Normalise a format name or GA format dict (and an optional rate) to (GA name, rate)."""
    if isinstance(fmt, Mapping):
        rate = rate if rate is not None else fmt.get("rate")
        fmt = fmt.get("type", "")
    name = _FORMAT_ALIASES.get(str(fmt).lower())
    if name is None:
        known = ", ".join(repr(n) for n in (PCM, PCMU, PCMA))
        raise ValueError(f"unknown audio format {fmt!r}; use one of {known} (or pcm16, g711_ulaw, g711_alaw)")
    return name, _DEFAULT_RATES[name] if rate is None else _check_rate(rate)


def _float_to_int16(values: np.ndarray, *, warn_clip: bool) -> np.ndarray:
    """Floats in [-1, 1] -> int16 (x * 32768, rounded); values outside clip, with a warning if asked."""
    if values.size and not np.all(np.isfinite(values)):
        raise ValueError("audio samples contain NaN or infinity; replace them first, e.g. np.nan_to_num(x)")
    if warn_clip and values.size:
        low, high = float(values.min()), float(values.max())
        if low < -1.0 or high > 1.0:
            warnings.warn(
                f"float samples reach {max(-low, high):.3g}, outside [-1, 1]; they were clipped to full scale "
                "(divide by the peak first to keep the shape)",
                ClippingWarning,
                stacklevel=4,
            )
    return np.clip(np.rint(values * 32768.0), -32768, 32767).astype(np.int16)


def _to_unit_float(array: np.ndarray) -> np.ndarray:
    """Any supported sample dtype -> floats where full scale is 1.0."""
    kind, dtype = array.dtype.kind, array.dtype
    if kind == "f":
        return array if dtype in (np.float32, np.float64) else array.astype(np.float32)
    if dtype == np.int16:
        return array / np.float32(32768.0)
    if dtype == np.int32:
        return array / float(2**31)  # 24- and 32-bit WAV as scipy reads them: full scale is 2**31
    if dtype == np.uint8:
        return (array.astype(np.float32) - 128.0) / 128.0  # 8-bit WAV is unsigned around 128
    if dtype == np.int8:
        return array / np.float32(128.0)
    raise TypeError(
        f"audio samples of dtype {dtype} are ambiguous; pass int16 (PCM16), int32 (full-scale 32-bit) "
        "or float in [-1, 1], e.g. np.asarray(x, dtype=np.int16)"
    )


def _to_int16_mono(samples: ArrayLike, *, warn_clip: bool = True) -> np.ndarray:
    """Samples of any supported dtype, mono or (n, channels), -> a fresh int16 mono array."""
    array = np.asarray(samples)
    if array.ndim == 0 or array.ndim > 2:
        raise ValueError(f"audio samples must be 1-D (mono) or 2-D (n, channels), got shape {array.shape}")
    if array.ndim == 2 and array.shape[1] > 32 and array.shape[0] < array.shape[1]:
        raise ValueError(
            f"audio samples of shape {array.shape} look like (channels, n); pass samples.T for (n, channels)"
        )
    if array.ndim == 1 and array.dtype == np.int16:
        return array.copy()
    unit = _to_unit_float(array)
    if unit.ndim == 2:
        unit = unit.mean(axis=1, dtype=unit.dtype)  # mix down: the average of the channels
    return _float_to_int16(unit, warn_clip=warn_clip)


def _decode_wire(data: bytes | bytearray | memoryview, fmt: str) -> np.ndarray:
    """Wire bytes of a GA format -> int16 samples."""
    if fmt == PCMU:
        return g711.decode_ulaw(data)
    if fmt == PCMA:
        return g711.decode_alaw(data)
    if len(data) % 2:
        raise ValueError(f"audio/pcm data must hold whole 16-bit samples, got an odd {len(data)} bytes")
    return np.frombuffer(data, dtype="<i2").astype(np.int16)


def _encode_wire(samples: np.ndarray, fmt: str) -> bytes:
    """int16 samples -> wire bytes of a GA format."""
    if fmt == PCMU:
        return g711.encode_ulaw(samples)
    if fmt == PCMA:
        return g711.encode_alaw(samples)
    return samples.astype("<i2", copy=False).tobytes()


def _b64decode(delta: str | bytes) -> bytes:
    try:
        return base64.b64decode(delta)
    except (binascii.Error, ValueError) as exc:
        raise ValueError(f"an audio delta is not valid base64 ({exc}); pass the event's `delta` string as is") from exc


def _dbfs(level: float) -> float:
    """A level where full scale is 1.0, in dBFS (-inf for silence)."""
    return 20.0 * math.log10(level) if level > 0 else -math.inf


# ---------------------------------------------------------------------------------------------- Audio


class Audio:
    """Mono int16 samples and their rate; immutable, numpy end to end.

        >>> a = Audio(np.zeros(24000, dtype=np.int16))       # one second of silence at 24 kHz
        >>> a[0.25:0.75].duration
        0.5
        >>> Audio(np.array([[0.5, -0.5], [0.5, 0.5]]), rate=16000).samples.tolist()   # stereo mixed down
        [0, 16384]
    """

    __hash__ = None  # type: ignore[assignment]  # equal audio compares equal, so no hash

    def __init__(self, samples: ArrayLike, rate: int = 24000) -> None:
        if isinstance(samples, Audio):
            raise TypeError("Audio(...) got an Audio; use it as is, or audio.resample(rate) for another rate")
        array = np.asarray(samples)
        if array.dtype == object:
            raise TypeError("audio samples must be numbers (an int16, int32 or float array), not objects")
        self._rate = _check_rate(rate)
        self._samples = _to_int16_mono(array)
        self._samples.flags.writeable = False

    @classmethod
    def _wrap(cls, samples: np.ndarray, rate: int) -> Audio:
        """An Audio around int16 mono samples we own (no copy, no checks)."""
        audio = cls.__new__(cls)
        audio._rate = rate
        audio._samples = samples
        if samples.flags.writeable:
            samples.flags.writeable = False
        return audio

    # ---- basic facts

    @property
    def samples(self) -> np.ndarray:
        """int16 mono samples, read-only."""
        return self._samples

    @property
    def rate(self) -> int:
        """Samples per second."""
        return self._rate

    @property
    def duration(self) -> float:
        """Length in seconds."""
        return self._samples.size / self._rate

    def as_float(self) -> np.ndarray:
        """float32 samples in [-1, 1] (a fresh array: int16 / 32768)."""
        return self._samples / np.float32(32768.0)

    @cached_property
    def peak_dbfs(self) -> float:
        """Peak level in dBFS (0 at full scale, -inf for silence)."""
        if not self._samples.size:
            return -math.inf
        peak = max(int(self._samples.max()), -int(self._samples.min()))
        return _dbfs(peak / 32768.0)

    @cached_property
    def rms_dbfs(self) -> float:
        """RMS level in dBFS (a full-scale sine reads -3.01; -inf for silence)."""
        total, step = 0.0, 1 << 20
        for start in range(0, self._samples.size, step):  # in blocks, so an hour needs no 700 MB copy
            block = self._samples[start : start + step].astype(np.float64)
            total += float(block @ block)
        return _dbfs(math.sqrt(total / self._samples.size) / 32768.0) if self._samples.size else -math.inf

    # ---- editing (every method returns a new Audio)

    def __getitem__(self, seconds: slice) -> Audio:
        """A slice by seconds: audio[0.5:1.25], audio[-1.0:] for the last second."""
        if not isinstance(seconds, slice):
            raise TypeError("Audio is sliced by seconds, e.g. audio[0.5:1.25]; for one sample use audio.samples[i]")
        if seconds.step is not None:
            raise ValueError("Audio slices take no step; to change the rate use audio.resample(rate)")
        start = None if seconds.start is None else round(seconds.start * self._rate)
        stop = None if seconds.stop is None else round(seconds.stop * self._rate)
        return Audio._wrap(self._samples[start:stop], self._rate)

    def __add__(self, other: object) -> Audio:
        """Concatenation; the right side is resampled to this rate."""
        if not isinstance(other, Audio):
            return NotImplemented
        return Audio.concat([self, other], rate=self._rate)

    def __radd__(self, other: object) -> Audio:
        """0 + audio is audio, so sum(parts) works."""
        if isinstance(other, int) and other == 0:
            return self
        return NotImplemented

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Audio):
            return NotImplemented
        return self._rate == other._rate and np.array_equal(self._samples, other._samples)

    @classmethod
    def concat(cls, parts: Iterable[Audio], rate: int | None = None) -> Audio:
        """Join parts end to end at `rate` (default: the first part's rate, or 24000 when there are none).

        >>> Audio.concat([Audio.silence(0.5), Audio.tone(440, 0.25, rate=8000)]).duration
        0.75
        """
        parts = list(parts)
        for part in parts:
            if not isinstance(part, Audio):
                raise TypeError(
                    f"Audio.concat takes Audio parts, got {type(part).__name__}; wrap it with rk.Audio(x, rate)"
                )
        target = _check_rate(rate) if rate is not None else (parts[0].rate if parts else 24000)
        arrays = [part.resample(target).samples for part in parts]
        joined = np.concatenate(arrays) if arrays else np.zeros(0, dtype=np.int16)
        return cls._wrap(joined, target)

    def trim_silence(self, threshold_dbfs: float = -50.0) -> Audio:
        """Drop leading and trailing samples quieter than `threshold_dbfs` (all of it if all are quiet).

        >>> (Audio.silence(1.0) + Audio.tone(440, 0.5) + Audio.silence(1.0)).trim_silence().duration < 0.51
        True
        """
        level = 32768.0 * 10 ** (threshold_dbfs / 20.0)
        loud = np.flatnonzero((self._samples >= level) | (self._samples <= -level))
        if not loud.size:
            return Audio._wrap(self._samples[:0], self._rate)
        return Audio._wrap(self._samples[loud[0] : loud[-1] + 1], self._rate)

    def resample(self, rate: int) -> Audio:
        """The same sound at another rate (scipy's polyphase resampler; duration kept).

        >>> Audio.silence(1.0, rate=44100).resample(24000).samples.size
        24000
        """
        rate = _check_rate(rate)
        if rate == self._rate or not self._samples.size:
            return Audio._wrap(self._samples, rate)
        return Audio._wrap(resample_int16(self._samples, self._rate, rate), rate)

    # ---- making audio

    @classmethod
    def silence(cls, seconds: float, rate: int = 24000) -> Audio:
        """`seconds` of digital silence.

        >>> Audio.silence(0.1).samples.size
        2400
        """
        rate = _check_rate(rate)
        return cls._wrap(np.zeros(round(seconds * rate), dtype=np.int16), rate)

    @classmethod
    def tone(cls, hz: float, seconds: float, rate: int = 24000, dbfs: float = -12.0) -> Audio:
        """A sine of `hz` with its peak at `dbfs`.

        >>> round(Audio.tone(1000, 1.0, dbfs=-6.0).peak_dbfs, 1)
        -6.0
        """
        rate = _check_rate(rate)
        time = np.arange(round(seconds * rate)) / rate
        wave = np.sin(2 * np.pi * hz * time) * 10 ** (dbfs / 20.0)
        return cls._wrap(_float_to_int16(wave, warn_clip=True), rate)

    # ---- the wire

    @classmethod
    def from_bytes(cls, data: bytes | bytearray | memoryview, fmt: str | Mapping[str, Any] = PCM,
                   rate: int | None = None) -> Audio:
        """Wire bytes -> Audio; `rate` defaults to 24000 for audio/pcm and 8000 for G.711.

        >>> Audio.from_bytes(b"\\xff\\xff\\x00\\x00").samples.tolist()
        [-1, 0]
        """
        name, wire_rate = _wire_format(fmt, rate)
        return cls._wrap(_decode_wire(data, name), wire_rate)

    def to_bytes(self, fmt: str | Mapping[str, Any] = PCM, rate: int | None = None) -> bytes:
        """Audio -> wire bytes, resampled to the format's rate (24000 for audio/pcm, 8000 for G.711).

        >>> len(Audio.silence(1.0).to_bytes("audio/pcmu"))
        8000
        """
        name, wire_rate = _wire_format(fmt, rate)
        return _encode_wire(self.resample(wire_rate).samples, name)

    @classmethod
    def from_base64(cls, deltas: Iterable[str] | str, fmt: str | Mapping[str, Any] = PCM,
                    rate: int | None = None) -> Audio:
        """Base64 deltas (e.g. every response.output_audio.delta's `delta`) -> one Audio.

        >>> Audio.from_base64(["AAA=", "AQA="]).samples.tolist()
        [0, 1]
        """
        buffer = AudioBuffer(fmt, rate)
        for delta in [deltas] if isinstance(deltas, str | bytes) else deltas:
            buffer.append_base64(delta)
        return buffer.audio

    def to_base64_chunks(self, ms: float = 100, fmt: str | Mapping[str, Any] = PCM,
                         rate: int | None = None) -> list[str]:
        """Base64 payloads of `ms` milliseconds each (the last may be shorter), for input_audio_buffer.append.

        >>> len(Audio.silence(1.0).to_base64_chunks(ms=250))
        4
        """
        if ms <= 0:
            raise ValueError(f"ms must be a positive chunk length in milliseconds, got {ms!r}")
        name, wire_rate = _wire_format(fmt, rate)
        data = self.to_bytes(name, wire_rate)
        step = max(1, round(wire_rate * ms / 1000)) * _BYTES_PER_SAMPLE[name]
        return [base64.b64encode(data[i : i + step]).decode("ascii") for i in range(0, len(data), step)]

    # ---- files

    @classmethod
    def from_wav(cls, path_or_file: str | os.PathLike[str] | bytes | Any) -> Audio:
        """Read a WAV file: 8/16/24/32-bit PCM or 32/64-bit float, any rate, mono or multi-channel.

            Audio.from_wav("question.wav")
            Audio(2.35 s, 44100 Hz, peak -3.1 dBFS)
        """
        from scipy.io import wavfile

        source = io.BytesIO(path_or_file) if isinstance(path_or_file, bytes | bytearray) else path_or_file
        try:
            with warnings.catch_warnings():
                # scipy warns about every chunk it skips (LIST, fact, ...); those are harmless here.
                warnings.simplefilter("ignore", wavfile.WavFileWarning)
                rate, data = wavfile.read(source, mmap=False)
        except ValueError as exc:
            raise ValueError(
                f"could not read {_describe(path_or_file)} as WAV ({exc}); convert it to a PCM or float WAV, "
                "e.g. `ffmpeg -i input.mp3 output.wav`"
            ) from exc
        return cls(data, rate=rate)

    def to_wav(self, path_or_file: str | os.PathLike[str] | Any) -> None:
        """Write a 16-bit mono WAV file at this rate (a path or a binary file object).

            reply.audio.to_wav("reply.wav")
        """
        from scipy.io import wavfile

        wavfile.write(path_or_file, self._rate, self._samples)

    def _wav_bytes(self) -> bytes:
        out = io.BytesIO()
        self.to_wav(out)
        return out.getvalue()

    # ---- display

    def play(self, autoplay: bool = False) -> IPythonAudio:
        """A notebook player (IPython.display.Audio) for this audio, samples unchanged (not normalised)."""
        from IPython.display import Audio as IPythonAudio

        return IPythonAudio(data=self._wav_bytes(), autoplay=autoplay)

    def plot(self, ax: Axes | None = None, *, marks: Mapping[str, float | None] | None = None,
             words: Iterable[tuple[float, str]] | None = None, title: str | None = None) -> Axes:
        """The waveform (min/max envelope per pixel column), time in seconds; see plots.waveform."""
        from . import plots

        return plots.waveform(self, ax, marks=marks, words=words, title=title)

    def spectrogram(self, ax: Axes | None = None) -> Axes:
        """A spectrogram (time in seconds, frequency in Hz, level in dB); see plots.spectrogram."""
        from . import plots

        return plots.spectrogram(self, ax)

    def __repr__(self) -> str:
        level = "silent" if self.peak_dbfs == -math.inf else f"peak {self.peak_dbfs:.1f} dBFS"
        return f"Audio({self.duration:.2f} s, {self._rate} Hz, {level})"

    def _repr_html_(self) -> str:
        from . import plots

        png = base64.b64encode(plots.waveform_png(self)).decode("ascii")
        parts = [
            '<div class="rk-audio">',
            f"<div><code>{html.escape(repr(self))}</code></div>",
            f'<img src="data:image/png;base64,{png}" alt="waveform" style="display:block"/>',
        ]
        if self.duration <= _REPR_PLAYER_MAX_SECONDS:
            parts.append(self.play()._repr_html_())
        else:
            parts.append(f"<div>(no player for {self.duration / 60:.0f} minutes; use audio[a:b].play())</div>")
        parts.append("</div>")
        return "\n".join(parts)

    def _repr_mimebundle_(self, include: Sequence[str] | None = None,
                          exclude: Sequence[str] | None = None) -> dict[str, str]:
        """text/plain (cheap) and text/html (waveform PNG and player), honouring include/exclude."""

        def wanted(mime: str) -> bool:
            return (not include or mime in include) and (not exclude or mime not in exclude)

        bundle = {}
        if wanted("text/plain"):
            bundle["text/plain"] = repr(self)
        if wanted("text/html"):
            bundle["text/html"] = self._repr_html_()
        return bundle


def _describe(source: Any) -> str:
    if isinstance(source, str | os.PathLike):
        return repr(os.fspath(source))
    return "the data" if isinstance(source, bytes | bytearray) else "the file object"


# ---------------------------------------------------------------------------------------------- collecting


class AudioBuffer:
    """Collects wire deltas in one bytearray (O(n) overall); `.audio` builds an Audio when read.

        >>> buf = AudioBuffer()                    # audio/pcm at 24 kHz
        >>> for delta in ["AAA=", "AQA="]:          # response.output_audio.delta payloads
        ...     buf.append_base64(delta)
        >>> buf.audio.samples.tolist(), buf.nbytes
        ([0, 1], 4)
    """

    def __init__(self, fmt: str | Mapping[str, Any] = PCM, rate: int | None = None) -> None:
        self._format, self._rate = _wire_format(fmt, rate)
        self._data = bytearray()
        self._audio: Audio | None = None

    def append(self, pcm: bytes | bytearray | memoryview) -> None:
        """Add wire bytes in this buffer's format (PCM16, or G.711 bytes for audio/pcmu and audio/pcma)."""
        self._data += pcm
        self._audio = None

    def append_base64(self, b64: str | bytes) -> None:
        """Add one base64 delta."""
        self.append(_b64decode(b64))

    @property
    def nbytes(self) -> int:
        """Bytes collected so far."""
        return len(self._data)

    @property
    def duration(self) -> float:
        """Seconds collected so far (whole samples only)."""
        return self.nbytes // _BYTES_PER_SAMPLE[self._format] / self._rate

    @property
    def audio(self) -> Audio:
        """Everything collected, as an Audio (built on first read after an append)."""
        if self._audio is None:
            whole = self.nbytes - self.nbytes % _BYTES_PER_SAMPLE[self._format]  # half a sample waits for more
            samples = _decode_wire(memoryview(self._data)[:whole], self._format)
            self._audio = Audio._wrap(samples, self._rate)
        return self._audio

    def __repr__(self) -> str:
        return f"AudioBuffer({self._format}, {self._rate} Hz, {self.duration:.2f} s, {self.nbytes} bytes)"


# ---------------------------------------------------------------------------------------------- coercion


def coerce_audio(x: Any, rate: int | None = None) -> Audio:
    """Audio from what people have at hand: an Audio, (samples, rate), samples with rate=, or a WAV path.

        >>> coerce_audio((np.zeros(16000, dtype=np.int16), 16000)).duration
        1.0
        >>> coerce_audio(np.zeros(8000, dtype=np.int16), rate=8000).rate
        8000
    """
    if isinstance(x, Audio):
        if rate is not None and _check_rate(rate) != x.rate:
            raise ValueError(
                f"got an Audio at {x.rate} Hz with rate={rate}; leave rate out (an Audio knows its rate) "
                f"or call audio.resample({rate})"
            )
        return x
    if isinstance(x, str | os.PathLike):
        return Audio.from_wav(x)
    if isinstance(x, bytes | bytearray):
        if bytes(x[:4]) == b"RIFF":
            return Audio.from_wav(bytes(x))
        raise TypeError("raw bytes have no format or rate; use rk.Audio.from_bytes(data, 'audio/pcm', rate)")
    if hasattr(x, "read"):
        return Audio.from_wav(x)
    if isinstance(x, tuple) and len(x) == 2:
        return _from_pair(x, rate)
    if rate is None:
        raise ValueError(
            "bare samples have no rate; pass it, e.g. coerce_audio(samples, rate=16000) or (samples, 16000)"
        )
    return Audio(x, rate)


def _from_pair(pair: tuple[Any, Any], rate: int | None) -> Audio:
    """(samples, rate) or scipy's (rate, samples)."""
    first, second = pair
    samples, pair_rate = (second, first) if isinstance(first, int | np.integer) else (first, second)
    if rate is not None and _check_rate(rate) != _check_rate(pair_rate):
        raise ValueError(f"got (samples, {pair_rate}) with rate={rate}; give the rate once")
    return Audio(samples, _check_rate(pair_rate))


def resample_int16(samples: np.ndarray, from_rate: int, to_rate: int) -> np.ndarray:
    """int16 samples at from_rate -> a new int16 array at to_rate (scipy's polyphase resampler).

    >>> resample_int16(np.zeros(441, np.int16), 44100, 24000).size
    240
    """
    if from_rate == to_rate or samples.size == 0:
        return samples.astype(np.int16, copy=True)
    from scipy.signal import resample_poly

    divisor = math.gcd(from_rate, to_rate)
    resampled = resample_poly(samples.astype(np.float32), to_rate // divisor, from_rate // divisor)
    # The filter can overshoot near full scale: clip quietly, the input was in range.
    return np.clip(np.rint(resampled), -32768, 32767).astype(np.int16)
