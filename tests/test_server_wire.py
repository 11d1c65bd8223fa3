"""The embedded server over loopback with the unchanged openai SDK; every server event validated strictly."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import json
import logging
from collections.abc import AsyncIterator
from typing import Any, cast

import numpy as np
import openai
import pytest
from tone_engines import tone_speech
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import ConnectionClosedError, InvalidStatus

from conftest import TlsFiles
from realtime_kit.errors import ConfigError, InvalidState
from realtime_kit.server import REALTIME_LEAD_MS, LocalServer, Pacer, shared_server
from realtime_kit.server.protocol import Outgoing, RealtimeProtocol
from realtime_kit.server.work import Synthesize, Work
from realtime_kit.server.workers import EngineWorkers
from realtime_kit.spec import validate_client_event, validate_server_event

pytestmark = [pytest.mark.wire, pytest.mark.timeout(120)]

KEY = "wire-test-key-0042"
RATE = 24000
BYTES_PER_MS = RATE * 2 / 1000
WEATHER_TOOL = {
    "type": "function", "name": "get_weather", "description": "Current weather for a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}


# -- a recording SDK peer ------------------------------------------------------------------------------


class Peer:
    """An SDK connection that validates every event both ways and keeps what the server sent."""

    def __init__(self, connection: Any) -> None:
        self.connection = connection
        self.events: list[dict[str, Any]] = []

    async def send(self, event: dict[str, Any], *, valid: bool = True) -> None:
        if valid:
            validate_client_event(event)
        await self.connection.send(cast(Any, event))

    async def recv(self, timeout: float = 60.0) -> dict[str, Any]:
        event = json.loads(await asyncio.wait_for(self.connection.recv_bytes(), timeout))
        validate_server_event(event)
        self.events.append(event)
        return cast(dict[str, Any], event)

    async def until(self, kind: str, *, errors_ok: bool = False) -> list[dict[str, Any]]:
        """Events up to and including the next one of type ``kind``; an unexpected error fails the test."""
        seen = []
        while True:
            event = await self.recv()
            seen.append(event)
            if event["type"] == kind:
                return seen
            assert errors_ok or event["type"] != "error", event

    async def expect(self, kind: str) -> dict[str, Any]:
        return (await self.until(kind))[-1]

    async def error_for(self, event: dict[str, Any] | str) -> dict[str, Any]:
        """Send something the service refuses and return the `error` object it answers with."""
        if isinstance(event, str):
            await self.connection.send_raw(event)
        else:
            await self.send(event, valid=False)
        return cast(dict[str, Any], (await self.expect("error"))["error"])

    async def say(self, text: str, **response: Any) -> list[dict[str, Any]]:
        """A user text message, then response.create; the events up to response.done."""
        await self.send({"type": "conversation.item.create", "item": {
            "type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}})
        await self.send({"type": "response.create", **({"response": response} if response else {})})
        return await self.until("response.done")

    async def append(self, samples: np.ndarray, chunk_ms: int = 100) -> None:
        """Append int16 PCM at 24 kHz in chunks, as a microphone would."""
        step = RATE * chunk_ms // 1000
        for start in range(0, len(samples), step):
            audio = base64.b64encode(samples[start:start + step].astype("<i2").tobytes()).decode()
            await self.send({"type": "input_audio_buffer.append", "audio": audio})


@contextlib.asynccontextmanager
async def sdk_session(base_url: str, *, model: str = "gpt-realtime", api_key: str = KEY,
                      **ws_options: Any) -> AsyncIterator[Peer]:
    """An unchanged `AsyncOpenAI(...).realtime.connect()`, past `session.created`."""
    client = openai.AsyncOpenAI(websocket_base_url=base_url, api_key=api_key)
    async with client.realtime.connect(model=model, websocket_connection_options=cast(Any, ws_options)) as conn:
        peer = Peer(conn)
        await peer.expect("session.created")
        yield peer


def of_type(events: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [e for e in events if e["type"] == kind]


def audio_bytes(events: list[dict[str, Any]]) -> list[int]:
    return [len(base64.b64decode(e["delta"])) for e in of_type(events, "response.output_audio.delta")]


def transcript(events: list[dict[str, Any]]) -> str:
    return "".join(e["delta"] for e in of_type(events, "response.output_audio_transcript.delta"))


def speech(text: str, voice: str = "alloy", silence_before_s: float = 0.5, silence_after_s: float = 1.5) -> np.ndarray:
    """Spoken words between silences, int16 at 24 kHz (espeak-ng through the server's own voice engine)."""
    from realtime_kit.server.voice import synthesize

    words = synthesize(text, voice=voice, rate=RATE)
    return np.concatenate([np.zeros(int(RATE * silence_before_s), np.int16), words,
                           np.zeros(int(RATE * silence_after_s), np.int16)])


@pytest.fixture
def realtime_server() -> Any:
    """A server at pace "realtime": responses take wall time, so a client can act mid-response."""
    with LocalServer(pace="realtime") as server:
        yield server


# -- handshake, auth, paths, TLS ---------------------------------------------------------------------------


async def test_session_created_echoes_the_model_on_both_paths() -> None:
    """Both base URLs serve the SDK; session.created carries the model or Azure deployment asked for."""
    with LocalServer(deployments={"my-deployment": "gpt-realtime", "dep-7": "gpt-realtime-2.1"}) as server:
        async with sdk_session(server.azure_base_url, model="my-deployment") as peer:
            assert peer.events[0]["session"]["model"] == "my-deployment"
            assert peer.events[0]["session"]["type"] == "realtime"
        async with sdk_session(server.openai_base_url, model="gpt-realtime-mini") as peer:
            assert peer.events[0]["session"]["model"] == "gpt-realtime-mini"
        for query, model, voice in (("?deployment=dep-7", "dep-7", "marin"),
                                    ("?deployment=my-deployment", "my-deployment", "alloy"),
                                    ("", "gpt-realtime-2.1", "marin")):    # no model named: the current one
            async with ws_connect(server.url + "/openai/v1/realtime" + query) as ws:
                session = json.loads(await ws.recv())["session"]
                assert (session["model"], session["audio"]["output"]["voice"]) == (model, voice)  # the model's profile
        assert [h.path for h in server.handshakes[:2]] == ["/openai/v1/realtime", "/v1/realtime"]


async def test_handshake_record_keeps_a_digest_never_the_key() -> None:
    """server.handshakes shows path, query, auth scheme, header names and the key's SHA-256, never the key."""
    with LocalServer(api_key=KEY) as server:
        async with sdk_session(server.azure_base_url, model="gpt-realtime"):
            pass
        shake = server.handshakes[-1]
        assert (shake.path, shake.query, shake.auth_scheme, shake.status) == (
            "/openai/v1/realtime", {"model": "gpt-realtime"}, "bearer", 101)
        assert shake.credential_sha256 == hashlib.sha256(KEY.encode()).hexdigest()
        assert "authorization" in shake.header_names
        assert KEY not in repr(server.handshakes) and KEY not in repr(server) and KEY not in repr(vars(server))


async def test_credentials_never_reach_the_log_even_at_debug(caplog: pytest.LogCaptureFixture) -> None:
    """With DEBUG logging (websockets then logs every handshake header) no credential appears in the log."""
    caplog.set_level(logging.DEBUG)
    with LocalServer(api_key=KEY) as server:
        async with sdk_session(server.azure_base_url):
            pass
        for headers, query in (({"api-key": "wrong-header-key"}, ""), ({}, "&api-key=wrong-query-key")):
            with pytest.raises(InvalidStatus):
                async with ws_connect(server.azure_base_url + "/realtime?model=m" + query,
                                      additional_headers=headers):
                    pass
    # the client's own websockets logger shows what it sent; the server's records must not
    server_log = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("realtime_kit"))
    assert "Authorization" in server_log and "api-key" in server_log  # the lines are there, not the values
    for secret in (KEY, "wrong-header-key", "wrong-query-key"):
        assert secret not in server_log


