"""rk.Audio: construction, editing, levels, the wire formats, WAV files, resampling, display."""

from __future__ import annotations

import base64
import io
import json
import math
import re
import subprocess
import sys
import warnings

import numpy as np
import pytest
import soundfile
from scipy.io import wavfile

from realtime_kit.audio import Audio, AudioBuffer, ClippingWarning, coerce_audio, g711

pytestmark = pytest.mark.pure

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)  # audioop warns on 3.11-3.12; audioop-lts on 3.13+
    import audioop


def speechlike(seconds: float = 1.0, rate: int = 24000, seed: int = 0) -> np.ndarray:
    """Noise under a slow varying envelope, as int16: a stand-in for speech."""
    rng = np.random.default_rng(seed)
    n = round(seconds * rate)
    shape = np.abs(np.sin(np.linspace(0, 7, n))) * 0.6
    return (rng.standard_normal(n) * shape * 8000).clip(-32768, 32767).astype(np.int16)


def peak_hz(audio: Audio) -> float:
    """Frequency of the strongest FFT bin."""
    spectrum = np.abs(np.fft.rfft(audio.as_float() * np.hanning(audio.samples.size)))
    return float(np.fft.rfftfreq(audio.samples.size, 1 / audio.rate)[spectrum.argmax()])


# ---------------------------------------------------------------------------------------------- construction


def test_int16_samples_are_copied_and_read_only():
    """Audio keeps its own read-only int16 copy of the samples it was given."""
    source = np.array([1, -2, 3], dtype=np.int16)
    audio = Audio(source, rate=16000)
    source[0] = 99
    assert audio.samples.tolist() == [1, -2, 3]
    assert audio.samples.dtype == np.int16
    with pytest.raises(ValueError):
        audio.samples[0] = 5


def test_float_samples_scale_to_int16_full_scale():
    """Floats map x -> round(x * 32768), with 1.0 landing on 32767."""
    audio = Audio(np.array([0.0, 0.5, -0.5, -1.0, 1.0], dtype=np.float32))
    assert audio.samples.tolist() == [0, 16384, -16384, -32768, 32767]
    assert Audio(np.array([0.25])).samples.tolist() == [8192]


def test_floats_outside_unit_range_clip_with_a_warning():
    """Floats beyond [-1, 1] clip to full scale and raise a ClippingWarning that names the fix."""
    with pytest.warns(ClippingWarning, match="clipped"):
        audio = Audio(np.array([2.0, -3.0, 0.5]))
    assert audio.samples.tolist() == [32767, -32768, 16384]


def test_floats_inside_unit_range_do_not_warn():
    """In-range floats convert silently."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        Audio(np.linspace(-1, 1, 101))


def test_int32_is_full_scale_32_bit():
    """int32 samples (as scipy reads 24- and 32-bit WAV) keep their top 16 bits."""
    audio = Audio(np.array([1 << 30, -(1 << 31), 1000 << 16], dtype=np.int32))
    assert audio.samples.tolist() == [16384, -32768, 1000]


def test_stereo_is_mixed_down_to_the_channel_average():
    """(n, channels) samples become mono: the average of the channels."""
    stereo = np.array([[1000, 3000], [-2000, -2000], [500, -500]], dtype=np.int16)
    assert Audio(stereo).samples.tolist() == [2000, -2000, 0]
    same = np.repeat(speechlike(0.1)[:, None], 2, axis=1)
    np.testing.assert_array_equal(Audio(same).samples, same[:, 0])


def test_channels_first_arrays_are_refused_with_the_fix():
    """A (channels, n) array is refused with a message that suggests samples.T."""
    with pytest.raises(ValueError, match=r"samples\.T"):
        Audio(np.zeros((2, 48000), dtype=np.int16))


def test_ambiguous_dtypes_and_nan_are_refused():
    """int64 samples raise TypeError; NaN raises ValueError; each names the fix."""
    with pytest.raises(TypeError, match="int16"):
        Audio(np.array([1, 2, 3], dtype=np.int64))
    with pytest.raises(ValueError, match="NaN"):
        Audio(np.array([0.0, np.nan]))


@pytest.mark.parametrize("rate", [0, -8000, 44100.5, "24000", None])
def test_bad_rates_are_refused(rate):
    """A rate must be a positive whole number."""
    with pytest.raises((TypeError, ValueError), match="rate"):
        Audio(np.zeros(4, dtype=np.int16), rate=rate)


def test_duration_and_as_float():
    """duration is samples / rate; as_float is float32 samples / 32768."""
    audio = Audio(np.array([-32768, 0, 16384, 32767] * 6000, dtype=np.int16))
    assert audio.duration == 1.0
    floats = audio.as_float()
    assert floats.dtype == np.float32
    assert floats.min() == -1.0 and floats.max() < 1.0
    np.testing.assert_array_equal(floats * 32768, audio.samples)


# ---------------------------------------------------------------------------------------------- editing


def test_slicing_is_by_seconds():
    """audio[a:b] keeps the samples from a to b seconds; negative times count from the end."""
    audio = Audio(np.arange(24000, dtype=np.int16))
    part = audio[0.25:0.5]
    assert part.rate == 24000
    assert part.samples.tolist() == list(range(6000, 12000))
    assert audio[-0.1:].samples.size == 2400
    assert audio[:0.001].samples.tolist() == list(range(24))


def test_slicing_refuses_steps_and_single_indices():
    """A step or a single index raises an error that shows the seconds slice."""
    audio = Audio.silence(1.0)
    with pytest.raises(TypeError, match=r"audio\[0\.5:1\.25\]"):
        audio[3]  # type: ignore[index]
    with pytest.raises(ValueError, match="resample"):
        audio[0:1:2]


def test_addition_concatenates_and_resamples_the_right_side():
    """a + b is a followed by b at a's rate; sum() works too."""
    first = Audio(np.ones(24000, dtype=np.int16), rate=24000)
    second = Audio.silence(0.5, rate=8000)
    joined = first + second
    assert joined.rate == 24000
    assert joined.duration == 1.5
    np.testing.assert_array_equal(joined.samples[:24000], 1)
    total = sum([first, first])
    assert isinstance(total, Audio) and total.duration == 2.0


