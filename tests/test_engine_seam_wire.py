"""LocalServer(engines=...): injected engines speak, detect and transcribe through the server's own work path."""

from __future__ import annotations

from collections.abc import Iterator
from types import SimpleNamespace

import numpy as np
import pytest
from tone_engines import TONE_ENGINES, tone_speech, tone_synthesize, tone_transcribe, tone_words

import realtime_kit as rk
from realtime_kit.server import Engines, LocalServer
from realtime_kit.server.workers import EngineWorkers

pytestmark = [pytest.mark.wire, pytest.mark.timeout(120)]


@pytest.fixture
def no_worker_processes(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """EngineWorkers.shared() recorded instead of run: a server with injected engines must never ask for it."""
    asked: list[str] = []

    def shared(cls: type[EngineWorkers]) -> EngineWorkers:
        asked.append("EngineWorkers.shared()")
        raise AssertionError("a server with injected engines started the engine worker processes")

    monkeypatch.setattr(EngineWorkers, "shared", classmethod(shared))
    yield asked


async def test_the_answer_is_the_injected_voice_and_its_audio_is_heard_back_word_for_word(
        no_worker_processes: list[str]) -> None:
    """A text turn is spoken by the injected synthesizer; that audio, sent back, is transcribed to the same words."""
    with LocalServer(engines=TONE_ENGINES) as server:
        async with rk.connect(server.url) as session:
            await session.update(turn_detection=None, transcription=True)
            answer = await session.send_text("Repeat after me: the sky is blue. And the sea is green.")
            heard = await session.send_audio(answer.audio)
    assert tone_transcribe(answer.audio.samples, answer.audio.rate) == tone_words(answer.transcript)
    assert "the sky is blue" in tone_words(answer.transcript)
    assert heard.input_transcript == tone_words(answer.transcript)
    assert no_worker_processes == []


async def test_g711_input_is_decoded_before_it_is_heard(tone_server: LocalServer) -> None:
    """mu-law input at 8 kHz reaches the injected transcriber as the words it carried, and the answer is 8 kHz."""
    async with rk.connect(tone_server.url) as session:
        await session.update(input_format="g711_ulaw", output_format="g711_ulaw", turn_detection=None,
                             transcription=True)
        reply = await session.send_audio(rk.Audio(tone_speech("call me at nine", 0.2, 0.2), 24000))
    assert reply.input_transcript == "call me at nine"
    assert reply.audio.rate == 8000 and tone_transcribe(reply.audio.samples, 8000) == tone_words(reply.transcript)


async def test_voice_activity_comes_from_the_injected_detector(no_worker_processes: list[str]) -> None:
    """An injected VAD that hears a turn in digital silence: server_vad commits it at the times the VAD gave."""
    scripted = Engines(synthesize=tone_synthesize, make_vad=lambda *_: _HearsATurn(), transcribe=tone_transcribe)
    with LocalServer(engines=scripted) as server:
        async with rk.connect(server.url) as session:
            await session.update(turn_detection="server_vad")
            reply = await session.send_audio(rk.Audio.silence(1.0, 24000))
    started = session.events.filter("input_audio_buffer.speech_started")[0].event
    stopped = session.events.filter("input_audio_buffer.speech_stopped")[0].event
    assert (started["audio_start_ms"], stopped["audio_end_ms"]) == (100, 300)
    assert reply.input_item_id == started["item_id"] and reply.done
    assert no_worker_processes == []


class _HearsATurn:
    """Speech from 100 to 300 ms of whatever it is fed (Silero would hear none in silence)."""

    def __init__(self) -> None:
        self.told = False

    def feed(self, samples: np.ndarray) -> list[object]:
        told, self.told = self.told, True
        return [] if told else [SimpleNamespace(kind="speech_started", audio_ms=100),
                                SimpleNamespace(kind="speech_stopped", audio_ms=300)]

    def reset(self) -> None:
        self.told = False