async def test_api_key_header_is_accepted_as_azure_sends_it() -> None:
    """An `api-key` header with the right key opens a session and is recorded as scheme api-key."""
    with LocalServer(api_key=KEY) as server:
        url = server.azure_base_url + "/realtime?model=gpt-realtime"
        async with ws_connect(url, additional_headers={"api-key": KEY}) as ws:
            event = json.loads(await ws.recv())
        validate_server_event(event)
        assert event["type"] == "session.created"
        assert server.handshakes[-1].auth_scheme == "api-key"


async def test_wrong_or_missing_key_is_refused_at_the_handshake() -> None:
    """With api_key set, a wrong or absent credential gets HTTP 401 whose body never shows the key."""
    with LocalServer(api_key=KEY) as server:
        with pytest.raises(InvalidStatus) as wrong:
            async with sdk_session(server.azure_base_url, api_key="guess"):
                pass
        with pytest.raises(InvalidStatus) as missing:
            async with ws_connect(server.openai_base_url + "/realtime"):
                pass
        for refused in (wrong.value, missing.value):
            body = refused.response.body.decode()
            assert refused.response.status_code == 401
            assert "Bearer" in body and KEY not in body
        assert [h.status for h in server.handshakes] == [401, 401]
        assert server.session_count == 0


async def test_unknown_path_gets_404_naming_the_paths(local_server: LocalServer) -> None:
    """A WebSocket to another path is refused with 404 and a body listing the two realtime paths."""
    with pytest.raises(InvalidStatus) as refused:
        async with ws_connect(local_server.url + "/openai/realtime?api-version=2024-10-01-preview"):
            pass
    body = refused.value.response.body.decode()
    assert refused.value.response.status_code == 404
    assert "/openai/v1/realtime" in body and "/v1/realtime" in body


