"""The embedded server's pure GA state machine: client events in, server events out, no event loop."""

from __future__ import annotations

import base64
import json
from typing import Any

import numpy as np
import pytest
from openai.types.realtime import RealtimeServerEvent, RealtimeSessionCreateResponse
from pydantic import TypeAdapter
from tone_engines import EnergyVad

from realtime_kit.server.protocol import Engines, Outgoing, RealtimeProtocol, merge_session, transcript_pieces
from realtime_kit.spec import unknown_keys, validate_server_event

pytestmark = pytest.mark.pure

RATE = 24000
LOUD = 3000


# -- fakes -----------------------------------------------------------------------------------------


def tone_synth(text: str, voice: str, rate: int, speed: float) -> np.ndarray:
    """250 ms of 440 Hz per word, so a reply is long enough to stream in several chunks."""
    n = int(rate * 0.25 * max(1, len(text.split())) / speed)
    return (LOUD * np.sin(2 * np.pi * 440 * np.arange(n) / rate)).astype(np.int16)


def fake_transcribe(samples: np.ndarray, rate: int) -> str:
    """Words for any sound, nothing for silence."""
    return "the quick brown fox" if len(samples) and int(np.abs(samples.astype(np.int32)).max()) > 500 else ""


FAKES = Engines(synthesize=tone_synth, make_vad=EnergyVad, transcribe=fake_transcribe)


# -- helpers ---------------------------------------------------------------------------------------

_SERVER_EVENT: TypeAdapter[Any] = TypeAdapter(RealtimeServerEvent)
_SESSION_RESPONSE: TypeAdapter[Any] = TypeAdapter(RealtimeSessionCreateResponse)


def check(event: dict[str, Any]) -> None:
    """Strict validation of one server event (session objects also against the GA session response)."""
    if event["type"] in ("session.created", "session.updated"):
        session = event["session"]
        model = _SESSION_RESPONSE.validate_python(session, strict=True)
        assert unknown_keys(model) == []
    validate_server_event(event)
    _SERVER_EVENT.validate_python(event)


def new(**options: Any) -> RealtimeProtocol:
    proto = RealtimeProtocol(engines=options.pop("engines", FAKES), id_prefix_seed=options.pop("seed", 7), **options)
    proto.start()
    drain(proto)
    return proto


def send(proto: RealtimeProtocol, **event: Any) -> None:
    proto.receive(json.dumps(event))


def pull(proto: RealtimeProtocol) -> Outgoing:
    out = proto.next_event()
    assert out is not None, "expected an event"
    check(out.event)
    return out


def drain(proto: RealtimeProtocol, limit: int = 10_000) -> list[Outgoing]:
    outs: list[Outgoing] = []
    while (out := proto.next_event()) is not None and len(outs) < limit:
        check(out.event)
        outs.append(out)
    return outs


def types(outs: list[Outgoing]) -> list[str]:
    return [out.event["type"] for out in outs]


def of_type(outs: list[Outgoing], kind: str) -> list[dict[str, Any]]:
    return [out.event for out in outs if out.event["type"] == kind]


def error_of(outs: list[Outgoing]) -> dict[str, Any]:
    errors = of_type(outs, "error")
    assert len(errors) == 1, types(outs)
    return errors[0]["error"]


