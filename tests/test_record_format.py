"""The .rkrec format, pure: writing and reading back, turns, compare, redaction, history for a reconnect, faults."""

from __future__ import annotations

import base64
import json
import shutil
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from realtime_kit.audio import Audio
from realtime_kit.record import Recording, RecordingWriter
from realtime_kit.record.compare import similarity
from realtime_kit.record.reconnect import Reconnect, history_items, session_to_resend
from realtime_kit.record.recording import wav_data
from realtime_kit.record.turns import fold_turns
from realtime_kit.server.answers import TurnContext
from realtime_kit.server.faults import Faults
from realtime_kit.server.replay import ReplayAnswers, ReplayMismatch

pytestmark = pytest.mark.pure

PCM = ("audio/pcm", 24000)
CANARY = "sk-canary-7f3e9a1c"


def b64(samples: np.ndarray) -> str:
    return base64.b64encode(samples.astype("<i2").tobytes()).decode("ascii")


def text_turn(writer: RecordingWriter, t: float, said: str, answer: np.ndarray, rid: str,
              words: str = "Hello there.") -> None:
    """Write one typed turn: the user's message, response.create, and an answer in two audio deltas."""
    writer.write(t, "out", {"type": "conversation.item.create", "event_id": "rk_1", "item": {
        "type": "message", "role": "user", "content": [{"type": "input_text", "text": said}]}}, PCM)
    writer.write(t + 0.001, "out", {"type": "response.create", "event_id": "rk_2"}, PCM)
    writer.write(t + 0.01, "in", {"type": "response.created", "response": {"id": rid, "status": "in_progress"}}, PCM)
    writer.write(t + 0.02, "in", {"type": "response.output_audio_transcript.delta", "response_id": rid,
                                  "delta": words}, PCM)
    half = len(answer) // 2
    for part, at in ((answer[:half], 0.05), (answer[half:], 0.06)):
        writer.write(t + at, "in", {"type": "response.output_audio.delta", "response_id": rid, "item_id": "i",
                                    "delta": b64(part)}, PCM)
    writer.write(t + 0.1, "in", {"type": "response.done", "response": {"id": rid, "status": "completed",
                                                                       "output": []}}, PCM)


@pytest.fixture
def answer() -> np.ndarray:
    return (np.sin(np.arange(4800) / 7.0) * 9000).astype(np.int16)


def test_written_recording_reads_back_with_turns_and_identical_audio(tmp_path: Path, answer: np.ndarray) -> None:
    """What the writer streams (events, audio) loads back as turns whose audio is the very samples sent."""
    writer = RecordingWriter.create(tmp_path / "a.rkrec")
    text_turn(writer, 0.0, "hi", answer, "r1")
    writer.close()
    rec = Recording.load(tmp_path / "a.rkrec")
    turn = rec.turns[0]
    assert (turn.user_text, turn.transcript, turn.status) == ("hi", "Hello there.", "completed")
    assert turn.input_kind == "text"
    assert turn.audio_out is not None and np.array_equal(turn.audio_out.samples, answer)
    assert turn.audio_in is None and turn.duration == pytest.approx(0.2)
    assert turn.latency == pytest.approx(0.019, abs=1e-6)  # request -> first transcript delta
    assert rec.meta["complete"] and rec.meta["tracks"]["audio_out.wav"]["rate"] == 24000


def test_events_file_keeps_no_base64_and_names_where_the_audio_went(tmp_path: Path, answer: np.ndarray) -> None:
    """Audio lines carry `<N bytes base64 audio>` and a track reference; offsets follow each other."""
    writer = RecordingWriter.create(tmp_path / "a.rkrec")
    text_turn(writer, 0.0, "hi", answer, "r1")
    writer.close()
    rows = [json.loads(line) for line in (tmp_path / "a.rkrec" / "events.jsonl").read_text().splitlines()]
    audio = [row for row in rows if row["event"]["type"] == "response.output_audio.delta"]
    assert [row["audio"] for row in audio] == [{"track": "audio_out.wav", "offset": 0, "bytes": 4800},
                                               {"track": "audio_out.wav", "offset": 4800, "bytes": 4800}]
    assert all(row["event"]["delta"] == "<4800 bytes base64 audio>" for row in audio)
    assert all(next(iter(row["event"])) == "type" for row in rows)


