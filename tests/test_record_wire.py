"""Record a session against the embedded server, then replay it offline: same words, the very same audio."""

from __future__ import annotations

import asyncio
import json
import shutil
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import openai
import pytest

import realtime_kit as rk
from realtime_kit.server import LocalServer
from realtime_kit.server.replay import replay_protocol_factory
from realtime_kit.session import connect
from realtime_kit.spec import validate_server_event

pytestmark = [pytest.mark.wire, pytest.mark.timeout(120)]

CANARY = "sk-canary-5d1b0e77c2"


@pytest.fixture(scope="module")
def server() -> Iterator[LocalServer]:
    with LocalServer(pace="fast") as running:
        yield running


@pytest.fixture(scope="module")
def lesson(server: LocalServer, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A recording of three typed turns against the local assistant, made with a canary key."""
    path = tmp_path_factory.mktemp("rec") / "lesson.rkrec"

    async def record() -> None:
        async with connect(server.url, api_key=CANARY, record=path, instructions=f"Never say {CANARY}.") as s:
            for text in ("hello", "count to 8", "what is 6 times 7"):
                await s.send_text(text)

    asyncio.run(record())
    return path


def test_recording_has_every_turn_with_its_words_and_audio(lesson: Path) -> None:
    """Each typed turn is a Turn with the user's text, the transcript and audio matching the session's."""
    rec = rk.Recording.load(lesson)
    assert [t.user_text for t in rec.turns] == ["hello", "count to 8", "what is 6 times 7"]
    assert rec.turns[2].transcript == "6 times 7 is 42."
    assert all(t.audio_out is not None and t.audio_out.duration > 0.5 for t in rec.turns)
    assert all(t.latency is not None and t.latency >= 0 for t in rec.turns)
    assert "count to 8" in repr(rec) and "<audio" in rec._repr_html_()
    directions = {row.direction for row in rec.events}
    assert directions == {"in", "out"} and rec.events[0].type == "session.created"


def test_canary_key_appears_nowhere_in_the_recording(lesson: Path) -> None:
    """The key the session connected with is in no file of the recording (it travels in headers only)."""
    for path in lesson.iterdir():
        assert CANARY.encode() not in path.read_bytes(), path.name


async def test_replay_gives_the_recorded_transcripts_and_bit_identical_audio(lesson: Path) -> None:
    """Replaying the same inputs returns each recorded transcript and exactly the recorded samples."""
    rec = rk.Recording.load(lesson)
    async with connect(replay=lesson, replay_pace="fast") as s:
        for turn in rec.turns:
            reply = await s.send_text(turn.user_text or "")
            assert reply.transcript == turn.transcript
            assert turn.audio_out is not None and np.array_equal(reply.audio.samples, turn.audio_out.samples)
        assert s.replay_mismatches == []


async def test_replay_warns_with_both_texts_when_the_input_differs_and_still_answers(lesson: Path) -> None:
    """Saying something else than the recording warns (recorded and new text) and answers as recorded."""
    async with connect(replay=lesson, replay_pace="fast") as s:
        with pytest.warns(rk.ReplayMismatch, match="Recorded: 'hello'; now: 'good evening'"):
            reply = await s.send_text("good evening")
            await asyncio.sleep(0.05)  # the warning is handed to this loop from the server's thread
        assert reply.transcript == rk.Recording.load(lesson).turns[0].transcript
        assert len(s.replay_mismatches) == 1


async def test_replay_past_the_last_turn_says_so(lesson: Path) -> None:
    """A turn beyond the recording is answered with a sentence saying the recording has ended."""
    async with connect(replay=lesson, replay_pace="fast") as s:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", rk.ReplayMismatch)
            for text in ("hello", "count to 8", "what is 6 times 7"):
                await s.send_text(text)
            reply = await s.send_text("and now?")
    assert reply.transcript == "That is the end of the recording: it has 3 turns."


async def test_a_replayed_answer_can_be_interrupted_and_truncated(lesson: Path) -> None:
    """cancel() stops a replayed answer mid-stream and truncate() cuts its item, as with a live one."""
    async with connect(replay=lesson, replay_pace="recorded") as s:
        await s.send_text("hello")
        started = asyncio.Event()
        s.on("response.output_audio.delta", lambda _: started.set())
        turn = asyncio.ensure_future(s.send_text("count to 8"))
        await started.wait()
        cancelled = await s.cancel()
        reply = await turn
        assert cancelled is reply and reply.status == "cancelled"
        assert 0 < reply.audio.duration < rk.Recording.load(lesson).turns[1].duration
        assert reply.item_id is not None
        await s.truncate(reply.item_id, audio_end_ms=100)


async def test_replay_paces_answers_as_recorded(lesson: Path, tmp_path: Path) -> None:
    """With pace "recorded" an answer waits the recorded latency (made 0.6 s here); with "fast" it does not."""
    slow = tmp_path / "slow.rkrec"
    shutil.copytree(lesson, slow)
    first = rk.Recording.load(lesson).turns[0].response_id
    rows = [json.loads(line) for line in (slow / "events.jsonl").read_text().splitlines()]
    for row in rows:
        if row["event"].get("response_id") == first and row["dir"] == "in":
            row["t"] += 0.6  # the recorded model took 0.6 s longer to start its first answer
    (slow / "events.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    assert (rk.Recording.load(slow).turns[0].latency or 0) > 0.6
    waited = {}
    for pace in ("recorded", "fast"):
        async with connect(replay=slow, replay_pace=pace) as s:
            waited[pace] = (await s.send_text("hello")).timings["first_audio"]  # seconds since the request
    assert waited["recorded"] >= 0.6 > waited["fast"]


async def test_recording_a_replay_compares_equal_to_the_original(lesson: Path, tmp_path: Path) -> None:
    """Recording a replay gives a second recording whose every turn says the same as the first."""
    again = tmp_path / "again.rkrec"
    async with connect(replay=lesson, replay_pace="fast", record=again) as s:
        for text in ("hello", "count to 8", "what is 6 times 7"):
            await s.send_text(text)
    comparison = rk.Recording.load(lesson).compare(rk.Recording.load(again))
    assert comparison.same and len(comparison.rows) == 3
    assert [row["duration_a_s"] for row in comparison.rows] == [row["duration_b_s"] for row in comparison.rows]


async def test_tool_calls_are_replayed_and_a_different_output_is_reported(server: LocalServer, tmp_path: Path) -> None:
    """A recorded function call is made again; the user's tool output is compared with the recorded one."""
    path = tmp_path / "tools.rkrec"
    calls = []

    def get_weather(city: str) -> str:
        """Get the weather for a city."""
        calls.append(city)
        return f"sunny in {city}" if len(calls) == 1 else "raining"

    async with connect(server.url, record=path) as s:
        await s.add_tool(get_weather)
        first = await s.send_text("what is the weather in Oslo")
    async with connect(replay=path, replay_pace="fast") as s:
        await s.add_tool(get_weather)
        with pytest.warns(rk.ReplayMismatch, match="tool output"):
            reply = await s.send_text("what is the weather in Oslo")
            await asyncio.sleep(0.05)
    assert reply.tool_calls and reply.tool_calls[0].name == "get_weather"
    assert reply.transcript == first.transcript  # answered as recorded, though the tool said otherwise


async def test_cli_style_replay_server_answers_any_sdk_client(lesson: Path) -> None:
    """A LocalServer with the replay factory serves the recording to the bare openai SDK, valid events only."""
    rec = rk.Recording.load(lesson)
    with LocalServer(pace="fast", protocol_factory=replay_protocol_factory(lesson, pace="fast")) as replay:
        client = openai.AsyncOpenAI(websocket_base_url=replay.azure_base_url, api_key="x")
        async with client.realtime.connect(model="gpt-realtime") as conn:
            await conn.conversation.item.create(item={"type": "message", "role": "user",
                                                      "content": [{"type": "input_text", "text": "hello"}]})
            await conn.response.create()
            transcript = ""
            async for event in conn:
                validate_server_event(json.loads(event.model_dump_json()))
                if event.type == "response.output_audio_transcript.done":
                    transcript = event.transcript
                if event.type == "response.done":
                    break
        await client.close()
    assert transcript == rec.turns[0].transcript
