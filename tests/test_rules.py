"""One rulebook: the client's config checks and the embedded server decide the same from realtime_kit.rules."""

from __future__ import annotations

import math
from typing import Any

import pytest

from realtime_kit import rules
from realtime_kit.config import build_session
from realtime_kit.config.keys import FORMATS
from realtime_kit.config.tree import set_at
from realtime_kit.errors import ConfigError
from realtime_kit.server import session_config, voice
from realtime_kit.server.audio_format import rate_of
from realtime_kit.server.wire import ClientError
from realtime_kit.widgets import controls

pytestmark = pytest.mark.pure


def test_every_place_that_names_voices_reads_the_sdk_list() -> None:
    """The client's checks, the server, its voice engine and the playground share one voice list."""
    assert rules.voices() == session_config.GA_VOICES == voice.GA_VOICES == controls.GA_VOICES
    assert set(rules.voices()) == set(voice.VOICE_STYLES), "every GA voice has a local voice"


def client_accepts(path: tuple[str, ...], value: float) -> bool:
    session: dict[str, Any] = {"type": "realtime"}
    if path[:3] == ("audio", "input", "turn_detection"):
        session = {"type": "realtime", "audio": {"input": {"turn_detection": {"type": "server_vad"}}}}
    if path[0] == "truncation":
        session["truncation"] = {"type": "retention_ratio"}
    set_at(session, path, value)
    try:
        build_session(session)
    except ConfigError:
        return False
    return True


def server_accepts(path: tuple[str, ...], value: float) -> bool:
    config: dict[str, Any] = {}
    set_at(config, path, value)
    try:
        session_config.check_session_values(config, "session")
    except ClientError:
        return False
    return True


# the ranges the server checks itself (truncation and idle timeout are the client's alone)
SERVER_CHECKED = [path for path in rules.RANGES if path[0] != "truncation" and path[-1] != "idle_timeout_ms"]


@pytest.mark.parametrize("path", list(rules.RANGES), ids=".".join)
def test_the_client_refuses_exactly_outside_each_range(path: tuple[str, ...]) -> None:
    """At each bound the client accepts; just outside it refuses (integers for *_ms and tokens)."""
    low, high = rules.RANGES[path]
    step = 1 if path[-1].endswith("_ms") or path[-1] == "max_output_tokens" else 0.01
    assert client_accepts(path, low) and not client_accepts(path, low - step)
    if high != math.inf:
        assert client_accepts(path, high) and not client_accepts(path, high + step)
    else:
        assert client_accepts(path, 10**7), "no maximum is documented, so none is enforced"


@pytest.mark.parametrize("path", SERVER_CHECKED, ids=".".join)
def test_the_server_decides_each_range_as_the_client_does(path: tuple[str, ...]) -> None:
    """The embedded server accepts and refuses the same values as the client's check."""
    low, high = rules.RANGES[path]
    step = 1 if path[-1].endswith("_ms") or path[-1] == "max_output_tokens" else 0.01
    probes = [low, low - step, high + step if high != math.inf else 10**7]
    if high != math.inf:
        probes.append(high)
    for value in probes:
        value = int(value) if step == 1 else value
        assert server_accepts(path, value) == client_accepts(path, value), (path, value)


def test_audio_formats_and_rates_come_from_the_rulebook() -> None:
    """The flat format keywords and the server's wire rates use the rulebook's formats."""
    assert FORMATS == rules.AUDIO_FORMATS
    for fmt in rules.AUDIO_FORMATS.values():
        assert rate_of(str(fmt["type"])) == fmt.get("rate", rules.G711_RATE)
