"""Hypothesis strategies for client events, built from the SDK's own models (openai.types.realtime).

    >>> from hypothesis import given
    >>> @given(client_frames())
    ... def test(frame): ...

`client_event()` walks each model's fields and annotations (Literal, unions, lists, nested models),
so every event type and field the SDK knows is reachable and new SDK fields are picked up for free.
Values lean toward what makes the server work: short texts, a few shared item ids, small base64
audio. `client_frames()` mixes those events with raw malformed frames (bad JSON, wrong shapes,
nesting, huge numbers, non-UTF-8 bytes) and with valid events that had one field broken.
"""

from __future__ import annotations

import base64
import json
import types
import typing
from dataclasses import dataclass
from typing import Any

import numpy as np
from hypothesis import strategies as st
from openai.types.realtime import RealtimeClientEvent
from pydantic import BaseModel

from realtime_kit.server.engines import Engines

__all__ = ["ENGINES", "EVENT_MODELS", "client_event", "client_frames", "malformed_frame"]

EVENT_MODELS: tuple[type[BaseModel], ...] = typing.get_args(typing.get_args(RealtimeClientEvent)[0])
ITEM_IDS = ("item_a", "item_b", "item_fuzz_1", "")
_MAX_DEPTH = 6

_texts = st.one_of(st.sampled_from(["hello", "say hi", "count to 3", "what are your settings?", "repeat after me: ok",
                                    "what is 6 times 7", "tell me a story", ""]),
                   st.text(max_size=40))
_audio = st.binary(max_size=9600).map(lambda raw: base64.b64encode(raw).decode())
_by_name: dict[str, st.SearchStrategy[Any]] = {
    "audio": _audio, "delta": _audio, "item_id": st.sampled_from(ITEM_IDS), "previous_item_id":
        st.sampled_from(ITEM_IDS), "id": st.sampled_from(ITEM_IDS), "call_id": st.sampled_from(["call_1", "call_2"]),
    "text": _texts, "instructions": _texts, "transcript": _texts,
    "audio_end_ms": st.integers(-5, 5000), "content_index": st.integers(-1, 3),
    "name": st.sampled_from(["get_weather", "lookup", "x"]),
    "arguments": st.sampled_from(['{"city": "Paris"}', "{}", "not json"]),
    "output": st.sampled_from(['{"temp": 21}', "done", ""]),
    "parameters": st.sampled_from([{"type": "object", "properties": {"city": {"type": "string"}}}, {}]),
    "speed": st.floats(0.1, 2.0), "threshold": st.floats(-0.5, 1.5),
    "max_output_tokens": st.one_of(st.just("inf"), st.integers(-3, 5000)),
    "rate": st.sampled_from([24000, 16000, 8000]),
}


def client_event() -> st.SearchStrategy[dict[str, Any]]:
    """One client event of any type the SDK defines, as a JSON-ready dict."""
    return st.one_of([_model(model, 0) for model in EVENT_MODELS])


def _model(model: type[BaseModel], depth: int) -> st.SearchStrategy[dict[str, Any]]:
    required: dict[str, st.SearchStrategy[Any]] = {}
    optional: dict[str, st.SearchStrategy[Any]] = {}
    for name, field in model.model_fields.items():
        key = field.alias or name
        value = _by_name[key] if key in _by_name else _annotation(field.annotation, depth + 1)
        (required if field.is_required() else optional)[key] = value
    return st.fixed_dictionaries(required, optional=optional)


def _annotation(annotation: Any, depth: int) -> st.SearchStrategy[Any]:
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Annotated:
        return _annotation(args[0], depth)
    if origin is typing.Literal:
        return st.sampled_from(args)
    if origin in (typing.Union, types.UnionType):
        options = [a for a in args if a is not type(None)]
        strategies = [_annotation(a, depth) for a in options]
        return st.one_of([*strategies, st.none()]) if len(options) < len(args) else st.one_of(strategies)
    if origin in (list, typing.List):  # noqa: UP006 - the SDK's annotations use typing.List
        return st.lists(_annotation(args[0], depth + 1), max_size=2) if depth < _MAX_DEPTH else st.just([])
    if origin in (dict, typing.Dict):  # noqa: UP006
        return st.dictionaries(st.sampled_from(["a", "b", "topic"]), st.text(max_size=8), max_size=2)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return _model(annotation, depth) if depth < _MAX_DEPTH else st.just({})
    return _scalar(annotation)


def _scalar(annotation: Any) -> st.SearchStrategy[Any]:
    if annotation is bool:
        return st.booleans()
    if annotation is int:
        return st.integers(-10, 100_000)
    if annotation is float:
        return st.floats(-10, 10_000, allow_nan=False)
    if annotation is str:
        return _texts
    return _JSON  # object / Any: free JSON


_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-(2**70), 2**70),
                     st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=10))
# Built once: hypothesis validates a strategy on first use, and recursive ones are costly to build.
_JSON = st.recursive(_SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                       st.dictionaries(st.text(max_size=5), inner, max_size=3)),
                     max_leaves=8)


def broken(event: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    """``event`` with one key dropped, retyped or added: what a buggy client sends."""
    keys = sorted(event)
    return st.one_of(
        st.sampled_from(keys).map(lambda key: {k: v for k, v in event.items() if k != key}),
        st.tuples(st.sampled_from(keys), _SCALARS).map(lambda kv: {**event, kv[0]: kv[1]}),
        st.tuples(st.text(min_size=1, max_size=8), _SCALARS).map(lambda kv: {**event, kv[0]: kv[1]}),
    )


def malformed_frame() -> st.SearchStrategy[str | bytes]:
    """A frame no client should send: not JSON, not an object, too deep, non-finite, non-UTF-8, unknown type."""
    return st.one_of(
        st.text(max_size=60),
        st.binary(max_size=60),
        st.sampled_from(["", "null", "[]", "42", '"x"', "{", '{"type": NaN}', '{"type": "session.update", "session": '
                         '{"type": "realtime", "audio": {"output": {"speed": Infinity}}}}', "[" * 5000, '{"a":' * 200,
                         '{"type": 1e999}', '{"type": "response.create", "response": {"max_output_tokens": 1' +
                         "0" * 5000 + "}}", b'{"type": "\xff\xfe"}', '{"type": "session.update"}',
                         '{"type": "nope"}', '{"type": null}', '{"type": ["response.create"]}']),
        _JSON.map(json.dumps),
    )


def client_frames() -> st.SearchStrategy[str | bytes]:
    """Mostly SDK-shaped events (some broken), sometimes raw malformed frames."""
    events = client_event()
    return st.one_of(
        events.map(json.dumps),
        events.flatmap(broken).map(json.dumps),
        malformed_frame(),
    )


# -- deterministic engines for fuzzing ------------------------------------------------------------------


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
