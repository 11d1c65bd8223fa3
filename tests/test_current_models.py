"""The current model generation: shutdown notices, reasoning and parallel_tool_calls per model profile (pure)."""

from __future__ import annotations

import inspect
import re

import pytest
from test_protocol import done_of, drain, error_of, new, of_type, say, send

from realtime_kit.config import build_session
from realtime_kit.errors import ConfigError
from realtime_kit.rules import CURRENT_MODEL, SHUTDOWNS, model_names, profile_for, shutdown_notice

pytestmark = pytest.mark.pure


def sdk_deprecated_models() -> tuple[set[str], str]:
    """The names and date under "Deprecated values" in the SDK's docstring of RealtimeSessionCreateRequest.model."""
    from openai.types.realtime import realtime_session_create_request

    source = inspect.getsource(realtime_session_create_request)
    block = source.split("Deprecated values:", 1)[1].split('"""', 1)[0]
    names = set(re.findall(r'"([^"]+)"', block))
    date = re.search(r"shutdown date: (\d{4}-\d\d-\d\d)", block)
    assert date is not None
    return names, date.group(1)


def test_shutdowns_are_exactly_the_models_the_sdk_marks_with_its_date() -> None:
    """rules.SHUTDOWNS lists every model the SDK's docstring marks for shutdown, with the SDK's date."""
    names, date = sdk_deprecated_models()
    assert set(SHUTDOWNS) == names
    assert {shutdown.date for shutdown in SHUTDOWNS.values()} == {date}


def test_successors_are_current_models_the_sdk_lists() -> None:
    """Each successor is a model the SDK lists and is not itself marked for shutdown; the default is current."""
    for shutdown in SHUTDOWNS.values():
        assert shutdown.successor in model_names() and shutdown.successor not in SHUTDOWNS
    assert SHUTDOWNS["gpt-realtime"].successor == CURRENT_MODEL == "gpt-realtime-2.1"
    assert SHUTDOWNS["gpt-realtime-mini"].successor == "gpt-realtime-2.1-mini"
    assert shutdown_notice(CURRENT_MODEL) is None and shutdown_notice("my-deployment") is None


def test_shutdown_notice_is_one_line_with_date_and_successor() -> None:
    """The notice names the model, the date and the successor in one line."""
    notice = shutdown_notice("gpt-realtime-2025-08-28")
    assert notice is not None and "\n" not in notice
    assert "gpt-realtime-2025-08-28" in notice and "2027-01-20" in notice and "gpt-realtime-2.1" in notice


def test_reasoning_models_are_the_2_x_generation() -> None:
    """Profiles with reasoning: gpt-realtime-2, 2.1 and 2.1-mini; not gpt-realtime, -mini or 1.5."""
    assert all(profile_for(name).reasoning for name in ("gpt-realtime-2", "gpt-realtime-2.1",  # type: ignore[union-attr]
                                                        "gpt-realtime-2.1-mini"))
    assert not any(profile_for(name).reasoning for name in ("gpt-realtime", "gpt-realtime-mini",  # type: ignore[union-attr]
                                                            "gpt-realtime-1.5"))


@pytest.mark.parametrize("key, value", [("reasoning", {"effort": "high"}), ("parallel_tool_calls", True)])
def test_session_update_refuses_reasoning_keys_on_a_model_without_them(key: str, value: object) -> None:
    """gpt-realtime answers reasoning/parallel_tool_calls with unsupported_parameter; the session is unchanged."""
    proto = new(model="gpt-realtime")
    send(proto, type="session.update", session={"type": "realtime", key: value})
    error = error_of(drain(proto))
    assert (error["code"], error["param"]) == ("unsupported_parameter", f"session.{key}")
    assert error["message"].startswith(f"Unsupported parameter: 'session.{key}' is not supported with this model")
    assert key not in proto.session


def test_session_update_keeps_reasoning_keys_on_2_1_and_echoes_them() -> None:
    """gpt-realtime-2.1 takes both; session.updated echoes reasoning (the SDK's session has no parallel_tool_calls)."""
    proto = new(model="gpt-realtime-2.1")
    send(proto, type="session.update", session={"type": "realtime", "reasoning": {"effort": "medium"},
                                                "parallel_tool_calls": False})
    session = of_type(drain(proto), "session.updated")[0]["session"]
    assert session["reasoning"] == {"effort": "medium"} and "parallel_tool_calls" not in session


def test_response_create_refuses_reasoning_on_a_model_without_it() -> None:
    """A per-response reasoning on gpt-realtime gets the same error, with param response.reasoning."""
    proto = new(model="gpt-realtime")
    send(proto, type="response.create", response={"reasoning": {"effort": "low"}})
    error = error_of(drain(proto))
    assert (error["code"], error["param"]) == ("unsupported_parameter", "response.reasoning")


def test_more_effort_reports_more_reasoning_tokens() -> None:
    """The same answer reports more reasoning tokens at effort high than at minimal (per-response or session)."""
    def reasoning_at(effort: str) -> int:
        proto = new(model="gpt-realtime-2.1")
        send(proto, type="session.update", session={"type": "realtime", "reasoning": {"effort": effort}})
        drain(proto)
        usage = done_of(say(proto, "Hello there.", output_modalities=["text"]))["usage"]
        return int(usage["output_token_details"]["reasoning_tokens"])

    assert reasoning_at("minimal") < reasoning_at("low") < reasoning_at("high") < reasoning_at("xhigh")
    per_response = say(new(model="gpt-realtime-2.1"), "Hello there.", output_modalities=["text"],
                       reasoning={"effort": "xhigh"})
    assert done_of(per_response)["usage"]["output_token_details"]["reasoning_tokens"] == reasoning_at("xhigh")


def test_config_keywords_cover_reasoning_with_did_you_mean() -> None:
    """reasoning_effort= and parallel_tool_calls= build the GA keys; typos get a did-you-mean."""
    assert build_session(reasoning_effort="high", parallel_tool_calls=True) == {
        "type": "realtime", "reasoning": {"effort": "high"}, "parallel_tool_calls": True}
    with pytest.raises(ConfigError, match="did you mean 'reasoning_effort'"):
        build_session(reasoning_efort="high")
    with pytest.raises(ConfigError, match="did you mean 'parallel_tool_calls'"):
        build_session(paralel_tool_calls=True)
    with pytest.raises(ConfigError, match="did you mean 'high'"):
        build_session(reasoning_effort="hihg")


def test_response_keywords_cover_reasoning_effort_and_name_image_typos() -> None:
    """Per-response reasoning_effort= nests as reasoning.effort; typos of image= get a did-you-mean."""
    from realtime_kit.config.response import build_response

    assert build_response(reasoning_effort="high") == {"reasoning": {"effort": "high"}}
    with pytest.raises(ConfigError, match="did you mean 'image'"):
        build_response(imgae=b"...")
    with pytest.raises(ConfigError, match="image= goes with a text message"):
        build_response(image=b"...")