def say(proto: RealtimeProtocol, text: str, **response: Any) -> list[Outgoing]:
    send(proto, type="conversation.item.create",
         item={"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]})
    send(proto, type="response.create", **({"response": response} if response else {}))
    return drain(proto)


def done_of(outs: list[Outgoing]) -> dict[str, Any]:
    return of_type(outs, "response.done")[-1]["response"]


def transcript_of(outs: list[Outgoing]) -> str:
    return "".join(e["delta"] for e in of_type(outs, "response.output_audio_transcript.delta"))


def audio_bytes(outs: list[Outgoing]) -> list[int]:
    return [len(base64.b64decode(e["delta"])) for e in of_type(outs, "response.output_audio.delta")]


def pcm(samples: np.ndarray) -> str:
    return base64.b64encode(samples.astype("<i2").tobytes()).decode()


def speech(seconds: float) -> np.ndarray:
    return tone_synth("x " * int(seconds / 0.25), "alloy", RATE, 1.0)


def silence(seconds: float) -> np.ndarray:
    return np.zeros(int(RATE * seconds), dtype=np.int16)


def append(proto: RealtimeProtocol, samples: np.ndarray, chunk_s: float = 0.1) -> None:
    step = int(RATE * chunk_s)
    for start in range(0, len(samples), step):
        send(proto, type="input_audio_buffer.append", audio=pcm(samples[start:start + step]))


def manual(proto: RealtimeProtocol, **session: Any) -> None:
    send(proto, type="session.update", session={"type": "realtime", "audio": {"input": {"turn_detection": None}},
                                                **session})
    drain(proto)


# -- session ---------------------------------------------------------------------------------------


def test_session_created_carries_the_whole_default_session():
    """session.created has every GA field with the real service's defaults."""
    proto = RealtimeProtocol(engines=FAKES, id_prefix_seed=1, clock=lambda: 1000.0)
    proto.start()
    created = pull(proto).event
    session = created["session"]
    assert session["id"].startswith("sess_") and session["object"] == "realtime.session"
    assert session["expires_at"] == 1000 + 3600
    assert (session["model"], session["output_modalities"], session["tools"], session["tool_choice"]) == \
        ("gpt-realtime", ["audio"], [], "auto")
    assert (session["max_output_tokens"], session["truncation"], session["tracing"]) == ("inf", "auto", None)
    assert session["audio"]["input"]["turn_detection"] == {
        "type": "server_vad", "threshold": 0.5, "prefix_padding_ms": 300, "silence_duration_ms": 200,
        "idle_timeout_ms": None, "create_response": True, "interrupt_response": True}
    assert session["audio"]["output"] == {"format": {"type": "audio/pcm", "rate": 24000}, "voice": "alloy",
                                          "speed": 1.0}
    assert proto.next_event() is None and not proto.busy


def test_session_update_without_type_is_refused_and_the_session_carries_on():
    """A GA session.update needs session.type; the error names it and echoes the client's event_id."""
    proto = new()
    send(proto, type="session.update", event_id="evt_42", session={"instructions": "x"})
    error = error_of(drain(proto))
    assert error == {"type": "invalid_request_error", "code": "missing_required_parameter",
                     "message": error["message"], "param": "session.type", "event_id": "evt_42"}
    assert done_of(say(proto, "hello"))["status"] == "completed"


def test_seed_typo_is_an_unknown_parameter():
    """The seed's create_responese is refused with its full dotted path."""
    proto = new()
    send(proto, type="session.update", session={"type": "realtime", "audio": {"input": {"turn_detection": {
        "type": "server_vad", "create_responese": True}}}})
    error = error_of(drain(proto))
    assert (error["code"], error["param"]) == ("unknown_parameter",
                                                "session.audio.input.turn_detection.create_responese")


def test_session_update_deep_merges_and_answers_with_the_whole_session():
    """Changed keys merge into the effective session; session.updated carries all of it."""
    proto = new()
    send(proto, type="session.update", session={"type": "realtime", "instructions": "Be a pirate.", "audio": {
        "output": {"voice": "coral"}, "input": {"turn_detection": {"type": "server_vad", "threshold": 0.7}}}})
    updated = of_type(drain(proto), "session.updated")[0]["session"]
    assert updated == proto.session
    assert updated["audio"]["output"]["voice"] == "coral" and updated["audio"]["output"]["speed"] == 1.0
    turn = updated["audio"]["input"]["turn_detection"]
    assert (turn["threshold"], turn["silence_duration_ms"], turn["create_response"]) == (0.7, 200, True)
    assert updated["instructions"] == "Be a pirate." and updated["tool_choice"] == "auto"


def test_turn_detection_of_another_type_is_replaced_with_its_defaults():
    """semantic_vad replaces server_vad's fields; null turns detection off."""
    merged = merge_session(new().session, {"type": "realtime", "audio": {"input": {
        "turn_detection": {"type": "semantic_vad", "eagerness": "high"}}}})
    assert merged["audio"]["input"]["turn_detection"] == {"type": "semantic_vad", "eagerness": "high",
                                                          "create_response": True, "interrupt_response": True}
    off = merge_session(merged, {"type": "realtime", "audio": {"input": {"turn_detection": None}}})
    assert off["audio"]["input"]["turn_detection"] is None


def test_voice_is_locked_once_the_assistant_has_spoken():
    """Before any audio the voice can change; after it, cannot_update_voice (the real rule)."""
    proto = new()
    send(proto, type="session.update", session={"type": "realtime", "audio": {"output": {"voice": "ash"}}})
    assert types(drain(proto)) == ["session.updated"]
    say(proto, "hello")
    send(proto, type="session.update", session={"type": "realtime", "audio": {"output": {"voice": "verse"}}})
    error = error_of(drain(proto))
    assert (error["code"], error["param"]) == ("cannot_update_voice", "session.audio.output.voice")
    assert proto.session["audio"]["output"]["voice"] == "ash"


@pytest.mark.parametrize(("session", "code", "param"), [
    ({"audio": {"output": {"voice": "robot"}}}, "invalid_value", "session.audio.output.voice"),
    ({"audio": {"output": {"speed": 2.0}}}, "decimal_above_max_value", "session.audio.output.speed"),
    ({"output_modalities": ["text", "audio"]}, "invalid_value", "session.output_modalities"),
    ({"max_output_tokens": 0}, "integer_below_min_value", "session.max_output_tokens"),
    ({"output_modalities": ["video"]}, "invalid_value", "session.output_modalities[0]"),
])
def test_values_the_service_refuses_are_errors(session, code, param):
    """Out-of-range or unsupported values get the service's code and the parameter path."""
    proto = new()
    send(proto, type="session.update", session={"type": "realtime", **session})
    error = error_of(drain(proto))
    assert (error["code"], error["param"]) == (code, param)


@pytest.mark.parametrize(("frame", "code", "param"), [
    ("{not json", "invalid_json", None),
    (b"\xff\xfe", "invalid_json", None),
    ('{"type": "response.make"}', "invalid_value", "type"),
    ('{"type": "response.create", "response": {"voice": "alloy"}}', "unknown_parameter", "response.voice"),
    ('{"type": "conversation.item.truncate", "item_id": "x", "content_index": 0, "audio_end_ms": "5"}',
     "invalid_type", "audio_end_ms"),
])
def test_malformed_frames_get_error_events(frame, code, param):
    """Invalid JSON, unknown types and mistyped params each get one error event."""
    proto = new()
    proto.receive(frame)
    error = error_of(drain(proto))
    assert (error["type"], error["code"], error["param"]) == ("invalid_request_error", code, param)


def test_session_expires_after_max_session_s():
    """Past the cap, the next call queues session_expired and the protocol closes."""
    now = [0.0]
    proto = new(clock=lambda: now[0], max_session_s=60)
    now[0] = 61.0
    assert error_of(drain(proto))["code"] == "session_expired"
    assert proto.closed
    send(proto, type="response.create")
    assert drain(proto) == []


# -- responses -------------------------------------------------------------------------------------


def test_text_turn_streams_the_ga_sequence_with_the_seed_rhythm():
    """Events in the GA order; first audio chunks 4800 and 7200 bytes, then at most 12000; text first."""
    proto = new()
    outs = say(proto, "Please assist the user.")
    sequence = [t for t in types(outs) if not t.endswith(".delta")]
    assert sequence == [
        "conversation.item.added", "conversation.item.done", "response.created", "response.output_item.added",
        "conversation.item.added", "response.content_part.added", "response.output_audio.done",
        "response.output_audio_transcript.done", "response.content_part.done", "conversation.item.done",
        "response.output_item.done", "response.done", "rate_limits.updated"]
    sizes = audio_bytes(outs)
    assert sizes[:2] == [4800, 7200] and max(sizes) == 12000 and len(sizes) > 4
    kinds = types(outs)
    assert kinds.index("response.output_audio_transcript.delta") < kinds.index("response.output_audio.delta")
    done = done_of(outs)
    transcript = done["output"][0]["content"][0]["transcript"]
    assert transcript == transcript_of(outs) == "Sure, I'm here to help. What would you like to do or know about?"
    assert sum(out.audio_ms for out in outs) == pytest.approx(sum(sizes) / 48)
    assert {out.response_id for out in outs if out.event["type"].startswith("response.")} == {done["id"]}


def test_g711_output_uses_the_same_durations_at_8khz():
    """audio/pcmu deltas are 100, 150 then 250 ms: 800, 1200, 2000 bytes."""
    proto = new()
    send(proto, type="session.update", session={"type": "realtime", "audio": {"output": {
        "format": {"type": "audio/pcmu"}}}})
    drain(proto)
    sizes = audio_bytes(say(proto, "tell me a story"))
    assert sizes[:3] == [800, 1200, 2000] and max(sizes) == 2000


def test_usage_is_deterministic_and_rate_limits_follow():
    """Same conversation, same token counts; rate_limits.updated comes right after response.done."""
    first, second = say(new(seed=1), "hello"), say(new(seed=2), "hello")
    usage = done_of(first)["usage"]
    assert usage == done_of(second)["usage"]
    assert usage["total_tokens"] == usage["input_tokens"] + usage["output_tokens"] > 0
    assert usage["output_token_details"]["audio_tokens"] > 0
    assert types(first)[-2:] == ["response.done", "rate_limits.updated"]
    assert [limit["name"] for limit in first[-1].event["rate_limits"]] == ["requests", "tokens"]


def test_text_only_response_uses_output_text_events():
    """output_modalities ["text"] streams response.output_text.* and no audio."""
    proto = new()
    outs = say(proto, "hello", output_modalities=["text"])
    assert not audio_bytes(outs)
    text = "".join(e["delta"] for e in of_type(outs, "response.output_text.delta"))
    assert text == of_type(outs, "response.output_text.done")[0]["text"] == \
        done_of(outs)["output"][0]["content"][0]["text"]
    assert done_of(outs)["output"][0]["content"][0]["type"] == "output_text"


def test_second_response_while_one_is_in_flight_is_refused():
    """One response at a time in the default conversation."""
    proto = new()
    send(proto, type="response.create")
    proto.next_event()
    assert proto.busy
    send(proto, type="response.create", event_id="evt_2")
    outs = drain(proto)
    error = error_of(outs)
    assert (error["code"], error["event_id"]) == ("conversation_already_has_active_response", "evt_2")
    assert len(of_type(outs, "response.done")) == 1 and not proto.busy


def test_cancel_mid_response_keeps_only_the_audio_pulled():
    """response.cancel ends it as cancelled; the item's audio is what was actually sent."""
    proto = new()
    send(proto, type="conversation.item.create", item={"type": "message", "role": "user", "content": [
        {"type": "input_text", "text": "count to 30"}]})
    send(proto, type="response.create")
    pulled: list[Outgoing] = []
    while len(audio_bytes(pulled)) < 3:
        pulled.append(pull(proto))
    send(proto, type="response.cancel")
    outs = pulled + drain(proto)
    done = done_of(outs)
    assert (done["status"], done["status_details"]) == ("cancelled", {"type": "cancelled",
                                                                       "reason": "client_cancelled"})
    assert len(audio_bytes(outs)) == 3 and not proto.busy
    item = done["output"][0]
    assert item["status"] == "incomplete"
    send(proto, type="conversation.item.retrieve", item_id=item["id"])
    retrieved = of_type(drain(proto), "conversation.item.retrieved")[0]["item"]
    assert len(base64.b64decode(retrieved["content"][0]["audio"])) == sum(audio_bytes(outs))
    assert retrieved["content"][0]["transcript"] == transcript_of(outs)


def test_cancel_with_nothing_in_flight_is_an_error():
    """response.cancel when idle gets response_cancel_not_active."""
    proto = new()
    send(proto, type="response.cancel")
    assert error_of(drain(proto))["code"] == "response_cancel_not_active"


def test_out_of_band_response_stays_out_of_the_conversation():
    """conversation "none": no conversation.item.* events, conversation_id null, metadata echoed."""
    proto = new()
    outs = say(proto, "hello", conversation="none", metadata={"topic": "demo"})
    assert not [t for t in types(outs)[2:] if t.startswith("conversation.")]
    done = done_of(outs)
    assert (done["conversation_id"], done["metadata"]) == (None, {"topic": "demo"})
    send(proto, type="conversation.item.retrieve", item_id=done["output"][0]["id"])
    assert error_of(drain(proto))["param"] == "item_id"


def test_per_response_instructions_and_voice_override_the_session():
    """Instructions asking for one word give one word; the voice override reaches the synthesiser."""
    voices: list[str] = []

    def synth(text: str, voice: str, rate: int, speed: float) -> np.ndarray:
        voices.append(voice)
        return tone_synth(text, voice, rate, speed)

    proto = new(engines=Engines(synth, EnergyVad, fake_transcribe))
    outs = say(proto, "How are you?", instructions="Answer in one word.", audio={"output": {"voice": "cedar"}})
    assert transcript_of(outs) == "Great."
    assert set(voices) == {"cedar"} and done_of(outs)["audio"]["output"]["voice"] == "cedar"
    assert proto.session["audio"]["output"]["voice"] == "alloy"


def test_max_output_tokens_cuts_the_reply_and_marks_it_incomplete():
    """A 4-token budget keeps 3 words; status incomplete, reason max_output_tokens."""
    outs = say(new(), "tell me a story", max_output_tokens=4)
    done = done_of(outs)
    assert (done["status"], done["status_details"]["reason"]) == ("incomplete", "max_output_tokens")
    assert len(transcript_of(outs).split()) == 3


def test_response_input_with_item_references_answers_those_items():
    """response.input replaces the context; item_reference points at an existing item."""
    proto = new()
    send(proto, type="conversation.item.create", item={"id": "item_old", "type": "message", "role": "user",
                                                       "content": [{"type": "input_text", "text": "count to 3"}]})
    say(proto, "hello")
    send(proto, type="response.create", response={"conversation": "none", "input": [
        {"type": "item_reference", "id": "item_old"}]})
    assert transcript_of(drain(proto)) == "1, 2, 3."
    send(proto, type="response.create", response={"input": [{"type": "item_reference", "id": "item_nope"}]})
    assert error_of(drain(proto))["param"] == "response.input[0].id"


# -- conversation items ----------------------------------------------------------------------------


def user_item(text: str, **extra: Any) -> dict[str, Any]:
    return {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}], **extra}


