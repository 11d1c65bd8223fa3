"""Truncation over loopback with the unchanged SDK: usage shows the kept context; disabled gets an error."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from test_server_wire import Peer, of_type, sdk_session

from realtime_kit.server import LocalServer

pytestmark = [pytest.mark.wire, pytest.mark.timeout(120)]

WORDS = " ".join(["word"] * 30)


@pytest.fixture(scope="module")
def server() -> Iterator[LocalServer]:
    with LocalServer(pace="fast") as running:
        yield running


async def fill(peer: Peer, truncation: Any, count: int) -> None:
    await peer.send({"type": "session.update", "session": {"type": "realtime", "truncation": truncation,
                                                           "output_modalities": ["text"],
                                                           "instructions": "Be brief."}})
    await peer.expect("session.updated")
    for _ in range(count):
        await peer.send({"type": "conversation.item.create", "item": {"type": "message", "role": "user",
                                                                      "content": [{"type": "input_text",
                                                                                   "text": WORDS}]}})
        await peer.expect("conversation.item.done")


async def test_retention_ratio_shows_in_usage_and_disabled_errors(server: LocalServer) -> None:
    """post_instructions 400, ratio 0.5, 12 items of 40 tokens: input_tokens <= 200 + instructions; disabled errors."""
    ratio = {"type": "retention_ratio", "retention_ratio": 0.5, "token_limits": {"post_instructions": 400}}
    async with sdk_session(server.openai_base_url, model="gpt-realtime") as peer:
        await fill(peer, ratio, 12)
        await peer.send({"type": "response.create"})
        done = of_type(await peer.until("response.done"), "response.done")[0]["response"]
        assert done["status"] == "completed" and done["usage"]["input_tokens"] <= 200 + 4
    async with sdk_session(server.openai_base_url, model="gpt-realtime") as peer:
        await fill(peer, {**ratio, "retention_ratio": 1.0}, 12)
        await peer.send({"type": "session.update", "session": {"type": "realtime", "truncation": "disabled"}})
        assert (await peer.expect("session.updated"))["session"]["truncation"] == "disabled"
        await peer.send({"type": "conversation.item.create", "item": {"type": "message", "role": "user",
                         "content": [{"type": "input_text", "text": " ".join(["word"] * 30_000)}]}})
        await peer.expect("conversation.item.done")
        error = await peer.error_for({"type": "response.create"})
        assert error["code"] == "context_length_exceeded"