async def test_wss_with_a_self_signed_certificate(tls_files: TlsFiles) -> None:
    """With a certificate the server speaks wss://, and an SDK client trusting it gets a session."""
    with LocalServer(certfile=str(tls_files.certfile), keyfile=str(tls_files.keyfile)) as server:
        assert server.url.startswith("wss://127.0.0.1:")
        async with sdk_session(server.azure_base_url, ssl=tls_files.client_context()) as peer:
            assert peer.events[0]["type"] == "session.created"


async def test_stop_closes_open_sessions_with_going_away(local_server: LocalServer) -> None:
    """stop() closes every open session with close code 1001 and stops listening."""
    async with ws_connect(local_server.openai_base_url + "/realtime") as ws:
        await ws.recv()
        await asyncio.get_running_loop().run_in_executor(None, local_server.stop)
        await ws.wait_closed()
    assert ws.close_code == 1001
    assert not local_server.running


async def test_async_with_serves_on_the_callers_loop() -> None:
    """`async with LocalServer()` listens on the running loop and closes its sessions on exit."""
    async with LocalServer() as server:
        ws = await ws_connect(server.openai_base_url + "/realtime")
        assert json.loads(await ws.recv())["type"] == "session.created"
        assert server.session_count == 1
    await ws.wait_closed()
    assert ws.close_code == 1001 and not server.running


async def test_shared_server_is_one_process_wide_fast_server() -> None:
    """shared_server() starts once and returns the same running, fast-paced server to every caller."""
    server = shared_server()
    assert shared_server() is server and server.running and server.pace == "fast"
    async with sdk_session(server.azure_base_url) as peer:
        assert peer.events[0]["type"] == "session.created"


async def test_session_expires_with_the_services_error_then_closes() -> None:
    """Past max_session_s the session gets a session_expired error event, then a normal close."""
    with LocalServer(max_session_s=1.0) as server:
        async with ws_connect(server.openai_base_url + "/realtime") as ws:
            events = [json.loads(message) async for message in ws]
    assert events[0]["type"] == "session.created"
    assert events[-1]["type"] == "error" and events[-1]["error"]["code"] == "session_expired"
    assert ws.close_code == 1000


# -- session and conversation items ----------------------------------------------------------------------


async def test_session_update_answers_with_the_whole_effective_session(local_server: LocalServer) -> None:
    """session.update -> session.updated with the change and the service's defaults filled in."""
    async with sdk_session(local_server.azure_base_url) as peer:
        await peer.send({"type": "session.update", "session": {
            "type": "realtime", "instructions": "Be brief.", "audio": {"output": {"voice": "coral"}}}})
        session = (await peer.expect("session.updated"))["session"]
    assert session["instructions"] == "Be brief." and session["audio"]["output"]["voice"] == "coral"
    assert session["audio"]["input"]["format"] == {"type": "audio/pcm", "rate": 24000}
    assert session["audio"]["input"]["turn_detection"]["type"] == "server_vad"
    assert session["output_modalities"] == ["audio"] and session["tools"] == []