def test_item_create_honours_previous_item_id():
    """Items append by default, go first with "root", or after the item named."""
    proto = new()
    send(proto, type="conversation.item.create", item=user_item("a", id="item_a"))
    send(proto, type="conversation.item.create", item=user_item("b", id="item_b"))
    send(proto, type="conversation.item.create", item=user_item("c", id="item_c"), previous_item_id="item_a")
    send(proto, type="conversation.item.create", item=user_item("d", id="item_d"), previous_item_id="root")
    added = of_type(drain(proto), "conversation.item.added")
    assert [(e["item"]["id"], e["previous_item_id"]) for e in added] == [
        ("item_a", None), ("item_b", "item_a"), ("item_c", "item_a"), ("item_d", None)]
    send(proto, type="conversation.item.create", item=user_item("e"), previous_item_id="item_zz")
    assert error_of(drain(proto))["param"] == "previous_item_id"


def test_delete_and_retrieve_items():
    """delete answers conversation.item.deleted; unknown ids are errors; retrieve returns the item."""
    proto = new()
    send(proto, type="conversation.item.create", item=user_item("hi", id="item_x"))
    send(proto, type="conversation.item.retrieve", item_id="item_x")
    send(proto, type="conversation.item.delete", item_id="item_x")
    outs = drain(proto)
    assert of_type(outs, "conversation.item.retrieved")[0]["item"]["content"][0]["text"] == "hi"
    assert of_type(outs, "conversation.item.deleted")[0]["item_id"] == "item_x"
    send(proto, type="conversation.item.delete", item_id="item_x")
    assert error_of(drain(proto))["code"] == "invalid_value"


