"""The awaitable Session over the SDK, against the embedded server on loopback (no mocks)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pytest
from tone_engines import tone_speech

import realtime_kit as rk
from realtime_kit.audio import Audio
from realtime_kit.errors import ConfigError, ConnectionLost, InvalidState, RealtimeError
from realtime_kit.server import LocalServer
from realtime_kit.session import LOCAL_NOTICE, connect
from realtime_kit.session.conversation import AudioDeltaRecord
from realtime_kit.spec import validate_server_event

pytestmark = pytest.mark.wire


@pytest.fixture(scope="module")
def server() -> Iterator[LocalServer]:
    with LocalServer(pace="fast") as running:
        yield running


@pytest.fixture
def no_cloud_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AZURE_OPENAI_ENDPOINT", "AZURE_OPENAI_API_KEY", "OPENAI_API_KEY", "OPENAI_BASE_URL"):
        monkeypatch.delenv(name, raising=False)


def speech(text: str, rate: int = 24000) -> Audio:
    """Spoken words from the local server's own voice engine, as an rk.Audio."""
    from realtime_kit.server.voice import synthesize

    return Audio(synthesize(text, voice="alloy", rate=rate), rate)


async def test_connect_waits_for_session_created_and_closes(server: LocalServer) -> None:
    """connect returns once session.created has arrived; the async context manager closes the session."""
    async with connect(server.url) as session:
        assert session.config["type"] == "realtime"
        assert session.events[0].type == "session.created" and session.events[0].direction == "in"
    assert session.closed
    with pytest.raises(InvalidState, match="closed"):
        await session.send_text("hello")


async def test_connect_without_settings_uses_the_embedded_server_and_says_so(
        no_cloud_env: None, capsys: pytest.CaptureFixture[str]) -> None:
    """With no cloud variables, connect() starts the embedded server and prints one notice line."""
    session = await rk.connect()
    try:
        out = capsys.readouterr().out.strip().splitlines()
        assert len(out) == 1
        assert out[0].startswith("No REALTIME_KIT_URL, AZURE_OPENAI_ENDPOINT or OPENAI_API_KEY set: using the "
                                 "embedded local server at ws://127.0.0.1:")
        assert out[0].endswith("(offline voice, not the real model).")
        assert LOCAL_NOTICE.split("{url}")[0] in out[0]
    finally:
        await session.close()


async def test_send_text_returns_a_response_with_audio_transcript_timings_and_usage(server: LocalServer) -> None:
    """send_text returns at response.done with int16 24 kHz audio, transcript, ordered timings, usage."""
    async with connect(server.url) as session:
        reply = await session.send_text("repeat after me: the quick brown fox")
    assert reply.status == "completed" and reply.done
    assert "quick brown fox" in reply.transcript.lower()
    assert reply.audio.samples.dtype == np.int16 and reply.audio.rate == 24000 and reply.audio.duration > 0.5
    timings = reply.timings
    assert 0 <= timings["created"] <= timings["first_transcript"] <= timings["done"]
    assert timings["created"] <= timings["first_audio"] <= timings["done"]
    assert reply.usage and reply.usage["total_tokens"] > 0
    assert reply.id and reply.item_id and session.responses == [reply]
    assert any(isinstance(e, AudioDeltaRecord) for e in reply.events)


async def test_every_event_both_ways_is_logged_and_valid(server: LocalServer) -> None:
    """session.events holds our events and the server's, all valid GA events, audio summarised."""
    async with connect(server.url) as session:
        reply = await session.send_text("hello")
    log = session.events
    assert [r.type for r in log.filter(direction="out")] == ["conversation.item.create", "response.create"]
    for row in log.filter(direction="in"):
        if row.type != "response.output_audio.delta":
            validate_server_event(row.event)
    assert len(log.filter(response_id=reply.id)) >= 4
    audio_rows = log.filter("response.output_audio.delta")
    assert audio_rows and all(r.event["delta"].endswith("bytes base64 audio>") for r in audio_rows)


async def test_stream_text_yields_deltas_that_add_up_to_the_response(server: LocalServer) -> None:
    """stream_text yields transcript and audio deltas as they arrive; they sum to the final response."""
    async with connect(server.url) as session:
        deltas = [d async for d in session.stream_text("repeat after me: streaming is fun")]
    kinds = {d.kind for d in deltas}
    assert kinds == {"transcript", "audio"}
    reply = deltas[-1].response
    assert reply.done
    assert "".join(d.value for d in deltas if d.kind == "transcript") == reply.transcript
    streamed = Audio.concat([d.value for d in deltas if d.kind == "audio"])
    assert np.array_equal(streamed.samples, reply.audio.samples)


