"""The seed's JavaScript quickstart, credential swapped only, with the unchanged openai npm SDK over wss://.

The SDK always dials wss://, so the embedded server runs with the self-signed certificate from
conftest.py, and Node trusts it through NODE_EXTRA_CA_CERTS. Needs `npm ci --prefix tests/js` first.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass

import pytest

from conftest import REPO, TlsFiles
from realtime_kit.server import LocalServer

pytestmark = [pytest.mark.js, pytest.mark.timeout(180)]

JS_DIR = REPO / "tests" / "js"
SAMPLE = JS_DIR / "seed_sample.mjs"
TOKEN = "js-seed-sample-token"
MODEL = "gpt-realtime"
AUDIO_LINE = re.compile(r"Audio delta length: (\d+) bytes")
SESSION_LINE = re.compile(r"Session ID: (sess_\S+)")
FINAL_PREFIX = "The final response is: "


@dataclass(frozen=True)
class SampleRun:
    """What `node tests/js/seed_sample.mjs` printed and how it exited."""

    returncode: int
    stdout: str
    stderr: str

    @property
    def lines(self) -> list[str]:
        # the sample polls every 100 ms; its "Waiting for ..." lines say nothing about the protocol
        return [line for line in self.stdout.splitlines() if not line.startswith("Waiting for ")]

    def explain(self) -> str:
        return f"exit code {self.returncode}\n--- stdout ---\n{self.stdout}\n--- stderr ---\n{self.stderr}"


def require_node_modules() -> str:
    """The node binary, once the pinned SDK is installed; otherwise fail with the command that fixes it."""
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is not on PATH; install Node.js 20 or newer, then run `npm ci --prefix tests/js`.")
    pinned = json.loads((JS_DIR / "package.json").read_text())["dependencies"]
    for name, version in pinned.items():
        manifest = JS_DIR / "node_modules" / name / "package.json"
        if not manifest.is_file():
            pytest.fail(f"tests/js/node_modules has no {name}; run `npm ci --prefix tests/js` first.")
        installed = json.loads(manifest.read_text())["version"]
        if installed != version:
            pytest.fail(f"tests/js/node_modules has {name} {installed}, the lock pins {version}; "
                        "run `npm ci --prefix tests/js`.")
    return node


def run_js_sample(node: str, server: LocalServer, tls_files: TlsFiles, token: str) -> SampleRun:
    """Run the sample against ``server`` with ``token`` as its credential."""
    # The certificate names 127.0.0.1; the sample appends /openai/v1 and the SDK turns https into wss.
    endpoint = server.url.replace("wss://", "https://")
    env = {
        **os.environ,
        "NODE_EXTRA_CA_CERTS": str(tls_files.certfile),
        "AZURE_OPENAI_ENDPOINT": endpoint,
        "AZURE_OPENAI_DEPLOYMENT_NAME": MODEL,
        "AZURE_OPENAI_TOKEN": token,
    }
    result = subprocess.run(
        [node, str(SAMPLE)], capture_output=True, text=True, env=env, cwd=REPO, timeout=120,
    )
    return SampleRun(result.returncode, result.stdout, result.stderr)


def test_js_seed_sample_streams_transcript_and_audio_to_response_done(tls_files: TlsFiles) -> None:
    """The unchanged JS SDK gets session events, transcript and 4800/7200/12000-byte audio deltas, then done."""
    node = require_node_modules()
    with LocalServer(api_key=TOKEN, certfile=str(tls_files.certfile), keyfile=str(tls_files.keyfile)) as server:
        run = run_js_sample(node, server, tls_files, TOKEN)
        handshakes = list(server.handshakes)

    assert run.returncode == 0, run.explain()
    assert "error" not in run.stderr.lower(), run.explain()
    lines = run.lines
    events = [line.removeprefix("Received an event: ") for line in lines if line.startswith("Received an event: ")]
    assert events[:2] == ["session.created", "session.updated"], run.explain()
    assert events[-1] == "response.done" and events.count("response.done") == 1, run.explain()

    session_ids = [m.group(1) for line in lines if (m := SESSION_LINE.fullmatch(line))]
    assert len(session_ids) == 2 and session_ids[0] == session_ids[1], run.explain()

    transcript = "".join(line.removeprefix("Transcript delta: ") for line in lines
                         if line.startswith("Transcript delta: "))
    audio_sizes = [int(m.group(1)) for line in lines if (m := AUDIO_LINE.fullmatch(line))]
    # the seed's rhythm: 100 ms, 150 ms, then 250 ms chunks of PCM16 at 24 kHz
    assert audio_sizes[:3] == [4800, 7200, 12000], run.explain()
    assert max(audio_sizes) <= 12000 and all(size % 2 == 0 for size in audio_sizes), run.explain()

    finals = [line.removeprefix(FINAL_PREFIX) for line in lines if line.startswith(FINAL_PREFIX)]
    assert transcript.strip() and finals == [transcript], run.explain()
    assert any(line.startswith("Response ID: resp_") for line in lines), run.explain()
    assert lines[-1] == "The sample completed successfully.", run.explain()

    assert len(handshakes) == 1, handshakes
    handshake = handshakes[0]
    assert (handshake.path, handshake.query.get("model"), handshake.status) == ("/openai/v1/realtime", MODEL, 101)
    assert handshake.auth_scheme == "bearer"
    assert handshake.credential_sha256 == hashlib.sha256(TOKEN.encode()).hexdigest()


def test_js_seed_sample_with_a_wrong_token_is_refused_at_the_handshake(tls_files: TlsFiles) -> None:
    """A server started with an api key answers the JS SDK's wrong bearer token with 401, and the sample fails."""
    node = require_node_modules()
    with LocalServer(api_key=TOKEN, certfile=str(tls_files.certfile), keyfile=str(tls_files.keyfile)) as server:
        run = run_js_sample(node, server, tls_files, "not-the-server-key")
        handshakes = list(server.handshakes)

    assert run.returncode != 0, run.explain()
    assert "401" in run.stderr, run.explain()
    assert "The sample completed successfully." not in run.stdout, run.explain()
    assert TOKEN not in run.stdout + run.stderr  # the expected key never leaks to the client
    assert [(h.path, h.auth_scheme, h.status) for h in handshakes] == [("/openai/v1/realtime", "bearer", 401)]