def test_truncate_checks_the_audio_end_and_trims_the_item():
    """audio_end_ms past the audio is invalid_value; within it, the audio shrinks and the transcript goes."""
    proto = new()
    outs = say(proto, "tell me a story")
    item_id = done_of(outs)["output"][0]["id"]
    total_ms = sum(audio_bytes(outs)) / 48
    send(proto, type="conversation.item.truncate", item_id=item_id, content_index=0, audio_end_ms=int(total_ms) + 1)
    error = error_of(drain(proto))
    assert (error["code"], error["param"]) == ("invalid_value", "audio_end_ms")
    send(proto, type="conversation.item.truncate", item_id=item_id, content_index=0, audio_end_ms=1000)
    send(proto, type="conversation.item.retrieve", item_id=item_id)
    outs = drain(proto)
    assert of_type(outs, "conversation.item.truncated")[0]["audio_end_ms"] == 1000
    content = of_type(outs, "conversation.item.retrieved")[0]["item"]["content"][0]
    assert len(base64.b64decode(content["audio"])) == 48000
    assert content["transcript"] == ""  # the service deletes the server-side transcript


def test_truncating_a_user_item_or_one_without_audio_is_refused():
    """A user item, or an assistant item without audio: unsupported_content_type, as the service answers."""
    proto = new()
    send(proto, type="conversation.item.create", item=user_item("hi", id="item_u"))
    send(proto, type="conversation.item.truncate", item_id="item_u", content_index=0, audio_end_ms=0)
    error = error_of(drain(proto))
    assert (error["code"], error["message"]) == ("unsupported_content_type",
                                                 "Only model output audio messages can be truncated")
    text_item = done_of(say(proto, "hello", output_modalities=["text"]))["output"][0]["id"]
    send(proto, type="conversation.item.truncate", item_id=text_item, content_index=0, audio_end_ms=0)
    assert error_of(drain(proto))["code"] == "unsupported_content_type"