def test_frames_are_written_as_they_came_with_the_audio_cut_out(tmp_path: Path, answer: np.ndarray) -> None:
    """A server event given with its frame is written as sent (any key order, spacing, extra keys), its audio
    payload replaced by the placeholder and sent to the track; a canary inside a frame is still redacted."""
    frames = [{"type": "response.created", "response": {"id": "r1", "status": "in_progress"}},
              {"type": "response.output_audio_transcript.delta", "response_id": "r1", "delta": f"hi {CANARY}"},
              {"delta": b64(answer[:2400]), "type": "response.output_audio.delta", "response_id": "r1",
               "obfuscation": "ab"},
              {"type": "response.output_audio.delta", "response_id": "r1", "delta": b64(answer[2400:]), "z": 1}]
    writer = RecordingWriter.create(tmp_path / "a.rkrec", secrets=[CANARY])
    for index, frame in enumerate(frames):
        raw = json.dumps(frame, separators=(",", ":") if index % 2 else (", ", ": ")).encode()
        decoded = base64.b64decode(frame["delta"]) if frame["type"].endswith("audio.delta") else None
        parsed = {key: value for key, value in frame.items() if key != "z"}  # what a model keeps may be less
        writer.write(0.1 * index, "in", parsed, PCM, decoded, raw)
    writer.close()
    rows = [json.loads(line) for line in (tmp_path / "a.rkrec" / "events.jsonl").read_text().splitlines()]
    assert [row["t"] for row in rows] == [0.0, 0.1, 0.2, 0.3]
    assert rows[1]["event"]["delta"] == "hi ********"
    assert rows[2]["event"] == {**frames[2], "delta": "<4800 bytes base64 audio>"}
    assert rows[3]["event"] == {**frames[3], "delta": "<4800 bytes base64 audio>"}
    assert [row["audio"]["offset"] for row in rows[2:]] == [0, 4800]
    audio = Recording.load(tmp_path / "a.rkrec").turns[0].audio_out
    assert audio is not None and np.array_equal(audio.samples, answer)


def test_input_audio_goes_to_its_own_track_and_spoken_turns_take_the_transcript(tmp_path: Path) -> None:
    """Appended audio is a turn's audio_in; the transcription (even arriving late) is its user_text."""
    spoken = (np.cos(np.arange(2400) / 5.0) * 5000).astype(np.int16)
    writer = RecordingWriter.create(tmp_path / "a.rkrec")
    writer.write(0.0, "out", {"type": "input_audio_buffer.append", "audio": b64(spoken)}, PCM)
    writer.write(0.2, "in", {"type": "input_audio_buffer.speech_stopped", "item_id": "u1", "audio_end_ms": 90}, PCM)
    writer.write(0.21, "in", {"type": "input_audio_buffer.committed", "item_id": "u1"}, PCM)
    writer.write(0.22, "in", {"type": "response.created", "response": {"id": "r1"}}, PCM)
    writer.write(0.30, "in", {"type": "conversation.item.input_audio_transcription.completed", "item_id": "u1",
                              "content_index": 0, "transcript": "good morning"}, PCM)
    writer.write(0.40, "in", {"type": "response.done", "response": {"id": "r1", "status": "completed"}}, PCM)
    writer.close()
    turn = Recording.load(tmp_path / "a.rkrec").turns[0]
    assert turn.input_kind == "audio" and turn.user_text == "good morning"
    assert turn.audio_in is not None and np.array_equal(turn.audio_in.samples, spoken)


