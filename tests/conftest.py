"""Shared fixtures: a running embedded server (real or deterministic engines), a self-signed certificate for wss://."""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import os
import queue
import re
import signal
import ssl
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from tone_engines import TONE_ENGINES
from widget_comms import RecordingComm, recording_comms

from realtime_kit.server import LocalServer
from realtime_kit.server.quiet_logs import forget_repeats

# The seed sample runs its program at import (as the quickstart wrote it): never import it to look for doctests.
collect_ignore = ["seed_sample.py", "js"]


async def until(check: Callable[[], Any], what: str, timeout: float = 30.0) -> None:
    """Wait until `check()` is true (the session's pump and other tasks run meanwhile)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not check():
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        await asyncio.sleep(0.02)


@pytest.fixture(autouse=True)
def fresh_log_repeats() -> None:
    """The server's shared repeat filter lets 5 lines of a kind through a minute: each test starts with none used,
    so a test that looks for a log line does not depend on how many earlier tests wrote it."""
    forget_repeats()


@pytest.fixture
def local_server() -> Iterator[LocalServer]:
    """A LocalServer on a free loopback port, pace "fast", stopped after the test."""
    with LocalServer(pace="fast") as server:
        yield server


@pytest.fixture
def tone_server() -> Iterator[LocalServer]:
    """A LocalServer, pace "fast", with the tone engines injected (tone_engines.py): it hears exact words."""
    with LocalServer(pace="fast", engines=TONE_ENGINES) as server:
        yield server


@pytest.fixture
def comms(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[RecordingComm]]:
    """Every comm the widgets open, recorded (no kernel); the test fails if one is still open at the end."""
    yield from recording_comms(monkeypatch)


@dataclass(frozen=True)
class TlsFiles:
    """A self-signed certificate for 127.0.0.1/localhost, its key, and a client context trusting it."""

    certfile: Path
    keyfile: Path

    def client_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.certfile))


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    """Make a throwaway self-signed certificate (cryptography, no network, no openssl CLI)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "realtime-kit test")])
    now = datetime.datetime.now(datetime.UTC)
    names = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("tls")
    certfile, keyfile = folder / "cert.pem", folder / "key.pem"
    certfile.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    keyfile.write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ))
    return TlsFiles(certfile, keyfile)


REPO = Path(__file__).resolve().parent.parent


class CliServer:
    """``python -m realtime_kit.server`` in a subprocess, with the URLs its banner printed."""

    def __init__(self, *args: str, env: dict[str, str] | None = None) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "realtime_kit.server", "--port", "0", *args],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=REPO,
            env={**_clean_environ(), "PYTHONPATH": str(REPO), **(env or {})},
        )
        self._lines: queue.Queue[str | None] = queue.Queue()
        self.output: list[str] = []
        threading.Thread(target=self._pump, daemon=True).start()

    def wait_ready(self) -> CliServer:
        """Read the banner; fail with the output so far if the server exits first."""
        self.banner = self._read_until("Stop with Ctrl-C.")
        self.azure_base_url = _banner_value(self.banner, "Azure-style")
        self.openai_base_url = _banner_value(self.banner, "OpenAI-style")
        self.url = self.openai_base_url.removesuffix("/v1")
        return self

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._lines.put(line.rstrip("\n"))
        self._lines.put(None)

    def _read_until(self, last_line: str, timeout: float = 60.0) -> str:
        while True:
            line = self._lines.get(timeout=timeout)
            if line is None:
                raise AssertionError("server exited early:\n" + "\n".join(self.output))
            self.output.append(line)
            if line == last_line:
                return "\n".join(self.output)

    def stop(self, signum: int = signal.SIGTERM, timeout: float = 30.0) -> int:
        """Send ``signum``, wait for the exit code, and collect the rest of the output."""
        if self.proc.poll() is None:
            self.proc.send_signal(signum)
        code = self.proc.wait(timeout)
        while (line := self._lines.get(timeout=timeout)) is not None:
            self.output.append(line)
        return code


def _clean_environ() -> dict[str, str]:
    """This environment without a server key the developer may have set for their own server."""
    return {k: v for k, v in os.environ.items() if k != "REALTIME_KIT_SERVER_API_KEY"}


def _banner_value(banner: str, label: str) -> str:
    match = re.search(label + r" +websocket_base_url: (\S+)", banner)
    assert match, f"no {label} base URL in the banner:\n{banner}"
    return match.group(1)


@pytest.fixture
def cli_server() -> Iterator[Callable[..., CliServer]]:
    """Start ``python -m realtime_kit.server`` subprocesses; any still running are killed afterwards."""
    started: list[CliServer] = []

    def start(*args: str, env: dict[str, str] | None = None) -> CliServer:
        server = CliServer(*args, env=env)
        started.append(server)
        return server.wait_ready()

    yield start
    for server in started:
        if server.proc.poll() is None:
            server.proc.kill()
            server.proc.wait()
