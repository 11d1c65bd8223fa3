"""Sessions that outlive their connection: the server's time limit, an abrupt drop, refusals, a planned reconnect."""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from pathlib import Path

import pytest

import realtime_kit as rk
from conftest import until
from realtime_kit.errors import ConnectionLost
from realtime_kit.server import LocalServer
from realtime_kit.session import connect

pytestmark = [pytest.mark.wire, pytest.mark.timeout(120)]


async def until_reconnected(session: rk.Session) -> None:
    """Wait until the session has noticed a drop and opened its new connection (a fixed sleep loses the race on a
    loaded machine, and a turn sent before the client notices the drop is lost with the old connection)."""
    await until(lambda: session.reconnects, "a reconnect after the drop", timeout=10.0)


async def test_a_session_the_server_closes_carries_on_and_remembers(local_server: LocalServer) -> None:
    """After the service's session_expired close, the next turn works and "what did I say?" recalls the past."""
    local_server.faults.expire_next(after_s=2.5)  # expires_at is whole seconds: 1.5-2.5 s left at the first turn
    async with connect(local_server.url, voice="echo") as s:
        await s.send_text("my name is Alice")
        await asyncio.sleep(3.0)  # the server ends the session meanwhile (error session_expired, close 1000)
        reply = await s.send_text("what did I say?")
        assert reply.transcript == "Before this, you said: My name is Alice."
        assert len(s.reconnects) == 1 and "session_expired" not in str(s.errors)
        record = s.reconnects[0]
        assert "maximum duration" in record.reason and not record.planned and record.lost is None
        assert record.restored_items == 2  # the user's message and the assistant's answer
        assert s.config["audio"]["output"]["voice"] == "echo"  # the config was sent again
        assert [row.type for row in s.events.filter(direction="note")] == ["rk.reconnect"]


async def test_an_abrupt_drop_mid_answer_keeps_the_partial_audio_and_the_next_turn_works() -> None:
    """A TCP drop mid-answer raises ConnectionLost with the partial audio; the session reconnects for the next turn."""
    with LocalServer(pace="realtime") as server:
        server.faults.drop_next(after_audio_deltas=3)
        async with connect(server.url) as s:
            with pytest.raises(ConnectionLost, match="reconnects") as caught:
                await s.send_text("count to 20")
            partial = caught.value.partial
            assert partial is not None and not partial.done and partial.audio.duration == pytest.approx(0.5)
            reply = await s.send_text("what is 2 plus 2")
            assert reply.transcript == "2 plus 2 is 4." and reply.status == "completed"
            assert s.reconnects[0].lost is partial and s.reconnects[0].lost_audio_s == pytest.approx(0.5)
            assert "no close frame" in s.reconnects[0].reason


async def test_refused_reconnects_are_retried(local_server: LocalServer) -> None:
    """When the next connections are refused (HTTP 503), the session tries again until one is accepted."""
    async with connect(local_server.url) as s:
        await s.send_text("hello")
        local_server.faults.refuse_next(2)
        local_server.drop_connections()
        await until_reconnected(s)
        reply = await s.send_text("what did I say?")
    assert reply.transcript == "Before this, you said: Hello."
    assert s.reconnects[0].attempts == 3 and local_server.faults.refused == 2
    assert "503" in s.reconnects[0].notes[0]


async def test_a_turn_near_the_limit_reconnects_first(local_server: LocalServer) -> None:
    """A turn that starts just before expires_at reconnects between turns (planned), so no answer is cut."""
    local_server.faults.expire_next(after_s=5.0)
    async with connect(local_server.url) as s:
        await s.send_text("my name is Bob")
        expires_at = s.config["expires_at"]
        await asyncio.sleep(max(0.0, expires_at - 0.6 - time.time()))
        reply = await s.send_text("what did I say?")
        assert reply.transcript == "Before this, you said: My name is Bob." and reply.status == "completed"
        assert len(s.reconnects) == 1 and s.reconnects[0].planned and s.reconnects[0].lost is None


async def test_reconnect_false_ends_the_session_with_its_connection(local_server: LocalServer) -> None:
    """With reconnect=False a drop ends the session: the next call says to connect again."""
    async with connect(local_server.url, reconnect=False) as s:
        await s.send_text("hello")
        local_server.drop_connections()
        await asyncio.sleep(0.2)
        with pytest.raises(ConnectionLost, match="connect"):
            await s.send_text("hello again")
        assert s.reconnects == []


async def test_a_recording_across_a_reconnect_lists_it(local_server: LocalServer, tmp_path: Path) -> None:
    """The recording keeps going over the new connection and notes the reconnect."""
    path = tmp_path / "long.rkrec"
    local_server.faults.expire_next(after_s=2.5)
    async with connect(local_server.url, record=path) as s:
        await s.send_text("hello")
        await asyncio.sleep(3.0)
        await s.send_text("what did I say?")
    rec = rk.Recording.load(path)
    assert [t.transcript for t in rec.turns][-1] == "Before this, you said: Hello."
    assert len(rec.reconnects) == 1 and rec.reconnects[0]["restored_items"] == 2
    lines = [json.loads(line) for line in (path / "events.jsonl").read_text().splitlines()]
    assert sum(line["event"]["type"] == "session.created" for line in lines) == 2


class CountingCredential:
    """A fake azure.identity.aio credential: a new token per call."""

    def __init__(self) -> None:
        self.calls = 0

    async def get_token(self, *scopes: str, **kwargs: object) -> object:
        from azure.core.credentials import AccessToken

        self.calls += 1
        return AccessToken(f"entra-token-{self.calls}", 4_102_444_800)

    async def close(self) -> None:
        pass


async def test_a_reconnect_to_azure_asks_entra_for_a_fresh_token(local_server: LocalServer) -> None:
    """Keyless Azure: the new connection carries a new token from the credential (an expired one is not reused)."""
    credential = CountingCredential()
    endpoint = local_server.url.replace("ws://", "http://")
    async with connect("azure", endpoint=endpoint, credential=credential) as s:
        await s.send_text("hello")
        local_server.drop_connections()
        await until_reconnected(s)
        reply = await s.send_text("what did I say?")
    assert reply.transcript == "Before this, you said: Hello." and credential.calls == 2
    first, second = local_server.handshakes
    assert first.credential_sha256 != second.credential_sha256
    assert second.credential_sha256 == hashlib.sha256(b"entra-token-2").hexdigest()


async def test_closing_while_it_reconnects_stops_at_once(local_server: LocalServer) -> None:
    """close() during the retries ends them: no new connection is left open and close() returns promptly."""
    async with connect(local_server.url) as s:
        local_server.faults.refuse_next(10)
        local_server.drop_connections()
        await asyncio.sleep(0.5)  # a retry or two has been refused by now
        started = time.perf_counter()
        await s.close()
    assert time.perf_counter() - started < 3.0 and s.closed
    await asyncio.sleep(0.3)
    assert local_server.session_count == 0
