"""Widgets at the Python level: a recording comm stands in for the kernel, a fake session for the server.

The browser side (microphone.js, player.js) is exercised by tests/browser/; here every message the
widgets would send is recorded, and the browser's messages are fed in as the comm would deliver them.
"""

from __future__ import annotations

import asyncio
import base64
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import comm
import numpy as np
import pytest
from comm.base_comm import BaseComm

import realtime_kit as rk
from realtime_kit.config import build_session
from realtime_kit.errors import RealtimeError
from realtime_kit.spec import validate_server_event
from realtime_kit.widgets import Microphone, Playground, StreamingPlayer
from realtime_kit.widgets.controls import ControlValues, truncate_point
from realtime_kit.widgets.playground import RENDER_DELAY_S
from realtime_kit.widgets.render import LogRow, add_log_row, event_log_html, transcript_html
from realtime_kit.widgets.transcript import Line, TranscriptFold

pytestmark = pytest.mark.pure

# ---------------------------------------------------------------------------------------- kernel fakes


class RecordingComm(BaseComm):
    """A comm that keeps every message the kernel would have published."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.published: list[tuple[str, Any, list[bytes]]] = []
        super().__init__(*args, **kwargs)

    def publish_msg(self, msg_type: str, data: Any = None, metadata: Any = None, buffers: Any = None,
                    **keys: Any) -> None:
        self.published.append((msg_type, data, [bytes(b) for b in buffers or []]))


@pytest.fixture
def comms(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[RecordingComm]]:
    """Every comm the widgets open, recorded; the test fails if one is still open at the end."""
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


class FakeSession:
    """The Session methods the playground uses; records calls and emits strict SDK server events."""

    def __init__(self, turn_detection: Any = "server_vad", transcription: Any = True) -> None:
        self.config = build_session(voice="alloy", turn_detection=turn_detection, transcription=transcription)
        self.calls: list[tuple[str, Any]] = []
        self.listeners: list[tuple[str, Callable[[Any], None]]] = []
        self.fail: dict[str, Exception] = {}

    def on(self, event_type: str, callback: Callable[[Any], None]) -> Callable[[], None]:
        entry = (event_type, callback)
        self.listeners.append(entry)
        return lambda: self.listeners.remove(entry)

    def emit(self, **event: Any) -> None:
        model = validate_server_event({"event_id": f"event_{len(self.calls)}", **event})
        for event_type, callback in list(self.listeners):
            if event_type in ("*", getattr(model, "type", None)):
                callback(model)

    async def _call(self, name: str, value: Any) -> Any:
        self.calls.append((name, value))
        if name in self.fail:
            raise self.fail[name]
        return value

    async def update(self, config: Any = None, /, **flat: Any) -> Any:
        if "voice" in flat and "voice" in self.fail:
            raise self.fail["voice"]
        await self._call("update", flat)
        self.config = build_session(self.config, **flat)
        return SimpleNamespace(effective=self.config, changes=[])

    async def send_text(self, text: str) -> Any:
        return await self._call("send_text", text)

    async def send_audio(self, audio: Any) -> Any:
        return await self._call("send_audio", audio)

    async def append_audio(self, samples: np.ndarray, rate: int) -> None:
        await self._call("append_audio", (samples, rate))

    async def cancel(self) -> None:
        await self._call("cancel", None)

    async def truncate(self, item_id: str, audio_end_ms: int) -> None:
        await self._call("truncate", (item_id, audio_end_ms))

    def called(self, name: str) -> list[Any]:
        return [value for called, value in self.calls if called == name]


async def settle() -> None:
    """Let the tasks the widget callbacks scheduled run to completion, and the coalesced redraw happen."""
    for _ in range(10):
        await asyncio.sleep(0)
    await asyncio.sleep(2 * RENDER_DELAY_S)


@pytest.fixture
def panel_for(comms: list[RecordingComm]) -> Iterator[Callable[..., Playground]]:
    """Make Playgrounds over fake sessions; each is closed afterwards (before the leak check)."""
    panels: list[Playground] = []

    def make(session: FakeSession) -> Playground:
        panels.append(Playground(session))
        return panels[-1]

    yield make
    for panel in panels:
        panel.close()


def pcm(samples: list[int]) -> bytes:
    return np.asarray(samples, dtype="<i2").tobytes()


def audio_delta(session: FakeSession, item_id: str, ms: int, response_id: str = "resp_1") -> bytes:
    data = pcm([1000] * (24 * ms))
    session.emit(type="response.output_audio.delta", response_id=response_id, item_id=item_id,
                 output_index=0, content_index=0, delta=base64.b64encode(data).decode())
    return data


def response_created(session: FakeSession, response_id: str = "resp_1") -> None:
    session.emit(type="response.created", response={"id": response_id, "object": "realtime.response",
                                                    "status": "in_progress", "output": []})


def response_done(session: FakeSession, response_id: str = "resp_1", status: str = "completed") -> None:
    session.emit(type="response.done", response={"id": response_id, "object": "realtime.response",
                                                 "status": status, "output": []})


# ---------------------------------------------------------------------------------------- pure parts


def test_truncate_point_clamps_to_the_audio() -> None:
    """The truncation point is the played ms, floored, never negative and never past the audio's end."""
    assert truncate_point(450.9, 1000) == 450
    assert truncate_point(1500, 1000) == 1000
    assert truncate_point(-3, 1000) == 0
    assert truncate_point(10, 0) == 0


