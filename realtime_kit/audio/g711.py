"""ITU-T G.711 mu-law and A-law, bit-exact with Sun's g711.c (the tables Python's old `audioop` used).

The GA Realtime API calls these formats "audio/pcmu" (mu-law) and "audio/pcma" (A-law): one byte per
sample at 8000 Hz. Encoding goes through a 65536-entry table (one byte per int16 value) and decoding
through a 256-entry table (one int16 per byte), both built once on first use, so a call is one
numpy indexing operation.

    >>> import numpy as np
    >>> encode_ulaw(np.array([0, 1000, -1000], dtype=np.int16)).hex()
    'ffce4e'
    >>> decode_ulaw(bytes.fromhex("ffce4e")).tolist()
    [0, 988, -988]
"""

from __future__ import annotations

from functools import cache

import numpy as np

__all__ = ["decode_alaw", "decode_ulaw", "encode_alaw", "encode_ulaw"]

# Segment end points of g711.c (seg_uend on 14-bit magnitudes, seg_aend on 13-bit magnitudes).
_SEG_UEND = np.array([0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF], dtype=np.int32)
_SEG_AEND = np.array([0x1F, 0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF], dtype=np.int32)
_ULAW_BIAS = 0x84
_ULAW_CLIP = 8159
_ALL_INT16 = np.arange(-32768, 32768, dtype=np.int32)
_ALL_BYTES = np.arange(256, dtype=np.int32)


def _segment(magnitude: np.ndarray, seg_end: np.ndarray) -> np.ndarray:
    """g711.c's search(): index of the first segment end >= magnitude (8 when above all of them)."""
    return np.searchsorted(seg_end, magnitude, side="left").astype(np.int32)


def _ulaw_of(pcm16: np.ndarray) -> np.ndarray:
    """linear2ulaw() of g711.c on 16-bit values, as audioop.lin2ulaw calls it (value >> 2)."""
    value = pcm16 >> 2
    mask = np.where(value < 0, 0x7F, 0xFF)
    magnitude = np.minimum(np.abs(value), _ULAW_CLIP) + (_ULAW_BIAS >> 2)
    seg = _segment(magnitude, _SEG_UEND)
    code = (np.minimum(seg, 7) << 4) | ((magnitude >> (np.minimum(seg, 7) + 1)) & 0xF)
    code = np.where(seg >= 8, 0x7F, code)
    return (code ^ mask).astype(np.uint8)


def _alaw_of(pcm16: np.ndarray) -> np.ndarray:
    """linear2alaw() of g711.c on 16-bit values, as audioop.lin2alaw calls it (value >> 3)."""
    value = pcm16 >> 3
    mask = np.where(value >= 0, 0xD5, 0x55)
    magnitude = np.where(value >= 0, value, -value - 1)
    seg = _segment(magnitude, _SEG_AEND)
    shift = np.where(seg < 2, 1, np.minimum(seg, 7))
    code = (np.minimum(seg, 7) << 4) | ((magnitude >> shift) & 0xF)
    code = np.where(seg >= 8, 0x7F, code)
    return (code ^ mask).astype(np.uint8)


def _linear_of_ulaw(codes: np.ndarray) -> np.ndarray:
    """ulaw2linear() of g711.c: 16-bit linear value of each mu-law byte."""
    inverted = ~codes & 0xFF
    t = (((inverted & 0xF) << 3) + _ULAW_BIAS) << ((inverted & 0x70) >> 4)
    return np.where(inverted & 0x80, _ULAW_BIAS - t, t - _ULAW_BIAS).astype(np.int16)


def _linear_of_alaw(codes: np.ndarray) -> np.ndarray:
    """alaw2linear() of g711.c: 16-bit linear value of each A-law byte."""
    flipped = codes ^ 0x55
    seg = (flipped & 0x70) >> 4
    t = ((flipped & 0xF) << 4) + np.where(seg == 0, 8, 0x108)
    t = t << np.maximum(seg - 1, 0)
    return np.where(flipped & 0x80, t, -t).astype(np.int16)


@cache
def _tables() -> dict[str, np.ndarray]:
    """Encode tables indexed by (int16 value + 32768) and decode tables indexed by byte."""
    tables = {
        "ulaw_encode": _ulaw_of(_ALL_INT16),
        "alaw_encode": _alaw_of(_ALL_INT16),
        "ulaw_decode": _linear_of_ulaw(_ALL_BYTES),
        "alaw_decode": _linear_of_alaw(_ALL_BYTES),
    }
    for table in tables.values():
        table.flags.writeable = False
    return tables


def _as_int16(samples: np.ndarray) -> np.ndarray:
    array = np.asarray(samples)
    if array.dtype != np.int16:
        raise TypeError(
            f"G.711 encodes int16 samples, got dtype {array.dtype}; convert first, e.g. rk.Audio(x).samples"
        )
    return array


def _as_codes(data: bytes | bytearray | memoryview | np.ndarray) -> np.ndarray:
    if isinstance(data, np.ndarray):
        return data.astype(np.uint8, copy=False).reshape(-1)
    return np.frombuffer(bytes(data), dtype=np.uint8)


def encode_ulaw(samples: np.ndarray) -> bytes:
    """int16 samples -> mu-law bytes (one per sample).

    >>> encode_ulaw(np.array([32767, -32768], dtype=np.int16)).hex()
    '8000'
    """
    pcm = _as_int16(samples)
    return _tables()["ulaw_encode"][pcm.astype(np.int32) + 32768].tobytes()


def encode_alaw(samples: np.ndarray) -> bytes:
    """int16 samples -> A-law bytes (one per sample).

    >>> encode_alaw(np.array([0, -1], dtype=np.int16)).hex()
    'd555'
    """
    pcm = _as_int16(samples)
    return _tables()["alaw_encode"][pcm.astype(np.int32) + 32768].tobytes()


def decode_ulaw(data: bytes | bytearray | memoryview | np.ndarray) -> np.ndarray:
    """mu-law bytes -> int16 samples.

    >>> decode_ulaw(b"\\x80\\x00").tolist()
    [32124, -32124]
    """
    return _tables()["ulaw_decode"][_as_codes(data)]


def decode_alaw(data: bytes | bytearray | memoryview | np.ndarray) -> np.ndarray:
    """A-law bytes -> int16 samples.

    >>> decode_alaw(b"\\xd5\\x55").tolist()
    [8, -8]
    """
    return _tables()["alaw_decode"][_as_codes(data)]
