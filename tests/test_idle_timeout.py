"""server_vad idle_timeout_ms, pure: timeout_triggered after the reply has played, then a commit and a response."""

from __future__ import annotations

from typing import Any

import pytest
from test_protocol import append, audio_bytes, drain, new, of_type, say, send, silence, speech, types

pytestmark = pytest.mark.pure

RATE_BYTES_PER_MS = 48


def idle_session(timeout_ms: int | None = 2000, create_response: bool = True) -> Any:
    proto = new()
    send(proto, type="session.update", session={"type": "realtime", "audio": {"input": {"turn_detection": {
        "type": "server_vad", "idle_timeout_ms": timeout_ms, "create_response": create_response}}}})
    drain(proto)
    return proto


def test_timeout_fires_after_playback_plus_the_timeout_with_the_silent_segment() -> None:
    """audio_start_ms = input at response.done + the reply's audio; fires when timeout_ms of input passes it."""
    proto = idle_session()
    append(proto, silence(0.5))
    played_ms = sum(audio_bytes(say(proto, "Hello."))) / RATE_BYTES_PER_MS
    start = 500 + played_ms
    append(proto, silence((start + 1900 - 500) / 1000))        # 100 ms short of the timeout
    assert "input_audio_buffer.timeout_triggered" not in types(drain(proto))
    append(proto, silence(0.2))
    outs = drain(proto)
    triggered = of_type(outs, "input_audio_buffer.timeout_triggered")[0]
    assert triggered["audio_start_ms"] == int(start) and triggered["audio_end_ms"] - triggered["audio_start_ms"] >= 2000
    kinds = types(outs)
    assert kinds[:4] == ["input_audio_buffer.timeout_triggered", "input_audio_buffer.committed",
                         "conversation.item.added", "conversation.item.done"]
    assert of_type(outs, "input_audio_buffer.committed")[0]["item_id"] == triggered["item_id"]
    assert "response.done" in kinds


def test_speech_disarms_and_no_timeout_without_the_setting_or_before_any_reply() -> None:
    """Speech after the reply disarms the timer (no reply follows it here); null, or no reply yet, never fires."""
    proto = idle_session(create_response=False)
    say(proto, "Hello.")
    append(proto, speech(0.5))
    outs: list[Any] = []
    for _ in range(5):
        append(proto, silence(1.0))
        outs += drain(proto)
    assert "input_audio_buffer.timeout_triggered" not in types(outs)
    assert of_type(outs, "input_audio_buffer.speech_stopped")          # the speech made a turn instead
    never = idle_session(None)
    say(never, "Hello.")
    append(never, silence(5.0))
    assert "input_audio_buffer.timeout_triggered" not in types(drain(never))
    fresh = idle_session()
    append(fresh, silence(5.0))
    assert "input_audio_buffer.timeout_triggered" not in types(drain(fresh))


def test_the_timer_rearms_after_the_prompted_reply() -> None:
    """After a timeout's response has played, a further idle stretch fires again."""
    proto = idle_session(1000)
    say(proto, "Hello.")
    fired = 0
    for _ in range(40):
        append(proto, silence(0.5))
        fired += len(of_type(drain(proto), "input_audio_buffer.timeout_triggered"))
    assert fired >= 2