# -- input audio -----------------------------------------------------------------------------------


def test_commit_rules_and_clear():
    """Empty/short commits are errors; 100 ms commits a user audio item; clear answers cleared."""
    proto = new()
    manual(proto)
    send(proto, type="input_audio_buffer.commit")
    assert error_of(drain(proto))["code"] == "input_audio_buffer_commit_empty"
    append(proto, silence(0.05))
    send(proto, type="input_audio_buffer.commit")
    assert error_of(drain(proto))["code"] == "input_audio_buffer_commit_empty"
    append(proto, silence(0.05))
    send(proto, type="input_audio_buffer.commit")
    outs = drain(proto)
    assert types(outs) == ["input_audio_buffer.committed", "conversation.item.added", "conversation.item.done"]
    assert outs[1].event["item"]["content"] == [{"type": "input_audio", "transcript": None}]
    send(proto, type="input_audio_buffer.clear")
    assert types(drain(proto)) == ["input_audio_buffer.cleared"]


def test_append_over_15_mib_is_refused():
    """One append may carry at most 15 MiB of audio."""
    proto = new()
    send(proto, type="input_audio_buffer.append", audio="A" * (21 * 1024 * 1024))
    error = error_of(drain(proto))
    assert (error["code"], error["param"]) == ("invalid_value", "audio")