def test_concat_joins_parts_at_the_given_rate():
    """Audio.concat resamples every part to one rate; no parts gives empty audio."""
    parts = [Audio.tone(440, 0.5, rate=16000), Audio.silence(0.25, rate=8000)]
    joined = Audio.concat(parts, rate=24000)
    assert joined.rate == 24000 and joined.duration == 0.75
    assert Audio.concat([]).duration == 0.0
    with pytest.raises(TypeError, match="Audio"):
        Audio.concat([np.zeros(3)])  # type: ignore[list-item]


def test_equality_compares_rate_and_samples():
    """Two Audio are equal when rate and samples are."""
    assert Audio.silence(0.1) == Audio.silence(0.1)
    assert Audio.silence(0.1) != Audio.silence(0.1, rate=8000)
    assert Audio.silence(0.1) != Audio.tone(440, 0.1)


def test_levels_in_dbfs():
    """Peak and RMS of a full-scale sine read 0 and -3.01 dBFS; silence reads -inf."""
    sine = Audio.tone(1000, 1.0, dbfs=0.0)
    assert sine.peak_dbfs == pytest.approx(0.0, abs=0.01)
    assert sine.rms_dbfs == pytest.approx(-3.01, abs=0.01)
    assert Audio.tone(1000, 1.0, dbfs=-20.0).peak_dbfs == pytest.approx(-20.0, abs=0.01)
    assert Audio.silence(1.0).peak_dbfs == -math.inf
    assert Audio.silence(1.0).rms_dbfs == -math.inf
    assert Audio(np.array([-32768], dtype=np.int16)).peak_dbfs == 0.0


def test_trim_silence_drops_quiet_edges_only():
    """trim_silence removes leading and trailing quiet samples and keeps the middle untouched."""
    tone = Audio.tone(440, 0.5)
    padded = Audio.silence(1.0) + tone + Audio.silence(0.7)
    trimmed = padded.trim_silence(-50.0)
    assert trimmed.duration <= tone.duration
    assert trimmed.duration > tone.duration - 0.01
    assert Audio.silence(1.0).trim_silence().duration == 0.0


def test_silence_and_tone():
    """silence is zeros; tone has the asked frequency, length and peak."""
    assert not Audio.silence(0.5, rate=8000).samples.any()
    tone = Audio.tone(1000, 0.5, rate=16000, dbfs=-6.0)
    assert tone.samples.size == 8000
    assert peak_hz(tone) == pytest.approx(1000, abs=2)
    assert tone.peak_dbfs == pytest.approx(-6.0, abs=0.01)


# ---------------------------------------------------------------------------------------------- the wire


def test_pcm_bytes_are_little_endian_int16():
    """audio/pcm bytes are the samples as little-endian int16, both ways."""
    samples = np.array([1, -2, 300, -32768], dtype=np.int16)
    data = samples.astype("<i2").tobytes()
    assert Audio(samples).to_bytes() == data
    assert Audio.from_bytes(data).samples.tolist() == samples.tolist()
    assert Audio.from_bytes(data).rate == 24000


