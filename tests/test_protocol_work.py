"""The protocol core is sans-I/O for engines: it asks for work and goes on when the results come back."""

from __future__ import annotations

import base64
import json
from typing import Any

import numpy as np
import pytest
from test_protocol import check, pcm, silence, speech

from realtime_kit.server.protocol import RealtimeProtocol
from realtime_kit.server.work import DetectSpeech, Listen, Synthesize, Transcribe, Work

pytestmark = pytest.mark.pure


def offloaded(**session: Any) -> RealtimeProtocol:
    proto = RealtimeProtocol(offload=True, id_prefix_seed=3)
    proto.start()
    if session:
        proto.receive(json.dumps({"type": "session.update", "session": {"type": "realtime", **session}}))
    pull_all(proto)
    return proto


def pull_all(proto: RealtimeProtocol) -> list[dict[str, Any]]:
    events = []
    while (out := proto.next_event()) is not None:
        check(out.event)
        events.append(out.event)
    return events


def kinds(events: list[dict[str, Any]]) -> list[str]:
    return [e["type"] for e in events]


def ask_text(proto: RealtimeProtocol, text: str) -> None:
    proto.receive(json.dumps({"type": "conversation.item.create", "item": {
        "type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}}))
    proto.receive(json.dumps({"type": "response.create"}))


def test_a_response_waits_for_synthesis_and_goes_on_when_it_is_done() -> None:
    """The reply stops before its first audio until the shell hands back the Synthesize job's samples."""
    proto = offloaded()
    ask_text(proto, "hello")
    before = pull_all(proto)
    assert "response.created" in kinds(before) and "response.output_audio.delta" not in kinds(before)
    work = proto.work_to_do()
    assert work and all(isinstance(w.job, Synthesize) for w in work)
    assert proto.next_event() is None                     # still waiting: nothing to send, no engine called
    for job in work:
        proto.work_done(job, np.full(4800, 1000, np.int16))
    after = kinds(pull_all(proto))
    assert "response.output_audio.delta" in after and after[-2:] == ["response.done", "rate_limits.updated"]


def test_audio_deltas_carry_every_sentences_samples_once_in_order_across_sentence_ends() -> None:
    """Deltas cut across sentence ends hold each sentence's samples once, in order, as the seed's 4800/7200/12000
    bytes; the shared (read-only) samples the workers hand back are read, never changed."""
    proto = offloaded()
    ask_text(proto, "Please tell me a story.")
    handed: list[np.ndarray] = []
    deltas: list[bytes] = []
    while True:
        events = pull_all(proto)
        deltas += [base64.b64decode(e["delta"]) for e in events if e["type"] == "response.output_audio.delta"]
        if "response.done" in kinds(events):
            break
        work = proto.work_to_do()
        assert work, "the reply stopped without asking for more speech"
        for job in work:
            count, first = 5_001 + 1_337 * len(handed), 7_919 * len(handed)   # odd lengths: deltas straddle ends
            samples = ((np.arange(count) + first) % 32_000).astype(np.int16)
            samples.flags.writeable = False            # as the workers' cache shares them between sessions
            handed.append(samples)
            proto.work_done(job, samples)
    assert len(handed) >= 3
    spoken = np.frombuffer(b"".join(deltas), "<i2")
    assert np.array_equal(spoken, np.concatenate(handed))
    assert [len(d) for d in deltas[:3]] == [4800, 7200, 12000] and all(len(d) <= 12000 for d in deltas)


def test_a_failed_synthesis_fails_the_response() -> None:
    """An engine error handed back through work_done ends the response as failed, the session goes on."""
    proto = offloaded()
    ask_text(proto, "hello")
    pull_all(proto)
    for work in proto.work_to_do():
        proto.work_done(work, error=RuntimeError("espeak-ng crashed"))
    done = next(e for e in pull_all(proto) if e["type"] == "response.done")
    assert done["response"]["status"] == "failed"


def test_cancel_while_waiting_on_engine_work_ends_the_response_at_once() -> None:
    """response.cancel mid-synthesis: cancelled response.done without waiting for the job."""
    proto = offloaded()
    ask_text(proto, "tell me a story")
    pull_all(proto)
    proto.receive(json.dumps({"type": "response.cancel"}))
    done = next(e for e in pull_all(proto) if e["type"] == "response.done")
    assert done["response"]["status"] == "cancelled"


def detect(proto: RealtimeProtocol, samples: np.ndarray, found: list[tuple[str, int]]) -> list[Work]:
    """Append ``samples``; answer its detection job with ``found``; the other jobs that follow."""
    proto.receive(json.dumps({"type": "input_audio_buffer.append", "audio": pcm(samples)}))
    [work] = proto.work_to_do()
    assert isinstance(work.job, DetectSpeech)
    proto.work_done(work, found)
    return proto.work_to_do()


def test_a_turn_is_heard_live_and_its_words_come_back_beside_the_reply() -> None:
    """Detection results start and stop a turn; the turn is fed to a live decoder; its words arrive later."""
    proto = offloaded(audio={"input": {"transcription": {"model": "gpt-4o-transcribe"}}})
    assert detect(proto, silence(0.5), []) == []
    started = detect(proto, speech(0.5), [("speech_started", 600)])
    assert [w.job.step for w in started if isinstance(w.job, Listen)] == ["start", "feed"]
    fed = detect(proto, speech(0.5), [])
    assert [w.job.step for w in fed] == ["feed"] and fed[0].job.samples.size == 12000
    stopped = detect(proto, silence(0.5), [("speech_stopped", 1400)])
    end = [w for w in stopped if isinstance(w.job, Listen)]
    assert [w.job.step for w in end] == ["end"]
    events = kinds(pull_all(proto))
    assert events.index("input_audio_buffer.speech_stopped") < events.index("input_audio_buffer.committed")
    assert events[-1] == "response.created"            # created at once; the reply waits for the words
    proto.work_done(end[0], "hello there")
    words = [e for e in pull_all(proto) if e["type"].startswith("conversation.item.input_audio_transcription")]
    assert [e.get("delta") for e in words] == ["hello", " there"]
    assert any(isinstance(w.job, Synthesize) for w in proto.work_to_do())   # and now the reply is spoken


def test_a_turn_streamed_in_small_appends_reaches_its_decoder_in_pieces_of_100_ms_and_whole() -> None:
    """20 ms appends (a browser's frames) are fed to the live decoder at least 100 ms at a time (each feed
    switches the process's decoder); the end brings the rest, so the decoder hears the turn once, in full."""
    proto = offloaded()
    sound = np.random.default_rng(5).integers(-8000, 8000, 24000 * 2, dtype=np.int16)
    step = 480  # 20 ms at 24 kHz
    feeds: list[np.ndarray] = []
    for index, start in enumerate(range(0, 24000, step)):  # the first second: speech from 100 ms on
        found = [("speech_started", 100)] if index == 10 else []
        feeds += [w.job.samples for w in detect(proto, sound[start:start + step], found)
                  if isinstance(w.job, Listen) and w.job.step != "start"]
    assert len(feeds) >= 8 and all(piece.size >= 2400 for piece in feeds)
    [end] = [w.job for w in detect(proto, sound[24000:24000 + step], [("speech_stopped", 1000)])
             if isinstance(w.job, Listen)]
    assert end.step == "end" and 0 < end.samples.size < 2400 + step
    heard = np.concatenate([*feeds, end.samples])
    assert heard.size >= 21600                             # from the start (100 ms) to at least the stop (1000 ms)
    assert np.array_equal(heard, sound[2400:2400 + heard.size])     # every sample once, in order


def test_a_cleared_buffer_drops_the_old_detectors_answer() -> None:
    """Detection answers for audio cleared since are ignored (no phantom turn)."""
    proto = offloaded()
    proto.receive(json.dumps({"type": "input_audio_buffer.append", "audio": pcm(speech(0.5))}))
    [work] = proto.work_to_do()
    proto.receive(json.dumps({"type": "input_audio_buffer.clear"}))
    proto.work_done(work, [("speech_started", 0)])
    assert "input_audio_buffer.speech_started" not in kinds(pull_all(proto))


def test_an_item_sent_with_audio_is_transcribed_when_a_reply_needs_its_words() -> None:
    """A user audio item from conversation.item.create asks for a Transcribe job before the reply is planned."""
    proto = offloaded()
    proto.receive(json.dumps({"type": "conversation.item.create", "item": {
        "type": "message", "role": "user", "content": [{"type": "input_audio", "audio": pcm(speech(1.0))}]}}))
    proto.receive(json.dumps({"type": "response.create", "response": {"output_modalities": ["text"]}}))
    pull_all(proto)
    [work] = proto.work_to_do()
    assert isinstance(work.job, Transcribe) and work.job.rate == 24000
    proto.work_done(work, "what is six times seven")
    text = "".join(e["delta"] for e in pull_all(proto) if e["type"] == "response.output_text.delta")
    assert "6 times 7 is 42" in text                  # the reply answers the words handed back (number words)