def test_controls_map_to_update_keywords() -> None:
    """Control values become the flat session.update keywords that build a valid GA session."""
    values = ControlValues(instructions="Be brief.", voice="coral", output_modality="text",
                           turn_detection="server_vad", vad_threshold=0.7, prefix_padding_ms=200,
                           silence_duration_ms=800, transcription=False)
    kwargs = values.update_kwargs()
    assert kwargs == {"instructions": "Be brief.", "voice": "coral", "output_modalities": ["text"],
                      "turn_detection": "server_vad", "transcription": None, "vad_threshold": 0.7,
                      "prefix_padding_ms": 200, "silence_duration_ms": 800}
    session = build_session(**kwargs)
    assert session["audio"]["input"]["turn_detection"] == {
        "type": "server_vad", "threshold": 0.7, "prefix_padding_ms": 200, "silence_duration_ms": 800}


def test_semantic_vad_and_none_drop_the_server_vad_sliders() -> None:
    """semantic_vad and none send no threshold/padding/silence (the GA session would refuse them)."""
    semantic = ControlValues(turn_detection="semantic_vad").update_kwargs()
    off = ControlValues(turn_detection="none").update_kwargs()
    assert semantic["turn_detection"] == "semantic_vad" and "vad_threshold" not in semantic
    assert off["turn_detection"] is None and "silence_duration_ms" not in off
    assert build_session(**semantic)["audio"]["input"]["turn_detection"] == {"type": "semantic_vad"}
    assert build_session(**off)["audio"]["input"]["turn_detection"] is None


def test_controls_read_back_an_effective_session() -> None:
    """ControlValues.from_config shows what an effective GA session holds."""
    config = build_session(instructions="Hi", voice="sage", turn_detection="server_vad", vad_threshold=0.3,
                           silence_duration_ms=900, transcription=None, output_modalities=["text"])
    values = ControlValues.from_config(config)
    assert (values.voice, values.vad_threshold, values.silence_duration_ms) == ("sage", 0.3, 900)
    assert (values.transcription, values.output_modality, values.instructions) == (False, "text", "Hi")
    assert ControlValues.from_config({"type": "realtime"}) == ControlValues()  # absent keys keep defaults
    assert ControlValues.from_config({"audio": {"input": {"turn_detection": None}}}).turn_detection == "none"


