"""Fuzzing the protocol core: thousands of SDK-shaped, broken and malformed client frames, no sockets.

For every sequence: each answer validates as a server event, none is a server_error (the server's own
bug), the session still answers a text turn afterwards, and a second session sharing the server's
memory budget is unaffected. Deterministic engines (an energy VAD, a tone voice, a fixed transcriber)
keep it fast and reproducible; hypothesis is derandomized so a failure repeats.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
from fuzz_strategies import client_frames
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from realtime_kit.server.limits import MemoryBudget
from realtime_kit.server.protocol import Engines, RealtimeProtocol
from realtime_kit.spec import validate_server_event

pytestmark = [pytest.mark.pure, pytest.mark.timeout(300)]

MiB = 1024 * 1024


@dataclass(frozen=True)
class Boundary:
    kind: str
    audio_ms: int


class EnergyVad:
    """Speech while a chunk's peak passes 2000; silence after 200 ms below it. Deterministic, no model."""

    def __init__(self, threshold: float, prefix_ms: int, silence_ms: int, rate: int) -> None:
        self.rate, self.silence_ms = rate, 200
        self.reset()

    def reset(self) -> None:
        self.fed_ms, self.speaking, self.quiet_ms = 0.0, False, 0.0

    def feed(self, samples: np.ndarray) -> list[Boundary]:
        ms = len(samples) * 1000 / self.rate
        loud = bool(len(samples)) and int(np.abs(samples.astype(np.int32)).max()) > 2000
        events = []
        if loud and not self.speaking:
            self.speaking, self.quiet_ms = True, 0.0
            events.append(Boundary("speech_started", int(self.fed_ms)))
        elif self.speaking and not loud:
            self.quiet_ms += ms
            if self.quiet_ms >= self.silence_ms:
                self.speaking = False
                events.append(Boundary("speech_stopped", int(self.fed_ms)))
        self.fed_ms += ms
        return events


def tone(text: str, voice: str, rate: int, speed: float) -> np.ndarray:
    n = int(rate * 0.05 * max(1, len(text.split())))
    return (3000 * np.sin(np.arange(n) * 0.05)).astype(np.int16)


ENGINES = Engines(synthesize=tone, make_vad=EnergyVad, transcribe=lambda samples, rate: "hello there")


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
