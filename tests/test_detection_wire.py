"""A session's detector hears its audio in order, whether a chunk is judged on the loop or on a thread.

Quiet microphone-sized chunks (under the energy gate) are detected right on the event loop; chunks with sound
in them go to a thread, and the quiet ones after them wait their turn. Each chunk here carries its own index as
its level, so the detector can say in what order it heard them.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import dataclasses
import gc
import json
import threading
import time
from typing import Any, ClassVar

import numpy as np
import pytest
from speech_fixtures import speech
from tone_engines import TONE_ENGINES, EnergyVad, tone_speech
from websockets.asyncio.client import connect

from conftest import until
from realtime_kit.server import LocalServer
from realtime_kit.server.vad import MODELS
from realtime_kit.server.workers import EngineWorkers

pytestmark = [pytest.mark.wire, pytest.mark.timeout(60)]

RATE = 24000
CHUNK = RATE // 50      # 20 ms, as a browser sends


class ChunkRecordingVad(EnergyVad):
    """The tone engines' energy VAD, recording each chunk's level and the thread that fed it."""

    heard: ClassVar[list[tuple[int, str]]] = []   # shared: the server builds its own instances

    def feed(self, samples: np.ndarray) -> list[Any]:
        if samples.size:
            self.heard.append((int(samples[0]), threading.current_thread().name))
        return super().feed(samples)


async def test_quiet_and_loud_chunks_are_detected_in_the_order_sent() -> None:
    engines = dataclasses.replace(TONE_ENGINES, make_vad=ChunkRecordingVad)
    ChunkRecordingVad.heard = []
    # quiet chunks carry 1..60 (under the gate's ~98), loud ones 5000+: quiet, a burst of sound, quiet again
    levels = [*range(1, 21), *range(5001, 5011), *range(21, 61)]
    with LocalServer(pace="fast", engines=engines) as server:
        # max_queue=None: events the test leaves unread must not stop the client reading the close frame
        async with connect(server.url + "/v1/realtime?model=gpt-realtime", max_queue=None) as ws:
            await ws.recv()
            await ws.send(json.dumps({"type": "session.update", "session": {"type": "realtime", "audio": {
                "input": {"turn_detection": {"type": "server_vad", "silence_duration_ms": 200}}}}}))
            for index, level in enumerate(levels):
                if index == 50:    # the thread has caught up: the quiet chunks after this are judged on the loop
                    await until(lambda: len(ChunkRecordingVad.heard) == 50, "the first 50 chunks detected", 10)
                    # `heard` is written on the thread, before the loop takes its result back and counts it done
                    # (on the slow machine of 2026-11-29 chunk 50 came in between and went to the thread too)
                    await asyncio.sleep(0.5)
                chunk = np.full(CHUNK, level, np.int16).tobytes()
                await ws.send(json.dumps({"type": "input_audio_buffer.append",
                                          "audio": base64.b64encode(chunk).decode()}))
            kinds: list[str] = []
            while "input_audio_buffer.speech_stopped" not in kinds:
                kinds.append(json.loads(await asyncio.wait_for(ws.recv(), 10))["type"])
            await until(lambda: len(ChunkRecordingVad.heard) == len(levels), "every chunk detected", 10)
    assert [level for level, _ in ChunkRecordingVad.heard] == levels
    loop_thread = ChunkRecordingVad.heard[0][1]
    threads = {thread for level, thread in ChunkRecordingVad.heard if level > 5000}
    assert loop_thread not in threads                     # sound went to a thread, quiet stayed on the loop
    assert ChunkRecordingVad.heard[-1][1] == loop_thread  # and back to the loop once the thread had caught up
    assert kinds.index("input_audio_buffer.speech_started") < kinds.index("input_audio_buffer.speech_stopped")


async def test_the_silero_models_a_room_borrowed_go_back_when_it_leaves() -> None:
    """Two sessions speaking at once borrow a VAD model each; when the last one leaves, one model stays warm."""
    MODELS.shrink(keep=0)
    built = MODELS.built
    talk = speech("good morning to everybody in the room")[: RATE]   # a second of speech, never finished
    with LocalServer(pace="fast") as server:
        async with contextlib.AsyncExitStack() as stack:
            for _ in range(2):
                ws = await stack.enter_async_context(connect(server.url + "/v1/realtime?model=gpt-realtime",
                                                             max_queue=None))
                await ws.recv()
                await ws.send(json.dumps({"type": "session.update", "session": {"type": "realtime", "audio": {
                    "input": {"turn_detection": {"type": "server_vad"}}}}}))
                for start in range(0, talk.size, CHUNK):
                    await ws.send(json.dumps({"type": "input_audio_buffer.append",
                                              "audio": base64.b64encode(talk[start:start + CHUNK].tobytes()).decode()}))
            await until(lambda: MODELS.built == built + 2, "both sessions scoring speech", 20)
            assert MODELS.idle == 0
        await until(lambda: MODELS.idle == 1, "the room's models given back, one kept", 10)
    gc.collect()                       # every session of the room is gone now, whenever its detector was freed
    assert MODELS.idle == 1 and MODELS.built == built + 2


async def test_sessions_streaming_to_a_detector_are_counted_for_a_room_until_they_end(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A session counts as a microphone for the engine workers (ROOM_MICROPHONES of them make a room) from its first
    append heard by a detector until it ends; audio appended with turn detection off is not counted."""
    counted: list[bool] = []
    monkeypatch.setattr(EngineWorkers, "microphone", lambda _workers, opened: counted.append(opened))
    quiet = json.dumps({"type": "input_audio_buffer.append",
                        "audio": base64.b64encode(np.zeros(CHUNK, np.int16).tobytes()).decode()})
    with LocalServer(pace="fast") as server:
        url = server.url + "/v1/realtime?model=gpt-realtime"
        async with connect(url) as first, connect(url) as second, connect(url) as manual:
            for ws in (first, second, manual):
                await ws.recv()
            await manual.send(json.dumps({"type": "session.update", "session": {"type": "realtime", "audio": {
                "input": {"turn_detection": None}}}}))
            for ws in (first, second, manual):
                for _ in range(5):
                    await ws.send(quiet)
            await until(lambda: len(counted) == 2, "two microphones counted", 10)
            await manual.send(json.dumps({"type": "input_audio_buffer.clear"}))
            while json.loads(await manual.recv())["type"] != "input_audio_buffer.cleared":
                pass                # its appends were all handled before the clear
            assert counted == [True, True]
        await until(lambda: len(counted) == 4, "both microphones uncounted", 10)
    assert counted == [True, True, False, False]