def test_g711_output_is_stored_as_pcm16_at_8khz(tmp_path: Path) -> None:
    """A G.711 answer lands in its own 8 kHz PCM16 track, decoded once."""
    tone = Audio.tone(440, 0.1, rate=8000)
    writer = RecordingWriter.create(tmp_path / "a.rkrec")
    writer.write(0.0, "in", {"type": "response.created", "response": {"id": "r1"}})
    writer.write(0.1, "in", {"type": "response.output_audio.delta", "response_id": "r1",
                             "delta": base64.b64encode(tone.to_bytes("audio/pcmu")).decode()}, ("audio/pcmu", 8000))
    writer.close()
    audio = Recording.load(tmp_path / "a.rkrec").turns[0].audio_out
    assert audio is not None and audio.rate == 8000 and audio.duration == pytest.approx(0.1)
    assert np.abs(audio.samples.astype(int) - tone.samples).max() < 600  # G.711's quantisation, nothing worse


def test_a_canary_key_is_written_nowhere(tmp_path: Path, answer: np.ndarray) -> None:
    """A secret the writer knows is redacted from every file, and secret-named keys are dropped."""
    writer = RecordingWriter.create(tmp_path / "a.rkrec", secrets=[CANARY])
    writer.write(0.0, "out", {"type": "session.update", "session": {"instructions": f"my key is {CANARY}"},
                              "api_key": CANARY, "Authorization": f"Bearer {CANARY}"}, PCM)
    text_turn(writer, 0.1, f"say {CANARY}", answer, "r1")
    writer.close()
    for path in (tmp_path / "a.rkrec").iterdir():
        assert CANARY.encode() not in path.read_bytes(), path.name
    assert "********" in (tmp_path / "a.rkrec" / "events.jsonl").read_text()


def test_a_recording_cut_short_still_loads(tmp_path: Path, answer: np.ndarray) -> None:
    """Without close() (a crash), the WAV's unsized data chunk runs to the end and the turns load."""
    writer = RecordingWriter.create(tmp_path / "a.rkrec")
    text_turn(writer, 0.0, "hi", answer, "r1")
    writer._events.flush()
    for track in writer._tracks.values():
        track.flush()
    copy = tmp_path / "crashed.rkrec"
    shutil.copytree(tmp_path / "a.rkrec", copy)
    writer.close()
    turn = Recording.load(copy).turns[0]
    assert turn.audio_out is not None and np.array_equal(turn.audio_out.samples, answer)


def test_a_zip_of_the_folder_loads_like_the_folder(tmp_path: Path, answer: np.ndarray) -> None:
    """Recording.load takes a zip of the recording folder as well."""
    writer = RecordingWriter.create(tmp_path / "a.rkrec")
    text_turn(writer, 0.0, "hi", answer, "r1")
    writer.close()
    archive = tmp_path / "a.zip"
    with zipfile.ZipFile(archive, "w") as out:
        for path in (tmp_path / "a.rkrec").iterdir():
            out.write(path, f"a.rkrec/{path.name}")
    assert Recording.load(archive).turns[0].transcript == "Hello there."


def test_loading_something_else_says_what_is_wrong(tmp_path: Path) -> None:
    """A missing path, a folder without events.jsonl and an existing target each get a clear error."""
    with pytest.raises(FileNotFoundError, match="record one"):
        Recording.load(tmp_path / "nothing.rkrec")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match=r"events\.jsonl"):
        Recording.load(tmp_path / "empty")
    with pytest.raises(FileExistsError, match="record_overwrite"):
        RecordingWriter.create(tmp_path / "empty")


def test_wav_reader_rejects_other_files() -> None:
    """wav_data names the problem for bytes that are not a WAV file."""
    with pytest.raises(ValueError, match="RIFF"):
        wav_data(b"not a wav file at all")


