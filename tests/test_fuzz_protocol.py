"""Fuzzing the protocol core: thousands of SDK-shaped, broken and malformed client frames, no sockets.

For every sequence: each answer validates as a server event, none is a server_error (the server's own
bug), the session still answers a text turn afterwards, and a second session sharing the server's
memory budget is unaffected. Deterministic engines (an energy VAD, a tone voice, a fixed transcriber)
keep it fast and reproducible; hypothesis is derandomized so a failure repeats.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from fuzz_strategies import ENGINES, client_frames
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from realtime_kit.server.limits import MemoryBudget
from realtime_kit.server.protocol import RealtimeProtocol
from realtime_kit.spec import validate_server_event

pytestmark = [pytest.mark.pure, pytest.mark.timeout(300)]

MiB = 1024 * 1024


def drained(proto: RealtimeProtocol) -> list[dict[str, Any]]:
    """Every event the protocol has to send now, each validated against the SDK."""
    events = []
    while (out := proto.next_event()) is not None:
        validate_server_event(out.event)
        json.dumps(out.event, allow_nan=False)  # strict JSON: a browser could parse it
        events.append(out.event)
    return events


def own_bugs(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """server_error events and failed responses: the server's own bugs, never the client's."""
    errors = [e for e in events if e["type"] == "error" and e["error"]["type"] == "server_error"]
    failed = [e for e in events if e["type"] == "response.done" and e["response"]["status"] == "failed"]
    return errors + failed


def answers_a_turn(proto: RealtimeProtocol) -> bool:
    """After whatever came before, a text message and response.create still end in a response.done."""
    proto.receive(json.dumps({"type": "response.cancel"}))  # anything still in flight ends first
    drained(proto)
    proto.receive(json.dumps({"type": "conversation.item.create", "item": {
        "type": "message", "role": "user", "content": [{"type": "input_text", "text": "Hello."}]}}))
    proto.receive(json.dumps({"type": "response.create"}))
    events = drained(proto)
    return not own_bugs(events) and any(e["type"] == "response.done" for e in events)


def new_session(budget: MemoryBudget) -> RealtimeProtocol:
    proto = RealtimeProtocol(engines=ENGINES, id_prefix_seed=3, memory=budget.account())
    proto.start()
    drained(proto)
    return proto


@settings(max_examples=600, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.lists(client_frames(), min_size=1, max_size=6))
def test_any_client_frames_get_valid_answers_and_the_session_carries_on(frames: list[str | bytes]) -> None:
    """Fuzzed frames: valid server events only, no server_error, the session and its neighbour still answer."""
    budget = MemoryBudget(per_session=8 * MiB, total=16 * MiB)
    proto, neighbour = new_session(budget), new_session(budget)
    for frame in frames:
        proto.receive(frame)
        events = drained(proto)
        assert own_bugs(events) == [], (frame, own_bugs(events))
    assert answers_a_turn(proto), frames
    assert answers_a_turn(neighbour), frames
