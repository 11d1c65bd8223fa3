"""Transcription sessions over loopback: rk.transcribe, rk.connect(intent=...), the unchanged SDK; events validated.

The server hears with the deterministic tone engines (tone_engines.py) injected through LocalServer's
engines seam, so each clip comes back as exactly the words it spells: no test here depends on recognition luck.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any, cast

import openai
import pytest
from tone_engines import TONE_ENGINES, tone_speech

import realtime_kit as rk
from realtime_kit.errors import InvalidState
from realtime_kit.server import LocalServer
from realtime_kit.spec import validate_client_event, validate_server_event

pytestmark = [pytest.mark.wire, pytest.mark.timeout(120)]

RATE = 24000


@pytest.fixture(scope="module")
def server() -> Iterator[LocalServer]:
    with LocalServer(pace="fast", engines=TONE_ENGINES) as running:
        yield running


def clip(words: str = "the quick brown fox") -> rk.Audio:
    """``words`` in the tone code between quarter seconds of silence."""
    return rk.Audio(tone_speech(words, lead_s=0.25, tail_s=0.25), RATE)


async def test_transcribe_returns_text_deltas_and_logprobs(server: LocalServer) -> None:
    """rk.transcribe: one call, text = the deltas joined, one logprob per token; the URL says intent=transcription."""
    result = await rk.transcribe(clip(), target=server.url, logprobs=True)
    assert result.text == "the quick brown fox" and "".join(result.deltas) == result.text
    assert result.logprobs is not None and [p["token"] for p in result.logprobs] == result.deltas
    assert result.model == "gpt-transcribe" and result.error is None
    query = server.handshakes[-1].query
    assert query.get("intent") == "transcription" and "model" not in query


async def test_a_transcription_session_transcribes_clip_after_clip(server: LocalServer) -> None:
    """rk.connect(intent="transcription"): two clips, two items; the realtime update() is refused with the fix."""
    async with rk.connect(server.url, intent="transcription") as session:
        assert session.is_transcription and session.config["type"] == "transcription"
        await session.update_transcription(model="whisper-1", language="en", turn_detection=None)
        first, second = await session.transcribe(clip("first clip")), await session.transcribe(clip("then another"))
        with pytest.raises(InvalidState, match="update_transcription"):
            await session.update(voice="marin")
        assert [row.type for row in session.events if row.type.startswith("response.")] == []
        for row in session.events:
            (validate_server_event if row.direction == "in" else validate_client_event)(row.event)
    assert (first.text, second.text) == ("first clip", "then another") and first.item_id != second.item_id
    assert first.deltas == ["first clip"]     # whisper-1 sends the whole transcript as one delta


async def test_the_unchanged_sdk_gets_vad_turns_and_transcripts_and_no_response(server: LocalServer) -> None:
    """AsyncOpenAI realtime.connect(extra_query intent=transcription): VAD commits, deltas, completed, no response."""
    client = openai.AsyncOpenAI(websocket_base_url=server.openai_base_url, api_key="sk-local")
    events: list[dict[str, Any]] = []
    async with client.realtime.connect(extra_query={"intent": "transcription"}) as connection:
        async def receive_until(kind: str) -> None:
            while True:
                event = json.loads(await asyncio.wait_for(connection.recv_bytes(), 30))
                validate_server_event(event)
                events.append(event)
                if event["type"] == kind:
                    return

        await receive_until("session.created")
        update = {"type": "session.update", "session": {"type": "transcription", "audio": {"input": {
            "transcription": {"model": "gpt-transcribe", "language": "en"}}}}}
        validate_client_event(update)
        await connection.send(cast(Any, update))
        await receive_until("session.updated")
        await connection.input_audio_buffer.append(audio=clip().to_base64_chunks(ms=5000)[0])
        await connection.input_audio_buffer.append(audio=rk.Audio.silence(1.0, RATE).to_base64_chunks(ms=5000)[0])
        await receive_until("conversation.item.input_audio_transcription.completed")
    kinds = [event["type"] for event in events]
    assert events[0]["session"]["type"] == "transcription"
    assert kinds.index("input_audio_buffer.speech_stopped") < kinds.index("input_audio_buffer.committed")
    assert events[-1]["transcript"] == "the quick brown fox" and not any(k.startswith("response.") for k in kinds)


async def test_connect_checks_the_intent_and_names_typos(server: LocalServer, capsys: pytest.CaptureFixture[str]
                                                         ) -> None:
    """An unknown or misspelt intent is refused before connecting; a transcription session prints no notice."""
    with pytest.raises(rk.TargetError, match="intent='translation'"):
        await rk.connect(server.url, intent="translation")
    with pytest.raises(rk.TargetError, match="did you mean intent="):
        await rk.connect(server.url, intnet="transcription")
    async with rk.connect(server.url, intent="transcription", model="gpt-realtime") as session:
        assert session.is_transcription
    assert capsys.readouterr().out == ""