def test_g711_input_is_decoded():
    """audio/pcmu input is 8 kHz: 100 ms is 800 bytes, and the item keeps the bytes."""
    from realtime_kit.audio.g711 import encode_ulaw

    proto = new()
    send(proto, type="session.update", session={"type": "realtime", "audio": {"input": {
        "format": {"type": "audio/pcmu"}, "turn_detection": None}}})
    drain(proto)
    data = encode_ulaw(np.full(800, 1000, dtype=np.int16))
    send(proto, type="input_audio_buffer.append", audio=base64.b64encode(data).decode())
    send(proto, type="input_audio_buffer.commit")
    item_id = of_type(drain(proto), "input_audio_buffer.committed")[0]["item_id"]
    send(proto, type="conversation.item.retrieve", item_id=item_id)
    audio = of_type(drain(proto), "conversation.item.retrieved")[0]["item"]["content"][0]["audio"]
    assert base64.b64decode(audio) == data


def test_audio_in_a_created_item_is_heard():
    """A user item with input_audio content is transcribed to decide the reply."""
    proto = new()
    send(proto, type="conversation.item.create", item={"type": "message", "role": "user", "content": [
        {"type": "input_audio", "audio": pcm(speech(0.5))}]})
    send(proto, type="response.create")
    assert transcript_of(drain(proto)) == "You said: The quick brown fox."


def test_an_engine_failure_fails_the_response_and_the_session_carries_on():
    """If synthesis raises, response.done says failed with a server_error; the next turn works."""
    calls: list[str] = []

    def flaky(text: str, voice: str, rate: int, speed: float) -> np.ndarray:
        calls.append(text)
        if len(calls) == 1:
            raise RuntimeError("espeak fell over")
        return tone_synth(text, voice, rate, speed)

    proto = new(engines=Engines(flaky, EnergyVad, fake_transcribe))
    failed = done_of(say(proto, "hello"))
    assert failed["status"] == "failed" and "espeak fell over" in failed["status_details"]["error"]["message"]
    assert done_of(say(proto, "hello"))["status"] == "completed"


