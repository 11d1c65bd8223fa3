"""What every part of the protocol shares: outgoing events, client errors, server ids, frame parsing.

    >>> ids = Ids(seed=1)
    >>> out = ids.event({"type": "input_audio_buffer.cleared"})
    >>> list(out.event), out.event["event_id"].startswith("event_")
    (['type', 'event_id'], True)
    >>> parse_frame('{"type": "response.cancel"}')
    {'type': 'response.cancel'}
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import random
import re
import string
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeVar, cast

from ..spec import validate_client_event

_T = TypeVar("_T")

__all__ = ["MAX_JSON_DEPTH", "ClientError", "Ids", "Outgoing", "b64decode", "dig", "json_copy", "parse_frame",
           "validated"]

_ID_ALPHABET = string.ascii_letters + string.digits
# each byte value to a letter or digit (a slight lean to the first 8: ids need the service's shape, not uniformity)
_ID_BYTES = bytes(ord(_ID_ALPHABET[value % len(_ID_ALPHABET)]) for value in range(256))
# The deepest nesting a client event needs (a tool's JSON schema) is far below this.
MAX_JSON_DEPTH = 32
_STRUCTURAL = re.compile(r'\\.|["\[\]{}]', re.DOTALL)
OBFUSCATED_LENGTH = 16   # recorded text deltas plus their ``obfuscation`` are 16 characters together


@dataclass(frozen=True)
class Outgoing:
    """One server event to send, with the playback time it carries (for the shell's pacing)."""

    event: dict[str, Any]            # JSON-ready, valid against RealtimeServerEvent
    audio_ms: float = 0.0
    response_id: str | None = None
    wait_ms: float = 0.0             # a pause before sending (a replayed model's recorded latency)


class ClientError(Exception):
    """A client event the real service would refuse for a state reason (not a schema reason)."""

    def __init__(self, code: str, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.code, self.message, self.param = code, message, param


def json_copy(value: _T) -> _T:
    """A deep copy of plain JSON data: new dicts and lists, the same (immutable) strings and numbers.

    About 3x faster than ``copy.deepcopy`` (whose memo serves object graphs); strings are shared, so an item
    holding megabytes of base64 audio is not duplicated by each event that carries it.
    """
    if isinstance(value, dict):
        return cast(_T, {key: json_copy(item) for key, item in value.items()})
    if isinstance(value, list):
        return cast(_T, [json_copy(item) for item in value])
    return value


class Ids:
    """Server ids like the real ones (``event_`` + 21 letters/digits); seeded for reproducible tests."""

    def __init__(self, seed: int | None) -> None:
        self._rng = random.Random(seed)

    def new(self, prefix: str, length: int = 21) -> str:
        # one C call per id (ids are made per event): random bytes mapped onto the alphabet
        return prefix + self._rng.randbytes(length).translate(_ID_BYTES).decode("ascii")

    def obfuscation(self, delta: str) -> str:
        """The service's padding beside a text delta: random characters filling it out to 16 (as recorded)."""
        return self.new("", max(4, OBFUSCATED_LENGTH - len(delta)))

    def event(self, body: dict[str, Any], *, audio_ms: float = 0.0, response_id: str | None = None) -> Outgoing:
        """``body`` ready to send: a fresh ``event_id`` right after its ``type``, as the service orders them."""
        event = {"type": body["type"], "event_id": self.new("event_"),
                 **{k: v for k, v in body.items() if k != "type"}}
        return Outgoing(event, audio_ms, response_id)


def parse_frame(frame: str | bytes, max_depth: int = MAX_JSON_DEPTH) -> dict[str, Any]:
    """The JSON object in one client text frame; a `ClientError` when it is not one.

    Strict JSON: ``NaN``, ``Infinity`` and numbers too big for a double are refused (JavaScript clients
    cannot parse them back), and so is nesting deeper than ``max_depth``.

        >>> parse_frame('{"type": "x", "n": NaN}')
        Traceback (most recent call last):
        ...
        realtime_kit.server.wire.ClientError: The server could not parse the JSON of your event (NaN is not ...
    """
    try:
        text = frame.decode("utf-8") if isinstance(frame, bytes | bytearray) else frame
        _check_depth(text, max_depth)
        event = _DECODER.decode(text)
    except (UnicodeDecodeError, ValueError, RecursionError) as err:
        reason = "nested too deeply" if isinstance(err, RecursionError) else str(err)
        raise ClientError("invalid_json", f"The server could not parse the JSON of your event ({reason}); send "
                          "one JSON object per WebSocket text frame.") from None
    if not isinstance(event, dict):
        raise ClientError("invalid_type", "Invalid event: expected a JSON object with a 'type'.")
    return event


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _finite_float(literal: str) -> float:
    value = float(literal)
    if math.isinf(value):
        raise ValueError(f"the number {literal[:40]} is too large for a double")
    return value


# one decoder for every frame (json.loads with options builds a new one per call)
_DECODER = json.JSONDecoder(parse_constant=_refuse_constant, parse_float=_finite_float)


def _check_depth(text: str, max_depth: int) -> None:
    """Refuse brackets nested deeper than ``max_depth`` before parsing (only quotes, escapes and brackets are read)."""
    if text.count("[") + text.count("{") <= max_depth:
        return
    depth, in_string = 0, False
    for match in _STRUCTURAL.finditer(text):
        token = match.group()
        if token[0] == "\\":
            continue
        if token == '"':
            in_string = not in_string
        elif in_string:
            continue
        elif token in "[{":
            depth += 1
            if depth > max_depth:
                raise ValueError(f"JSON nested more than {max_depth} levels deep")
        else:
            depth -= 1


def validated(event: dict[str, Any]) -> dict[str, Any]:
    """``event`` after strict validation against the SDK (item references included); SpecViolation if not."""
    validate_client_event(event)
    return event


def b64decode(encoded: str, param: str) -> bytes:
    """Audio bytes from base64; a `ClientError` naming ``param`` when it is not base64."""
    try:
        return base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise ClientError("invalid_value", f"Invalid '{param}': expected base64-encoded audio bytes in the "
                          "session's audio format.", param) from None


def dig(mapping: Any, *keys: str) -> Any:
    """``mapping[k1][k2]...``, or None as soon as a level is missing or not a mapping.

        >>> dig({"audio": {"output": {"voice": "ash"}}}, "audio", "output", "voice"), dig({}, "audio", "input")
        ('ash', None)
    """
    node = mapping
    for key in keys:
        if not isinstance(node, Mapping):
            return None
        node = node.get(key)
    return node