def test_transcript_fold_times_a_spoken_turn() -> None:
    """Speech, its transcription, the reply's text and audio fold into two lines and one timed turn."""
    fold = TranscriptFold()
    fold.apply({"type": "input_audio_buffer.speech_started", "item_id": "u1"}, at=0.0)
    fold.apply({"type": "input_audio_buffer.speech_stopped", "item_id": "u1"}, at=1.0)
    fold.apply({"type": "response.created", "response": {"id": "r1"}}, at=1.1)
    fold.apply({"type": "response.output_audio_transcript.delta", "response_id": "r1", "item_id": "a1",
                "delta": "Hello"}, at=1.2)
    fold.audio_delta("r1", "a1", 48000, 24000, at=1.3)
    fold.apply({"type": "conversation.item.input_audio_transcription.completed", "item_id": "u1",
                "transcript": " what time is it "}, at=1.4)
    fold.apply({"type": "response.done", "response": {"id": "r1", "status": "completed"}}, at=2.0)
    assert [(line.role, line.text) for line in fold.lines] == [("user", "what time is it"), ("assistant", "Hello")]
    turn = fold.turns["r1"]
    assert turn.trigger == "speech"
    assert turn.latency_line() == ("first text 200 ms · first audio 300 ms · done 1.00 s · 1.0 s of audio "
                                   "(after speech stopped)")


def test_event_log_collapses_interleaved_deltas() -> None:
    """Interleaved transcript and audio deltas fold into one counted row per type; other events do not."""
    rows: list[LogRow] = []
    for t in range(6):
        add_log_row(rows, LogRow(t, "in", "response.output_audio_transcript.delta", f"'w{t}'"))
        add_log_row(rows, LogRow(t, "in", "response.output_audio.delta", "<12000 bytes base64 audio>"))
    add_log_row(rows, LogRow(7, "in", "response.done", "completed"))
    add_log_row(rows, LogRow(8, "in", "response.output_audio.delta", "<4800 bytes base64 audio>"))
    assert [(row.type, row.count) for row in rows] == [
        ("response.output_audio_transcript.delta", 6), ("response.output_audio.delta", 6),
        ("response.done", 1), ("response.output_audio.delta", 1)]
    assert "×6" in event_log_html(rows) and "&#x27;w5&#x27;" in event_log_html(rows)


def test_a_failed_response_says_why() -> None:
    """A response.done with status failed shows the server's reason in the turn's line."""
    fold = TranscriptFold()
    fold.apply({"type": "response.created", "response": {"id": "r1"}}, at=0.0)
    fold.apply({"type": "response.done", "response": {"id": "r1", "status": "failed", "status_details": {
        "type": "failed", "error": {"type": "server_error", "message": "The speech engine is missing."}}}}, at=0.5)
    assert fold.turns["r1"].latency_line() == "done 500 ms · failed: The speech engine is missing."


def test_transcript_shows_the_latest_items_and_counts_the_rest() -> None:
    """The transcript keeps the newest items visible and folds older ones into a count."""
    lines = [Line(role="user", item_id=f"u{i}", text=f"message {i}", pending=False) for i in range(14)]
    shown = transcript_html(lines, last=10)
    assert "4 earlier items" in shown and "message 13" in shown and "message 3<" not in shown


# ---------------------------------------------------------------------------------------- microphone


def test_microphone_chunks_arrive_as_int16_at_24khz(comms: list[RecordingComm]) -> None:
    """Binary chunks from microphone.js reach on_chunk as int16 arrays and build mic.audio."""
    mic = Microphone()
    got: list[tuple[np.ndarray, int]] = []
    mic.on_chunk(lambda samples, rate: got.append((samples, rate)))
    from_browser(mic, {"type": "started"})
    from_browser(mic, {"type": "chunk", "rate": 24000}, [pcm([0, 1, -2, 32767])])
    from_browser(mic, {"type": "chunk", "rate": 24000}, [pcm([-32768, 5])])
    assert [s.tolist() for s, _ in got] == [[0, 1, -2, 32767], [-32768, 5]]
    assert all(s.dtype == np.int16 and rate == 24000 for s, rate in got)
    assert isinstance(mic.audio, rk.Audio) and mic.audio.rate == 24000
    assert mic.audio.samples.tolist() == [0, 1, -2, 32767, -32768, 5]
    mic.close()


