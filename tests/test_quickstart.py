"""The README's first command's main job, `python -m realtime_kit.quickstart`, end to end on the embedded server."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy.io import wavfile
from speech_fixtures import median_pitch_hz

pytestmark = [pytest.mark.wire, pytest.mark.timeout(180)]

# Variables that would point rk.connect() at a cloud or a room server instead of the embedded one.
TARGET_VARIABLES = ("AZURE_OPENAI_ENDPOINT", "AZURE_OPENAI_API_KEY", "OPENAI_API_KEY", "REALTIME_KIT_URL",
                    "REALTIME_KIT_API_KEY")


def run_quickstart(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run the quickstart as a user would, from ``folder``, with no cloud variables set."""
    env = {key: value for key, value in os.environ.items() if key not in TARGET_VARIABLES}
    return subprocess.run([sys.executable, "-m", "realtime_kit.quickstart", *args], cwd=folder, env=env,
                          capture_output=True, text=True, timeout=150)


def test_quickstart_streams_the_answer_and_saves_it_as_a_wav(tmp_path: Path) -> None:
    """Streams transcript and audio deltas, prints the answer, and reply.wav holds exactly the audio it reports."""
    run = run_quickstart(tmp_path, "--text", "Repeat after me: the workshop starts now.")
    assert run.returncode == 0, run.stdout + run.stderr
    out = run.stdout
    assert "You: Repeat after me: the workshop starts now." in out
    assert "Transcript delta: " in out
    deltas = [int(size) for size in re.findall(r"^Audio delta: (\d+) bytes$", out, re.MULTILINE)]
    assert len(deltas) >= 2 and all(size > 0 for size in deltas)
    assert re.search(r"^Assistant: The workshop starts now\.?$", out, re.MULTILINE | re.IGNORECASE), out
    assert re.search(r"^Status: completed; usage: \d+ tokens$", out, re.MULTILINE), out
    assert "Timings: " in out and "first_audio" in out

    rate, samples = wavfile.read(tmp_path / "reply.wav")
    reported = re.search(r"^Audio: ([\d.]+) s \((\d+) bytes PCM16 at (\d+) Hz\), saved to reply.wav$", out,
                         re.MULTILINE)
    assert reported, out
    seconds, total_bytes, reported_rate = float(reported[1]), int(reported[2]), int(reported[3])
    assert (rate, samples.dtype) == (reported_rate, np.int16) == (24000, np.int16)
    assert samples.nbytes == total_bytes == sum(deltas)
    assert abs(len(samples) / rate - seconds) < 0.01
    assert np.sqrt(np.mean(samples.astype(np.float64) ** 2)) > 100  # a voice, not silence


def test_quickstart_save_and_voice_options(tmp_path: Path) -> None:
    """--save writes where asked and --voice changes the voice (a lower pitch for cedar than for shimmer)."""
    pitches = {}
    for voice in ("cedar", "shimmer"):
        run = run_quickstart(tmp_path, "--voice", voice, "--save", f"{voice}.wav", "--text", "Say hello there.")
        assert run.returncode == 0, run.stdout + run.stderr
        rate, samples = wavfile.read(tmp_path / f"{voice}.wav")
        pitches[voice] = median_pitch_hz(samples, rate)
    assert not (tmp_path / "reply.wav").exists()
    assert pitches["cedar"] < pitches["shimmer"], pitches


def test_quickstart_reports_a_bad_target_in_one_line(tmp_path: Path) -> None:
    """A target it cannot use exits 1 with an `error:` sentence, not a traceback."""
    run = run_quickstart(tmp_path, "--target", "carrier-pigeon")
    assert run.returncode == 1
    assert run.stderr.startswith("error: ") and "Traceback" not in run.stderr, run.stderr