def test_odd_pcm_bytes_are_refused():
    """audio/pcm data of odd length raises an error that says so."""
    with pytest.raises(ValueError, match="odd"):
        Audio.from_bytes(b"\x00\x01\x02")


@pytest.mark.parametrize(
    ("fmt", "reference"),
    [("audio/pcmu", audioop.ulaw2lin), ("audio/pcma", audioop.alaw2lin),
     ("g711_ulaw", audioop.ulaw2lin), ("g711_alaw", audioop.alaw2lin)],
)
def test_g711_bytes_decode_like_audioop_at_8000_hz(fmt, reference):
    """G.711 bytes decode as audioop does, at 8000 Hz by default."""
    data = bytes(range(256))
    audio = Audio.from_bytes(data, fmt)
    assert audio.rate == 8000
    np.testing.assert_array_equal(audio.samples, np.frombuffer(reference(data, 2), dtype=np.int16))


def test_to_bytes_resamples_to_the_format_rate():
    """to_bytes gives 8000 samples per second for G.711 and 24000 for audio/pcm, whatever the rate."""
    audio = Audio.tone(440, 1.0, rate=44100)
    assert len(audio.to_bytes("audio/pcmu")) == 8000
    assert len(audio.to_bytes("audio/pcma")) == 8000
    assert len(audio.to_bytes("audio/pcm")) == 48000
    assert len(audio.to_bytes("audio/pcm", rate=16000)) == 32000


def test_to_bytes_g711_matches_audioop_at_8000_hz():
    """At 8000 Hz, to_bytes('audio/pcmu') is exactly audioop.lin2ulaw of the samples."""
    audio = Audio(speechlike(0.5, rate=8000), rate=8000)
    assert audio.to_bytes("audio/pcmu") == audioop.lin2ulaw(audio.samples.tobytes(), 2)
    assert audio.to_bytes("audio/pcma") == audioop.lin2alaw(audio.samples.tobytes(), 2)


def test_format_dicts_and_unknown_formats():
    """A GA format dict is accepted; an unknown name raises an error listing the GA names."""
    data = bytes(160)
    assert Audio.from_bytes(data, {"type": "audio/pcmu"}).rate == 8000
    assert Audio.from_bytes(data, {"type": "audio/pcm", "rate": 24000}).duration == 80 / 24000
    with pytest.raises(ValueError, match="audio/pcmu"):
        Audio.from_bytes(data, "mp3")


def test_base64_chunks_round_trip_and_have_the_asked_length():
    """to_base64_chunks gives ms-long payloads whose decoded bytes join to to_bytes, and from_base64 reads them."""
    audio = Audio(speechlike(1.05))
    chunks = audio.to_base64_chunks(ms=100)
    sizes = [len(base64.b64decode(c)) for c in chunks]
    assert sizes[:-1] == [4800] * 10 and sizes[-1] == 2400
    assert b"".join(base64.b64decode(c) for c in chunks) == audio.to_bytes()
    assert Audio.from_base64(chunks) == audio


def test_base64_chunks_in_g711_are_8000_bytes_per_second():
    """20 ms of audio/pcmu is 160 bytes per chunk and decodes to the G.711 of the resampled audio."""
    audio = Audio(speechlike(0.2))
    chunks = audio.to_base64_chunks(ms=20, fmt="audio/pcmu")
    assert [len(base64.b64decode(c)) for c in chunks] == [160] * 10
    decoded = Audio.from_base64(chunks, "audio/pcmu")
    np.testing.assert_array_equal(decoded.samples, g711.decode_ulaw(audio.to_bytes("audio/pcmu")))


def test_from_base64_takes_a_single_string_and_refuses_garbage():
    """One base64 string is one delta; invalid base64 raises an error that says what to pass."""
    assert Audio.from_base64("AQACAA==").samples.tolist() == [1, 2]
    with pytest.raises(ValueError, match="base64"):
        Audio.from_base64(["A"])


def test_audio_buffer_collects_deltas():
    """AudioBuffer appends deltas and its audio equals the joined samples; duration and nbytes follow."""
    audio = Audio(speechlike(0.5))
    buffer = AudioBuffer()
    for chunk in audio.to_base64_chunks(ms=40):
        buffer.append_base64(chunk)
    assert buffer.nbytes == 24000
    assert buffer.duration == 0.5
    assert buffer.audio == audio


