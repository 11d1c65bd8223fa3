"""The pure fold: server events (validated against the SDK) in, responses, audio, timings out."""

from __future__ import annotations

import base64
import itertools
from typing import Any

import numpy as np
import pytest
from openai.types.realtime import RealtimeServerEvent
from pydantic import TypeAdapter

from realtime_kit.session.conversation import REQUEST_TAG, AudioDeltaRecord, Conversation, Response

pytestmark = pytest.mark.pure

_ADAPTER: TypeAdapter[Any] = TypeAdapter(RealtimeServerEvent)
_ids = itertools.count()


def ev(kind: str, **fields: Any) -> Any:
    """A server event model, validated by the SDK's own TypeAdapter."""
    return _ADAPTER.validate_python({"type": kind, "event_id": f"event_{next(_ids)}", **fields})


def pcm_b64(samples: list[int]) -> str:
    return base64.b64encode(np.asarray(samples, dtype="<i2").tobytes()).decode()


def response_model(rid: str, status: str = "in_progress", tag: str | None = None, **extra: Any) -> dict:
    body: dict[str, Any] = {"id": rid, "object": "realtime.response", "status": status, "output": [], **extra}
    if tag is not None:
        body["metadata"] = {REQUEST_TAG: tag}
    return body


def audio_turn(rid: str, item: str, chunks: list[list[int]], words: list[str], tag: str | None = None) -> list:
    """The GA event sequence of one spoken answer."""
    events = [ev("response.created", response=response_model(rid, tag=tag)),
              ev("response.output_item.added", response_id=rid, output_index=0,
                 item={"id": item, "type": "message", "role": "assistant", "content": []})]
    for chunk, word in itertools.zip_longest(chunks, words):
        if word is not None:
            events.append(ev("response.output_audio_transcript.delta", response_id=rid, item_id=item,
                             output_index=0, content_index=0, delta=word))
        if chunk is not None:
            events.append(ev("response.output_audio.delta", response_id=rid, item_id=item, output_index=0,
                             content_index=0, delta=pcm_b64(chunk)))
    events.append(ev("response.done", response=response_model(
        rid, "completed", tag=tag, usage={"total_tokens": 7, "input_tokens": 3, "output_tokens": 4})))
    return events


def fold(conversation: Conversation, events: list, start: float = 1.0, step: float = 0.1) -> None:
    for index, event in enumerate(events):
        conversation.apply(event, at=start + index * step)


def test_spoken_answer_collects_transcript_audio_usage_and_status() -> None:
    """A spoken turn folds into one Response with its transcript, int16 audio, usage and status."""
    conversation = Conversation()
    reply = conversation.request(at=1.0, tag="r1")
    fold(conversation, audio_turn("resp_1", "item_1", [[1, 2], [3, -4]], ["Hello", " there"], tag="r1"))
    assert reply.done and reply.status == "completed"
    assert reply.id == "resp_1" and reply.item_id == "item_1"
    assert reply.transcript == "Hello there"
    assert reply.audio.samples.tolist() == [1, 2, 3, -4]
    assert reply.audio.rate == 24000
    assert reply.usage == {"total_tokens": 7, "input_tokens": 3, "output_tokens": 4}
    assert conversation.responses == [reply] and conversation.pending == []


def test_timings_are_seconds_from_the_request() -> None:
    """created, first_transcript, first_audio and done are measured from the request time."""
    conversation = Conversation()
    reply = conversation.request(at=0.5, tag="r1")
    fold(conversation, audio_turn("resp_1", "item_1", [[0]], ["Hi"], tag="r1"), start=1.0, step=0.25)
    # events: created 1.0, item added 1.25, transcript 1.5, audio 1.75, done 2.0
    assert reply.timings == {"created": 0.5, "first_transcript": 1.0, "first_audio": 1.25, "done": 1.5}


def test_audio_deltas_are_kept_as_size_records_not_base64() -> None:
    """Response.events keeps each audio delta as its byte count, never the payload."""
    conversation = Conversation()
    reply = conversation.request(at=0.0, tag="t")
    fold(conversation, audio_turn("resp_1", "item_1", [[1, 2, 3]], [], tag="t"))
    records = [e for e in reply.events if isinstance(e, AudioDeltaRecord)]
    assert [r.nbytes for r in records] == [6]
    assert all(not hasattr(r, "delta") for r in records)


def test_audio_collection_reuses_the_built_audio_until_more_arrives() -> None:
    """Reading .audio twice builds it once; a new delta extends it."""
    conversation = Conversation()
    conversation.request(at=0.0, tag="t")
    events = audio_turn("resp_1", "item_1", [[1], [2]], [], tag="t")
    fold(conversation, events[:3])
    reply = conversation.responses[0]
    first = reply.audio
    assert reply.audio is first and first.samples.tolist() == [1]
    fold(conversation, events[3:])
    assert reply.audio.samples.tolist() == [1, 2]


