"""No foreign exception escapes: connect, send and receive against misbehaving peers raise rk errors only.

Like httpx's test of its exception mapping: each peer below fails in one way a real network or server
can (nothing listening, a dropped socket, an HTTP error, a non-WebSocket server, TLS to plain TCP, garbage
frames, a close mid-turn), and the caller sees an `rk.RealtimeKitError` whose message says what to do,
with the library's own exception kept as `__cause__` for debugging.
"""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest
from websockets.asyncio.server import ServerConnection, serve
from websockets.http11 import Request, Response

import realtime_kit as rk
from realtime_kit.errors import ConnectionLost, RealtimeKitError, TargetError

pytestmark = [pytest.mark.wire, pytest.mark.timeout(60)]

SESSION_CREATED = {"type": "session.created", "event_id": "event_1", "session": {
    "type": "realtime", "object": "realtime.session", "id": "sess_1", "model": "gpt-realtime",
    "output_modalities": ["audio"], "instructions": "", "tools": [], "tool_choice": "auto",
    "max_output_tokens": "inf", "tracing": None, "prompt": None, "expires_at": 0, "include": None,
    "audio": {"input": {"format": {"type": "audio/pcm", "rate": 24000}, "transcription": None,
                        "noise_reduction": None, "turn_detection": None},
              "output": {"format": {"type": "audio/pcm", "rate": 24000}, "voice": "alloy", "speed": 1.0}}}}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@asynccontextmanager
async def raw_tcp(on_connect: Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
                  ) -> AsyncIterator[str]:
    """A TCP server on loopback that does what `on_connect` does; yields its ws:// base URL."""
    server = await asyncio.start_server(on_connect, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        yield f"ws://127.0.0.1:{port}/v1"


@asynccontextmanager
async def websocket_peer(handler: Callable[[ServerConnection], Awaitable[None]], *,
                         process_request: Any = None) -> AsyncIterator[str]:
    """A WebSocket server on loopback running `handler` per connection; yields its ws:// base URL."""
    async with serve(handler, "127.0.0.1", 0, process_request=process_request) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        yield f"ws://127.0.0.1:{port}/v1"


async def hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.close()


async def speak_plain_http(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await reader.readuntil(b"\r\n\r\n")
    writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 5\r\n\r\nhello")
    await writer.drain()
    writer.close()


async def speak_garbage(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await reader.readuntil(b"\r\n\r\n")
    writer.write(b"\x00\xffnot http at all\r\n\r\n")
    await writer.drain()
    writer.close()


def refuse_with(status: int, body: str) -> Callable[[ServerConnection, Request], Response]:
    def process_request(connection: ServerConnection, request: Request) -> Response:
        return connection.respond(status, body)
    return process_request


async def created_then_close(connection: ServerConnection) -> None:
    await connection.send(json.dumps(SESSION_CREATED))
    await connection.recv()  # the first client event: then the server goes away
    await connection.close(1011, "internal error")


async def created_then_drop(connection: ServerConnection) -> None:
    await connection.send(json.dumps(SESSION_CREATED))
    await connection.recv()
    connection.transport.abort()  # no close frame: the TCP connection just ends


async def not_json(connection: ServerConnection) -> None:
    await connection.send("this is not JSON")
    await asyncio.sleep(5)


async def binary_then_close(connection: ServerConnection) -> None:
    await connection.send(json.dumps(SESSION_CREATED))
    await connection.recv()
    await connection.send(b"\x00\x01binary")
    await asyncio.sleep(0.2)
    await connection.close()


def assert_mapped(err: BaseException) -> None:
    """An rk error with a sentence, not a bare library message."""
    assert isinstance(err, RealtimeKitError), f"{type(err).__module__}.{type(err).__name__} escaped: {err}"
    assert len(str(err)) > 30 and "Traceback" not in str(err), str(err)
    if not isinstance(err, ConnectionLost):
        assert err.__cause__ is not None or "refused" in str(err) or "not JSON" in str(err), "keep the cause"


async def connect_error(url: str) -> BaseException:
    with pytest.raises(BaseException) as caught:
        session = await rk.connect(url)
        await session.close()
    return caught.value


async def test_nothing_listening_is_a_target_error() -> None:
    """A port nobody listens on: TargetError 'connection refused'."""
    err = await connect_error(f"ws://127.0.0.1:{free_port()}/v1")
    assert_mapped(err)
    assert isinstance(err, TargetError) and "connection refused" in str(err)


@pytest.mark.parametrize("behaviour", [hang_up, speak_plain_http, speak_garbage], ids=lambda f: f.__name__)
async def test_a_peer_that_is_not_a_websocket_server_is_a_target_error(behaviour: Any) -> None:
    """TCP that hangs up, plain HTTP, or garbage where the WebSocket handshake should be."""
    async with raw_tcp(behaviour) as url:
        err = await connect_error(url)
    assert_mapped(err)


@pytest.mark.parametrize(("status", "expected"), [(401, "401"), (403, "403"), (404, "404"), (500, "500"),
                                                  (503, "503")])
async def test_http_errors_at_the_handshake_name_the_status(status: int, expected: str) -> None:
    """A handshake refused with an HTTP status: TargetError naming it."""
    async with websocket_peer(created_then_close, process_request=refuse_with(status, "nope")) as url:
        err = await connect_error(url)
    assert_mapped(err)
    assert expected in str(err)


async def test_tls_to_a_plain_server_is_a_target_error() -> None:
    """wss:// to a server that speaks plain TCP: the TLS failure becomes a TargetError."""
    async with raw_tcp(speak_plain_http) as url:
        err = await connect_error(url.replace("ws://", "wss://"))
    assert_mapped(err)


async def test_frames_that_are_not_json_end_the_connect_with_an_rk_error() -> None:
    """A WebSocket peer that sends non-JSON instead of session.created."""
    async with websocket_peer(not_json) as url:
        err = await connect_error(url)
    assert_mapped(err)


@pytest.mark.parametrize("reconnect", [False, True], ids=["no-reconnect", "reconnect"])
@pytest.mark.parametrize("behaviour", [created_then_close, created_then_drop, binary_then_close],
                         ids=lambda f: f.__name__)
async def test_a_peer_that_goes_away_mid_turn_raises_connection_lost(behaviour: Any, reconnect: bool) -> None:
    """Closing (with or without a close frame) or sending a binary frame mid-turn: ConnectionLost, then
    every later call on the session raises an rk error too (reconnecting gives up on a peer that drops
    every new connection, instead of trying forever)."""
    async with websocket_peer(behaviour) as url:
        session = await rk.connect(url, reconnect=reconnect)
        with pytest.raises(BaseException) as caught:
            await asyncio.wait_for(session.send_text("Hello?"), timeout=20)
        assert_mapped(caught.value)
        assert isinstance(caught.value, ConnectionLost)
        for later in (session.send_text("Again?"), session.update(voice="coral"), session.commit()):
            with pytest.raises(BaseException) as again:
                await asyncio.wait_for(later, timeout=30)
            assert_mapped(again.value)
        await session.close()