def test_microphone_start_stop_and_error_sync_with_the_browser(comms: list[RecordingComm]) -> None:
    """start()/stop() flip the synced `recording` trait; the browser's error text shows up in Python."""
    mic = Microphone()
    mic.start()
    assert mic.recording
    states = [data["state"] for kind, data, _ in mic.comm.published
              if kind == "comm_msg" and data["method"] == "update"]
    assert {"recording": True} in states
    browser_sets(mic, recording=False, error="Microphone permission was denied: allow this page ...")
    assert not mic.recording and mic.error.startswith("Microphone permission was denied")
    takes: list[Any] = []
    mic.on_take(takes.append)
    from_browser(mic, {"type": "started"})
    from_browser(mic, {"type": "chunk", "rate": 24000}, [pcm([7, 8])])
    from_browser(mic, {"type": "stopped"})
    assert takes[0].samples.tolist() == [7, 8]
    mic.close()


async def test_mic_buffers_stream_into_append_audio(panel_for: Callable[..., Playground]) -> None:
    """While listening with server VAD, every mic chunk reaches session.append_audio in order, int16 at 24 kHz."""
    session = FakeSession()
    panel = panel_for(session)
    panel.listen_button.click()
    assert panel.microphone.recording and panel.listen_button.description == "Stop listening"
    for start in range(0, 7200, 2400):
        from_browser(panel.microphone, {"type": "chunk", "rate": 24000}, [pcm(list(range(start, start + 2400)))])
    await settle()
    appended = session.called("append_audio")
    assert [rate for _, rate in appended] == [24000] * 3
    assert all(samples.dtype == np.int16 for samples, _ in appended)
    assert np.concatenate([samples for samples, _ in appended]).tolist() == list(range(7200))
    panel.listen_button.click()
    assert not panel.microphone.recording


async def test_a_failing_append_stops_listening_with_one_red_line(panel_for: Callable[..., Playground]) -> None:
    """If append_audio fails (session closed), listening stops and the panel shows one error, not one per chunk."""
    session = FakeSession()
    panel = panel_for(session)
    session.fail["append_audio"] = rk.InvalidState("The session is closed; connect again with rk.connect().")
    panel.start_listening()
    for _ in range(5):
        from_browser(panel.microphone, {"type": "chunk", "rate": 24000}, [pcm([1] * 2400)])
    await settle()
    assert len(session.called("append_audio")) == 1
    assert not panel.microphone.recording and panel.listen_button.description == "Start listening"
    assert len(panel.errors) == 1 and "listening stopped: The session is closed" in panel.error_box.value


async def test_push_to_talk_sends_the_take_when_turn_detection_is_off(panel_for: Callable[..., Playground]) -> None:
    """With turn detection off, the recording is sent as one send_audio at Stop listening, not appended."""
    session = FakeSession(turn_detection=None)
    panel = panel_for(session)
    panel.start_listening()
    from_browser(panel.microphone, {"type": "started"})
    from_browser(panel.microphone, {"type": "chunk", "rate": 24000}, [pcm([3] * 2400)])
    panel.stop_listening()
    from_browser(panel.microphone, {"type": "stopped"})
    await settle()
    assert session.called("append_audio") == []
    [audio] = session.called("send_audio")
    assert audio.samples.tolist() == [3] * 2400 and audio.rate == 24000


# ---------------------------------------------------------------------------------------- controls


async def test_apply_sends_the_controls_as_session_update(panel_for: Callable[..., Playground]) -> None:
    """Apply runs session.update with the controls' keywords and shows the effective session."""
    session = FakeSession()
    panel = panel_for(session)
    panel.instructions.value = "Answer in one sentence."
    panel.voice.value = "verse"
    panel.threshold.value = 0.8
    panel.silence.value = 700
    panel.transcription.value = False
    panel.apply_button.click()
    await settle()
    flat, voice = session.called("update")  # a new voice goes on its own: a refusal keeps the rest
    assert flat["instructions"] == "Answer in one sentence." and voice == {"voice": "verse"}
    assert (flat["vad_threshold"], flat["silence_duration_ms"], flat["transcription"]) == (0.8, 700, None)
    assert "Applied" in panel.config_out.value and "verse" in panel.config_out.value
    panel.turn_detection.value = "semantic_vad"
    assert panel.threshold.disabled and panel.silence.disabled
    panel.apply_button.click()
    await settle()
    assert session.called("update")[-1]["turn_detection"] == "semantic_vad"
    assert "vad_threshold" not in session.called("update")[-1]