async def test_items_are_created_retrieved_and_deleted(local_server: LocalServer) -> None:
    """conversation.item.create/retrieve/delete answer with added+done, retrieved, deleted; a gone item errors."""
    async with sdk_session(local_server.azure_base_url) as peer:
        item = {"id": "item_note_1", "type": "message", "role": "user",
                "content": [{"type": "input_text", "text": "remember this"}]}
        await peer.send({"type": "conversation.item.create", "item": item})
        added, done = (await peer.until("conversation.item.done"))[-2:]
        assert added["type"] == "conversation.item.added" and added["previous_item_id"] is None
        assert done["item"]["id"] == "item_note_1"
        await peer.send({"type": "conversation.item.retrieve", "item_id": "item_note_1"})
        retrieved = (await peer.expect("conversation.item.retrieved"))["item"]
        assert retrieved["content"][0]["text"] == "remember this"
        await peer.send({"type": "conversation.item.delete", "item_id": "item_note_1"})
        assert (await peer.expect("conversation.item.deleted"))["item_id"] == "item_note_1"
        error = await peer.error_for({"type": "conversation.item.retrieve", "item_id": "item_note_1",
                                      "event_id": "evt_gone"})
        assert (error["param"], error["event_id"]) == ("item_id", "evt_gone")


async def test_truncate_shortens_assistant_audio_and_refuses_past_its_end(local_server: LocalServer) -> None:
    """truncate cuts the assistant's audio and deletes its transcript; past the end or a user item is an error."""
    async with sdk_session(local_server.azure_base_url) as peer:
        events = await peer.say("hello")
        done = events[-1]
        user_id = next(e["item"]["id"] for e in of_type(events, "conversation.item.added")
                       if e["item"].get("role") == "user")
        item_id = done["response"]["output"][0]["id"]
        await peer.send({"type": "conversation.item.truncate", "item_id": item_id, "content_index": 0,
                         "audio_end_ms": 300})
        truncated = await peer.expect("conversation.item.truncated")
        assert (truncated["item_id"], truncated["audio_end_ms"]) == (item_id, 300)
        await peer.send({"type": "conversation.item.retrieve", "item_id": item_id})
        content = (await peer.expect("conversation.item.retrieved"))["item"]["content"][0]
        assert len(base64.b64decode(content["audio"])) == 300 * BYTES_PER_MS
        assert content["transcript"] == ""  # deleted, as the service does
        error = await peer.error_for({"type": "conversation.item.truncate", "item_id": item_id, "content_index": 0,
                                      "audio_end_ms": 60_000, "event_id": "evt_past"})
        assert (error["code"], error["param"], error["event_id"]) == ("invalid_value", "audio_end_ms", "evt_past")
        error = await peer.error_for({"type": "conversation.item.truncate", "item_id": user_id, "content_index": 0,
                                      "audio_end_ms": 0})
        assert (error["code"], error["message"]) == ("unsupported_content_type",
                                                     "Only model output audio messages can be truncated")


# -- responses -------------------------------------------------------------------------------------------


async def test_text_turn_streams_in_the_seeds_rhythm(local_server: LocalServer) -> None:
    """A text turn: the GA event sequence, text ahead of audio, chunks 4800/7200/<=12000 bytes, usage, rate limits."""
    async with sdk_session(local_server.openai_base_url) as peer:
        events = await peer.say("How are you today?")
        events.append(await peer.expect("rate_limits.updated"))
    kinds = [e["type"] for e in events if not e["type"].endswith(".delta")]
    assert kinds[kinds.index("response.created"):] == [
        "response.created", "response.output_item.added", "conversation.item.added",
        "response.content_part.added", "response.output_audio.done", "response.output_audio_transcript.done",
        "response.content_part.done", "conversation.item.done", "response.output_item.done", "response.done",
        "rate_limits.updated",
    ]
    sizes = audio_bytes(events)
    assert sizes[:2] == [4800, 7200] and max(sizes) == 12000 and sum(sizes) > RATE  # over half a second
    first = [e["type"] for e in events].index
    assert first("response.output_audio_transcript.delta") < first("response.output_audio.delta")
    response = events[-2]["response"]
    assert response["status"] == "completed" and response["usage"]["output_tokens"] > 0
    assert response["output"][0]["content"][0]["transcript"] == transcript(events)
    assert "doing well" in transcript(events)


async def test_response_overrides_and_out_of_band_text(local_server: LocalServer) -> None:
    """response.create overrides instructions, modalities and metadata; conversation "none" stays out of it."""
    async with sdk_session(local_server.azure_base_url) as peer:
        await peer.send({"type": "response.create", "response": {
            "conversation": "none", "output_modalities": ["text"], "instructions": "Answer in one word.",
            "metadata": {"purpose": "classify"},
            "input": [{"type": "message", "role": "user",
                       "content": [{"type": "input_text", "text": "the sky is green"}]}]}})
        events = await peer.until("response.done")
        await peer.send({"type": "conversation.item.retrieve", "item_id": events[-1]["response"]["output"][0]["id"]})
        error = (await peer.expect("error"))["error"]
    response = events[-1]["response"]
    assert response["conversation_id"] is None and response["metadata"] == {"purpose": "classify"}
    assert response["output_modalities"] == ["text"]
    assert not of_type(events, "conversation.item.added") and not audio_bytes(events)
    text = "".join(e["delta"] for e in of_type(events, "response.output_text.delta"))
    assert text == of_type(events, "response.output_text.done")[0]["text"] == "Green."
    assert error["param"] == "item_id"  # the out-of-band answer is not in the conversation