def test_responses_are_matched_by_tag_not_order() -> None:
    """Two requests in flight are bound by their rk_request tags even if created out of order."""
    conversation = Conversation()
    first = conversation.request(at=0.0, tag="a")
    second = conversation.request(at=0.0, tag="b")
    fold(conversation, audio_turn("resp_b", "item_b", [[2]], ["B"], tag="b"))
    fold(conversation, audio_turn("resp_a", "item_a", [[1]], ["A"], tag="a"))
    assert (first.id, first.transcript) == ("resp_a", "A")
    assert (second.id, second.transcript) == ("resp_b", "B")


def test_untagged_response_claims_the_oldest_request_when_the_server_drops_metadata() -> None:
    """A server that does not echo metadata still binds responses to requests in order."""
    conversation = Conversation()
    first = conversation.request(at=0.0, tag="a")
    fold(conversation, audio_turn("resp_1", "item_1", [[1]], ["x"]))
    assert first.id == "resp_1"


def test_unrequested_response_gets_its_own_response() -> None:
    """A response nobody asked for (another client, VAD) is folded into a new Response."""
    conversation = Conversation()
    fold(conversation, audio_turn("resp_9", "item_9", [[5]], ["hey"]))
    assert [r.id for r in conversation.responses] == ["resp_9"]
    assert conversation.responses[0].transcript == "hey"


def test_text_output_is_collected_with_first_text_timing() -> None:
    """output_text deltas become Response.text, timed as first_text; the done event's text wins."""
    conversation = Conversation()
    reply = conversation.request(at=0.0, tag="t")
    fold(conversation, [
        ev("response.created", response=response_model("r", tag="t")),
        ev("response.output_text.delta", response_id="r", item_id="i", output_index=0, content_index=0,
           delta="Hel"),
        ev("response.output_text.delta", response_id="r", item_id="i", output_index=0, content_index=0,
           delta="lo"),
        ev("response.output_text.done", response_id="r", item_id="i", output_index=0, content_index=0,
           text="Hello!"),
        ev("response.done", response=response_model("r", "completed", tag="t")),
    ], start=0.0, step=1.0)
    assert reply.text == "Hello!" and reply.timings["first_text"] == 1.0
    assert reply.audio.duration == 0.0


def test_function_calls_are_listed_with_parsed_arguments() -> None:
    """A function_call output item becomes a ToolCall with its JSON arguments parsed."""
    conversation = Conversation()
    reply = conversation.request(at=0.0, tag="t")
    call = {"id": "item_fc", "type": "function_call", "name": "add", "call_id": "call_1",
            "arguments": '{"a": 1, "b": 2}', "status": "completed"}
    fold(conversation, [
        ev("response.created", response=response_model("r", tag="t")),
        ev("response.output_item.done", response_id="r", output_index=0, item=call),
        ev("response.done", response=response_model("r", "completed", tag="t", output=[call])),
    ])
    assert len(reply.tool_calls) == 1
    assert (reply.tool_calls[0].name, reply.tool_calls[0].arguments) == ("add", {"a": 1, "b": 2})
    assert reply.tool_calls[0].call_id == "call_1" and reply.tool_calls[0].response_id == "r"


def test_speech_events_time_an_audio_request_and_transcription_lands_on_it() -> None:
    """VAD events mark speech_started/stopped/committed on the audio request, then its input transcript."""
    conversation = Conversation()
    reply = conversation.request(at=10.0, audio_input=True)
    fold(conversation, [
        ev("input_audio_buffer.speech_started", audio_start_ms=100, item_id="u1"),
        ev("input_audio_buffer.speech_stopped", audio_end_ms=900, item_id="u1"),
        ev("input_audio_buffer.committed", item_id="u1"),
    ], start=10.5, step=0.5)
    fold(conversation, audio_turn("resp_1", "item_1", [[1]], ["ok"]), start=12.0)
    conversation.apply(ev("conversation.item.input_audio_transcription.completed", item_id="u1",
                          content_index=0, transcript="hello there",
                          usage={"type": "duration", "seconds": 1.0}), at=13.0)
    assert reply.id == "resp_1"
    assert reply.timings["speech_started"] == 0.5 and reply.timings["speech_stopped"] == 1.0
    assert reply.timings["committed"] == 1.5 and reply.timings["input_transcript"] == 3.0
    assert reply.input_item_id == "u1" and reply.input_transcript == "hello there"
    assert conversation.input_transcripts == {"u1": "hello there"}


def test_speech_nobody_requested_starts_its_own_turn() -> None:
    """A microphone turn (no request) gets a Response whose clock starts at speech_started."""
    conversation = Conversation()
    fold(conversation, [
        ev("input_audio_buffer.speech_started", audio_start_ms=0, item_id="u1"),
        ev("input_audio_buffer.speech_stopped", audio_end_ms=500, item_id="u1"),
        ev("input_audio_buffer.committed", item_id="u1"),
    ], start=5.0, step=1.0)
    fold(conversation, audio_turn("resp_1", "item_1", [[1]], ["yes"]), start=8.0)
    reply = conversation.responses[0]
    assert reply.timings["speech_started"] == 0.0 and reply.timings["committed"] == 2.0
    assert reply.timings["created"] == 3.0


