"""The server's protocol core against what the real service's recordings show: keys, order, model profiles, flavours."""

from __future__ import annotations

from typing import Any

import pytest
from test_protocol import (
    append,
    done_of,
    drain,
    new,
    of_type,
    say,
    send,
    silence,
    speech,
    types,
)

from realtime_kit.rules import GPT_REALTIME, GPT_REALTIME_2, model_names, profile_for, transcription_usage_kind
from realtime_kit.spec import SpecViolation, validate_server_event

pytestmark = pytest.mark.pure

WEATHER = {"type": "function", "name": "get_weather", "description": "Look up the weather for a city.",
           "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}


def items_in(outs: list[Any]) -> list[dict[str, Any]]:
    return [out.event["item"] for out in outs if "item" in out.event]


def test_every_model_the_sdk_lists_has_a_profile_and_others_none() -> None:
    """gpt-realtime, -mini and 2.1 (and every SDK name) have profiles; 2.x share 2.1's; an unknown name has none."""
    assert {"gpt-realtime", "gpt-realtime-mini", "gpt-realtime-2.1"} <= set(model_names())
    assert all(profile_for(name) is not None for name in model_names())
    assert profile_for("gpt-realtime-mini") is GPT_REALTIME and profile_for("gpt-realtime-2.1-mini") is GPT_REALTIME_2
    assert profile_for("gpt-realtime-9") is None
    assert transcription_usage_kind("gpt-realtime-whisper") == "duration"
    assert transcription_usage_kind("gpt-4o-transcribe") == "tokens"


def test_items_carry_no_object_and_a_function_output_no_status() -> None:
    """Items never carry `object`; a function_call_output is echoed without `status`, as recorded."""
    proto = new()
    send(proto, type="session.update", session={"type": "realtime", "tools": [WEATHER]})
    drain(proto)
    outs = say(proto, "What is the weather in London?")
    call = of_type(outs, "response.function_call_arguments.done")[0]
    send(proto, type="conversation.item.create",
         item={"type": "function_call_output", "call_id": call["call_id"], "output": "Foggy, 12 degrees."})
    outs += drain(proto)
    assert all("object" not in item for item in items_in(outs))
    assert all("object" not in item for item in done_of(outs)["output"])
    output = [item for item in items_in(outs) if item["type"] == "function_call_output"]
    assert output and all("status" not in item for item in output)


def test_text_deltas_carry_obfuscation_and_audio_deltas_none() -> None:
    """Transcript, text and argument deltas carry a 16-character-padded `obfuscation`; audio deltas none."""
    outs = say(new(), "How are you?")
    transcript = of_type(outs, "response.output_audio_transcript.delta")
    assert transcript and all(len(e["delta"]) + len(e["obfuscation"]) >= 16 for e in transcript)
    assert all("obfuscation" not in e for e in of_type(outs, "response.output_audio.delta"))
    texts = of_type(say(new(), "Hi.", output_modalities=["text"]), "response.output_text.delta")
    assert texts and all(isinstance(e["obfuscation"], str) for e in texts)


def test_azure_flavour_repeats_the_part_as_content_and_sends_no_rate_limits() -> None:
    """On Azure's path content part events carry `content` beside `part`, and no rate_limits.updated follows."""
    azure, openai = say(new(service="azure"), "Hello."), say(new(service="openai"), "Hello.")
    for kind in ("response.content_part.added", "response.content_part.done"):
        event = of_type(azure, kind)[0]
        assert event["content"] == event["part"]
        assert "content" not in of_type(openai, kind)[0]
    assert "rate_limits.updated" not in types(azure) and "rate_limits.updated" in types(openai)


def test_gpt_realtime_2_1_defaults_phase_and_preamble() -> None:
    """2.1: voice marin, 500 ms silence (also for a new server_vad), items with phase, commentary before a tool call."""
    proto = new(model="gpt-realtime-2.1")
    assert proto.session["audio"]["output"]["voice"] == "marin"
    assert proto.session["audio"]["input"]["turn_detection"]["silence_duration_ms"] == 500
    send(proto, type="session.update", session={"type": "realtime", "tools": [WEATHER], "output_modalities": ["text"],
                                                "audio": {"input": {"turn_detection": {"type": "server_vad"}}}})
    updated = of_type(drain(proto), "session.updated")[0]["session"]
    assert updated["audio"]["input"]["turn_detection"]["silence_duration_ms"] == 500
    outs = say(proto, "What is the weather in London?")
    output = done_of(outs)["output"]
    assert [(item["type"], item.get("phase")) for item in output] == [("message", "commentary"),
                                                                      ("function_call", None)]
    assert "reasoning_tokens" not in done_of(outs)["usage"]["output_token_details"]
    answer = say(new(model="gpt-realtime-2.1"), "Hello there.", output_modalities=["text"])
    assert done_of(answer)["output"][0]["phase"] == "final_answer"
    assert done_of(answer)["usage"]["output_token_details"]["reasoning_tokens"] >= 0
    assert "phase" not in done_of(say(new(), "Hello."))["output"][0]


def test_transcription_config_echo_and_duration_usage() -> None:
    """The transcription echo has language and prompt null; whisper usage is whole seconds of audio."""
    proto = new()
    send(proto, type="session.update", session={"type": "realtime", "audio": {"input": {
        "transcription": {"model": "gpt-realtime-whisper"}}}})
    echo = of_type(drain(proto), "session.updated")[0]["session"]["audio"]["input"]["transcription"]
    assert echo == {"model": "gpt-realtime-whisper", "language": None, "prompt": None}
    append(proto, silence(0.3))
    append(proto, speech(2.5))
    append(proto, silence(1.0))
    completed = of_type(drain(proto), "conversation.item.input_audio_transcription.completed")
    assert completed and completed[0]["usage"]["type"] == "duration"
    assert completed[0]["usage"]["seconds"] == 3  # 2.5 s of speech plus 300 ms of prefix, rounded up


def test_input_transcription_runs_beside_the_reply_as_recorded() -> None:
    """After a VAD turn: response.created, transcription deltas, the reply; completed after its first audio delta."""
    proto = new()
    send(proto, type="session.update", session={"type": "realtime", "audio": {"input": {
        "transcription": {"model": "gpt-4o-transcribe"}}}})
    drain(proto)
    append(proto, silence(0.3))
    append(proto, speech(1.0))
    append(proto, silence(1.0))
    at = types(drain(proto)).index
    transcribing = "conversation.item.input_audio_transcription"
    assert at("input_audio_buffer.committed") < at("response.created") < at(f"{transcribing}.delta") \
        < at("response.output_item.added")
    assert at("response.output_audio.delta") < at(f"{transcribing}.completed") < at("response.done")


def test_service_only_keys_are_checked_not_waved_through() -> None:
    """spec accepts the service's extra keys only in their recorded shape."""
    delta = {"type": "response.output_text.delta", "event_id": "e", "response_id": "r", "item_id": "i",
             "output_index": 0, "content_index": 0, "delta": "Hi"}
    validate_server_event({**delta, "obfuscation": "abcdefghijklmn"})
    with pytest.raises(SpecViolation, match="obfuscation"):
        validate_server_event({**delta, "obfuscation": 7})
    part = {"type": "response.content_part.added", "event_id": "e", "response_id": "r", "item_id": "i",
            "output_index": 0, "content_index": 0, "part": {"type": "text", "text": ""}}
    validate_server_event({**part, "content": {"type": "text", "text": ""}})
    with pytest.raises(SpecViolation, match="content"):
        validate_server_event({**part, "content": {"type": "audio", "transcript": ""}})
