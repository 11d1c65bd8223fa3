"""Transcription sessions, pure: the server's state machine with intent=transcription, and the client's config."""

from __future__ import annotations

from typing import Any

import pytest
from protocol_helpers import drain, send
from test_protocol import FAKES, append, silence, speech

from realtime_kit.config.transcription import transcription_config
from realtime_kit.errors import ConfigError
from realtime_kit.server.protocol import RealtimeProtocol
from realtime_kit.session.transcription import Transcription

pytestmark = pytest.mark.pure

GPT_TRANSCRIBE = {"type": "transcription", "audio": {"input": {"transcription": {"model": "gpt-transcribe"}}}}


def started(intent: str | None = "transcription") -> RealtimeProtocol:
    """A protocol past session.created (drained)."""
    proto = RealtimeProtocol(engines=FAKES, id_prefix_seed=3, intent=intent)
    proto.start()
    drain(proto)
    return proto


def error_of(events: list[dict[str, Any]]) -> dict[str, Any]:
    assert [e["type"] for e in events] == ["error"], events
    return events[0]["error"]


def spoken_turn(proto: RealtimeProtocol) -> list[dict[str, Any]]:
    for samples in (silence(0.3), speech(1.5), silence(1.0)):
        append(proto, samples)
    return drain(proto)


def test_transcription_session_starts_with_transcription_off() -> None:
    """session.created says type transcription, server VAD on, no transcription model until the client sets one."""
    proto = RealtimeProtocol(engines=FAKES, id_prefix_seed=3, intent="transcription")
    proto.start()
    created = drain(proto)[0]
    assert created["type"] == "session.created"
    session = created["session"]
    assert (session["type"], session["object"]) == ("transcription", "realtime.transcription_session")
    assert session["audio"]["input"]["transcription"] is None
    assert session["audio"]["input"]["turn_detection"]["type"] == "server_vad"


def test_speech_is_committed_and_transcribed_with_no_response() -> None:
    """A spoken turn: speech_started/stopped, committed, the item, deltas, completed; no response.* event."""
    proto = started()
    send(proto, {"type": "session.update", "session": GPT_TRANSCRIBE})
    events = spoken_turn(proto)
    kinds = [e["type"] for e in events]
    assert kinds[:5] == ["input_audio_buffer.speech_started", "input_audio_buffer.speech_stopped",
                         "input_audio_buffer.committed", "conversation.item.added", "conversation.item.done"]
    deltas = [e["delta"] for e in events if e["type"].endswith("transcription.delta")]
    completed = [e for e in events if e["type"].endswith("transcription.completed")]
    assert "".join(deltas) == completed[0]["transcript"] == "the quick brown fox" and len(deltas) == 4
    assert not any(kind.startswith("response.") for kind in kinds)


def test_logprobs_come_only_when_included_and_keywords_guide_words() -> None:
    """include logprobs adds one logprob per delta token; a keyword close to a heard word replaces it."""
    proto = started()
    update = {"type": "transcription", "include": ["item.input_audio_transcription.logprobs"], "audio": {"input": {
        "transcription": {"model": "gpt-transcribe", "keywords": ["Foxx"]}}}}
    send(proto, {"type": "session.update", "session": update})
    events = spoken_turn(proto)
    deltas = [e for e in events if e["type"].endswith("transcription.delta")]
    completed = next(e for e in events if e["type"].endswith("transcription.completed"))
    assert completed["transcript"] == "the quick brown Foxx"
    assert all([p["token"] for p in d["logprobs"]] == [d["delta"]] for d in deltas)
    assert [p["token"] for p in completed["logprobs"]] == ["the", " quick", " brown", " Foxx"]
    plain = started()
    send(plain, {"type": "session.update", "session": GPT_TRANSCRIBE})
    assert all("logprobs" not in e for e in spoken_turn(plain))


def test_the_other_session_type_is_refused_both_ways() -> None:
    """A realtime update to a transcription session (and the reverse) gets the service's refusal."""
    error = error_of(send(started(), {"type": "session.update", "session": {"type": "realtime"}}))
    assert error["message"].startswith("Passing a realtime session update event to a transcription session is "
                                       "not allowed") and error["param"] == "session.type"
    realtime = started(None)
    error = error_of(send(realtime, {"type": "session.update", "session": GPT_TRANSCRIBE}))
    assert error["message"].startswith("Passing a transcription session update event to a realtime session is "
                                       "not allowed")


def test_response_create_is_refused_in_a_transcription_session() -> None:
    """Nothing answers in a transcription session: response.create is an error naming the fix."""
    proto = started()
    error = error_of(send(proto, {"type": "response.create"}))
    assert "transcription session" in error["message"] and error["param"] == "type"


@pytest.mark.parametrize("transcription, code, param", [
    ({"model": "gpt-transcibe"}, "invalid_value", "model"),
    ({"model": "whisper-1", "delay": "low"}, "unsupported_parameter", "delay"),
    ({"model": "gpt-realtime-whisper", "prompt": "expect tech words"}, "unsupported_parameter", "prompt"),
    ({"model": "gpt-4o-transcribe", "keywords": ["Paris"]}, "unsupported_parameter", "keywords"),
])
def test_models_and_options_are_checked_as_the_sdk_documents(transcription: dict[str, Any], code: str,
                                                             param: str) -> None:
    """Unknown models and options a model does not take are refused, in both session types, naming the param."""
    proto = started()
    update = {"type": "transcription", "audio": {"input": {"transcription": transcription}}}
    error = error_of(send(proto, {"type": "session.update", "session": update}))
    assert (error["code"], error["param"]) == (code, f"session.audio.input.transcription.{param}")
    realtime = started(None)
    error = error_of(send(realtime, {"type": "session.update", "session": {**update, "type": "realtime"}}))
    assert error["code"] == code and realtime.session["audio"]["input"]["transcription"] is None


def test_transcription_config_builds_and_checks_before_sending() -> None:
    """transcription_config: the GA shape, logprobs as include, did-you-mean for keywords and models."""
    config = transcription_config(model="gpt-realtime-whisper", delay="minimal", language="en", logprobs=True,
                                  turn_detection=None, noise_reduction="far_field")
    assert config == {"type": "transcription", "include": ["item.input_audio_transcription.logprobs"],
                      "audio": {"input": {"transcription": {"model": "gpt-realtime-whisper", "language": "en",
                                                            "delay": "minimal"},
                                          "turn_detection": None, "noise_reduction": {"type": "far_field"}}}}
    with pytest.raises(ConfigError, match="did you mean 'language'"):
        transcription_config(langauge="en")
    with pytest.raises(ConfigError, match="did you mean 'whisper-1'"):
        transcription_config(model="whisper1")
    with pytest.raises(ConfigError, match="delay= is not supported with whisper-1"):
        transcription_config(model="whisper-1", delay="low")
    with pytest.raises(ConfigError, match="delay"):
        transcription_config(model="gpt-realtime-whisper", delay="slow")


def test_transcription_result_keeps_deltas_in_order_with_their_logprobs() -> None:
    """Transcription.add_delta keeps arrival order and flattens logprobs into plain dicts."""
    result = Transcription()
    result.add_delta("hello", [{"token": "hello", "logprob": -0.1, "bytes": [104]}])
    result.add_delta(" there", None)
    assert result.deltas == ["hello", " there"] and result.logprobs == [{"token": "hello", "logprob": -0.1,
                                                                        "bytes": [104]}]
    assert "2 deltas" in repr(result) and "deltas: hello |  there" in result._repr_html_()