class SlowVad(EnergyVad):
    """The energy VAD, 50 ms late on every chunk: a thread that has fallen behind a fast client."""

    def feed(self, samples: np.ndarray) -> list[Any]:
        time.sleep(0.05)
        return super().feed(samples)


async def test_events_sent_after_audio_act_after_the_speech_found_in_it() -> None:
    """A text item, a clear and a commit sent right after the audio come after the turns the detector finds in that
    audio, however far behind it is: the order the protocol gives with its engines run in-line."""
    engines = dataclasses.replace(TONE_ENGINES, make_vad=SlowVad)
    turn = tone_speech("hi", lead_s=0.2, tail_s=0.6)
    with LocalServer(pace="fast", engines=engines) as server:
        async with connect(server.url + "/v1/realtime?model=gpt-realtime", max_queue=None) as ws:
            await ws.recv()
            await ws.send(json.dumps({"type": "session.update", "session": {"type": "realtime", "audio": {
                "input": {"turn_detection": {"type": "server_vad", "silence_duration_ms": 200,
                                             "create_response": False}}}}}))
            for start in range(0, turn.size, RATE // 10):   # 100 ms chunks, faster than the detector
                chunk = base64.b64encode(turn[start:start + RATE // 10].tobytes()).decode()
                await ws.send(json.dumps({"type": "input_audio_buffer.append", "audio": chunk}))
            await ws.send(json.dumps({"type": "conversation.item.create", "item": {
                "type": "message", "role": "user", "content": [{"type": "input_text", "text": "typed"}]}}))
            # the audio's type after its data: the server cannot tell it is an append without parsing it
            chunk = base64.b64encode(turn[: RATE // 2].tobytes()).decode()
            await ws.send(json.dumps({"audio": chunk, "type": "input_audio_buffer.append"}))
            await ws.send(json.dumps({"type": "input_audio_buffer.clear"}))
            events: list[dict[str, Any]] = []
            while not events or events[-1]["type"] != "input_audio_buffer.cleared":
                events.append(json.loads(await asyncio.wait_for(ws.recv(), 20)))
    kinds = [event["type"] for event in events]
    added = [event["item"] for event in events if event["type"] == "conversation.item.added"]
    assert kinds.count("input_audio_buffer.speech_started") == 2, kinds   # the turn, then the half turn cleared
    assert kinds.index("input_audio_buffer.speech_stopped") < kinds.index("conversation.item.added"), kinds
    assert [item["content"][0]["type"] for item in added] == ["input_audio", "input_text"]
    assert kinds.index("input_audio_buffer.speech_started", kinds.index("conversation.item.added") + 1) \
        < kinds.index("input_audio_buffer.cleared")
