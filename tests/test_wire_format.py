"""The server's ids and event copies: the service's shape, made cheaply (they are made for every event)."""

from __future__ import annotations

import re

import pytest

from realtime_kit.server.wire import Ids, json_copy

pytestmark = pytest.mark.pure


def test_ids_have_the_services_shape_and_repeat_for_a_seed() -> None:
    """``event_`` + 21 letters/digits, as recorded; a seed gives the same ids, different seeds other ones."""
    ids = [Ids(7).new("event_") for _ in range(2)]
    assert ids[0] == ids[1] and re.fullmatch(r"event_[A-Za-z0-9]{21}", ids[0])
    assert Ids(7).new("resp_") == Ids(7).new("resp_") != Ids(8).new("resp_")
    many = Ids(None)
    made = {many.new("item_") for _ in range(2000)}
    assert len(made) == 2000
    assert set("".join(made)) - set("item_") >= set("abcXYZ089")  # the whole alphabet is in use


def test_json_copy_makes_new_containers_and_shares_strings() -> None:
    """A change to the copy never reaches the original; a megabyte of base64 is not duplicated per event."""
    audio = "A" * 1_000_000
    item = {"content": [{"type": "input_audio", "audio": audio, "n": 1.5}], "status": None}
    copied = json_copy(item)
    copied["content"][0]["n"] = 2
    copied["content"].append({})
    assert item == {"content": [{"type": "input_audio", "audio": audio, "n": 1.5}], "status": None}
    assert json_copy(item)["content"][0]["audio"] is audio