async def test_a_refused_voice_reverts_its_control_and_the_rest_applies(
        panel_for: Callable[..., Playground]) -> None:
    """A refused voice goes back to the session's voice, is reported once, and the Apply's other changes stay."""
    session = FakeSession()
    panel = panel_for(session)
    refusal = RealtimeError("Cannot update a voice after the assistant has spoken.", code="cannot_update_voice")
    session.fail["voice"] = refusal
    panel.voice.value = "shimmer"
    panel.instructions.value = "Be brief."
    panel.apply_button.click()
    await settle()
    assert panel.voice.value == "alloy" and panel.instructions.value == "Be brief."
    assert session.config["instructions"] == "Be brief."
    assert "Not applied" in panel.config_out.value
    assert panel.error_box.value.count("Cannot update a voice") == 1
    session.emit(type="error", error={"type": "invalid_request_error", "code": "cannot_update_voice",
                                      "message": "Cannot update a voice after the assistant has spoken."})
    await settle()
    assert panel.error_box.value.count("Cannot update a voice") == 1  # the same error is shown once
    del session.fail["voice"]
    panel.instructions.value = "Be very brief."
    panel.apply_button.click()
    await settle()
    assert panel.error_box.value == "" and "Applied" in panel.config_out.value


async def test_controls_follow_updates_made_from_code(panel_for: Callable[..., Playground]) -> None:
    """session.update from a cell reaches the panel's controls, so Apply cannot silently undo it."""
    session = FakeSession()
    panel = panel_for(session)
    session.config = build_session(session.config, voice="verse", instructions="Answer like a pirate.",
                                   vad_threshold=0.7)
    session.emit(type="session.updated", session={"type": "realtime", "instructions": "Answer like a pirate."})
    await settle()
    assert (panel.voice.value, panel.instructions.value, panel.threshold.value) == (
        "verse", "Answer like a pirate.", 0.7)


async def test_input_transcription_is_switched_on_when_the_panel_opens(
        panel_for: Callable[..., Playground]) -> None:
    """A session without input transcription gets it from the panel, so spoken turns show their words."""
    session = FakeSession(transcription=None)
    panel = panel_for(session)
    await settle()
    assert session.called("update") == [{"transcription": True}] and panel.transcription.value is True


async def test_enter_in_the_text_box_sends(panel_for: Callable[..., Playground]) -> None:
    """The browser's submit event (Enter) sends the typed message."""
    session = FakeSession()
    panel = panel_for(session)
    panel.text.value = "Hello there"
    from_browser(panel.text, {"event": "submit"})
    await settle()
    assert session.called("send_text") == ["Hello there"] and panel.text.value == ""


async def test_a_new_message_cuts_off_the_reply_in_progress(panel_for: Callable[..., Playground]) -> None:
    """Sending while the assistant speaks cancels its response and truncates it at the ms heard, then sends."""
    session = FakeSession()
    panel = panel_for(session)
    response_created(session)
    audio_delta(session, "item_a", 3000)
    browser_sets(panel.player, played={"item_a": 800}, played_ms=800, playing=True)
    panel.send("Stop, tell me something else.")
    await browser_answers_stop(panel.player, {"item_a": 850})
    assert [name for name, _ in session.calls] == ["cancel", "truncate", "send_text"]
    assert session.called("truncate") == [("item_a", 850)]


async def test_turns_are_titled_by_what_the_user_said(panel_for: Callable[..., Playground]) -> None:
    """A turn's box starts with the user's words, not the response id; the snapshot shows them too."""
    session = FakeSession()
    panel = panel_for(session)
    session.emit(type="conversation.item.added", item={"id": "u1", "type": "message", "role": "user",
                                                       "content": [{"type": "input_text", "text": "what time is it"}]})
    response_created(session)
    audio_delta(session, "item_a", 300)
    response_done(session)
    await settle()
    title = panel.turns.children[0].children[0].value
    assert "rk-turn-title'>what time is it<" in title and "resp_1'>" not in title.split("rk-turn-title")[1]
    snapshot = panel.snapshot_html()
    assert "rk-snapshot" in snapshot and "what time is it" in snapshot and "<audio" not in snapshot