async def test_update_returns_the_effective_session_and_changes(server: LocalServer) -> None:
    """update waits for session.updated and returns the effective config; the voice is used next."""
    async with connect(server.url) as session:
        state = await session.update(voice="echo", instructions="Be brief.")
        assert state.effective["audio"]["output"]["voice"] == "echo"
        assert session.config["instructions"] == "Be brief."
        assert "echo" in repr(state) and "effective session" in state._repr_html_()
        reply = await session.send_text("what voice are you using? settings")
    assert "echo" in reply.transcript


async def test_update_with_a_typo_raises_config_error_and_sends_nothing(server: LocalServer) -> None:
    """A misspelt key raises rk.ConfigError with a suggestion; no event goes out."""
    async with connect(server.url) as session:
        before = len(session.events)
        with pytest.raises(ConfigError, match="create_response"):
            await session.update({"type": "realtime", "audio": {"input": {"turn_detection": {
                "type": "server_vad", "create_responese": True}}}})
        assert len(session.events) == before


async def test_bad_response_override_is_refused_before_sending(server: LocalServer) -> None:
    """send_text with an unknown response parameter raises ConfigError naming it; nothing is sent."""
    async with connect(server.url) as session:
        with pytest.raises(ConfigError, match="voicee"):
            await session.send_text("hi", voicee="echo")
        assert session.events.filter(direction="out").rows == []
        assert (await session.send_text("hello")).done  # and the session is fine


async def test_server_error_raises_realtime_error_in_the_call_and_session_survives(server: LocalServer) -> None:
    """A server error event raises RealtimeError (code, message, param, client event) where it was caused."""
    async with connect(server.url) as session:
        reply = await session.send_text("hello")
        with pytest.raises(RealtimeError) as caught:
            await session.truncate(str(reply.item_id), audio_end_ms=10_000_000)
        error = caught.value
        assert error.code and error.message
        assert error.client_event is not None and error.client_event["type"] == "conversation.item.truncate"
        assert error.event_id == error.client_event["event_id"]
        again = await session.send_text("what is 2 plus 2")
        assert "4" in again.transcript


async def test_update_refused_by_the_server_raises_in_update(server: LocalServer) -> None:
    """A session.update the server refuses (voice change after audio) raises RealtimeError in update()."""
    async with connect(server.url) as session:
        await session.send_text("hello")
        with pytest.raises(RealtimeError) as caught:
            await session.update(voice="echo")
        assert caught.value.code == "cannot_update_voice"
        assert caught.value.param == "session.audio.output.voice"
        assert caught.value.client_event is not None and caught.value.client_event["type"] == "session.update"
        state = await session.update(instructions="Be brief.")
        assert state.effective["instructions"] == "Be brief."


async def test_truncate_within_the_audio_succeeds(server: LocalServer) -> None:
    """truncate(item_id, audio_end_ms) returns at conversation.item.truncated."""
    async with connect(server.url) as session:
        reply = await session.send_text("hello")
        await session.truncate(str(reply.item_id), audio_end_ms=200)
        assert session.events.filter("conversation.item.truncated")


async def test_send_audio_with_turn_detection_off_commits_and_transcribes(tone_server: LocalServer) -> None:
    """send_audio converts 16 kHz float audio, commits it itself, and returns exactly the words it carried.

    On the deterministic tone engines (tone_engines.py): the transcript is exact, not recognition luck.
    """
    clip = Audio(tone_speech("what is two plus three", lead_s=0.0, tail_s=0.0, rate=16000), 16000)
    floats = clip.as_float()
    async with connect(tone_server.url) as session:
        await session.update(turn_detection=None, transcription=True)
        reply = await session.send_audio(floats, rate=16000)
    assert reply.done and reply.audio.duration > 0
    assert reply.input_transcript == "what is two plus three"
    assert {"committed", "created", "done", "input_transcript"} <= set(reply.timings)
    out_types = [r.type for r in session.events.filter(direction="out")]
    assert out_types[-2:] == ["input_audio_buffer.commit", "response.create"]
    appends = session.events.filter("input_audio_buffer.append")
    assert all(int(r.event["audio"][1:].split()[0]) <= 24000 for r in appends)  # 500 ms PCM16 chunks


