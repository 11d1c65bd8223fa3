"""Frames sent back to back leave corked (TCP_CORK, so they share segments), and no socket is left corked:
a paced answer's deltas, and the events after them, are never held back by the kernel."""

from __future__ import annotations

import socket

import pytest

import realtime_kit as rk
from realtime_kit.server import LocalServer
from realtime_kit.server.connection import ServerSession

pytestmark = [pytest.mark.wire, pytest.mark.timeout(60)]


async def test_back_to_back_frames_are_corked_and_the_socket_is_uncorked_after(
        monkeypatch: pytest.MonkeyPatch) -> None:
    corking: list[bool] = []
    cork = ServerSession._cork

    def recording_cork(self: ServerSession, on: bool) -> None:
        corking.append(on)
        cork(self, on)

    monkeypatch.setattr(ServerSession, "_cork", recording_cork)
    with LocalServer(pace="realtime") as server:
        async with rk.connect(server.url) as session:
            await session.update(turn_detection=None)
            answer = await session.send_text("Say hello in one short sentence.")
            (served,) = server._sessions
            assert served._tcp_socket is not None
            assert served._tcp_socket.getsockopt(socket.IPPROTO_TCP, socket.TCP_CORK) == 0
    assert answer.audio.samples.size > 0
    assert True in corking and corking[-1] is False     # corked for a batch, uncorked once it left