def test_session_events_keep_the_effective_session() -> None:
    """session.created / session.updated replace the effective session dict and count updates."""
    conversation = Conversation()
    session = {"type": "realtime", "id": "sess_1", "model": "gpt-realtime",
               "audio": {"output": {"voice": "echo", "format": {"type": "audio/pcmu"}}}}
    conversation.apply(ev("session.created", session=session), at=0.0)
    assert conversation.session_created and conversation.session_updates == 0
    conversation.apply(ev("session.updated", session=session), at=1.0)
    assert conversation.session_updates == 1
    assert conversation.session["audio"]["output"]["voice"] == "echo"
    assert conversation.output_format == ("audio/pcmu", 8000)
    assert conversation.input_format == ("audio/pcm", 24000)


def test_g711_output_is_decoded_at_8khz() -> None:
    """With a G.711 output format, deltas are decoded as mu-law at 8 kHz."""
    conversation = Conversation()
    conversation.apply(ev("session.created", session={
        "type": "realtime", "audio": {"output": {"format": {"type": "audio/pcmu"}}}}), at=0.0)
    reply = conversation.request(at=0.0, tag="g")
    mulaw = base64.b64encode(bytes([0xFF] * 80)).decode()  # mu-law silence
    fold(conversation, [
        ev("response.created", response=response_model("r", tag="g")),
        ev("response.output_audio.delta", response_id="r", item_id="i", output_index=0, content_index=0,
           delta=mulaw),
        ev("response.done", response=response_model("r", "completed", tag="g")),
    ])
    assert reply.audio.rate == 8000 and len(reply.audio.samples) == 80
    assert np.abs(reply.audio.samples).max() <= 8


def test_cancelled_response_keeps_partial_audio_and_status_details() -> None:
    """A cancelled response is done, keeps what arrived, and exposes status_details."""
    conversation = Conversation()
    reply = conversation.request(at=0.0, tag="c")
    events = audio_turn("r", "i", [[1, 1]], ["par"], tag="c")[:-1]
    events.append(ev("response.done", response=response_model(
        "r", "cancelled", tag="c", status_details={"type": "cancelled", "reason": "client_cancelled"})))
    fold(conversation, events)
    assert reply.done and reply.status == "cancelled"
    assert reply.status_details == {"type": "cancelled", "reason": "client_cancelled"}
    assert reply.audio.samples.tolist() == [1, 1]


def test_withdrawn_request_is_not_claimed() -> None:
    """A request the server refused is withdrawn and later responses do not bind to it."""
    conversation = Conversation()
    refused = conversation.request(at=0.0, tag="x")
    conversation.withdraw(refused)
    fold(conversation, audio_turn("r", "i", [[1]], ["a"]))
    assert refused.id is None and conversation.responses[0] is not refused


def test_response_repr_and_mimebundle_show_the_transcript() -> None:
    """repr is cheap and names the transcript; the HTML bundle has the transcript and a player."""
    conversation = Conversation()
    reply = conversation.request(at=0.0, tag="t")
    fold(conversation, audio_turn("r", "i", [[100] * 2400], ["Hello <world>"], tag="t"))
    assert "Hello <world>" in repr(reply)
    bundle = reply._repr_mimebundle_()
    assert "Hello &lt;world&gt;" in bundle["text/html"] and "<audio" in bundle["text/html"]
    assert set(reply._repr_mimebundle_(include=["text/plain"])) == {"text/plain"}


def test_timeline_plots_the_marks() -> None:
    """Response.timeline returns a matplotlib Figure."""
    import matplotlib

    matplotlib.use("Agg")
    conversation = Conversation()
    reply = conversation.request(at=0.0, tag="t")
    fold(conversation, audio_turn("r", "i", [[100] * 2400], ["Hi"], tag="t"))
    figure = reply.timeline()
    assert figure.axes


def test_final_walks_the_tool_follow_up_chain() -> None:
    """Response.final is the last response of a tool-call chain."""
    first, second = Response(0.0), Response(0.0)
    first.follow_up = second
    assert first.final is second and second.final is second


@pytest.mark.parametrize("kind", ["conversation.item.added", "conversation.item.done"])
def test_items_are_tracked_by_id(kind: str) -> None:
    """conversation.item.added/done store the item; conversation.item.deleted removes it."""
    conversation = Conversation()
    item = {"id": "u1", "type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi"}]}
    conversation.apply(ev(kind, item=item), at=0.0)
    assert conversation.items["u1"].role == "user"
    conversation.apply(ev("conversation.item.deleted", item_id="u1"), at=1.0)
    assert "u1" not in conversation.items