async def test_send_audio_with_server_vad_lets_the_server_decide(tone_server: LocalServer, tmp_path: Path) -> None:
    """With server VAD, send_audio (from a WAV path) gets speech_started/stopped/committed, its words and the answer.

    On the deterministic tone engines (tone_engines.py): the transcript is exact, not recognition luck.
    """
    path = tmp_path / "question.wav"
    Audio(tone_speech("hello there", lead_s=0.0, tail_s=0.0), 24000).to_wav(path)
    async with connect(tone_server.url) as session:
        await session.update(turn_detection="server_vad", transcription=True)
        reply = await session.send_audio(str(path))
    assert reply.done and reply.audio.duration > 0
    for mark in ("speech_started", "speech_stopped", "committed", "created", "done"):
        assert mark in reply.timings
    assert reply.timings["speech_started"] <= reply.timings["committed"] <= reply.timings["created"]
    assert not session.events.filter("input_audio_buffer.commit")  # the VAD committed, not us
    assert reply.input_transcript == "hello there"


async def test_low_level_append_commit_and_clear(server: LocalServer) -> None:
    """append_audio converts and appends; commit returns the new item id; clear_input empties the buffer."""
    clip = speech("hello")
    async with connect(server.url) as session:
        await session.update(turn_detection=None)
        await session.append_audio(clip.samples, clip.rate)
        await session.clear_input()
        stereo = np.stack([clip.resample(48000).samples] * 2, axis=1)
        await session.append_audio(stereo, 48000)
        item_id = await session.commit()
        assert item_id and session.events.filter("input_audio_buffer.committed")[-1].item_id == item_id
        appended = sum(int(r.event["audio"][1:].split()[0]) for r in session.events.filter("input_audio_buffer.append"))
    assert abs(appended / 2 - 2 * len(clip.samples)) <= 4  # two clips, converted back to 24 kHz mono PCM16


async def test_g711_session_round_trips_at_8khz(server: LocalServer) -> None:
    """With G.711 formats, input is sent as mu-law and the answer's audio is 8 kHz."""
    async with connect(server.url) as session:
        await session.update(input_format="g711_ulaw", output_format="g711_ulaw", turn_detection=None)
        reply = await session.send_audio(speech("hello"))
    assert reply.audio.rate == 8000 and reply.audio.duration > 0.3


async def test_tools_run_and_the_response_shows_the_call(server: LocalServer) -> None:
    """A Python tool is called with the model's arguments; its result goes back and shows in the Response."""
    calls: list[str] = []

    def get_weather(city: str, unit: Literal["celsius", "fahrenheit"] = "celsius") -> dict[str, Any]:
        """Current weather for a city.

        Args:
            city: The city, e.g. "Paris".
            unit: Temperature unit.
        """
        calls.append(city)
        return {"temperature": 21, "sky": "clear"}

    async with connect(server.url) as session:
        await session.update(tools=[get_weather])
        assert session.config["tools"][0]["name"] == "get_weather"
        reply = await session.send_text("What's the weather in Paris?")
        out_types = [r.type for r in session.events.filter(direction="out")]
    assert calls == ["Paris"]
    assert [c.name for c in reply.tool_calls] == ["get_weather"]
    call = reply.tool_calls[0]
    assert call.arguments["city"] == "Paris" and call.result == {"temperature": 21, "sky": "clear"}
    assert call.finished and call.error is None
    assert "21" in reply.transcript
    assert out_types[-2:] == ["conversation.item.create", "response.create"]


async def test_a_failing_tool_is_reported_to_the_model_and_the_user(server: LocalServer) -> None:
    """A tool that raises sends {"error": ...} to the model, warns, and the session goes on."""
    async def lookup_order(order_id: str) -> str:
        """Look up an order by its id."""
        raise KeyError(order_id)

    async with connect(server.url) as session:
        await session.add_tool(lookup_order)
        with pytest.warns(RuntimeWarning, match="lookup_order"):
            reply = await session.send_text("please lookup order 'A-17'")
        outputs = [r.event for r in session.events.filter("conversation.item.create", direction="out")
                   if r.event["item"]["type"] == "function_call_output"]
        assert json.loads(outputs[0]["item"]["output"])["error"].startswith("KeyError")
        assert reply.tool_calls[0].error and reply.notes and reply.done
        assert (await session.send_text("hello")).done