async def test_text_only_session_answers_with_output_text(local_server: LocalServer) -> None:
    """With output_modalities ["text"] the answer comes as response.output_text.* and no audio."""
    async with sdk_session(local_server.openai_base_url) as peer:
        await peer.send({"type": "session.update", "session": {"type": "realtime", "output_modalities": ["text"]}})
        await peer.expect("session.updated")
        events = await peer.say("what is 6 times 7")
    assert "".join(e["delta"] for e in of_type(events, "response.output_text.delta")) == "6 times 7 is 42."
    assert not audio_bytes(events) and not of_type(events, "response.output_audio_transcript.delta")


async def test_cancel_mid_response_is_handled_while_audio_streams(realtime_server: LocalServer) -> None:
    """response.cancel sent after the first audio delta ends the response as cancelled, long before its end."""
    async with sdk_session(realtime_server.azure_base_url) as peer:
        await peer.send({"type": "conversation.item.create", "item": {
            "type": "message", "role": "user", "content": [{"type": "input_text", "text": "count to 50"}]}})
        await peer.send({"type": "response.create"})
        await peer.expect("response.output_audio.delta")
        await peer.send({"type": "response.cancel"})
        events = await peer.until("response.done")
        error = await peer.error_for({"type": "response.cancel", "event_id": "evt_nothing"})
    response = events[-1]["response"]
    assert response["status"] == "cancelled" and response["status_details"]["reason"] == "client_cancelled"
    assert sum(audio_bytes(peer.events)) < 10_000 * BYTES_PER_MS  # counting to 50 takes far longer than 10 s
    assert (error["code"], error["event_id"]) == ("response_cancel_not_active", "evt_nothing")


async def test_function_tool_call_then_answer_from_its_output(local_server: LocalServer) -> None:
    """A session tool is called with schema-valid JSON arguments; after function_call_output it answers in words."""
    async with sdk_session(local_server.azure_base_url) as peer:
        await peer.send({"type": "session.update", "session": {"type": "realtime", "tools": [WEATHER_TOOL]}})
        await peer.expect("session.updated")
        events = await peer.say("What's the weather in Paris?")
        call = of_type(events, "response.function_call_arguments.done")[0]
        deltas = "".join(e["delta"] for e in of_type(events, "response.function_call_arguments.delta"))
        assert json.loads(call["arguments"]) == json.loads(deltas) == {"city": "Paris"}
        assert events[-1]["response"]["output"][0]["type"] == "function_call"
        await peer.send({"type": "conversation.item.create", "item": {
            "type": "function_call_output", "call_id": call["call_id"], "output": '{"temperature": 21}'}})
        await peer.send({"type": "response.create"})
        answer = await peer.until("response.done")
    assert "get_weather" in transcript(answer) and "21" in transcript(answer)


# -- audio in --------------------------------------------------------------------------------------------


