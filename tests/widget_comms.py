"""A recording comm that stands in for the kernel, for widget tests (pure and wire alike).

    def test_x(comms): ...                      # the fixture (tests/conftest.py): every comm recorded
    custom_messages(widget)                     # what the widget sent to the browser, with buffers
    from_browser(widget, {"type": "load"})      # a message from the widget's JavaScript
    browser_sets(widget, played={"a": 10})      # a state update from the browser
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import comm
import pytest
from comm.base_comm import BaseComm


class RecordingComm(BaseComm):
    """A comm that keeps every message the kernel would have published."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.published: list[tuple[str, Any, list[bytes]]] = []
        super().__init__(*args, **kwargs)

    def publish_msg(self, msg_type: str, data: Any = None, metadata: Any = None, buffers: Any = None,
                    **keys: Any) -> None:
        self.published.append((msg_type, data, [bytes(b) for b in buffers or []]))


def recording_comms(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[RecordingComm]]:
    """Every comm the widgets open, recorded; fails if one is still open at the end."""
    made: list[RecordingComm] = []

    def create(*args: Any, **kwargs: Any) -> RecordingComm:
        made.append(RecordingComm(*args, **kwargs))
        return made[-1]

    monkeypatch.setattr(comm, "create_comm", create)
    yield made
    leaked = [c for c in made if not c._closed]
    for c in leaked:
        c.close()
    assert not leaked, f"{len(leaked)} comms leaked: {[c.target_name for c in leaked]}"


def custom_messages(widget: Any) -> list[tuple[dict[str, Any], list[bytes]]]:
    """The custom messages a widget sent to the browser, with their binary buffers."""
    return [(data["content"], buffers) for kind, data, buffers in widget.comm.published
            if kind == "comm_msg" and data.get("method") == "custom"]


def from_browser(widget: Any, content: dict[str, Any], buffers: list[bytes] | None = None) -> None:
    """Deliver a custom message from the widget's JavaScript, as the kernel would."""
    widget.comm.handle_msg({"content": {"data": {"method": "custom", "content": content}},
                            "buffers": [memoryview(b) for b in buffers or []]})


def browser_sets(widget: Any, **state: Any) -> None:
    """Deliver a state update from the browser (model.set + save_changes)."""
    widget.comm.handle_msg({"content": {"data": {"method": "update", "state": state}}, "buffers": []})
