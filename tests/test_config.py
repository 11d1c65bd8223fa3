"""Session config: flat keywords onto the GA nesting, strict checks with the fix in the message."""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import pytest

from realtime_kit.config import (
    FLAT_KEYWORDS,
    NOT_SET,
    Change,
    build_session,
    check_session,
    format_changes,
    ga_voices,
    session_changes,
    vad_types,
)
from realtime_kit.errors import ConfigError
from realtime_kit.spec import validate_session

pytestmark = pytest.mark.pure

# The seed's Python sample, as written (no "type", and the `create_responese` typo).
SEED_SESSION: dict[str, Any] = {
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


def fixed_seed() -> dict[str, Any]:
    session = copy.deepcopy(SEED_SESSION)
    detection = session["audio"]["input"]["turn_detection"]
    detection["create_response"] = detection.pop("create_responese")
    return session


def config_error(*args, **kwargs) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        build_session(*args, **kwargs)
    return caught.value


# -- building -------------------------------------------------------------------------------------


def test_flat_keywords_map_onto_the_ga_nesting():
    """Each friendly keyword lands at its GA path, and the result has type realtime."""
    session = build_session(
        instructions="Be brief.", voice="coral", speed=1.2, output_modalities="audio", max_output_tokens=200,
        vad_threshold=0.6, prefix_padding_ms=200, silence_duration_ms=400, idle_timeout_ms=5000,
        create_response=False, interrupt_response=True, transcription="gpt-4o-transcribe",
        transcription_language="sv", input_format="g711_ulaw", output_format="audio/pcm",
        noise_reduction="near_field", tracing="auto", truncation="disabled",
    )
    assert session == {
        "type": "realtime",
        "instructions": "Be brief.",
        "audio": {
            "output": {"voice": "coral", "speed": 1.2, "format": {"type": "audio/pcm", "rate": 24000}},
            "input": {
                "format": {"type": "audio/pcmu"},
                "noise_reduction": {"type": "near_field"},
                "transcription": {"model": "gpt-4o-transcribe", "language": "sv"},
                "turn_detection": {"type": "server_vad", "threshold": 0.6, "prefix_padding_ms": 200,
                                   "silence_duration_ms": 400, "idle_timeout_ms": 5000,
                                   "create_response": False, "interrupt_response": True},
            },
        },
        "output_modalities": ["audio"],
        "max_output_tokens": 200,
        "tracing": "auto",
        "truncation": "disabled",
    }
    validate_session(session)


def test_type_realtime_comes_first_and_is_added_when_missing():
    """The seed's config lacks type; build_session adds it (first, for readability)."""
    session = build_session(fixed_seed())
    assert next(iter(session)) == "type" and session["type"] == "realtime"


def test_flat_keywords_deep_merge_onto_a_whole_config():
    """voice= changes only the voice; the rest of the seed's config stays as it was."""
    session = build_session(fixed_seed(), voice="sage", vad_threshold=0.7)
    assert session["audio"]["output"] == {"voice": "sage", "format": {"type": "audio/pcm", "rate": 24000}}
    assert session["audio"]["input"]["turn_detection"] == {
        "type": "server_vad", "threshold": 0.7, "prefix_padding_ms": 300, "silence_duration_ms": 200,
        "create_response": True,
    }
    assert session["audio"]["input"]["transcription"] == {"model": "whisper-1"}


def test_build_session_does_not_modify_the_config_passed_in():
    """The caller's dict is copied, never changed."""
    config = fixed_seed()
    before = copy.deepcopy(config)
    build_session(config, voice="ash", turn_detection=None)
    assert config == before


@pytest.mark.parametrize(("value", "expected"), [
    ("server_vad", {"type": "server_vad"}),
    ("semantic_vad", {"type": "semantic_vad"}),
    (None, None),
    (False, None),
    ({"type": "semantic_vad", "eagerness": "low"}, {"type": "semantic_vad", "eagerness": "low"}),
])
def test_turn_detection_shapes(value, expected):
    """turn_detection takes a type name, a dict, or None/False for off (an explicit null)."""
    assert build_session(turn_detection=value)["audio"]["input"]["turn_detection"] == expected


def test_changing_the_vad_type_replaces_the_old_parameters():
    """Switching server_vad -> semantic_vad drops threshold instead of merging it into the new type."""
    session = build_session(fixed_seed(), turn_detection="semantic_vad", eagerness="high")
    assert session["audio"]["input"]["turn_detection"] == {"type": "semantic_vad", "eagerness": "high"}


def test_eagerness_alone_implies_semantic_vad_and_threshold_alone_server_vad():
    """A VAD parameter without a type picks the type it belongs to."""
    assert build_session(eagerness="low")["audio"]["input"]["turn_detection"]["type"] == "semantic_vad"
    assert build_session(vad_threshold=0.2)["audio"]["input"]["turn_detection"]["type"] == "server_vad"


@pytest.mark.parametrize(("value", "expected"), [
    (True, {"model": "whisper-1"}),
    ("gpt-4o-mini-transcribe", {"model": "gpt-4o-mini-transcribe"}),
    ({"model": "whisper-1", "prompt": "names"}, {"model": "whisper-1", "prompt": "names"}),
    (None, None),
    (False, None),
])
def test_transcription_shapes(value, expected):
    """transcription takes True, a model name, a dict, or None/False for off."""
    assert build_session(transcription=value)["audio"]["input"]["transcription"] == expected


def test_transcription_language_turns_whisper_on():
    """A language alone switches transcription on with whisper-1."""
    assert build_session(transcription_language="de")["audio"]["input"]["transcription"] == {
        "model": "whisper-1", "language": "de"}


@pytest.mark.parametrize(("name", "expected"), [
    ("pcm16", {"type": "audio/pcm", "rate": 24000}),
    ("g711_ulaw", {"type": "audio/pcmu"}),
    ("g711_alaw", {"type": "audio/pcma"}),
    ("audio/pcm", {"type": "audio/pcm", "rate": 24000}),
    ("audio/pcma", {"type": "audio/pcma"}),
])
def test_format_keywords_accept_preview_and_ga_names(name, expected):
    """input_format= takes the preview names too and writes the GA object."""
    assert build_session(input_format=name)["audio"]["input"]["format"] == expected


def test_a_new_format_type_replaces_the_old_object():
    """g711 replaces {"type": "audio/pcm", "rate": 24000} whole (no stray rate)."""
    assert build_session(fixed_seed(), output_format="g711_alaw")["audio"]["output"]["format"] == {
        "type": "audio/pcma"}


def test_none_leaves_a_value_alone_but_turns_switches_off():
    """voice=None keeps the voice; noise_reduction=None sends an explicit null."""
    session = build_session(fixed_seed(), voice=None, noise_reduction=None, instructions=None)
    assert session["audio"]["output"]["voice"] == "alloy"
    assert session["instructions"] == SEED_SESSION["instructions"]
    assert session["audio"]["input"]["noise_reduction"] is None


def test_numbers_from_widgets_and_numpy_become_json_numbers():
    """A float slider's 300.0 ms becomes 300, numpy scalars become plain Python numbers."""
    detection = build_session(silence_duration_ms=300.0, prefix_padding_ms=np.int64(100),
                              vad_threshold=np.float32(0.25))["audio"]["input"]["turn_detection"]
    assert detection == {"type": "server_vad", "threshold": 0.25, "prefix_padding_ms": 100,
                         "silence_duration_ms": 300}
    assert type(detection["prefix_padding_ms"]) is int and type(detection["threshold"]) is float


def test_other_top_level_ga_keys_are_accepted_as_keywords():
    """include=, audio= and friends pass through (audio= deep-merges like the flat keys)."""
    session = build_session(fixed_seed(), include=["item.input_audio_transcription.logprobs"],
                            audio={"output": {"speed": 0.9}})
    assert session["include"] == ["item.input_audio_transcription.logprobs"]
    assert session["audio"]["output"] == {"voice": "alloy", "speed": 0.9,
                                          "format": {"type": "audio/pcm", "rate": 24000}}


def test_an_effective_session_can_be_passed_back():
    """session.updated's id, object and expires_at are dropped, so its session can be re-applied."""
    effective = {"type": "realtime", "object": "realtime.session", "id": "sess_1", "expires_at": 0,
                 "model": "gpt-realtime", "tracing": None, "audio": {"output": {"voice": "alloy", "speed": 1.0}}}
    session = build_session(effective, voice="coral")
    assert session == {"type": "realtime", "model": "gpt-realtime", "tracing": None,
                       "audio": {"output": {"voice": "coral", "speed": 1.0}}}


def test_tools_pass_through():
    """A function tool in the GA shape is accepted as given."""
    tool = {"type": "function", "name": "get_weather", "description": "Weather for a city.",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}
    assert build_session(tools=[tool], tool_choice="auto")["tools"] == [tool]


def test_flat_keyword_list_is_documented_in_the_docstring():
    """Every flat keyword appears in build_session's mapping table."""
    assert build_session.__doc__ is not None
    assert all(name in build_session.__doc__ for name in FLAT_KEYWORDS)


# -- errors: unknown keys, preview keys --------------------------------------------------------------


def test_the_seeds_typo_names_the_key_the_level_and_the_fix():
    """The seed's create_responese gets the exact sentence from the design."""
    err = config_error(SEED_SESSION)
    assert str(err) == ("session.update: unknown key 'create_responese' in audio.input.turn_detection; "
                        "did you mean 'create_response'?")
    assert err.path == "audio.input.turn_detection.create_responese"
    assert err.suggestion == "create_response"


@pytest.mark.parametrize(("config", "fragment"), [
    ({"tracin": "auto"}, "unknown key 'tracin' in the session; did you mean 'tracing'?"),
    ({"audio": {"inputs": {}}}, "unknown key 'inputs' in audio; did you mean 'input'?"),
    ({"tracing": {"workflow": "x"}}, "unknown key 'workflow' in tracing; did you mean 'workflow_name'?"),
    ({"audio": {"input": {"transcription": {"lang": "en"}}}},
     "unknown key 'lang' in audio.input.transcription; did you mean 'language'?"),
])
def test_unknown_keys_at_any_depth_get_a_did_you_mean(config, fragment):
    """difflib suggests the closest key the SDK defines at that level."""
    assert fragment in str(config_error(config))


def test_an_unknown_key_with_no_close_match_lists_the_allowed_keys():
    """Without a close match the message lists what that level allows (from the SDK)."""
    message = str(config_error({"tools": [{"type": "function", "name": "f", "strict": True}]}))
    assert "unknown key 'strict' in tools[0]; allowed keys there: description, name, parameters, type." in message


def test_a_key_of_the_other_vad_type_says_which_type_owns_it():
    """threshold under semantic_vad is explained as server_vad's key."""
    message = str(config_error({"audio": {"input": {"turn_detection": {"type": "semantic_vad", "threshold": 0.4}}}}))
    assert "'threshold' belongs to type 'server_vad'" in message
    assert "'threshold' belongs to type 'server_vad'" in str(config_error(turn_detection="semantic_vad",
                                                                          vad_threshold=0.4))


def test_a_flat_keyword_inside_the_dict_points_to_the_keyword():
    """vad_threshold as a session key is explained: pass it as a keyword or use its GA path."""
    message = str(config_error({"vad_threshold": 0.5}))
    assert "pass vad_threshold=..." in message and "audio.input.turn_detection.threshold" in message


def test_unknown_flat_keyword_gets_a_did_you_mean():
    """A typo in a keyword is matched against the flat names and the GA top-level keys."""
    err = config_error(vad_treshold=0.5)
    assert str(err) == "session.update: unknown keyword 'vad_treshold'; did you mean 'vad_threshold'?"
    assert "did you mean 'instructions'?" in str(config_error(instrucions="x"))


@pytest.mark.parametrize(("key", "value", "fix"), [
    ("modalities", ["audio"], "'output_modalities'"),
    ("input_audio_format", "pcm16", "audio.input.format"),
    ("output_audio_format", "pcm16", "audio.output.format"),
    ("voice", "alloy", "audio.output.voice"),
    ("turn_detection", {"type": "server_vad"}, "audio.input.turn_detection"),
    ("input_audio_transcription", {"model": "whisper-1"}, "audio.input.transcription"),
    ("input_audio_noise_reduction", {"type": "near_field"}, "audio.input.noise_reduction"),
    ("max_response_output_tokens", 100, "'max_output_tokens'"),
])
def test_preview_era_keys_name_their_ga_spelling(key, value, fix):
    """Each preview-era top-level key is refused with where GA puts it."""
    err = config_error({"type": "realtime", key: value})
    assert "preview-era" in str(err) and fix in str(err)
    assert err.path == key


def test_temperature_is_not_part_of_the_ga_session():
    """temperature has no GA home: the message says to remove it, as a key or a keyword."""
    assert str(config_error({"temperature": 0.8})) == (
        "session.update: 'temperature' is not part of the GA session; remove it.")
    assert "not part of the GA session" in str(config_error(temperature=0.8))


def test_preview_keywords_name_the_friendly_keyword():
    """modalities= points to output_modalities=."""
    assert "use output_modalities=" in str(config_error(modalities=["text"]))


@pytest.mark.parametrize(("fmt", "ga"), [
    ("pcm16", "{'type': 'audio/pcm', 'rate': 24000}"),
    ({"type": "g711_ulaw"}, "{'type': 'audio/pcmu'}"),
    ("audio/pcma", "{'type': 'audio/pcma'}"),
])
def test_preview_format_strings_inside_a_dict_show_the_ga_object(fmt, ga):
    """A format written as a string or preview type is refused with the GA object to write."""
    message = str(config_error({"audio": {"output": {"format": fmt}}}))
    assert "audio.output.format" in message and f"wants {ga}" in message


# -- errors: values and types ---------------------------------------------------------------------


def test_unknown_voice_lists_the_ga_voices():
    """A voice the service does not have is refused with every GA voice, from the SDK's Literal."""
    message = str(config_error(voice="nova"))
    assert "unknown voice 'nova' at audio.output.voice" in message
    assert all(voice in message for voice in ga_voices())
    assert "did you mean 'coral'?" in str(config_error(voice="corall"))


def test_ga_voices_and_vad_types_come_from_the_sdk():
    """The allowed names are read from the SDK's types, not copied by hand."""
    assert {"alloy", "marin", "cedar"} <= set(ga_voices())
    assert vad_types() == ("server_vad", "semantic_vad")


def test_a_custom_voice_object_is_accepted():
    """{"id": ...} is the GA form of a custom voice."""
    assert build_session(voice={"id": "voice_123"})["audio"]["output"]["voice"] == {"id": "voice_123"}


@pytest.mark.parametrize(("kwargs", "fragment"), [
    ({"output_modalities": "speech"},
     "invalid value 'speech' for output_modalities[0]; allowed values: 'text', 'audio'"),
    ({"eagerness": "fast"}, "allowed values: 'low', 'medium', 'high', 'auto'"),
    ({"turn_detection": "semantic"}, "did you mean 'semantic_vad'?"),
    ({"tool_choice": "sometimes"}, "allowed values: 'none', 'auto', 'required'"),
    ({"noise_reduction": "near"}, "did you mean 'near_field'?"),
    ({"input_format": "ulaw"}, "did you mean 'g711_ulaw'?"),
    ({"truncation": "never"}, "allowed values: 'auto', 'disabled'"),
])
def test_enum_values_are_refused_with_the_allowed_values(kwargs, fragment):
    """Wrong enum values list what the SDK allows, with a did-you-mean when one is close."""
    assert fragment in str(config_error(**kwargs))


@pytest.mark.parametrize(("kwargs", "fragment"), [
    ({"speed": 2.0}, "audio.output.speed is 2.0, out of range; use a value between 0.25 and 1.5."),
    ({"vad_threshold": 1.5}, "audio.input.turn_detection.threshold is 1.5, out of range"),
    ({"silence_duration_ms": -5}, "use a value at least 0"),
    ({"max_output_tokens": 5000}, "max_output_tokens is 5000, out of range"),
])
def test_numbers_out_of_range_are_refused(kwargs, fragment):
    """Ranges the SDK documents (speed, threshold, ms, tokens) are checked."""
    assert fragment in str(config_error(**kwargs))


@pytest.mark.parametrize(("config", "fragment"), [
    ({"instructions": ["a"]}, "instructions should be a string, not list ['a']."),
    ({"audio": {"input": {"turn_detection": {"type": "server_vad", "threshold": "high"}}}},
     "audio.input.turn_detection.threshold should be a number, not str 'high'."),
    ({"audio": {"input": {"turn_detection": {"type": "server_vad", "silence_duration_ms": 200.5}}}},
     "silence_duration_ms should be an integer, not float 200.5."),
    ({"audio": {"output": {"voice": 5}}}, "audio.output.voice should be a string such as 'alloy' or an object"),
    ({"truncation": {"type": "retention_ratio"}}, "truncation.retention_ratio is required here; add it."),
])
def test_wrong_types_say_what_was_expected(config, fragment):
    """Type errors name the path, the expected type (from the annotation) and what was given."""
    assert fragment in str(config_error(config))


def test_both_modalities_at_once_are_refused():
    """GA answers with audio (plus transcript) or text, never both."""
    assert "GA takes exactly one" in str(config_error(output_modalities=["audio", "text"]))


def test_a_missing_discriminator_lists_the_types():
    """turn_detection without a type says which types exist."""
    message = str(config_error({"audio": {"input": {"turn_detection": {"threshold": 0.5}}}}))
    assert "audio.input.turn_detection.type is required here; add it (one of 'server_vad', 'semantic_vad')" in message


def test_vad_parameters_with_turn_detection_off_conflict():
    """vad_threshold with turn_detection=None is a contradiction, said as such."""
    assert "needs turn detection, but turn_detection is None" in str(config_error(turn_detection=None,
                                                                                  vad_threshold=0.5))


def test_language_with_transcription_off_conflicts():
    """transcription_language with transcription=None is refused."""
    assert "needs transcription" in str(config_error(transcription=None, transcription_language="sv"))


def test_a_non_dict_config_is_refused():
    """A config that is not a mapping says to pass a dict or keywords."""
    assert "must be a dict" in str(config_error(["voice", "alloy"]))


def test_config_error_is_a_value_error():
    """rk.ConfigError can be caught as ValueError too."""
    with pytest.raises(ValueError):
        build_session(voice="nova")


# -- check_session ---------------------------------------------------------------------------------


def test_check_session_accepts_the_fixed_seed_and_returns_a_copy():
    """A valid full session comes back equal, but as a new dict."""
    session = {"type": "realtime", **fixed_seed()}
    checked = check_session(session)
    assert checked == session and checked is not session


def test_check_session_requires_type_realtime():
    """A full GA session needs type realtime; the message says so."""
    with pytest.raises(ConfigError, match='needs "type": "realtime"'):
        check_session(fixed_seed())
    with pytest.raises(ConfigError, match="allowed values: 'realtime'"):
        check_session({"type": "transcription"})


def test_check_session_takes_a_context_for_the_message():
    """The prefix names the call that was checked."""
    with pytest.raises(ConfigError, match=r"^response\.create: unknown voice"):
        check_session({"type": "realtime", "audio": {"output": {"voice": "nova"}}}, context="response.create")


# -- session_changes -------------------------------------------------------------------------------


def test_changes_report_changed_filled_in_and_dropped_values():
    """The server's effective session is compared with the request, path by path."""
    requested = {"type": "realtime", "instructions": "Be brief.",
                 "audio": {"output": {"voice": "coral"},
                           "input": {"turn_detection": {"type": "server_vad", "threshold": 0.6}}}}
    effective = {"type": "realtime", "id": "sess_1", "object": "realtime.session",
                 "audio": {"output": {"voice": "alloy", "speed": 1.0},
                           "input": {"turn_detection": {"type": "server_vad", "threshold": 0.6,
                                                        "silence_duration_ms": 500}}}}
    changes = session_changes(requested, effective)
    assert changes == [
        Change("instructions", "Be brief.", NOT_SET),
        Change("audio.output.voice", "coral", "alloy"),
        Change("audio.output.speed", NOT_SET, 1.0),
        Change("audio.input.turn_detection.silence_duration_ms", NOT_SET, 500),
    ]
    assert [c.kind for c in changes] == ["dropped", "changed", "filled in", "filled in"]


def test_no_changes_when_the_server_echoes_the_request():
    """An identical effective session (floats within rounding) gives no changes."""
    requested = build_session(vad_threshold=0.6)
    effective = copy.deepcopy(requested)
    effective["audio"]["input"]["turn_detection"]["threshold"] = 0.6000000001
    assert session_changes(requested, effective) == []


def test_changes_accept_an_sdk_model_as_the_effective_session():
    """session.updated's pydantic session can be compared directly."""
    from openai.types.realtime import RealtimeSessionCreateRequest

    effective = RealtimeSessionCreateRequest.model_validate(
        {"type": "realtime", "audio": {"output": {"voice": "alloy"}}})
    assert session_changes({"audio": {"output": {"voice": "coral"}}}, effective) == [
        Change("audio.output.voice", "coral", "alloy")]


def test_changes_walk_lists_item_by_item():
    """A tool the server completed shows the added field by index."""
    tool = {"type": "function", "name": "f"}
    changes = session_changes({"tools": [tool]}, {"tools": [{**tool, "description": ""}]})
    assert changes == [Change("tools[0].description", NOT_SET, "")]


def test_change_reprs_are_readable():
    """repr and str read as one line each."""
    change = Change("audio.output.voice", "coral", "alloy")
    assert repr(change) == "Change(audio.output.voice: 'coral' -> 'alloy')"
    assert str(change) == "audio.output.voice: asked 'coral', server has 'alloy'"
    assert str(Change("audio.output.speed", NOT_SET, 1.0)) == "audio.output.speed: not asked, server uses 1.0"


def test_format_changes_as_text_and_html():
    """The table helper renders aligned text and escaped HTML."""
    changes = [Change("audio.output.voice", "coral", "alloy"), Change("x", NOT_SET, "<b>")]
    text = format_changes(changes)
    assert text.splitlines()[0].split() == ["path", "asked", "server"]
    assert "audio.output.voice  'coral'  'alloy'" in text and "filled in" in text
    page = format_changes(changes, as_html=True)
    assert page.startswith("<table>") and "&lt;b&gt;" in page and "<b>" not in page
    assert format_changes([]) == "no changes"