async def test_send_posts_the_text_and_failures_turn_red(panel_for: Callable[..., Playground]) -> None:
    """Send calls session.send_text with the box's text; a failing call is reported in red, content kept."""
    session = FakeSession()
    panel = panel_for(session)
    session.emit(type="conversation.item.added", item={"id": "u1", "type": "message", "role": "user",
                                                       "content": [{"type": "input_text", "text": "earlier"}]})
    panel.text.value = "What is the weather?"
    panel.send_button.click()
    await settle()
    assert session.called("send_text") == ["What is the weather?"] and panel.text.value == ""
    session.fail["send_text"] = rk.InvalidState("Another response is in flight; wait for it or press Stop.")
    panel.send("again")
    await settle()
    assert "Send: Another response is in flight" in panel.error_box.value
    assert "earlier" in panel.transcript.html


# ---------------------------------------------------------------------------------------- player


def test_player_sends_binary_chunks_and_counts_received_ms(comms: list[RecordingComm]) -> None:
    """push() sends PCM16 as a binary buffer (not a list of numbers) and tracks each item's length."""
    player = StreamingPlayer()
    data = pcm([1, -1] * 2400)
    player.push(data, rate=24000, item_id="item_a")
    [(content, buffers)] = custom_messages(player)
    assert content == {"type": "chunk", "rate": 24000, "item_id": "item_a"} and buffers == [data]
    assert player.received_ms("item_a") == 200.0
    browser_sets(player, played={"item_a": 150}, played_ms=150, playing=True)
    assert player.played_ms_for("item_a") == 150 and player.has_unplayed("item_a")
    player.stop()
    assert custom_messages(player)[-1][0] == {"type": "stop"} and not player.has_unplayed("item_a")
    with pytest.raises(ValueError, match="even number of bytes"):
        player.push(b"\x00\x01\x02")
    player.close()


async def test_output_audio_deltas_reach_the_player_as_bytes(panel_for: Callable[..., Playground]) -> None:
    """Each response.output_audio.delta is decoded and pushed to the player as one binary message."""
    session = FakeSession()
    panel = panel_for(session)
    response_created(session)
    first = audio_delta(session, "item_a", 100)
    second = audio_delta(session, "item_a", 250)
    chunks = [(c, b) for c, b in custom_messages(panel.player) if c["type"] == "chunk"]
    assert [b for _, b in chunks] == [[first], [second]]
    assert all(c == {"type": "chunk", "rate": 24000, "item_id": "item_a"} for c, _ in chunks)
    response_done(session)
    await settle()
    head, clip = panel.turns.children[0].children
    assert "3.5 s" not in head.value  # 350 ms of audio, shown as 0.3 s
    assert "0.3 s of audio" in head.value and "<audio" not in head.value
    assert clip.get_state().keys().isdisjoint({"pcm"}) and clip.duration_s == pytest.approx(0.35)
    from_browser(clip, {"type": "load"})  # the first press of its play button
    assert custom_messages(clip)[-1] == ({"type": "pcm", "rate": 24000}, [first + second])  # bytes, no base64


async def test_g711_output_is_expanded_to_pcm16_for_the_player(panel_for: Callable[..., Playground]) -> None:
    """With a G.711 μ-law output format, deltas reach the player as PCM16 at 8 kHz (two bytes a sample)."""
    session = FakeSession()
    session.config = build_session(session.config, output_format="g711_ulaw")
    panel = panel_for(session)
    tone = rk.Audio.tone(440, 0.1, rate=8000)
    session.emit(type="response.output_audio.delta", response_id="resp_1", item_id="item_a", output_index=0,
                 content_index=0, delta=base64.b64encode(tone.to_bytes("audio/pcmu")).decode())
    [(content, [data])] = [(c, b) for c, b in custom_messages(panel.player) if c["type"] == "chunk"]
    assert content["rate"] == 8000 and len(data) == 2 * len(tone.samples)
    decoded = np.frombuffer(data, dtype="<i2").astype(int)
    assert np.abs(decoded - tone.samples).max() < 0.05 * 32768  # μ-law keeps the waveform
    assert panel.player.received_ms("item_a") == 100.0


