"""The current model generation over loopback: shutdown notice on connect, reasoning per model, answer + tool call."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from test_server_wire import WEATHER_TOOL, of_type, sdk_session

import realtime_kit as rk
from realtime_kit.server import LocalServer

pytestmark = [pytest.mark.wire, pytest.mark.timeout(120)]


@pytest.fixture(scope="module")
def server() -> Iterator[LocalServer]:
    with LocalServer(pace="fast") as running:
        yield running


async def test_connecting_to_a_model_marked_for_shutdown_prints_one_line(
        server: LocalServer, capsys: pytest.CaptureFixture[str]) -> None:
    """model="gpt-realtime" prints one line with the date and the successor; the default model prints nothing."""
    async with rk.connect(server.url, model="gpt-realtime") as session:
        assert session.config["model"] == "gpt-realtime"
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 1 and "2027-01-20" in lines[0] and "gpt-realtime-2.1" in lines[0]
    async with rk.connect(server.url) as session:
        assert session.config["model"] == "gpt-realtime-2.1"
        assert session.config["audio"]["output"]["voice"] == "marin"
    assert capsys.readouterr().out == ""


async def test_reasoning_is_refused_by_gpt_realtime_and_taken_by_2_1(server: LocalServer) -> None:
    """The unchanged SDK: gpt-realtime answers reasoning with unsupported_parameter; 2.1 echoes it."""
    update = {"type": "session.update", "session": {"type": "realtime", "reasoning": {"effort": "high"}}}
    async with sdk_session(server.openai_base_url, model="gpt-realtime") as peer:
        error = await peer.error_for(update)
        assert (error["code"], error["param"]) == ("unsupported_parameter", "session.reasoning")
    async with sdk_session(server.openai_base_url, model="gpt-realtime-2.1") as peer:
        await peer.send(update)
        assert (await peer.expect("session.updated"))["session"]["reasoning"] == {"effort": "high"}


async def test_2_1_answers_and_calls_a_tool_in_one_response(server: LocalServer) -> None:
    """On 2.1 one response holds a commentary message, then the function call (as recorded)."""
    async with sdk_session(server.openai_base_url, model="gpt-realtime-2.1") as peer:
        await peer.send({"type": "session.update", "session": {"type": "realtime", "tools": [WEATHER_TOOL],
                                                               "output_modalities": ["text"]}})
        await peer.expect("session.updated")
        events = await peer.say("What is the weather in Paris?")
    assert len(of_type(events, "response.created")) == 1
    output = of_type(events, "response.done")[0]["response"]["output"]
    assert [(item["type"], item.get("phase")) for item in output] == [("message", "commentary"),
                                                                      ("function_call", None)]
    assert output[0]["content"][0]["text"] and '"Paris"' in output[1]["arguments"]
