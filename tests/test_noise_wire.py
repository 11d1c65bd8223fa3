"""Noise reduction over loopback with the unchanged SDK: it moves VAD decisions and the committed audio is filtered.

The server runs the energy VAD of tone_engines.py (loud frames are speech) through LocalServer's engines
seam, so the decisions are deterministic.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from test_server_wire import of_type, sdk_session
from tone_engines import TONE_ENGINES

from realtime_kit.server import LocalServer

pytestmark = [pytest.mark.wire, pytest.mark.timeout(120)]

RATE = 24000


@pytest.fixture(scope="module")
def server() -> Iterator[LocalServer]:
    with LocalServer(pace="fast", engines=TONE_ENGINES) as running:
        yield running


def hum(seconds: float) -> np.ndarray:
    t = np.arange(int(RATE * seconds)) / RATE
    return (1500 * np.sin(2 * np.pi * 50 * t)).astype(np.int16)


async def speech_events(server: LocalServer, noise_reduction: dict[str, Any] | None) -> list[dict[str, Any]]:
    """2 s of mains hum, then a commit: the VAD events and the committed item's audio, as the SDK sees them."""
    async with sdk_session(server.openai_base_url) as peer:
        await peer.send({"type": "session.update", "session": {"type": "realtime", "audio": {"input": {
            "noise_reduction": noise_reduction, "turn_detection": {"type": "server_vad", "create_response": False}}}}})
        await peer.expect("session.updated")
        await peer.append(hum(2.0))
        await peer.send({"type": "input_audio_buffer.clear"})
        events = await peer.until("input_audio_buffer.cleared")
        await peer.send({"type": "session.update", "session": {"type": "realtime", "audio": {"input": {
            "turn_detection": None}}}})
        await peer.expect("session.updated")
        await peer.append(hum(0.5))
        await peer.send({"type": "input_audio_buffer.commit"})
        committed = await peer.expect("input_audio_buffer.committed")
        await peer.send({"type": "conversation.item.retrieve", "item_id": committed["item_id"]})
        events += await peer.until("conversation.item.retrieved")
    return events


async def test_near_field_silences_hum_the_vad_took_for_speech(server: LocalServer) -> None:
    """Without reduction the hum starts a turn; with near_field no turn starts and the stored audio is >5x quieter."""
    plain, cleaned = await speech_events(server, None), await speech_events(server, {"type": "near_field"})
    assert of_type(plain, "input_audio_buffer.speech_started")
    assert not of_type(cleaned, "input_audio_buffer.speech_started")

    def stored_rms(events: list[dict[str, Any]]) -> float:
        audio = of_type(events, "conversation.item.retrieved")[0]["item"]["content"][0]["audio"]
        samples = np.frombuffer(base64.b64decode(audio), "<i2").astype(np.float64)
        return float(np.sqrt(np.mean(samples ** 2)))

    assert stored_rms(cleaned) * 5 < stored_rms(plain)
