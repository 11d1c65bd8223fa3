"""A session's running cost includes the transcription of the user's audio, priced from the usage the server sent."""

from __future__ import annotations

import asyncio

import pytest
from tone_engines import tone_speech

from realtime_kit import connect
from realtime_kit.audio import Audio
from realtime_kit.experiment.cost import TRANSCRIPTION_PRICES
from realtime_kit.server import LocalServer

pytestmark = [pytest.mark.wire, pytest.mark.asyncio]


async def test_session_cost_adds_the_input_transcription(tone_server: LocalServer) -> None:
    """Transcription on (whisper-1, priced by the minute): session.cost.transcription is the seconds the server
    reported for the turn at the model's price, and part of the total."""
    async with connect(tone_server.url) as session:
        heard = asyncio.Event()
        session.on("conversation.item.input_audio_transcription.completed", lambda _: heard.set())
        await session.update(turn_detection="server_vad", transcription="whisper-1")
        await session.send_audio(Audio(tone_speech("hello there"), 24000))
        await asyncio.wait_for(heard.wait(), 10)
        cost = session.cost
    done = session.events.filter("conversation.item.input_audio_transcription.completed")
    seconds = sum(row.event["usage"]["seconds"] for row in done)
    assert seconds > 0
    assert cost.transcription == pytest.approx(seconds / 60 * TRANSCRIPTION_PRICES["whisper-1"].per_minute)
    assert cost.total == pytest.approx(cost.transcription + cost.text_in + cost.text_out + cost.audio_in
                                       + cost.audio_out + cost.text_cached + cost.audio_cached)