def test_audio_buffer_builds_audio_once_per_read_and_waits_for_half_samples():
    """Reading .audio twice gives the same object; a trailing half sample waits for the next append."""
    buffer = AudioBuffer("audio/pcm", 24000)
    buffer.append(b"\x01\x00\x02")
    first = buffer.audio
    assert first is buffer.audio
    assert first.samples.tolist() == [1]
    buffer.append(b"\x00")
    assert buffer.audio.samples.tolist() == [1, 2]
    assert "AudioBuffer(audio/pcm, 24000 Hz" in repr(buffer)


def test_audio_buffer_for_g711_defaults_to_8000_hz():
    """An audio/pcma buffer decodes A-law at 8000 Hz."""
    buffer = AudioBuffer("audio/pcma")
    buffer.append(bytes([0xD5, 0x55]))
    assert buffer.audio.rate == 8000
    assert buffer.audio.samples.tolist() == [8, -8]


# ---------------------------------------------------------------------------------------------- WAV files

WAV_KINDS = [("PCM_U8", 256), ("PCM_16", 0), ("PCM_24", 0), ("PCM_32", 0), ("FLOAT", 0), ("DOUBLE", 0)]


@pytest.mark.parametrize(("subtype", "tolerance"), WAV_KINDS)
@pytest.mark.parametrize("channels", [1, 2])
@pytest.mark.parametrize("rate", [8000, 44100])
def test_from_wav_reads_files_written_by_soundfile(tmp_path, subtype, tolerance, channels, rate):
    """from_wav reads 8/16/24/32-bit PCM and float WAV, mono or stereo, by path and by file object."""
    mono = speechlike(0.3, rate=rate)
    unit = mono / 32768.0  # soundfile scales floats to each subtype's full scale
    data = np.repeat(unit[:, None], channels, axis=1) if channels == 2 else unit
    path = tmp_path / f"{subtype}.wav"
    soundfile.write(path, data, rate, subtype=subtype)
    from_path = Audio.from_wav(path)
    with open(path, "rb") as file:
        from_file = Audio.from_wav(file)
    for audio in (from_path, from_file, Audio.from_wav(str(path))):
        assert audio.rate == rate
        assert audio.samples.size == mono.size
        assert np.max(np.abs(audio.samples.astype(np.int32) - mono)) <= tolerance


def test_from_wav_reads_a_scipy_file_object_in_memory():
    """A WAV in a BytesIO, written by scipy, reads back exactly; so do its raw bytes."""
    samples = speechlike(0.2, rate=16000)
    out = io.BytesIO()
    wavfile.write(out, 16000, samples)
    out.seek(0)
    audio = Audio.from_wav(out)
    assert audio.rate == 16000
    np.testing.assert_array_equal(audio.samples, samples)
    assert Audio.from_wav(out.getvalue()) == audio


def test_to_wav_writes_16_bit_mono_that_soundfile_reads(tmp_path):
    """to_wav writes a 16-bit mono WAV at the audio's rate, to a path or a file object."""
    audio = Audio(speechlike(0.3, rate=22050), rate=22050)
    path = tmp_path / "out.wav"
    audio.to_wav(path)
    data, rate = soundfile.read(path, dtype="int16")
    assert rate == 22050
    assert soundfile.info(path).subtype == "PCM_16"
    np.testing.assert_array_equal(data, audio.samples)
    out = io.BytesIO()
    audio.to_wav(out)
    assert out.getvalue() == path.read_bytes()


def test_from_wav_on_a_non_wav_file_names_the_fix(tmp_path):
    """Reading something that is not WAV raises a ValueError naming the file and a conversion."""
    path = tmp_path / "song.mp3"
    path.write_bytes(b"ID3" + bytes(100))
    with pytest.raises(ValueError, match=r"song\.mp3.*ffmpeg"):
        Audio.from_wav(path)


# ---------------------------------------------------------------------------------------------- resampling


@pytest.mark.parametrize(("source", "target"), [(44100, 24000), (48000, 24000), (24000, 8000), (8000, 24000),
                                                 (16000, 44100)])
def test_resampling_keeps_a_tones_frequency_and_the_duration(source, target):
    """resample keeps a 1 kHz tone at 1 kHz (FFT peak) and the duration."""
    tone = Audio.tone(1000, 1.0, rate=source)
    resampled = tone.resample(target)
    assert resampled.rate == target
    assert resampled.samples.size == target
    assert resampled.duration == pytest.approx(tone.duration)
    assert peak_hz(resampled) == pytest.approx(1000, abs=2)
    assert resampled.peak_dbfs == pytest.approx(tone.peak_dbfs, abs=0.3)


