"""Fuzzing over the wire: hundreds of SDK-shaped, broken and malformed frames through a real loopback server.

Each example opens a session, sends its frames (binary ones as binary WebSocket frames), then a text
turn. Every server frame must be strict JSON and validate as a server event; none may be a
server_error; the session must answer the turn and stay open; a neighbour session on the same server
must still answer after every example. Deterministic engines through the server's protocol seam.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import pytest
from fuzz_strategies import ENGINES, client_frames
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from websockets.asyncio.client import ClientConnection
from websockets.asyncio.client import connect as ws_connect

from realtime_kit.server import LocalServer
from realtime_kit.server.protocol import RealtimeProtocol
from realtime_kit.spec import validate_server_event

pytestmark = [pytest.mark.wire, pytest.mark.timeout(300)]

SENTINEL = "item_sentinel_turn"


@pytest.fixture(scope="module")
def fuzz_server() -> Iterator[LocalServer]:
    """One server for every example, with deterministic engines."""
    def protocol(**options: Any) -> RealtimeProtocol:
        return RealtimeProtocol(engines=ENGINES, **options)

    with LocalServer(pace="fast", protocol_factory=protocol) as server:
        yield server


def _no_constants(name: str) -> Any:
    raise AssertionError(f"the server sent {name}, which is not JSON")


async def _event(ws: ClientConnection) -> dict[str, Any]:
    event = json.loads(await asyncio.wait_for(ws.recv(), 20), parse_constant=_no_constants)
    validate_server_event(event)
    bug = event["type"] == "error" and event["error"]["type"] == "server_error"
    failed = event["type"] == "response.done" and event["response"]["status"] == "failed"
    assert not (bug or failed), event
    return dict(event)


async def _turn(ws: ClientConnection) -> None:
    """A text turn after whatever came before; reads every event up to its response.done."""
    await ws.send(json.dumps({"type": "response.cancel"}))
    await ws.send(json.dumps({"type": "conversation.item.create", "item": {
        "id": SENTINEL, "type": "message", "role": "user", "content": [{"type": "input_text", "text": "Hello."}]}}))
    await ws.send(json.dumps({"type": "response.create"}))
    seen_sentinel = False
    while True:
        event = await _event(ws)
        seen_sentinel = seen_sentinel or (event["type"] == "conversation.item.added"
                                          and event["item"]["id"] == SENTINEL)
        if seen_sentinel and event["type"] == "response.done":
            return


async def _example(server: LocalServer, frames: list[str | bytes]) -> None:
    async with ws_connect(server.url + "/v1/realtime") as ws, \
            ws_connect(server.url + "/v1/realtime") as neighbour:
        assert (await _event(ws))["type"] == "session.created"
        assert (await _event(neighbour))["type"] == "session.created"
        for frame in frames:
            await ws.send(frame)
        await _turn(ws)
        await _turn(neighbour)


@settings(max_examples=200, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                 HealthCheck.function_scoped_fixture])
@given(st.lists(client_frames(), min_size=1, max_size=5))
def test_fuzzed_frames_over_the_wire(fuzz_server: LocalServer, frames: list[str | bytes]) -> None:
    """Fuzzed frames over loopback: valid strict-JSON answers, no server_error, the session and a neighbour go on."""
    asyncio.run(_example(fuzz_server, frames))