def test_tool_calls_and_outputs_fold_into_turns() -> None:
    """A function call is the turn's tool_calls; the output sent after it belongs to the next turn."""
    lines: list[dict[str, Any]] = [
        {"t": 0.0, "dir": "out", "event": {"type": "response.create"}},
        {"t": 0.1, "dir": "in", "event": {"type": "response.created", "response": {"id": "r1"}}},
        {"t": 0.2, "dir": "in", "event": {"type": "response.done", "response": {"id": "r1", "status": "completed",
         "output": [{"type": "function_call", "name": "get_weather", "call_id": "c1",
                     "arguments": "{\"city\": \"Oslo\"}"}]}}},
        {"t": 0.3, "dir": "out", "event": {"type": "conversation.item.create", "item": {
            "type": "function_call_output", "call_id": "c1", "output": "sunny"}}},
        {"t": 0.3, "dir": "out", "event": {"type": "response.create"}},
        {"t": 0.4, "dir": "in", "event": {"type": "response.created", "response": {"id": "r2"}}},
    ]
    first, second = fold_turns(lines)
    assert first.tool_calls == [{"name": "get_weather", "call_id": "c1", "arguments": "{\"city\": \"Oslo\"}"}]
    assert second.input_kind == "tool_output" and second.tool_outputs == [{"call_id": "c1", "output": "sunny"}]


def test_compare_pairs_turns_and_flags_differences(tmp_path: Path, answer: np.ndarray) -> None:
    """compare lines turns up in order: same words score 1.0, a missing turn shows as None."""
    for name, words in (("a", ["Hello there.", "Bye now."]), ("b", ["hello, there", "Goodbye."])):
        writer = RecordingWriter.create(tmp_path / f"{name}.rkrec")
        for index, said in enumerate(words):
            text_turn(writer, index, "hi", answer, f"r{index}", words=said)
        if name == "a":
            text_turn(writer, 2, "again", answer, "r9", words="Extra.")
        writer.close()
    comparison = Recording.load(tmp_path / "a.rkrec").compare(Recording.load(tmp_path / "b.rkrec"))
    assert [row["same_text"] for row in comparison.rows] == [True, False, False]
    assert comparison.rows[2]["said_b"] is None and not comparison.same
    assert "<b>Bye</b>" in comparison._repr_html_() and "≠" in repr(comparison)


def test_similarity_ignores_case_and_punctuation() -> None:
    """similarity compares words: 1.0 for the same words, lower as they differ."""
    assert similarity("Hello, World!", "hello world") == 1.0
    assert 0 < similarity("one two three", "one two four") < 1


