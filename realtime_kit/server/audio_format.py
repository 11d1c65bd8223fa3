"""The session's audio formats as numbers: rates, bytes per millisecond, PCM16 and G.711 conversion.

``kind`` is a GA format type: "audio/pcm" (PCM16 at 24 kHz), "audio/pcmu" or "audio/pcma" (G.711 at 8 kHz).

    >>> ms_of(4800, "audio/pcm"), ms_of(800, "audio/pcmu")
    (100.0, 100.0)
    >>> decode(encode(np.array([0, 1000], dtype=np.int16), "audio/pcm"), "audio/pcm").tolist()
    [0, 1000]
"""

from __future__ import annotations

import numpy as np

from ..audio import g711
from ..rules import G711_RATE, PCM_RATE

__all__ = ["G711_RATE", "PCM_RATE", "bytes_per_ms", "decode", "encode", "encoded_view", "ms_of", "rate_of",
           "sample_width"]



def rate_of(kind: str) -> int:
    return PCM_RATE if kind == "audio/pcm" else G711_RATE


def sample_width(kind: str) -> int:
    """Bytes per sample: 2 for PCM16, 1 for G.711."""
    return 2 if kind == "audio/pcm" else 1


def bytes_per_ms(kind: str) -> float:
    return rate_of(kind) * sample_width(kind) / 1000


def ms_of(nbytes: int, kind: str) -> float:
    return nbytes / bytes_per_ms(kind)


def decode(data: bytes, kind: str) -> np.ndarray:
    """int16 samples from wire bytes (a trailing odd PCM byte is dropped)."""
    if kind == "audio/pcmu":
        return g711.decode_ulaw(data)
    if kind == "audio/pcma":
        return g711.decode_alaw(data)
    return np.frombuffer(data[: len(data) // 2 * 2], dtype="<i2").astype(np.int16)


def encode(samples: np.ndarray, kind: str) -> bytes:
    """Wire bytes from int16 samples."""
    pcm = np.asarray(samples, dtype=np.int16)
    if kind == "audio/pcmu":
        return g711.encode_ulaw(pcm)
    if kind == "audio/pcma":
        return g711.encode_alaw(pcm)
    return pcm.astype("<i2").tobytes()


def encoded_view(samples: np.ndarray, kind: str) -> bytes | memoryview:
    """Wire bytes from int16 samples, as a view of them when they already are those bytes (PCM16, little-endian)."""
    if kind == "audio/pcm" and samples.dtype == np.dtype("<i2") and samples.flags.c_contiguous:
        return samples.data.cast("B")
    return encode(samples, kind)