async def test_two_sessions_at_once_with_different_voices(server: LocalServer) -> None:
    """Two sessions in one loop answer concurrently; different voices give different audio."""
    async with connect(server.url, voice="alloy") as first, connect(server.url, voice="coral") as second:
        a, b = await asyncio.gather(first.send_text("repeat after me: side by side"),
                                    second.send_text("repeat after me: side by side"))
    assert a.transcript == b.transcript
    assert a.audio.duration > 0 and b.audio.duration > 0
    assert a.audio != b.audio


async def test_on_calls_back_for_server_events_and_unsubscribes(server: LocalServer) -> None:
    """on(type, cb) calls cb for each event of that type; the returned function unsubscribes."""
    seen: list[str] = []
    async with connect(server.url) as session:
        stop = session.on("response.done", lambda event: seen.append(event.response.id))
        everything: list[str] = []
        session.on("*", lambda event: everything.append(event.type))
        first = await session.send_text("hello")
        stop()
        await session.send_text("hello")
        with pytest.raises(ValueError, match=r"response\.done"):
            session.on("response.donee", print)
    assert seen == [first.id] and "response.output_audio.delta" in everything


async def test_export_after_an_azure_key_connect_has_no_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With an Azure key, the key reaches the server as api-key but never the log, repr or export."""
    key = "azure-secret-key-0123456789"
    with LocalServer(api_key=key) as keyed:
        monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", f"http://127.0.0.1:{keyed.port}/")
        monkeypatch.setenv("AZURE_OPENAI_API_KEY", key)
        async with rk.connect() as session:
            await session.send_text("hello")
            path = session.events.to_jsonl(tmp_path / "events.jsonl")
            shown = repr(session) + session.events.table(last=None) + session.events._repr_html_()
        assert keyed.handshakes[-1].auth_scheme == "api-key"
    assert key not in path.read_text() and key not in shown


async def test_cancel_stops_the_response_in_flight(monkeypatch: pytest.MonkeyPatch) -> None:
    """cancel() during a long answer returns it with status cancelled; the session stays usable."""
    with LocalServer(pace="realtime") as slow:
        async with connect(slow.url) as session:
            started = asyncio.Event()
            session.on("response.output_audio.delta", lambda _: started.set())
            turn = asyncio.ensure_future(session.send_text("count to 50"))
            await started.wait()
            cancelled = await session.cancel()
            reply = await turn
            assert cancelled is reply and reply.status == "cancelled"
            assert await session.cancel() is None
            after = await session.send_text("what is 1 plus 1")
            assert after.status == "completed"


async def test_connection_lost_mid_response_keeps_the_partial_audio() -> None:
    """Stopping the server mid-answer raises ConnectionLost whose .partial has the audio so far."""
    slow = LocalServer(pace="realtime").start()
    try:
        session = await connect(slow.url)
        started = asyncio.Event()
        session.on("response.output_audio.delta", lambda _: started.set())
        turn = asyncio.ensure_future(session.send_text("count to 50"))
        await started.wait()
        await asyncio.to_thread(slow.stop)
        with pytest.raises(ConnectionLost) as caught:
            await turn
        partial = caught.value.partial
        assert partial is not None and not partial.done and partial.audio.duration > 0
        with pytest.raises(ConnectionLost, match="connect"):
            await session.send_text("hello")
        await session.close()
    finally:
        slow.stop()


async def test_sync_facade_inside_the_loop_is_not_needed_but_run_works(server: LocalServer) -> None:
    """session.sync exists and wraps coroutine methods (blocking use is tested in test_sync.py)."""
    async with connect(server.url) as session:
        assert callable(session.sync.send_text) and session.sync.config["type"] == "realtime"


async def test_a_failing_callback_warns_and_the_pump_goes_on(server: LocalServer) -> None:
    """A session.on callback that raises is reported as a warning; the turn still completes."""
    def broken(event: Any) -> None:
        raise ValueError("oops")

    async with connect(server.url) as session:
        session.on("response.created", broken)
        with pytest.warns(RuntimeWarning, match="broken"):
            reply = await session.send_text("hello")
    assert reply.done