def test_history_for_a_new_connection_uses_the_shapes_the_service_takes() -> None:
    """User text and transcripts become input_text; assistant audio becomes output_text; calls are kept."""
    items = [
        {"id": "u1", "type": "message", "role": "user", "content": [{"type": "input_audio", "transcript": None}]},
        {"id": "a1", "type": "message", "role": "assistant",
         "content": [{"type": "output_audio", "transcript": "Hi!"}]},
        {"id": "c1", "type": "function_call", "call_id": "call_1", "name": "f", "arguments": "{}"},
        {"id": "o1", "type": "function_call_output", "call_id": "call_1", "output": "42"},
        {"id": "u2", "type": "message", "role": "user", "content": [{"type": "input_audio"}]},  # never heard
    ]
    assert history_items(items, {"u1": "hello there"}) == [
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hello there"}]},
        {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Hi!"}]},
        {"type": "function_call", "call_id": "call_1", "name": "f", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "call_1", "output": "42"},
    ]


def test_the_session_resent_drops_read_only_keys() -> None:
    """A session.update on the new connection carries the config, not the old session's id or expiry."""
    resent = session_to_resend({"type": "realtime", "object": "realtime.session", "id": "s", "expires_at": 1,
                                "model": "m", "instructions": "Be brief."})
    assert resent == {"type": "realtime", "instructions": "Be brief."}


def test_a_reconnect_describes_itself_for_the_event_log() -> None:
    """A Reconnect's event says why, whether it was planned, and what it restored."""
    record = Reconnect(at=61.0, reason="the service ended the session", attempts=2, restored_items=4)
    event = record.as_event()
    assert event["type"] == "rk.reconnect" and event["restored_items"] == 4 and event["lost_response_id"] is None
    assert "4 items restored" in repr(record)


def test_faults_one_shot_then_standing() -> None:
    """expire_next/drop_next apply to the next session only; refusals are counted down."""
    faults = Faults(close_after_s=30.0, refuse=1)
    faults.drop_next(after_audio_deltas=3)
    first, second = faults.for_session(3600.0), faults.for_session(10.0)
    assert (first.close_after_s, first.drop_after_audio_deltas, first.drops) == (30.0, 3, True)
    assert (second.close_after_s, second.drops) == (10.0, False)
    assert [faults.take_refusal(), faults.take_refusal()] == [True, False] and faults.refused == 1
    with pytest.raises(ValueError, match="positive"):
        Faults(close_after_s=0)


def test_replay_answers_in_order_and_reports_a_different_input(tmp_path: Path, answer: np.ndarray) -> None:
    """ReplayAnswers gives each turn's recorded words and exact audio; a differing input is a mismatch."""
    writer = RecordingWriter.create(tmp_path / "a.rkrec")
    text_turn(writer, 0.0, "hi", answer, "r1")
    writer.close()
    seen: list[ReplayMismatch] = []
    answers = ReplayAnswers(Recording.load(tmp_path / "a.rkrec").turns, pace="recorded", on_mismatch=seen.append)
    got = answers.answer(TurnContext(user_text="bye"), {"format": {"type": "audio/pcm"}}, True)
    assert got.text == "Hello there." and got.audio == answer.astype("<i2").tobytes()
    assert got.wait_ms == pytest.approx(19.0)
    assert [(m.recorded, m.got) for m in seen] == [("hi", "bye")] and "'hi'" in str(seen[0])


def test_cli_options_build_a_replaying_server_with_faults(tmp_path: Path, answer: np.ndarray) -> None:
    """--replay and --fault-* make a server whose sessions answer from the recording, with those faults."""
    from realtime_kit.server.__main__ import parse_args, server_of

    writer = RecordingWriter.create(tmp_path / "a.rkrec")
    text_turn(writer, 0.0, "hi", answer, "r1")
    writer.close()
    server = server_of(parse_args(["--replay", str(tmp_path / "a.rkrec"), "--replay-pace", "fast",
                                   "--fault-refuse", "1", "--fault-close-after-s", "30"]))
    assert server.faults.take_refusal() and not server.faults.take_refusal()
    assert server.faults.for_session(server.max_session_s).close_after_s == 30
    proto = server._make_protocol("gpt-realtime", 30.0)
    proto.start()
    proto.receive(json.dumps({"type": "conversation.item.create", "item": {
        "type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi"}]}}))
    proto.receive(json.dumps({"type": "response.create"}))
    events = []
    while (out := proto.next_event()) is not None:
        events.append(out.event)
    said = [e["transcript"] for e in events if e["type"] == "response.output_audio_transcript.done"]
    sent = b"".join(base64.b64decode(e["delta"]) for e in events if e["type"] == "response.output_audio.delta")
    assert said == ["Hello there."] and sent == answer.astype("<i2").tobytes()


def test_replay_converts_recorded_audio_for_a_g711_session(tmp_path: Path, answer: np.ndarray) -> None:
    """A session that asks for audio/pcmu gets the recorded answer converted: 8 kHz mu-law of the same length."""
    writer = RecordingWriter.create(tmp_path / "a.rkrec")
    text_turn(writer, 0.0, "hi", answer, "r1")
    writer.close()
    answers = ReplayAnswers(Recording.load(tmp_path / "a.rkrec").turns, pace="fast")
    got = answers.answer(TurnContext(user_text="hi"), {"format": {"type": "audio/pcmu"}}, True)
    assert got.audio is not None and len(got.audio) == len(answer) // 3  # 0.2 s at 8000 one-byte samples
    assert got.wait_ms == 0.0
