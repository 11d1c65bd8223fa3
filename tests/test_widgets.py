"""Widgets at the Python level, with no server: a recording comm stands in for the kernel.

The pure parts (controls, the HTML the panel shows from the session's fold and event log), the
microphone and the players. The playground on a real session is in test_playground_wire.py; the
browser side (microphone.js, player.js) in tests/browser/.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from test_conversation_views import spoken_user_turn
from widget_comms import RecordingComm, browser_sets, custom_messages, from_browser

import realtime_kit as rk
from realtime_kit.config import build_session
from realtime_kit.session.conversation import Conversation, Response
from realtime_kit.session.eventlog import EventLog
from realtime_kit.session.messages import Message
from realtime_kit.widgets import Microphone, Playground, StreamingPlayer
from realtime_kit.widgets.controls import ControlValues, truncate_point
from realtime_kit.widgets.render import event_log_html, transcript_html, turn_html, turn_row

pytestmark = pytest.mark.pure


def pcm(samples: list[int]) -> bytes:
    return np.asarray(samples, dtype="<i2").tobytes()


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


def test_a_turn_row_reads_its_latencies_from_the_response_timings() -> None:
    """A spoken turn's row: titled by the user's words, latencies from reply.timings after speech stopped."""
    conversation = Conversation()
    for index, event in enumerate(spoken_user_turn()):
        conversation.apply(event, at=1.0 + index * 0.1)
    [reply] = conversation.responses
    row = turn_row(reply, conversation.messages)
    stopped = reply.timings["speech_stopped"]
    first_audio_ms = round((reply.timings["first_audio"] - stopped) * 1000)
    assert row.title == "what time is it" and row.audio_seconds == pytest.approx(0.1)
    assert f"first audio {first_audio_ms} ms" in row.latency and row.latency.endswith("(after speech stopped)")
    assert row.latency == ("first text 700 ms · first audio 800 ms · done 1.00 s · 0.1 s of audio "
                           "(after speech stopped)")


def test_a_failed_response_says_why() -> None:
    """A response that failed shows the server's reason in its turn's line."""
    reply = Response(0.0)
    reply.id, reply.status, reply.timings["done"] = "r1", "failed", 0.5
    reply.status_details = {"type": "failed", "error": {"type": "server_error",
                                                         "message": "The speech engine is missing."}}
    row = turn_row(reply, Conversation().messages)
    assert row.latency == "done 500 ms · failed: The speech engine is missing. (after the request)"
    assert row.title == "(follow-up response)" and "rk-turn-title'>(follow-up response)<" in turn_html(row)


def test_an_interrupted_turn_marks_where_the_listener_cut_in() -> None:
    """A truncated answer's row says how much was heard and draws a red mark at that point."""
    conversation = Conversation()
    for index, event in enumerate(spoken_user_turn()):
        conversation.apply(event, at=index * 0.1)
    conversation.messages.get("a1").heard_ms = 50  # what conversation.item.truncated sets
    row = turn_row(conversation.responses[0], conversation.messages)
    assert "interrupted: 0.05 s heard" in row.latency and "left:50.0%" in turn_html(row, "AAAA")


def test_event_log_collapses_interleaved_deltas() -> None:
    """The panel's log reads session.events: interleaved deltas fold into one counted row per type."""
    log = EventLog(start=0.0)
    for t in range(6):
        log.record("in", {"type": "response.output_audio_transcript.delta", "response_id": "r", "delta": f"w{t}"}, t)
        log.record("in", {"type": "response.output_audio.delta", "response_id": "r", "delta": "AAAA"}, t)
    log.record("in", {"type": "response.done", "response": {"id": "r", "status": "completed"}}, 7)
    shown = event_log_html(log.rows)
    assert shown.count("×6") == 2 and "&#x27;w0w1w2w3w4w5&#x27;" in shown and "18 bytes of audio" in shown
    assert shown.index("response.done") < shown.index("response.output_audio.delta")  # newest first
    assert "earlier events not shown" in event_log_html(log.rows, last=1)


def test_transcript_shows_the_latest_items_and_counts_the_rest() -> None:
    """The transcript keeps the newest items visible, escaped, and folds older ones into a count."""
    lines = [Message(f"u{i}", "user", f"message {i}", pending=False) for i in range(14)]
    lines.append(Message("a1", "assistant", "Why did <the> chicken", heard_ms=1234))
    shown = transcript_html(lines, last=10)
    assert "5 earlier items" in shown and "message 13" in shown and "message 3<" not in shown
    assert "Why did &lt;the&gt; chicken" in shown and "[interrupted: 1.23 s heard]" in shown


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


# ---------------------------------------------------------------------------------------- package


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