def test_receive_before_start_is_a_usage_error():
    """The shell must call start() first, so session.created is the first event."""
    from realtime_kit.errors import InvalidState

    with pytest.raises(InvalidState, match="start"):
        RealtimeProtocol(engines=FAKES).receive("{}")


def test_server_vad_detects_speech_commits_and_answers():
    """speech_started/stopped with their ms, committed with the same item, then an automatic reply."""
    proto = new()
    append(proto, np.concatenate([silence(0.5), speech(1.0), silence(0.5)]))
    outs = drain(proto)
    started = of_type(outs, "input_audio_buffer.speech_started")[0]
    stopped = of_type(outs, "input_audio_buffer.speech_stopped")[0]
    assert (started["audio_start_ms"], stopped["audio_end_ms"]) == (200, 1500)
    committed = of_type(outs, "input_audio_buffer.committed")[0]
    assert started["item_id"] == stopped["item_id"] == committed["item_id"]
    assert transcript_of(outs) == "You said: The quick brown fox."
    kinds = types(outs)
    assert kinds.index("input_audio_buffer.committed") < kinds.index("response.created")


def test_speech_interrupts_the_response_in_flight():
    """With interrupt_response, speech_started cancels the response: status cancelled, turn_detected."""
    proto = new()
    say(proto, "hello")
    send(proto, type="conversation.item.create", item=user_item("tell me a story"))
    send(proto, type="response.create")
    while not audio_bytes([pull(proto)]):
        pass
    append(proto, speech(0.5))
    outs = drain(proto)
    assert types(outs)[0] == "input_audio_buffer.speech_started"
    assert done_of(outs)["status_details"] == {"type": "cancelled", "reason": "turn_detected"}


def test_semantic_vad_is_server_vad_with_eagerness_silences():
    """semantic_vad builds the VAD with threshold 0.5, 300 ms padding, silence from eagerness."""
    made: list[EnergyVad] = []

    def make_vad(*settings: Any) -> EnergyVad:
        made.append(EnergyVad(*settings))
        return made[-1]

    proto = new(engines=Engines(tone_synth, make_vad, fake_transcribe))
    send(proto, type="session.update", session={"type": "realtime", "audio": {"input": {
        "turn_detection": {"type": "semantic_vad", "eagerness": "low"}}}})
    append(proto, silence(0.1))
    assert made[-1].settings == (0.5, 300, 800, 24000)


def test_input_transcription_events_and_item_transcript():
    """With transcription on: delta(s), completed with usage, and the item carries the transcript."""
    proto = new()
    manual(proto, audio={"input": {"turn_detection": None, "transcription": {"model": "gpt-4o-transcribe"}}})
    append(proto, speech(0.5))
    send(proto, type="input_audio_buffer.commit")
    outs = drain(proto)
    deltas = of_type(outs, "conversation.item.input_audio_transcription.delta")
    completed = of_type(outs, "conversation.item.input_audio_transcription.completed")[0]
    assert "".join(d["delta"] for d in deltas) == completed["transcript"] == "the quick brown fox"
    assert completed["usage"]["type"] == "tokens" and completed["usage"]["total_tokens"] > 0
    send(proto, type="conversation.item.retrieve", item_id=completed["item_id"])
    assert of_type(drain(proto), "conversation.item.retrieved")[0]["item"]["content"][0]["transcript"] == \
        "the quick brown fox"


def test_output_audio_buffer_clear_is_webrtc_only():
    """Over a WebSocket the service refuses output_audio_buffer.clear, naming the alternative."""
    proto = new()
    send(proto, type="output_audio_buffer.clear", event_id="evt_9")
    error = error_of(drain(proto))
    assert "response.cancel" in error["message"] and error["event_id"] == "evt_9"


# -- tools -----------------------------------------------------------------------------------------

