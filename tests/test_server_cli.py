"""`python -m realtime_kit.server` in a subprocess: banner, SDK clients, API key, TLS, clean shutdown."""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import openai
import pytest
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import InvalidStatus

from conftest import REPO, CliServer, TlsFiles
from realtime_kit.spec import validate_server_event

pytestmark = [pytest.mark.wire, pytest.mark.timeout(120)]

StartCli = Callable[..., CliServer]


async def first_event(base_url: str, api_key: str = "any", **options: Any) -> dict[str, Any]:
    """Connect with the unchanged SDK and return the first server event, validated strictly."""
    client = openai.AsyncOpenAI(websocket_base_url=base_url, api_key=api_key)
    async with client.realtime.connect(model="gpt-realtime", websocket_connection_options=cast(Any, options)) as conn:
        event = json.loads(await conn.recv_bytes())
    validate_server_event(event)
    return event


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
async def test_cli_serves_sdk_clients_and_exits_0_on_signal(cli_server: StartCli, signum: int) -> None:
    """It prints its URL and both base URLs, serves the SDK on each, and on a signal closes sessions (1001), exit 0."""
    server = cli_server("--pace", "fast")
    assert server.azure_base_url.startswith("ws://127.0.0.1:") and server.azure_base_url.endswith("/openai/v1")
    assert server.openai_base_url == server.url + "/v1"
    assert f"{server.url}/openai/v1/realtime" in server.banner
    for base_url in (server.azure_base_url, server.openai_base_url):
        assert (await first_event(base_url))["type"] == "session.created"

    async with ws_connect(server.url + "/v1/realtime?model=gpt-realtime") as ws:
        assert json.loads(await ws.recv())["type"] == "session.created"
        code = await asyncio.to_thread(server.stop, signum)  # the loop must stay free to answer the close
        await ws.wait_closed()
    assert ws.close_code == 1001
    assert code == 0, "\n".join(server.output)
    assert server.output[-1] == "realtime_kit local server stopped."


@pytest.mark.parametrize("via", ["flag", "environment"])
async def test_cli_api_key_refuses_other_credentials_without_revealing_the_key(cli_server: StartCli, via: str) -> None:
    """With --api-key (or its variable), a wrong key gets HTTP 401; the key shows in no body and no output."""
    key = "workshop-secret-4711"
    if via == "flag":
        server = cli_server("--api-key", key, "--pace", "fast")
    else:
        server = cli_server("--pace", "fast", env={"REALTIME_KIT_SERVER_API_KEY": key})
    with pytest.raises(InvalidStatus) as refused:
        await first_event(server.azure_base_url, api_key="not-the-key")
    assert refused.value.response.status_code == 401
    body = refused.value.response.body.decode()
    assert "api-key" in body and key not in body and "not-the-key" not in body
    assert (await first_event(server.azure_base_url, api_key=key))["type"] == "session.created"
    assert server.stop() == 0
    assert key not in "\n".join(server.output)
    assert "API key required" in server.banner


async def test_cli_serves_wss_with_a_certificate(cli_server: StartCli, tls_files: TlsFiles) -> None:
    """With --certfile and --keyfile it serves wss://, and an SDK client trusting the certificate connects."""
    server = cli_server("--certfile", str(tls_files.certfile), "--keyfile", str(tls_files.keyfile))
    assert server.azure_base_url.startswith("wss://127.0.0.1:")
    event = await first_event(server.azure_base_url, ssl=tls_files.client_context())
    assert event["type"] == "session.created"
    assert server.stop() == 0


def test_cli_refuses_a_certificate_without_its_key(tls_files: TlsFiles) -> None:
    """--certfile without --keyfile exits 2 with a sentence saying to pass both."""
    result = subprocess.run(
        [sys.executable, "-m", "realtime_kit.server", "--port", "0", "--certfile", str(tls_files.certfile)],
        capture_output=True, text=True, cwd=REPO, env={"PYTHONPATH": str(REPO), "PATH": ""}, timeout=60,
    )
    assert result.returncode == 2
    assert "pass both" in result.stderr


def test_cli_names_a_busy_port_and_the_fix() -> None:
    """A port already in use exits 1 with a message suggesting another --port."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "realtime_kit.server", "--port", str(port)],
            capture_output=True, text=True, cwd=REPO, env={"PYTHONPATH": str(REPO), "PATH": ""}, timeout=60,
        )
    assert result.returncode == 1
    assert f"127.0.0.1:{port}" in result.stderr and "pick another --port" in result.stderr


def listening_sockets(port: int) -> int:
    """How many sockets listen on ``port`` (IPv4), from /proc/net/tcp: one per server process."""
    rows = Path("/proc/net/tcp").read_text().splitlines()[1:]
    return sum(1 for row in rows if row.split()[1].endswith(f":{port:04X}") and row.split()[3] == "0A")


@pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="counts listening sockets in Linux's /proc")
async def test_cli_workers_share_the_port_and_serve_every_session(cli_server: StartCli) -> None:
    """--workers 2: two server processes listen on one port (SO_REUSEPORT) and every session is served."""
    server = cli_server("--workers", "2")
    assert "2 server processes share the port." in server.banner
    port = int(server.url.rsplit(":", 1)[1])
    for _ in range(1200):  # the second process starts after the banner (its engines warm up first)
        if listening_sockets(port) == 2:
            break
        await asyncio.sleep(0.1)
    assert listening_sockets(port) == 2

    async def one() -> str:
        async with ws_connect(server.openai_base_url + "/realtime?model=gpt-realtime") as ws:
            return str(json.loads(await ws.recv())["type"])

    assert await asyncio.gather(*(one() for _ in range(8))) == ["session.created"] * 8
    assert server.stop() == 0
    assert listening_sockets(port) == 0
