"""A room server over loopback: the environment points rk.connect() at it; the teaching pace is paced."""

from __future__ import annotations

import pytest

import realtime_kit as rk
from realtime_kit.server import LocalServer

pytestmark = pytest.mark.wire

ROOM_KEY = "room-secret-0123456789"


@pytest.fixture
def room(monkeypatch: pytest.MonkeyPatch):
    """A server started with --api-key, and the attendee's environment pointing at it."""
    for name in ("AZURE_OPENAI_ENDPOINT", "AZURE_OPENAI_API_KEY", "OPENAI_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    with LocalServer(api_key=ROOM_KEY, pace="fast") as server:
        monkeypatch.setenv("REALTIME_KIT_URL", server.url)
        monkeypatch.setenv("REALTIME_KIT_API_KEY", ROOM_KEY)
        yield server


async def test_connect_with_the_room_variables_talks_to_the_room_server(room: LocalServer):
    """With REALTIME_KIT_URL and REALTIME_KIT_API_KEY set, rk.connect() answers from the keyed server."""
    async with rk.connect() as session:
        reply = await session.send_text("say hello room")
    assert reply.transcript == "Hello room."
    assert len(room.handshakes) == 1 and "room server" in session.target.describe()


async def test_a_wrong_room_key_names_the_variable(room: LocalServer, monkeypatch: pytest.MonkeyPatch):
    """A wrong key is refused at the handshake with a sentence naming REALTIME_KIT_API_KEY, never the key."""
    monkeypatch.setenv("REALTIME_KIT_API_KEY", "not-the-key")
    with pytest.raises(rk.TargetError, match="REALTIME_KIT_API_KEY") as caught:
        await rk.connect()
    assert "not-the-key" not in str(caught.value)


async def test_local_realtime_pace_streams_audio_no_faster_than_it_plays():
    """rk.connect("local", pace="realtime") streams a reply over about its own duration (lead 400 ms at most)."""
    async with rk.connect("local", pace="realtime") as session:
        reply = await session.send_text("count to five")
    streamed = reply.timings["done"] - reply.timings["first_audio"]
    assert reply.audio.duration > 1.0
    assert streamed >= reply.audio.duration - rk.server.REALTIME_LEAD_MS / 1000 - 0.1


async def test_a_wss_room_server_with_its_certificate_in_ssl_cert_file(tls_files, monkeypatch: pytest.MonkeyPatch):
    """As docs/instructor.md says: a wss:// room server with a self-signed certificate, trusted by SSL_CERT_FILE."""
    for name in ("AZURE_OPENAI_ENDPOINT", "AZURE_OPENAI_API_KEY", "OPENAI_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    with LocalServer(api_key=ROOM_KEY, certfile=str(tls_files.certfile), keyfile=str(tls_files.keyfile)) as server:
        assert server.url.startswith("wss://")
        monkeypatch.setenv("REALTIME_KIT_URL", server.url)
        monkeypatch.setenv("REALTIME_KIT_API_KEY", ROOM_KEY)
        monkeypatch.setenv("SSL_CERT_FILE", str(tls_files.certfile))
        async with rk.connect() as session:
            reply = await session.send_text("say secure hello")
    assert reply.transcript == "Secure hello."