# ---------------------------------------------------------------------------------------- interruption


async def browser_answers_stop(player: StreamingPlayer, played: dict[str, int]) -> None:
    """Answer the player's latest stop request as player.js does: with its exact played count."""
    await settle()
    stops = [content for content, _ in custom_messages(player) if content["type"] == "stop"]
    from_browser(player, {"type": "stopped", "request": stops[-1]["request"], "played": played})
    await settle()


async def test_stop_truncates_at_the_played_ms(panel_for: Callable[..., Playground]) -> None:
    """Stop while audio plays: player flushed, response cancelled, item truncated at the browser's count."""
    session = FakeSession()
    panel = panel_for(session)
    response_created(session)
    audio_delta(session, "item_a", 1000)
    browser_sets(panel.player, played={"item_a": 380}, played_ms=380, playing=True)  # a periodic report
    panel.stop_button.click()
    assert custom_messages(panel.player)[-1][0] == {"type": "stop", "request": 1}
    await browser_answers_stop(panel.player, {"item_a": 420})  # the exact count at the stop
    assert session.called("cancel") == [None]
    assert session.called("truncate") == [("item_a", 420)]
    assert panel.truncations[0]["audio_end_ms"] == 420 and panel.truncations[0]["received_ms"] == 1000
    audio_delta(session, "item_a", 100)  # a late delta of the cut-off item is not played
    assert custom_messages(panel.player)[-1][0]["type"] == "stop"


async def test_truncation_never_passes_the_received_audio(panel_for: Callable[..., Playground]) -> None:
    """A played count beyond the audio received is clamped to the audio's end."""
    session = FakeSession()
    panel = panel_for(session)
    response_created(session)
    audio_delta(session, "item_a", 600)
    browser_sets(panel.player, played={"item_a": 100}, played_ms=100, playing=True)
    assert panel.interrupt("stop pressed")
    await browser_answers_stop(panel.player, {"item_a": 5000})
    assert session.called("truncate") == [("item_a", 600)]


async def test_without_a_browser_answer_the_last_report_is_used(panel_for: Callable[..., Playground]) -> None:
    """When no browser answers the stop in time, the truncation uses the last periodic report."""
    session = FakeSession()
    panel = panel_for(session)
    panel.player.stop_reply_timeout_s = 0.05
    response_created(session)
    audio_delta(session, "item_a", 900)
    browser_sets(panel.player, played={"item_a": 250}, played_ms=250, playing=True)
    assert panel.interrupt("stop pressed")
    await settle()
    await asyncio.sleep(0.1)
    assert session.called("truncate") == [("item_a", 250)]


async def test_speech_over_the_assistant_truncates_without_a_second_cancel(
        panel_for: Callable[..., Playground]) -> None:
    """speech_started while audio plays truncates at the played ms; the server's VAD already cancelled."""
    session = FakeSession()
    panel = panel_for(session)
    response_created(session)
    audio_delta(session, "item_a", 2000)
    response_done(session)
    browser_sets(panel.player, played={"item_a": 1200}, played_ms=1200, playing=True)
    session.emit(type="input_audio_buffer.speech_started", item_id="item_u", audio_start_ms=0)
    await browser_answers_stop(panel.player, {"item_a": 1234})
    assert session.called("truncate") == [("item_a", 1234)] and session.called("cancel") == []
    session.emit(type="conversation.item.truncated", item_id="item_a", audio_end_ms=1234, content_index=0)
    await settle()
    assert "interrupted: 1.23 s heard" in panel.transcript.html
    [turn_row] = panel.turns.children  # redrawn: the latency line and a red mark where the listener cut in
    assert "interrupted: 1.23 s heard" in turn_row.children[0].value and "left:61.7%" in turn_row.children[0].value


