"""Strict validation against the SDK's GA types: the oracle every other layer relies on."""

import pytest

from realtime_kit.spec import (
    SpecViolation,
    client_event_types,
    server_event_types,
    validate_client_event,
    validate_server_event,
    validate_session,
)

pytestmark = pytest.mark.pure

SEED_SESSION = {
    "instructions": "You are a helpful assistant. You respond by voice and text.",
    "output_modalities": ["audio"],
    "audio": {
        "input": {
            "transcription": {"model": "whisper-1"},
            "format": {"type": "audio/pcm", "rate": 24000},
            "turn_detection": {"type": "server_vad", "threshold": 0.5, "prefix_padding_ms": 300,
                               "silence_duration_ms": 200, "create_responese": True},
        },
        "output": {"voice": "alloy", "format": {"type": "audio/pcm", "rate": 24000}},
    },
}


def violation(event):
    with pytest.raises(SpecViolation) as caught:
        validate_client_event(event)
    return caught.value


def test_seed_session_without_type_is_missing_session_type():
    """The seed's session.update lacks `type: realtime`, which GA requires."""
    err = violation({"type": "session.update", "session": SEED_SESSION})
    assert (err.code, err.param) == ("missing_required_parameter", "session.type")


def test_seed_typo_is_an_unknown_parameter_with_its_full_path():
    """The seed's `create_responese` is refused by name, as the real service does."""
    err = violation({"type": "session.update", "session": {**SEED_SESSION, "type": "realtime"}})
    assert err.code == "unknown_parameter"
    assert err.param == "session.audio.input.turn_detection.create_responese"
    assert "create_responese" in err.message


def test_corrected_seed_session_validates():
    """With the typo fixed and the type set, the seed's config is a valid GA session.update."""
    session = {**SEED_SESSION, "type": "realtime"}
    session["audio"]["input"]["turn_detection"] = {
        "type": "server_vad", "threshold": 0.5, "prefix_padding_ms": 300,
        "silence_duration_ms": 200, "create_response": True,
    }
    assert validate_client_event({"type": "session.update", "session": session}).type == "session.update"


@pytest.mark.parametrize(
    ("event", "code", "param"),
    [
        ({"type": "nope"}, "invalid_value", "type"),
        ({"session": {}}, "missing_required_parameter", "type"),
        ({"type": "session.update", "session": {"type": "realtime", "output_modalities": ["audi"]}},
         "invalid_value", "session.output_modalities[0]"),
        ({"type": "session.update",
          "session": {"type": "realtime", "audio": {"input": {"turn_detection": {"type": "server_vadx"}}}}},
         "invalid_value", "session.audio.input.turn_detection.type"),
        ({"type": "session.update", "session": {"type": "realtime", "audio": {"input": {
            "turn_detection": {"type": "server_vad", "threshold": "high"}}}}},
         "invalid_type", "session.audio.input.turn_detection.threshold"),
        ({"type": "conversation.item.create", "item": {"type": "message", "role": "usr", "content": []}},
         "invalid_value", "item.role"),
        ({"type": "conversation.item.create", "item": {"type": "message", "role": "user",
                                                       "content": [{"type": "input_text", "text": 5}]}},
         "invalid_type", "item.content[0].text"),
        ({"type": "conversation.item.truncate", "item_id": "x", "content_index": 0, "audio_end_ms": "5"},
         "invalid_type", "audio_end_ms"),
        ({"type": "response.create", "response": {"voice": "alloy"}}, "unknown_parameter", "response.voice"),
        ({"type": "input_audio_buffer.append"}, "missing_required_parameter", "audio"),
    ],
)
def test_refusals_name_the_problem_and_the_parameter(event, code, param):
    """Each kind of bad event gets the service's error code and the dotted parameter path."""
    err = violation(event)
    assert (err.code, err.param) == (code, param)
    assert err.as_error("evt_1") == {"type": "invalid_request_error", "code": code, "message": err.message,
                                     "param": param, "event_id": "evt_1"}


def test_strict_mode_refuses_numbers_in_strings():
    """Strict validation: "300" is not an integer, as JSON typing on the service."""
    err = violation({"type": "session.update", "session": {"type": "realtime", "audio": {"input": {
        "turn_detection": {"type": "server_vad", "prefix_padding_ms": "300"}}}}})
    assert err.code == "invalid_type"


def test_free_form_objects_are_not_checked_for_unknown_keys():
    """Tool parameter schemas and metadata are free-form JSON, not SDK models."""
    validate_client_event({"type": "session.update", "session": {"type": "realtime", "tools": [
        {"type": "function", "name": "f", "parameters": {"type": "object", "properties": {"x": {}}}}]}})
    validate_client_event({"type": "response.create", "response": {"metadata": {"any": "thing"}}})


def test_server_events_validate_and_unknown_keys_are_refused():
    """Our server's self-check: good events pass, an extra key fails."""
    delta = {"type": "response.output_audio.delta", "event_id": "e", "response_id": "r", "item_id": "i",
             "output_index": 0, "content_index": 0, "delta": "AA=="}
    assert validate_server_event(delta).type == "response.output_audio.delta"
    with pytest.raises(SpecViolation) as caught:
        validate_server_event({**delta, "extra": 1})
    assert caught.value.param == "extra"


def test_validate_session_prefixes_paths():
    """A bare session dict is checked with paths under the given prefix."""
    with pytest.raises(SpecViolation) as caught:
        validate_session({"type": "realtime", "voice": "alloy"}, path="session")
    assert caught.value.param == "session.voice"


def test_event_type_lists_are_ga_names():
    """The type lists come from the SDK and use GA names only."""
    assert "response.output_audio.delta" in server_event_types()
    assert "response.audio.delta" not in server_event_types()
    assert "input_audio_buffer.append" in client_event_types()


def test_item_references_in_response_input_are_checked():
    """`response.input` may reference items by id (as the SDK sends); a malformed reference is named."""
    validate_client_event({"type": "response.create", "response": {"input": [{"type": "item_reference", "id": "i"}]}})
    err = violation({"type": "response.create", "response": {"input": [{"type": "item_reference", "idx": "i"}]}})
    assert (err.code, err.param) == ("missing_required_parameter", "response.input[0].id")


def test_union_of_literal_and_object_reports_the_missing_field():
    """A truncation object missing its ratio is reported as that missing field, not as a union tag."""
    session = {"type": "realtime", "truncation": {"type": "retention_ratio"}}
    err = violation({"type": "session.update", "session": session})
    assert (err.code, err.param) == ("missing_required_parameter", "session.truncation.retention_ratio")


def test_server_session_may_carry_id_object_and_expiry():
    """session.created reports id, object and expires_at like the service; a wrong object value is refused."""
    session = {"type": "realtime", "id": "sess_1", "object": "realtime.session", "expires_at": 1700000000}
    assert validate_server_event({"type": "session.created", "event_id": "e", "session": session})
    with pytest.raises(SpecViolation) as caught:
        validate_server_event({"type": "session.updated", "event_id": "e", "session": {**session, "object": "x"}})
    assert caught.value.param == "session.object"
