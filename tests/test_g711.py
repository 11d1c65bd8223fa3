"""G.711 mu-law and A-law against independent references: the stdlib audioop (Sun's g711.c) and ITU values."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from realtime_kit.audio import g711

pytestmark = pytest.mark.pure

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)  # audioop warns on 3.11-3.12; audioop-lts on 3.13+
    import audioop

ALL_INT16 = np.arange(-32768, 32768, dtype=np.int16)
ALL_BYTES = bytes(range(256))

# Values written out from ITU-T G.711 (tables 1a/2a) as implemented by g711.c: (linear, code, decoded linear).
ULAW_POINTS = [
    (0, 0xFF, 0),
    (-1, 0x7E, -8),
    (32767, 0x80, 32124),
    (-32768, 0x00, -32124),
    (1000, 0xCE, 988),
    (-1000, 0x4E, -988),
    (124, 0xEF, 132),
]
ALAW_POINTS = [
    (0, 0xD5, 8),
    (-1, 0x55, -8),
    (32767, 0xAA, 32256),
    (-32768, 0x2A, -32256),
    (1000, 0xFA, 1008),
    (-1000, 0x7A, -1008),
]


def test_ulaw_encode_matches_audioop_for_every_int16_value():
    """encode_ulaw gives audioop.lin2ulaw's byte for each of the 65536 int16 values."""
    assert g711.encode_ulaw(ALL_INT16) == audioop.lin2ulaw(ALL_INT16.tobytes(), 2)


def test_alaw_encode_matches_audioop_for_every_int16_value():
    """encode_alaw gives audioop.lin2alaw's byte for each of the 65536 int16 values."""
    assert g711.encode_alaw(ALL_INT16) == audioop.lin2alaw(ALL_INT16.tobytes(), 2)


def test_ulaw_decode_matches_audioop_for_every_byte():
    """decode_ulaw gives audioop.ulaw2lin's int16 for each of the 256 bytes."""
    expected = np.frombuffer(audioop.ulaw2lin(ALL_BYTES, 2), dtype=np.int16)
    decoded = g711.decode_ulaw(ALL_BYTES)
    assert decoded.dtype == np.int16
    np.testing.assert_array_equal(decoded, expected)


def test_alaw_decode_matches_audioop_for_every_byte():
    """decode_alaw gives audioop.alaw2lin's int16 for each of the 256 bytes."""
    expected = np.frombuffer(audioop.alaw2lin(ALL_BYTES, 2), dtype=np.int16)
    decoded = g711.decode_alaw(ALL_BYTES)
    assert decoded.dtype == np.int16
    np.testing.assert_array_equal(decoded, expected)


@pytest.mark.parametrize(("linear", "code", "decoded"), ULAW_POINTS)
def test_ulaw_itu_points(linear, code, decoded):
    """Spot values of the ITU mu-law table encode and decode as written."""
    assert g711.encode_ulaw(np.array([linear], dtype=np.int16)) == bytes([code])
    assert g711.decode_ulaw(bytes([code])).tolist() == [decoded]


@pytest.mark.parametrize(("linear", "code", "decoded"), ALAW_POINTS)
def test_alaw_itu_points(linear, code, decoded):
    """Spot values of the ITU A-law table encode and decode as written."""
    assert g711.encode_alaw(np.array([linear], dtype=np.int16)) == bytes([code])
    assert g711.decode_alaw(bytes([code])).tolist() == [decoded]


def test_ulaw_negative_zero_decodes_to_zero():
    """The mu-law code 0x7F (negative zero) decodes to 0, like 0xFF."""
    assert g711.decode_ulaw(b"\x7f\xff").tolist() == [0, 0]


def test_every_code_survives_decode_then_encode():
    """Decoding a byte and encoding the result gives the byte back (mu-law's negative zero becomes zero)."""
    ulaw_again = g711.encode_ulaw(g711.decode_ulaw(ALL_BYTES))
    assert ulaw_again == ALL_BYTES.replace(b"\x7f", b"\xff")
    assert g711.encode_alaw(g711.decode_alaw(ALL_BYTES)) == ALL_BYTES


def test_decode_is_monotonic_in_the_linear_value():
    """Encoding then decoding every int16 keeps the order of the values (a companding staircase)."""
    for encode, decode in ((g711.encode_ulaw, g711.decode_ulaw), (g711.encode_alaw, g711.decode_alaw)):
        staircase = decode(encode(ALL_INT16)).astype(np.int32)
        assert np.all(np.diff(staircase) >= 0)


def test_decode_accepts_bytearray_memoryview_and_uint8_arrays():
    """Decoders take any bytes-like input or a uint8 array."""
    codes = bytes([0x00, 0x80, 0xFF])
    expected = g711.decode_ulaw(codes)
    for data in (bytearray(codes), memoryview(codes), np.frombuffer(codes, dtype=np.uint8)):
        np.testing.assert_array_equal(g711.decode_ulaw(data), expected)


def test_encode_refuses_non_int16_with_a_fix():
    """Encoding floats raises a TypeError that says to convert to int16 first."""
    with pytest.raises(TypeError, match="int16"):
        g711.encode_ulaw(np.zeros(4, dtype=np.float32))