async def test_manual_commit_clear_and_empty_commit(local_server: LocalServer) -> None:
    """With turn_detection null: commit makes a user audio item, clear empties, an empty commit is an error."""
    async with sdk_session(local_server.azure_base_url) as peer:
        await peer.send({"type": "session.update", "session": {
            "type": "realtime", "audio": {"input": {"turn_detection": None}}}})
        assert (await peer.expect("session.updated"))["session"]["audio"]["input"]["turn_detection"] is None
        await peer.append(speech("hello there", silence_after_s=0.2))
        await peer.send({"type": "input_audio_buffer.commit"})
        committed = await peer.expect("input_audio_buffer.committed")
        item = (await peer.expect("conversation.item.done"))["item"]
        assert item["id"] == committed["item_id"] and item["content"][0]["type"] == "input_audio"
        await peer.append(np.zeros(RATE // 2, np.int16))
        await peer.send({"type": "input_audio_buffer.clear"})
        await peer.expect("input_audio_buffer.cleared")
        error = await peer.error_for({"type": "input_audio_buffer.commit", "event_id": "evt_empty"})
    assert (error["code"], error["event_id"]) == ("input_audio_buffer_commit_empty", "evt_empty")
    assert not of_type(peer.events, "input_audio_buffer.speech_started")


async def test_server_vad_turn_comes_back_transcribed_word_for_word(tone_server: LocalServer) -> None:
    """Words through server VAD: speech_started/stopped, committed, exactly their transcript, and an answer.

    On the deterministic tone engines (tone_engines.py): the words heard are exact, not recognition luck.
    """
    async with sdk_session(tone_server.azure_base_url) as peer:
        await peer.send({"type": "session.update", "session": {"type": "realtime", "audio": {"input": {
            "transcription": {"model": "whisper-1"},
            "turn_detection": {"type": "server_vad", "threshold": 0.5, "prefix_padding_ms": 300,
                               "silence_duration_ms": 500}}}}})
        await peer.expect("session.updated")
        await peer.append(tone_speech("one two three four five"))
        events = await peer.until("response.done")
        heard = (await peer.expect("conversation.item.input_audio_transcription.completed")
                 if not of_type(events, "conversation.item.input_audio_transcription.completed")
                 else of_type(events, "conversation.item.input_audio_transcription.completed")[0])
    started = of_type(events, "input_audio_buffer.speech_started")[0]
    stopped = of_type(events, "input_audio_buffer.speech_stopped")[0]
    assert 0 <= started["audio_start_ms"] <= 500 < stopped["audio_end_ms"]
    assert of_type(events, "input_audio_buffer.committed")[0]["item_id"] == started["item_id"]
    assert heard["transcript"] == "one two three four five"
    assert events[-1]["response"]["status"] == "completed"
    assert "one two three four five" in transcript(events).lower()  # the assistant says what it heard


async def test_interrupt_response_cancels_the_answer_in_flight(realtime_server: LocalServer) -> None:
    """With server_vad, speech that starts during an answer cancels it (status cancelled, turn_detected).

    Real engines: Silero must find espeak-ng's "stop please" (test_vad.py: it found all 60 of its clips).
    """
    async with sdk_session(realtime_server.azure_base_url) as peer:
        await peer.send({"type": "session.update", "session": {"type": "realtime", "audio": {"input": {
            "turn_detection": {"type": "server_vad", "interrupt_response": True, "create_response": False}}}}})
        await peer.expect("session.updated")
        await peer.send({"type": "conversation.item.create", "item": {
            "type": "message", "role": "user", "content": [{"type": "input_text", "text": "tell me a story"}]}})
        await peer.send({"type": "response.create"})
        await peer.expect("response.output_audio.delta")
        await peer.append(speech("stop please", silence_before_s=0.1, silence_after_s=0.8))
        events = await peer.until("response.done")
    kinds = [e["type"] for e in events]
    assert kinds.index("input_audio_buffer.speech_started") < kinds.index("response.done")
    response = events[-1]["response"]
    assert response["status"] == "cancelled" and response["status_details"]["reason"] == "turn_detected"


async def test_semantic_vad_is_accepted_and_finds_the_turn(local_server: LocalServer) -> None:
    """semantic_vad is accepted (kept in session.updated) and detects a spoken turn like server VAD.

    Real engines: Silero must find espeak-ng's "good morning" (test_vad.py: it found all 60 of its clips).
    """
    async with sdk_session(local_server.azure_base_url) as peer:
        await peer.send({"type": "session.update", "session": {"type": "realtime", "audio": {"input": {
            "turn_detection": {"type": "semantic_vad", "eagerness": "high", "create_response": False}}}}})
        turn = (await peer.expect("session.updated"))["session"]["audio"]["input"]["turn_detection"]
        assert (turn["type"], turn["eagerness"]) == ("semantic_vad", "high")
        await peer.append(speech("good morning"))
        events = await peer.until("input_audio_buffer.committed")
    assert of_type(events, "input_audio_buffer.speech_started") and of_type(events, "input_audio_buffer.speech_stopped")


# -- errors: each one an error event, and the session carries on ----------------------------------------------


SEED_SESSION = {  # the seed's session.update: no "type", and the typo create_responese
    "instructions": "You are a helpful assistant. You respond by voice and text.",
    "output_modalities": ["audio"],
    "audio": {"input": {"transcription": {"model": "whisper-1"},
                        "format": {"type": "audio/pcm", "rate": 24000},
                        "turn_detection": {"type": "server_vad", "threshold": 0.5, "prefix_padding_ms": 300,
                                           "silence_duration_ms": 200, "create_responese": True}},
              "output": {"voice": "alloy", "format": {"type": "audio/pcm", "rate": 24000}}},
}
HUGE_AUDIO = base64.b64encode(bytes(16 * 1024 * 1024)).decode()

ERROR_CASES: dict[str, tuple[dict[str, Any] | str, str, str | None]] = {
    "seed session.update": ({"type": "session.update", "session": SEED_SESSION},
                            "missing_required_parameter", "session.type"),
    "seed typo with type": ({"type": "session.update", "session": {**SEED_SESSION, "type": "realtime"}},
                            "unknown_parameter", "session.audio.input.turn_detection.create_responese"),
    "invalid JSON": ('{"type": "response.create",', "invalid_json", None),
    "unknown event type": ({"type": "response.make"}, "invalid_value", "type"),
    "missing session.type": ({"type": "session.update", "session": {"instructions": "hi"}},
                             "missing_required_parameter", "session.type"),
    "bad enum": ({"type": "session.update", "session": {"type": "realtime", "output_modalities": ["video"]}},
                 "invalid_value", "session.output_modalities[0]"),
    "16 MiB append": ({"type": "input_audio_buffer.append", "audio": HUGE_AUDIO}, "invalid_value", "audio"),
    "empty commit": ({"type": "input_audio_buffer.commit"}, "input_audio_buffer_commit_empty", None),
}


@pytest.mark.parametrize("case", list(ERROR_CASES))
async def test_each_refused_event_gets_an_error_event_and_the_session_carries_on(
    local_server: LocalServer, case: str
) -> None:
    """The service's error shape (type, code, message, param, event_id), then the session still answers."""
    sent, code, param = ERROR_CASES[case]
    if isinstance(sent, dict):
        sent = {**sent, "event_id": "evt_refused"}
    async with sdk_session(local_server.azure_base_url) as peer:
        error = await peer.error_for(sent)
        assert (error["type"], error["code"], error["param"]) == ("invalid_request_error", code, param)
        assert error["event_id"] == ("evt_refused" if isinstance(sent, dict) else None)
        assert error["message"].strip()
        events = await peer.say("hello", output_modalities=["text"])
    assert events[-1]["response"]["status"] == "completed"


# -- many sessions ----------------------------------------------------------------------------------------


async def test_two_sessions_at_once_are_isolated(local_server: LocalServer) -> None:
    """Two concurrent sessions: separate ids, settings and items, and each gets its own answer."""
    async with sdk_session(local_server.azure_base_url) as pirate, sdk_session(local_server.openai_base_url) as plain:
        await pirate.send({"type": "session.update",
                           "session": {"type": "realtime", "instructions": "Talk like a pirate."}})
        await pirate.expect("session.updated")
        await pirate.send({"type": "conversation.item.create", "item": {
            "id": "item_private", "type": "message", "role": "user", "content": [{"type": "input_text", "text": "x"}]}})
        await pirate.expect("conversation.item.done")
        error = await plain.error_for({"type": "conversation.item.retrieve", "item_id": "item_private"})
        first, second = await asyncio.gather(pirate.say("hello"), plain.say("hello"))
    assert pirate.events[0]["session"]["id"] != plain.events[0]["session"]["id"]
    assert error["param"] == "item_id"
    assert transcript(first).startswith("Arr!") and not transcript(second).startswith("Arr!")


# -- the shell itself -------------------------------------------------------------------------------------


class BrokenProtocol:
    """A protocol whose receive() fails, to see how the shell reports its own failures."""

    unsent = 0

    def __init__(self, **options: Any) -> None:
        self.queued: list[Outgoing] = []

    @property
    def ready(self) -> bool:
        return bool(self.queued)

    def start(self) -> None:
        self.queued.append(Outgoing({"type": "session.created", "event_id": "event_1",
                                     "session": {"type": "realtime", "model": "m"}}))

    def receive(self, frame: str | bytes) -> None:
        raise RuntimeError("engine exploded")

    def next_event(self) -> Outgoing | None:
        return self.queued.pop(0) if self.queued else None


async def test_a_failing_protocol_gets_a_server_error_event_then_close_1011() -> None:
    """When the protocol raises, the client gets an error event of type server_error and close code 1011."""
    with LocalServer(protocol_factory=BrokenProtocol) as server:
        async with ws_connect(server.openai_base_url + "/realtime") as ws:
            await ws.recv()
            await ws.send(json.dumps({"type": "input_audio_buffer.clear"}))
            event = json.loads(await ws.recv())
            await ws.wait_closed()
    validate_server_event(event)
    assert event["error"]["type"] == "server_error" and "engine exploded" in event["error"]["message"]
    assert ws.close_code == 1011


class BreaksOnSpeech(RealtimeProtocol):
    """The real protocol, except that it breaks on every sentence of speech handed back to it."""

    def __init__(self, **options: Any) -> None:
        super().__init__(model=options["model"], max_session_s=options["max_session_s"], offload=True)

    def work_done(self, work: Work, result: Any = None, error: BaseException | None = None) -> None:
        if isinstance(work.job, Synthesize):
            raise RuntimeError("voice exploded")
        super().work_done(work, result, error)


async def test_a_protocol_breaking_on_a_handed_back_sentence_fails_the_session_with_1011() -> None:
    """Made now (handed back from the loop) or kept from another session (handed back in-line), a sentence the
    protocol breaks on ends the session as a server failure: a server_error event, then close 1011."""
    EngineWorkers.forget_shared_sentences()
    with LocalServer(protocol_factory=BreaksOnSpeech) as server:
        for _ in ("made now", "kept"):
            async with ws_connect(server.openai_base_url + "/realtime?model=gpt-realtime") as ws:
                await ws.recv()
                await ws.send(json.dumps({"type": "conversation.item.create", "item": {"type": "message",
                    "role": "user", "content": [{"type": "input_text", "text": "Tell me a joke."}]}}))
                await ws.send(json.dumps({"type": "response.create"}))
                events: list[dict[str, Any]] = []
                async with asyncio.timeout(30):   # a session that swallowed the failure would hang here
                    with contextlib.suppress(ConnectionClosedError):   # 1011 ends the iteration with an error
                        async for frame in ws:
                            events.append(json.loads(frame))
            assert events[-1]["type"] == "error" and events[-1]["error"]["type"] == "server_error"
            assert "voice exploded" in events[-1]["error"]["message"] and ws.close_code == 1011
            assert "response.output_audio.delta" not in [event["type"] for event in events]


@pytest.mark.parametrize("options, words", [
    ({"pace": "slow"}, "'realtime' or 'fast'"),
    ({"certfile": "cert.pem"}, "pass both"),
    ({"max_session_s": 0}, "positive"),
])
def test_bad_server_options_are_refused_with_the_fix(options: dict[str, Any], words: str) -> None:
    """A wrong pace, half a TLS pair or a non-positive session cap raise ConfigError naming the fix."""
    with pytest.raises(ConfigError, match=words):
        LocalServer(**options)


def test_start_twice_and_port_before_start_are_invalid_state() -> None:
    """The port is unknown before start(); a second start() without stop() raises InvalidState."""
    server = LocalServer()
    with pytest.raises(InvalidState):
        _ = server.port
    with server, pytest.raises(InvalidState):
        server.start()
    assert not server.running


# -- pacing (pure) ------------------------------------------------------------------------------------------


def simulate(pacer: Pacer, chunks_ms: list[float], response_id: str = "resp_1") -> list[tuple[float, float]]:
    """Send chunks through the pacer on a virtual clock; (send time s, audio ms sent after it) per chunk."""
    now, sent_ms, log = 100.0, 0.0, []
    for chunk in chunks_ms:
        now += pacer.delay_s(response_id, chunk, now)
        pacer.sent(response_id, chunk, now)
        sent_ms += chunk
        log.append((now, sent_ms))
    return log


def test_pacer_keeps_audio_within_the_lead_of_playback() -> None:
    """At pace realtime audio never runs more than the lead ahead of playback, and is never held back more."""
    chunks = [100.0, 150.0] + [250.0] * 40
    log = simulate(Pacer(), chunks)
    start = log[0][0]
    ahead = [sent_ms - (at - start) * 1000 for at, sent_ms in log]
    assert max(ahead) <= REALTIME_LEAD_MS + 1e-6
    assert min(ahead[2:]) >= REALTIME_LEAD_MS - 1e-6  # only waits as long as it must
    assert log[-1][0] - start == pytest.approx((sum(chunks) - REALTIME_LEAD_MS) / 1000)


def test_pacer_fast_never_waits_and_each_response_restarts_the_clock() -> None:
    """Pace fast sends at once; at pace realtime a new response does not inherit the previous one's debt."""
    assert simulate(Pacer(lead_ms=None), [250.0] * 10)[-1][0] == 100.0
    pacer = Pacer()
    simulate(pacer, [250.0] * 10, "resp_1")
    assert pacer.delay_s("resp_2", 250.0, now=100.0) == 0.0
