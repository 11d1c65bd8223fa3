"""Turns that end cleanly: one at a time, and a caller that leaves early cancels its response (embedded server)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from realtime_kit.errors import ConfigError, InvalidState
from realtime_kit.server import LocalServer
from realtime_kit.session import connect

pytestmark = [pytest.mark.wire, pytest.mark.timeout(120)]

LONG = "Count to 40."  # the local assistant's long answer: several seconds of audio


@pytest.fixture(scope="module")
def server() -> Iterator[LocalServer]:
    # Real-time pace, so a long answer is still running on the server when the caller leaves.
    with LocalServer(pace="realtime") as running:
        yield running


def sent_types(session: object) -> list[str]:
    return [row.type for row in session.events if row.direction == "out"]  # type: ignore[attr-defined]


async def test_breaking_out_of_stream_text_cancels_and_the_next_call_works(server: LocalServer) -> None:
    """Leaving a stream_text loop after the first delta cancels that response; send_text then answers."""
    async with connect(server.url) as session:
        async for _delta in session.stream_text(LONG):
            break
        reply = await session.send_text("Repeat after me: still here.")
        assert reply.status == "completed" and "still here" in reply.transcript.lower()
        first = session.responses[0]
        assert first.status == "cancelled" and first.done
        assert sent_types(session).count("response.cancel") == 1


async def test_a_cancelled_send_text_cancels_its_response(server: LocalServer) -> None:
    """A send_text whose task is cancelled (a timeout here) stops the response on the server too."""
    async with connect(server.url) as session:
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(session.send_text(LONG), timeout=0.5)
        reply = await session.send_text("Repeat after me: next one.")
        assert reply.status == "completed" and "next one" in reply.transcript.lower()
        assert session.responses[0].status == "cancelled"


async def test_a_second_turn_while_one_runs_raises_invalid_state_and_the_first_finishes(server: LocalServer) -> None:
    """Two turns at once: the second raises InvalidState saying what to do; the first is unharmed."""
    async with connect(server.url) as session:
        first = asyncio.ensure_future(session.send_text("Repeat after me: first turn."))
        await asyncio.sleep(0.2)
        with pytest.raises(InvalidState, match=r"another turn is still running.*await it first.*session.cancel"):
            await session.send_text("Second?")
        reply = await first
        assert reply.status == "completed" and "first turn" in reply.transcript.lower()
        assert "Second?" not in str(session.conversation.items)


async def test_stream_text_aclose_stops_the_turn_at_once(server: LocalServer) -> None:
    """aclose() on the stream cancels the response before it returns control to the next call."""
    async with connect(server.url) as session:
        stream = session.stream_text(LONG)
        await stream.__anext__()
        await stream.aclose()
        reply = await session.send_text("Say done.")
        assert reply.status == "completed"
        assert session.responses[0].status == "cancelled"


@pytest.mark.parametrize(("overrides", "message"), [
    ({"voise": "coral"}, r"unknown keyword 'voise'; did you mean 'voice'\?"),
    ({"voice": "alloyy"}, r"unknown voice 'alloyy' at audio.output.voice; did you mean 'alloy'\?"),
    ({"voice": "nova"}, r"unknown voice 'nova'.*the GA voices are: alloy"),
    ({"max_output_tokens": 5000}, r"max_output_tokens is 5000, out of range"),
    ({"output_modalities": ["audio", "text"]}, r"GA takes exactly one"),
])
async def test_bad_response_overrides_are_refused_before_anything_is_sent(
        server: LocalServer, overrides: dict[str, object], message: str) -> None:
    """Per-response overrides are checked like session.update; nothing is sent and the session goes on."""
    async with connect(server.url) as session:
        before = sent_types(session)
        with pytest.raises(ConfigError, match=message):
            await session.send_text("Hello?", **overrides)
        assert sent_types(session) == before
        reply = await session.send_text("Say fine.", voice="coral", output_modalities="audio")
        assert reply.status == "completed"
        assert session.responses[-1].audio.duration > 0