WEATHER = {"type": "function", "name": "get_weather", "description": "Current weather for a city.",
           "parameters": {"type": "object", "properties": {
               "city": {"type": "string"}, "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}},
               "required": ["city", "unit"]}}


def test_tool_call_then_function_output_then_spoken_answer():
    """A mentioned tool is called with schema-valid arguments; its output is then spoken."""
    proto = new()
    send(proto, type="session.update", session={"type": "realtime", "tools": [WEATHER]})
    drain(proto)
    outs = say(proto, "What's the weather in Paris?")
    done = done_of(outs)
    call = done["output"][0]
    assert (done["status"], call["type"], call["name"]) == ("completed", "function_call", "get_weather")
    assert json.loads(call["arguments"]) == {"city": "Paris", "unit": "celsius"}
    args = "".join(e["delta"] for e in of_type(outs, "response.function_call_arguments.delta"))
    assert args == of_type(outs, "response.function_call_arguments.done")[0]["arguments"] == call["arguments"]
    assert not audio_bytes(outs)
    send(proto, type="conversation.item.create", item={"type": "function_call_output", "call_id": call["call_id"],
                                                       "output": json.dumps({"temperature": 21, "sky": "clear"})})
    send(proto, type="response.create")
    assert transcript_of(drain(proto)) == "The get_weather tool says: temperature 21, sky clear."


def test_tool_choice_none_answers_in_words():
    """tool_choice "none" never calls a tool."""
    proto = new()
    send(proto, type="session.update", session={"type": "realtime", "tools": [WEATHER], "tool_choice": "none"})
    drain(proto)
    assert done_of(say(proto, "What's the weather in Paris?"))["output"][0]["type"] == "message"


# -- the whole thing -------------------------------------------------------------------------------


def test_scripted_conversation_every_event_validates():
    """A long scripted session: every server event validates strictly, and no error is unexpected."""
    proto = RealtimeProtocol(engines=FAKES, id_prefix_seed=11)
    proto.start()
    script: list[dict[str, Any]] = [
        {"type": "session.update", "session": {"type": "realtime", "instructions": "Be brief.", "tools": [WEATHER],
                                               "audio": {"input": {"transcription": {"model": "whisper-1"}}}}},
        {"type": "conversation.item.create", "item": {"type": "message", "role": "system",
                                                      "content": [{"type": "input_text", "text": "Be kind."}]}},
        {"type": "conversation.item.create", "item": user_item("what are your settings?")},
        {"type": "response.create"},
        {"type": "response.create", "response": {"output_modalities": ["text"], "conversation": "none"}},
        {"type": "conversation.item.create", "item": user_item("weather in Oslo in fahrenheit")},
        {"type": "response.create"},
    ]
    outs: list[Outgoing] = []
    for event in script:
        proto.receive(json.dumps(event))
        outs += drain(proto)
    call = done_of(outs)["output"][0]
    for frame in [
        {"type": "conversation.item.create", "item": {"type": "function_call_output", "call_id": call["call_id"],
                                                      "output": "sunny"}},
        {"type": "response.create", "response": {"max_output_tokens": 5, "metadata": {"k": "v"}}},
    ]:
        proto.receive(json.dumps(frame))
        outs += drain(proto)
    append(proto, np.concatenate([silence(0.3), speech(0.75), silence(0.4)]))
    outs += drain(proto)
    assert not of_type(outs, "error")
    assert {"session.updated", "response.function_call_arguments.done", "response.output_text.done",
            "conversation.item.input_audio_transcription.completed", "input_audio_buffer.speech_stopped",
            "rate_limits.updated"} <= set(types(outs))
    assert json.loads(call["arguments"]) == {"city": "Oslo", "unit": "fahrenheit"}


def test_transcript_pieces_rebuild_the_text():
    """Deltas concatenate back to exactly the transcript."""
    for text in ["Sure, I'm here to help.", "1, 2, 3.", "  odd   spacing  ", "3.5 is pi-ish?!", ""]:
        assert "".join(transcript_pieces(text)) == text


def test_default_engines_speak_a_reply():
    """With the real engines the reply is real speech: non-silent PCM in the seed's rhythm."""
    proto = new(engines=Engines.default())
    outs = say(proto, "hello")
    data = b"".join(base64.b64decode(e["delta"]) for e in of_type(outs, "response.output_audio.delta"))
    samples = np.frombuffer(data, dtype="<i2")
    assert audio_bytes(outs)[:2] == [4800, 7200]
    assert len(samples) > RATE // 2 and int(np.abs(samples.astype(np.int32)).max()) > 1000