async def test_nothing_to_interrupt_sends_nothing(panel_for: Callable[..., Playground]) -> None:
    """Stop with no response in flight and all audio heard neither cancels nor truncates."""
    session = FakeSession()
    panel = panel_for(session)
    response_created(session)
    audio_delta(session, "item_a", 500)
    response_done(session)
    browser_sets(panel.player, played={"item_a": 500}, played_ms=500, playing=False)
    assert not panel.interrupt()
    await settle()
    assert session.called("cancel") == [] and session.called("truncate") == []


async def test_player_stop_button_interrupts(panel_for: Callable[..., Playground]) -> None:
    """The player's own Stop button (a message from player.js) interrupts like the panel's Stop."""
    session = FakeSession()
    panel = panel_for(session)
    response_created(session)
    audio_delta(session, "item_a", 800)
    from_browser(panel.player, {"type": "stop_pressed", "played": {"item_a": 300}})
    await browser_answers_stop(panel.player, {"item_a": 300})
    assert session.called("truncate") == [("item_a", 300)] and session.called("cancel") == [None]


# ---------------------------------------------------------------------------------------- display


async def test_transcript_shows_both_sides_and_errors_keep_it(panel_for: Callable[..., Playground]) -> None:
    """The transcript shows user speech and the reply; a server error adds red text and removes nothing."""
    session = FakeSession()
    panel = panel_for(session)
    session.emit(type="input_audio_buffer.speech_started", item_id="u1", audio_start_ms=100)
    session.emit(type="conversation.item.input_audio_transcription.completed", item_id="u1", content_index=0,
                 transcript="tell me a joke", usage={"type": "duration", "seconds": 1.2})
    response_created(session)
    session.emit(type="response.output_audio_transcript.delta", response_id="resp_1", item_id="a1",
                 output_index=0, content_index=0, delta="Why did <the> chicken")
    session.emit(type="error", error={"type": "invalid_request_error", "code": "unknown_parameter",
                                      "message": "Unknown parameter: 'session.foo'."})
    await settle()
    assert "tell me a joke" in panel.transcript.html
    assert "Why did &lt;the&gt; chicken" in panel.transcript.html
    assert "Unknown parameter" in panel.error_box.value and "#c62828" in panel.error_box.value
    assert "response.output_audio_transcript.delta" in panel.event_log.value


def test_widgets_are_exported_from_the_package() -> None:
    """rk.Playground, rk.Microphone and rk.StreamingPlayer are the widget classes."""
    assert (rk.Playground, rk.Microphone, rk.StreamingPlayer) == (Playground, Microphone, StreamingPlayer)


def test_the_widgets_need_no_audio_device_library() -> None:
    """Importing and building the widgets loads no kernel-side audio I/O library (the browser does the audio)."""
    code = ("import sys, realtime_kit as rk; rk.Playground, rk.Microphone, rk.StreamingPlayer; "
            "import realtime_kit.widgets.playground; "
            "print(sorted(m for m in ('sounddevice', 'pyaudio', 'simpleaudio', 'soundcard') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parent.parent)
    assert out.stdout.strip() == "[]"


async def test_widget_events_from_another_thread_run_on_the_session_loop(panel_for: Callable[..., Playground]) -> None:
    """ipykernel 7 delivers widget events on its shell-channel thread; the panel runs them on the session's loop."""
    import threading

    session = FakeSession()
    panel = panel_for(session)
    loops: list[asyncio.AbstractEventLoop] = []
    record = session.send_text

    async def send_text(text: str) -> Any:
        loops.append(asyncio.get_running_loop())
        return await record(text)

    session.send_text = send_text  # type: ignore[method-assign]
    panel.text.value = "from the comm thread"
    thread = threading.Thread(target=lambda: from_browser(panel.text, {"event": "submit"}))
    thread.start()
    thread.join()
    await settle()
    assert loops == [asyncio.get_running_loop()] and session.called("send_text") == ["from the comm thread"]