def test_resampling_to_the_same_rate_changes_nothing():
    """resample(rate) at the current rate keeps the samples."""
    audio = Audio(speechlike(0.1))
    assert audio.resample(24000) == audio


# ---------------------------------------------------------------------------------------------- coercion


def test_coerce_audio_accepts_what_people_have(tmp_path):
    """coerce_audio takes an Audio, (samples, rate), scipy's (rate, samples), samples with rate=, or a WAV path."""
    samples = speechlike(0.1, rate=16000)
    audio = Audio(samples, rate=16000)
    path = tmp_path / "q.wav"
    wavfile.write(path, 16000, samples)
    assert coerce_audio(audio) is audio
    for candidate in [(samples, 16000), (16000, samples), path, str(path), path.read_bytes()]:
        assert coerce_audio(candidate) == audio
    assert coerce_audio(samples, rate=16000) == audio
    assert coerce_audio(wavfile.read(path)) == audio


def test_coerce_audio_refuses_bare_samples_and_rate_conflicts():
    """Bare samples without a rate, or an Audio with a different rate=, raise errors that name the fix."""
    with pytest.raises(ValueError, match="rate="):
        coerce_audio(np.zeros(10, dtype=np.int16))
    with pytest.raises(ValueError, match="resample"):
        coerce_audio(Audio.silence(0.1), rate=16000)
    with pytest.raises(TypeError, match="from_bytes"):
        coerce_audio(b"\x00\x01")


# ---------------------------------------------------------------------------------------------- display


def test_repr_is_short_and_plain():
    """repr shows duration, rate and peak level."""
    assert repr(Audio.tone(440, 2.35, dbfs=-3.1)) == "Audio(2.35 s, 24000 Hz, peak -3.1 dBFS)"
    assert repr(Audio.silence(1.0, rate=8000)) == "Audio(1.00 s, 8000 Hz, silent)"


def test_mimebundle_has_a_player_and_a_waveform_png():
    """The HTML holds a PNG waveform and an <audio> player whose WAV has the exact samples."""
    audio = Audio(speechlike(0.5))
    bundle = audio._repr_mimebundle_()
    assert bundle["text/plain"] == repr(audio)
    page = bundle["text/html"]
    png = re.search(r'src="data:image/png;base64,([^"]+)"', page)
    assert png is not None and base64.b64decode(png.group(1)).startswith(b"\x89PNG\r\n\x1a\n")
    wav = re.search(r'src="data:audio/wav;base64,([^"]+)"', page)
    assert "<audio" in page and wav is not None
    data, rate = soundfile.read(io.BytesIO(base64.b64decode(wav.group(1))), dtype="int16")
    assert rate == 24000
    np.testing.assert_array_equal(data, audio.samples)


def test_mimebundle_respects_include_and_exclude():
    """include and exclude select which mimetypes are rendered."""
    audio = Audio.silence(0.1)
    assert set(audio._repr_mimebundle_(include=["text/plain"])) == {"text/plain"}
    assert set(audio._repr_mimebundle_(exclude=["text/html"])) == {"text/plain"}
    assert set(audio._repr_mimebundle_(include=["text/html"], exclude=["text/plain"])) == {"text/html"}


def test_very_long_audio_has_no_embedded_player():
    """Beyond ten minutes the HTML keeps the waveform but leaves the player out, saying how to play a slice."""
    page = Audio.silence(601, rate=8000)._repr_mimebundle_()["text/html"]
    assert "<audio" not in page and "image/png" in page and "play()" in page


def test_play_returns_an_ipython_player_with_the_exact_samples():
    """play() returns IPython.display.Audio holding a WAV of the unnormalised samples."""
    from IPython.display import Audio as IPythonAudio

    audio = Audio.tone(440, 0.2, dbfs=-30.0)
    player = audio.play(autoplay=True)
    assert isinstance(player, IPythonAudio)
    assert player.autoplay
    data, _ = soundfile.read(io.BytesIO(player.data), dtype="int16")
    np.testing.assert_array_equal(data, audio.samples)


def test_import_and_repr_load_no_heavy_modules():
    """Importing realtime_kit.audio and taking a repr loads neither matplotlib, scipy nor IPython."""
    code = (
        "import sys, json\n"
        "import realtime_kit.audio as a\n"
        "repr(a.Audio.tone(440, 0.1)); a.Audio.from_bytes(bytes(4)).to_bytes()\n"
        "print(json.dumps([m for m in ('matplotlib', 'scipy', 'IPython') if m in sys.modules]))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == []
