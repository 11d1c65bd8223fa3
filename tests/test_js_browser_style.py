"""openai-node's OpenAIRealtimeWebSocket (the browsers' class) connects to the embedded server, with and without a key.

Needs `npm ci --prefix tests/js` first (openai 6.49.0 and ws, pinned). The SDK dials wss://, so the server runs
with conftest's self-signed certificate, trusted through NODE_EXTRA_CA_CERTS.
"""

from __future__ import annotations

import os
import subprocess

import pytest
from test_js_sdk import require_node_modules

from conftest import REPO, TlsFiles
from realtime_kit.server import LocalServer

pytestmark = [pytest.mark.js, pytest.mark.timeout(180)]

SCRIPT = REPO / "tests" / "js" / "browser_style.mjs"
KEY = "js-browser-style-key"


def run(server: LocalServer, tls_files: TlsFiles, key: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NODE_EXTRA_CA_CERTS": str(tls_files.certfile), "OPENAI_API_KEY": key,
           "OPENAI_BASE_URL": server.openai_base_url.replace("wss://", "https://")}
    return subprocess.run([require_node_modules(), str(SCRIPT)], capture_output=True, text=True, env=env,
                          cwd=REPO, timeout=120)


@pytest.mark.parametrize("server_key", [None, KEY])
def test_browser_websocket_class_gets_realtime_echoed_and_a_reply(tls_files: TlsFiles, server_key: str | None) -> None:
    """`realtime` + key subprotocols get `realtime` echoed; a text turn completes (key optional or required)."""
    with LocalServer(api_key=server_key, certfile=str(tls_files.certfile), keyfile=str(tls_files.keyfile)) as server:
        result = run(server, tls_files, KEY)
        shakes = list(server.handshakes)
    explain = f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    assert result.returncode == 0 and "subprotocol: realtime" in result.stdout, explain
    assert "event: session.created" in result.stdout and "status: completed" in result.stdout, explain
    assert [(s.auth_scheme, s.status) for s in shakes] == [("subprotocol", 101)]


def test_browser_websocket_class_with_a_wrong_key_is_refused(tls_files: TlsFiles) -> None:
    """With --api-key set, a wrong key in the subprotocol is refused at the handshake (401)."""
    with LocalServer(api_key=KEY, certfile=str(tls_files.certfile), keyfile=str(tls_files.keyfile)) as server:
        result = run(server, tls_files, "not-the-key")
        shakes = list(server.handshakes)
    assert result.returncode != 0 and "status: completed" not in result.stdout
    assert [(s.auth_scheme, s.status) for s in shakes] == [("subprotocol", 401)]
