"""Talking to the server's pure protocol in tests: send a client event, collect what it answers, validated.

    proto = RealtimeProtocol(engines=Engines.silent()); proto.start()
    events = drain(proto)                                    # [session.created], each checked against the SDK
    send(proto, {"type": "input_audio_buffer.clear"})        # -> [input_audio_buffer.cleared]
"""

from __future__ import annotations

import json
from typing import Any

from realtime_kit.server.protocol import RealtimeProtocol
from realtime_kit.spec import validate_server_event

__all__ = ["drain", "send"]


def drain(proto: RealtimeProtocol) -> list[dict[str, Any]]:
    """Every queued server event, each validated strictly against the SDK."""
    events = []
    while (out := proto.next_event()) is not None:
        validate_server_event(out.event)
        events.append(out.event)
    return events


def send(proto: RealtimeProtocol, event: dict[str, Any] | str) -> list[dict[str, Any]]:
    """Feed one client frame (an event, or raw text as sent) and return what the server answers now."""
    proto.receive(event if isinstance(event, str) else json.dumps(event))
    return drain(proto)
