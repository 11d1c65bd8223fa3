"""Truncation, pure: the oldest items leave the model's context per retention_ratio / token_limits; disabled errors."""

from __future__ import annotations

from typing import Any

import pytest
from test_protocol import FAKES, done_of, drain, error_of, send, types

from realtime_kit.rules import ModelProfile
from realtime_kit.server.context_window import ContextWindow, item_tokens
from realtime_kit.server.items import Conversation, Item
from realtime_kit.server.protocol import RealtimeProtocol
from realtime_kit.server.wire import Ids

pytestmark = pytest.mark.pure

WORDS = " ".join(["word"] * 30)          # 40 text tokens by the server's estimate (0.75 words per token)


def session(truncation: Any, limit: int = 28_224) -> RealtimeProtocol:
    profile = ModelProfile("test", input_token_limit=limit)
    proto = RealtimeProtocol(engines=FAKES, id_prefix_seed=9, profile=profile)
    proto.start()
    drain(proto)
    send(proto, type="session.update", session={"type": "realtime", "instructions": "Be brief.",
                                                "output_modalities": ["text"], "truncation": truncation})
    drain(proto)
    return proto


def add_user_text(proto: RealtimeProtocol, count: int) -> None:
    for _ in range(count):
        send(proto, type="conversation.item.create", item={"type": "message", "role": "user", "content": [
            {"type": "input_text", "text": WORDS}]})
    drain(proto)


def input_tokens(proto: RealtimeProtocol) -> int:
    send(proto, type="response.create")
    return int(done_of(drain(proto))["usage"]["input_tokens"])


def test_retention_ratio_keeps_a_fraction_of_the_post_instruction_limit() -> None:
    """Over post_instructions 400, items are dropped until at most 0.5 x 400 remain; usage counts only those."""
    proto = session({"type": "retention_ratio", "retention_ratio": 0.5, "token_limits": {"post_instructions": 400}})
    add_user_text(proto, 9)                  # 9 x 40 = 360: under the limit, nothing dropped
    full = input_tokens(proto)
    assert full >= 360
    add_user_text(proto, 3)                  # now over 400: keep <= 200
    kept = input_tokens(proto)
    assert kept <= 200 + 40 and kept < full


def test_dropped_items_stay_dropped_so_the_next_turns_start_from_the_same_place() -> None:
    """After a truncation, a small addition does not move the start again (the cache-friendly behaviour)."""
    window = ContextWindow()
    conversation = Conversation(Ids(seed=1))
    items = [Item({"id": f"item_{i}", "type": "message", "role": "user",
                   "content": [{"type": "input_text", "text": WORDS}]}) for i in range(12)]
    for item in items:
        conversation.add(item)
    settings = {"session_view": {"truncation": {"type": "retention_ratio", "retention_ratio": 0.5,
                                                "token_limits": {"post_instructions": 400}}}, "instructions": ""}
    first = window.fit(items, settings, 28_224)
    assert sum(item_tokens(i) for i in first) <= 200 and first[-1] is items[-1]
    extra = Item({"id": "item_extra", "type": "message", "role": "user",
                  "content": [{"type": "input_text", "text": "one more"}]})
    second = window.fit([*items, extra], settings, 28_224)
    assert second[0] is first[0] and second[-1] is extra
    assert window.dropped == {item.id for item in items[:len(items) - len(first)]}


def test_auto_drops_just_enough_for_the_model_limit() -> None:
    """truncation auto with a 500-token model: the oldest items go until the rest fits, nothing more."""
    proto = session("auto", limit=500)
    add_user_text(proto, 20)                 # 800 tokens
    kept = input_tokens(proto)
    assert 500 - 40 < kept <= 500


def test_disabled_refuses_a_response_over_the_limit_and_keeps_everything() -> None:
    """truncation disabled: response.create over the limit gets context_length_exceeded, no response starts."""
    proto = session("disabled", limit=500)
    add_user_text(proto, 20)
    send(proto, type="response.create")
    outs = drain(proto)
    error = error_of(outs)
    assert (error["code"], error["param"]) == ("context_length_exceeded", "truncation")
    assert "response.created" not in types(outs)
