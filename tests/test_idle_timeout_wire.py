"""idle_timeout_ms over loopback with the unchanged SDK: timeout_triggered, the silent item, a reply; all validated."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
from test_server_wire import audio_bytes, of_type, sdk_session

from realtime_kit.server import LocalServer

pytestmark = [pytest.mark.wire, pytest.mark.timeout(120)]

BYTES_PER_MS = 48


@pytest.fixture(scope="module")
def server() -> Iterator[LocalServer]:
    with LocalServer(pace="fast") as running:
        yield running


async def test_silence_after_a_reply_triggers_the_timeout_and_a_reply(server: LocalServer) -> None:
    """1 s of input silence after the reply's audio: timeout_triggered (start = its audio length), commit, reply."""
    async with sdk_session(server.openai_base_url, model="gpt-realtime-2.1") as peer:
        await peer.send({"type": "session.update", "session": {"type": "realtime", "audio": {"input": {
            "turn_detection": {"type": "server_vad", "idle_timeout_ms": 1000}}}}})
        updated = await peer.expect("session.updated")
        assert updated["session"]["audio"]["input"]["turn_detection"]["idle_timeout_ms"] == 1000
        played_ms = sum(audio_bytes(await peer.say("Hello."))) / BYTES_PER_MS
        silence = np.zeros(int(24 * (played_ms + 1200)), np.int16)
        await peer.append(silence, chunk_ms=200)
        events = await peer.until("input_audio_buffer.timeout_triggered")
        triggered = events[-1]
        assert triggered["audio_start_ms"] == int(played_ms)
        assert 1000 <= triggered["audio_end_ms"] - triggered["audio_start_ms"] < 1200
        after = await peer.until("response.done")
    committed = of_type(after, "input_audio_buffer.committed")
    assert committed and committed[0]["item_id"] == triggered["item_id"]
    assert of_type(after, "response.done")[0]["response"]["status"] == "completed"
