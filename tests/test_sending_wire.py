"""Frames due at the same moment leave the server in one write (one system call, shared TCP segments), and every
event the client received was written once, in order: none lost or held back by the joining."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

import realtime_kit as rk
from realtime_kit.server import LocalServer, app
from realtime_kit.server.vad import MODELS
from realtime_kit.server.workers import EngineWorkers

pytestmark = [pytest.mark.wire, pytest.mark.timeout(60)]


def frames_in(data: bytes) -> list[str]:
    """The text frames in bytes a server wrote (RFC 6455: servers do not mask; every frame here is whole)."""
    texts, at = [], 0
    while at < len(data):
        opcode, size, at = data[at] & 0x0F, data[at + 1] & 0x7F, at + 2
        if size >= 126:
            width = 2 if size == 126 else 8
            size, at = int.from_bytes(data[at:at + width], "big"), at + width
        if opcode == 0x1:
            texts.append(data[at:at + size].decode())
        at += size
    return texts


def record_writes(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Any, bytes]]:
    """Every write of every asyncio socket transport from now on: (the transport, the bytes)."""
    writes: list[tuple[Any, bytes]] = []
    transport_class: Any = asyncio.selector_events._SelectorSocketTransport  # type: ignore[attr-defined]
    write = transport_class.write

    def recording_write(self: Any, data: bytes) -> None:
        writes.append((self, bytes(data)))
        write(self, data)

    monkeypatch.setattr(transport_class, "write", recording_write)
    return writes


async def test_frames_due_together_leave_in_one_write_and_every_event_is_written_once_in_order(
        monkeypatch: pytest.MonkeyPatch) -> None:
    writes = record_writes(monkeypatch)
    with LocalServer(pace="realtime") as server:
        async with rk.connect(server.url) as session:
            await session.update(turn_detection=None)
            answer = await session.send_text("Say hello in one short sentence.")
            (served,) = server._sessions
            served_transport = served.connection.transport
        received = [row.type for row in session.events if row.direction == "in"]
    assert answer.audio.samples.size > 0
    per_write = [frames_in(data) for transport, data in writes
                 if transport is served_transport and data[:1] in (b"\x81", b"\x88")]
    written = [json.loads(text)["type"] for texts in per_write for text in texts]
    assert written == received           # everything the client saw, each event written once, in order
    kinds = [[json.loads(text)["type"] for text in texts] for texts in per_write]
    # the answer's opening events are due at once (before its speech is made), and so are its closing ones
    opening = next(group for group in kinds if "response.created" in group)
    assert {"conversation.item.added", "response.created", "response.output_item.added",
            "response.content_part.added"} <= set(opening)
    closing = next(group for group in kinds if "response.done" in group)
    assert {"response.output_audio.done", "response.content_part.done", "response.output_item.done"} <= set(closing)


async def test_an_answer_whose_first_sentence_is_kept_sends_its_first_audio_with_its_opening_events(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The same answer twice: the second time its first sentence is kept, so its first audio delta leaves in the
    write with `response.created` (it used to wait for the next turn of the loop: in a burst, a turn serves 50)."""
    writes = record_writes(monkeypatch)
    EngineWorkers.forget_shared_sentences()     # an earlier test in this process may have said the same first clause
    with LocalServer(pace="realtime") as server:
        async with rk.connect(server.url) as session:
            await session.update(turn_detection=None)
            first = await session.send_text("Please repeat after me: the kept sentence.")
            second = await session.send_text("Please repeat after me: the kept sentence.")
            (served,) = server._sessions
            served_transport = served.connection.transport
    assert first.transcript == second.transcript and second.audio.samples.size > 0
    openings = [[json.loads(text)["type"] for text in frames_in(data)] for transport, data in writes
                if transport is served_transport and b"response.created" in data]
    assert len(openings) == 2
    assert "response.output_audio.delta" not in openings[0]      # being made when the opening events left
    assert "response.output_audio.delta" in openings[1]


async def test_a_room_that_comes_back_at_once_keeps_its_sentences_and_one_that_stays_away_or_stops_lets_them_go(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A workshop re-running a cell closes every session and opens them again: the room has not left, so its
    sentences stay kept (and no full collection meets its turns). A server empty for ROOM_GONE_AFTER_S forgets them,
    counted from when it last became empty; a server stopped sooner forgets them as it stops."""
    monkeypatch.setattr(app, "ROOM_GONE_AFTER_S", 2.0)
    workers = EngineWorkers.shared()
    workers.forget_sentences()
    async def one_answer(server: LocalServer) -> None:
        async with rk.connect(server.url) as session:
            await session.update(turn_detection=None)
            await session.send_text("Please repeat after me: a room comes back.")

    with LocalServer(pace="fast") as server:
        await one_answer(server)
        kept = len(workers._made)
        assert kept > 0
        async with asyncio.timeout(5):             # the server has seen it leave: it is empty, its room leaving
            while server.session_count:
                await asyncio.sleep(0.01)
        async with rk.connect(server.url):         # back at once: the room never left
            await asyncio.sleep(1.0)
        await asyncio.sleep(1.2)                   # past 2 s since the first left, 1.2 s since the server was empty
        assert len(workers._made) == kept
        await asyncio.sleep(1.5)                   # empty for 2.7 s: the room left
        assert not workers._made
    with LocalServer(pace="fast") as server:       # stopped while its room's leaving is due: the room left with it
        await one_answer(server)
        assert workers._made
    assert not workers._made and MODELS.idle <= 1
