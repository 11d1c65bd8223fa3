"""The seed's Python quickstart, credential swapped only, against `python -m realtime_kit.server`."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Callable

import pytest

from conftest import REPO, CliServer, TlsFiles

pytestmark = [pytest.mark.wire, pytest.mark.timeout(180)]

PROMPT = "Enter a message: "
AUDIO_LINE = re.compile(r"Received (\d+) bytes of audio data\.")


def run_seed_sample(endpoint: str, token: str, extra_env: dict[str, str]) -> list[str]:
    """Run tests/seed_sample.py, typing one message then "q" on its stdin; return its output lines."""
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "AZURE_OPENAI_ENDPOINT": endpoint,
        "AZURE_OPENAI_DEPLOYMENT_NAME": "gpt-realtime",
        "AZURE_OPENAI_TOKEN": token,
        **extra_env,
    }
    result = subprocess.run(
        [sys.executable, str(REPO / "tests" / "seed_sample.py")],
        input="How are you today?\nq\n", capture_output=True, text=True, env=env, cwd=REPO, timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    # input() prints its prompt without a newline, so it prefixes the line printed after it
    return [line.replace(PROMPT, "") for line in result.stdout.splitlines()]


@pytest.mark.parametrize("tls", [False, True], ids=["ws-http-endpoint", "wss-https-endpoint"])
def test_seed_sample_streams_transcript_and_audio_to_response_done(
    cli_server: Callable[..., CliServer], tls_files: TlsFiles, tls: bool
) -> None:
    """The seed sample prints transcript deltas and audio chunks (<= 12000 bytes) to response.done, then ends."""
    token = "seed-sample-token"
    tls_args = ["--certfile", str(tls_files.certfile), "--keyfile", str(tls_files.keyfile)] if tls else []
    server = cli_server("--api-key", token, "--pace", "fast", *tls_args)
    # The sample turns https:// into wss:// itself; for http:// the SDK picks ws://.
    endpoint = server.url.replace("wss://", "https://").replace("ws://", "http://")
    trust = {"SSL_CERT_FILE": str(tls_files.certfile)} if tls else {}

    lines = run_seed_sample(endpoint, token, trust)

    transcript = [line.removeprefix("Received text delta: ") for line in lines
                  if line.startswith("Received text delta: ")]
    audio_bytes = [int(m.group(1)) for line in lines if (m := AUDIO_LINE.fullmatch(line))]
    assert transcript and audio_bytes, "\n".join(lines)
    assert "doing well" in "".join(transcript).lower()
    assert max(audio_bytes) <= 12000 and sum(audio_bytes) >= 24000  # at least half a second of PCM16
    assert lines[-2:] == ["Stopping the conversation.", "Conversation ended."]
    assert server.stop() == 0
