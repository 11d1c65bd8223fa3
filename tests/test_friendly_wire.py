"""Over loopback: tools run in the calling cell's context; send_audio answers every utterance of a clip."""

from __future__ import annotations

import contextvars

import pytest

import realtime_kit as rk
from realtime_kit.server.voice import synthesize

pytestmark = pytest.mark.wire

CELL = contextvars.ContextVar("CELL", default="the cell that opened the session")


async def test_a_tool_runs_in_the_context_of_the_call_that_asked():
    """A tool sees the caller's context (in Jupyter: its cell, so print() and warnings appear under it)."""
    seen: list[str] = []

    def where_am_i() -> str:
        """Say where the tool runs."""
        seen.append(CELL.get())
        return "here"

    async with rk.connect("local", tools=[where_am_i]) as session:
        CELL.set("the calling cell")  # after connect: the session's pump task does not have it
        reply = await session.send_text("Please use where_am_i.")
    assert [call.name for call in reply.tool_calls] == ["where_am_i"]
    assert seen == ["the calling cell"]


async def test_send_audio_returns_every_turn_of_a_two_utterance_clip():
    """Two utterances 1.5 s apart give two turns under server VAD; the last is returned, reply.turns has both.

    Real engines: Silero must split espeak-ng speech at a 1.5 s pause (test_vad.py states its offset error).
    """
    first = rk.Audio(synthesize("hello there", voice="alloy", rate=16000), 16000)
    second = rk.Audio(synthesize("tell me a story", voice="alloy", rate=16000), 16000)
    clip = rk.Audio.silence(0.3, 16000) + first + rk.Audio.silence(1.5, 16000) + second
    async with rk.connect("local", turn_detection="server_vad") as session:
        reply = await session.send_audio(clip)
        heard = [f"{e.t:.2f} {e.type}" for e in session.events if "delta" not in e.type and "append" not in e.type]
        single = await session.send_audio(first)
    assert len(reply.turns) == 2 and reply.turns[-1] is reply, "\n".join([str(reply.notes), *heard])
    assert all(turn.done for turn in reply.turns) and reply.status == "completed"
    assert len({turn.input_item_id for turn in reply.turns}) == 2
    assert single.turns == [single]
