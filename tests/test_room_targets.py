"""The room server and the teaching pace, as target resolution sees them (pure: no sockets)."""

from __future__ import annotations

import pytest

from realtime_kit.errors import TargetError
from realtime_kit.session.targets import resolve_target

pytestmark = pytest.mark.pure

ROOM = {"REALTIME_KIT_URL": "wss://room.example:8765", "REALTIME_KIT_API_KEY": "room-key-123"}


def test_room_variables_win_over_cloud_variables():
    """With REALTIME_KIT_URL set, a plain connect goes to the room server with REALTIME_KIT_API_KEY as Bearer."""
    cloud = {"AZURE_OPENAI_ENDPOINT": "https://x.openai.azure.com/", "OPENAI_API_KEY": "sk"}
    target = resolve_target(env={**ROOM, **cloud})
    assert (target.kind, target.websocket_base_url, target.auth) == ("url", "wss://room.example:8765/openai/v1",
                                                                     "bearer")
    assert target.api_key is not None and target.api_key.reveal() == "room-key-123"
    assert "room-key-123" not in repr(target) + target.describe()
    assert "REALTIME_KIT_API_KEY" in target.describe()


def test_room_by_name_and_explicit_targets_still_win():
    """rk.connect("room") needs REALTIME_KIT_URL and says so; "local" and "azure" ignore the room variables."""
    assert resolve_target("room", env=ROOM).websocket_base_url.startswith("wss://room.example")
    with pytest.raises(TargetError, match="REALTIME_KIT_URL"):
        resolve_target("room", env={})
    assert resolve_target("local", env=ROOM).kind == "local"
    assert resolve_target(env=ROOM, endpoint="https://x.openai.azure.com/").kind == "azure"


def test_a_room_url_without_scheme_is_named():
    """A room address with no scheme is refused naming REALTIME_KIT_URL and the likely fix."""
    with pytest.raises(TargetError, match=r"REALTIME_KIT_URL .*did you mean 'https://room.example:8765/'"):
        resolve_target(env={"REALTIME_KIT_URL": "room.example:8765"})


def test_pace_realtime_is_a_local_option_and_typos_are_named():
    """pace="realtime" resolves for the local server (and is harmless elsewhere); a typo gets did-you-mean."""
    local = resolve_target("local", env={}, pace="realtime")
    assert local.pace == "realtime" and "real time" in local.describe()
    assert resolve_target("local", env={}).pace == "fast"
    assert resolve_target("openai", env={"OPENAI_API_KEY": "sk"}, pace="realtime").kind == "openai"
    with pytest.raises(TargetError, match="did you mean 'realtime'"):
        resolve_target("local", env={}, pace="real-time")
