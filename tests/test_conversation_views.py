"""What views read from the one fold: messages in order (both sides, as words) and change notices."""

from __future__ import annotations

import itertools
from types import SimpleNamespace
from typing import Any

import pytest
from openai.types.realtime import RealtimeServerEvent
from pydantic import TypeAdapter
from test_conversation import audio_turn, fold

from realtime_kit.session.conversation import Change, Conversation
from realtime_kit.session.messages import Messages

pytestmark = pytest.mark.pure

_ADAPTER: TypeAdapter[Any] = TypeAdapter(RealtimeServerEvent)
_ids = itertools.count()


def ev(kind: str, **fields: Any) -> Any:
    """A server event model, validated by the SDK's own TypeAdapter."""
    return _ADAPTER.validate_python({"type": kind, "event_id": f"view_{next(_ids)}", **fields})


def user_text(item_id: str, text: str) -> Any:
    return ev("conversation.item.added", item={"id": item_id, "type": "message", "role": "user",
                                               "content": [{"type": "input_text", "text": text}]})


def spoken_user_turn() -> list[Any]:
    """A VAD turn: speech, commit, its transcription, then the spoken answer."""
    return [ev("input_audio_buffer.speech_started", item_id="u1", audio_start_ms=100),
            ev("input_audio_buffer.speech_stopped", item_id="u1", audio_end_ms=900),
            ev("input_audio_buffer.committed", item_id="u1"),
            ev("conversation.item.added", item={"id": "u1", "type": "message", "role": "user",
                                                "content": [{"type": "input_audio", "transcript": None}]}),
            ev("conversation.item.input_audio_transcription.delta", item_id="u1", content_index=0, delta="what "),
            ev("conversation.item.input_audio_transcription.completed", item_id="u1", content_index=0,
               transcript=" what time is it ", usage={"type": "duration", "seconds": 1.0}),
            *audio_turn("resp_1", "a1", [[1] * 2400], ["It is", " late."])]


def test_a_spoken_turn_folds_into_two_messages_and_a_response_that_answers_it() -> None:
    """Speech becomes a user message with its transcript; the answer an assistant message; the response
    knows which user message it answers and keeps its timings from speech on."""
    conversation = Conversation()
    fold(conversation, spoken_user_turn())
    lines = [(m.role, m.item_id, m.text, m.pending) for m in conversation.messages]
    assert lines == [("user", "u1", "what time is it", False), ("assistant", "a1", "It is late.", False)]
    [reply] = conversation.responses
    assert reply.answers == "u1" and conversation.messages.get("a1").response_id == "resp_1"
    assert {"speech_started", "speech_stopped", "committed", "first_audio", "done"} <= reply.timings.keys()


def test_a_user_message_shows_at_speech_start_and_is_pending_until_transcribed() -> None:
    """speech_started makes an empty pending user message; a failed transcription ends it with a note."""
    messages = Messages()
    messages.apply(ev("input_audio_buffer.speech_started", item_id="u1", audio_start_ms=0))
    [message] = messages
    assert (message.role, message.text, message.pending, message.note) == ("user", "", True, "")
    messages.apply(ev("conversation.item.input_audio_transcription.failed", item_id="u1", content_index=0,
                      error={"type": "transcription_error", "message": "no speech"}))
    assert (message.pending, message.note) == (False, "transcription failed")


def test_typed_messages_are_complete_and_follow_ups_answer_nothing() -> None:
    """A typed message is complete as it arrives; a response with no new user message is a follow-up."""
    conversation = Conversation()
    fold(conversation, [user_text("u1", "hello"), *audio_turn("resp_1", "a1", [[1]], ["Hi"])])
    fold(conversation, audio_turn("resp_2", "a2", [[1]], ["More"]))
    first, second = conversation.responses
    assert conversation.messages.get("u1").pending is False
    assert (first.answers, second.answers) == ("u1", None)


def test_truncation_marks_what_was_heard_and_the_server_words_win() -> None:
    """conversation.item.truncated notes the ms heard; a transcript .done replaces the streamed words."""
    conversation = Conversation()
    fold(conversation, audio_turn("resp_1", "a1", [[1]], ["Hel", "lo"]))
    fold(conversation, [ev("response.output_audio_transcript.done", response_id="resp_1", item_id="a1",
                           output_index=0, content_index=0, transcript="Hello!"),
                        ev("conversation.item.truncated", item_id="a1", content_index=0, audio_end_ms=1234)])
    message = conversation.messages.get("a1")
    assert (message.text, message.heard_ms, message.note) == ("Hello!", 1234, "interrupted: 1.23 s heard")
    fold(conversation, [ev("conversation.item.deleted", item_id="a1")])
    assert conversation.messages.get("a1") is None and len(conversation.messages) == 0


def test_subscribers_are_told_what_changed_and_can_unsubscribe() -> None:
    """Each folded event that changed something tells subscribers its kind, response and item."""
    conversation = Conversation()
    changes: list[Change] = []
    unsubscribe = conversation.subscribe(changes.append)
    fold(conversation, [ev("session.created", session={"type": "realtime"}), *spoken_user_turn()])
    kinds = [(c.kind, c.event_type, c.item_id) for c in changes]
    assert kinds[0] == ("session", "session.created", None)
    assert ("message", "input_audio_buffer.speech_started", "u1") in kinds
    assert ("message", "conversation.item.input_audio_transcription.completed", "u1") in kinds
    [audio] = [c for c in changes if c.kind == "audio"]
    reply = conversation.responses[0]
    assert audio.response is reply and audio.item_id == "a1" and len(reply.last_audio) == 4800
    assert changes[-1].event_type == "response.done" and changes[-1].response is reply
    unsubscribe()
    fold(conversation, [ev("error", error={"type": "invalid_request_error", "message": "no"})])
    assert changes[-1].event_type == "response.done"


def test_a_failing_subscriber_warns_and_the_fold_goes_on() -> None:
    """A subscriber that raises is reported as a RuntimeWarning; later subscribers and the fold still run."""
    conversation = Conversation()
    seen: list[str] = []

    def broken(change: Change) -> None:
        raise KeyError("oops")

    conversation.subscribe(broken)
    conversation.subscribe(lambda change: seen.append(change.kind))
    with pytest.warns(RuntimeWarning, match="subscriber 'broken' raised KeyError"):
        fold(conversation, [ev("error", error={"type": "server_error", "message": "boom"})])
    assert seen == ["error"] and conversation.last_error.message == "boom"


def test_a_malformed_event_costs_the_words_view_only() -> None:
    """An event the messages view cannot read is reported as a RuntimeWarning; the responses still fold."""
    conversation = Conversation()
    fold(conversation, audio_turn("resp_1", "a1", [[1]], ["Hi"]))
    odd = SimpleNamespace(type="conversation.item.truncated", item_id="a1", audio_end_ms="not a number")
    with pytest.warns(RuntimeWarning, match="could not fold the words of a conversation.item.truncated"):
        conversation.apply(odd, at=2.0)
    assert conversation.responses[0].transcript == "Hi" and conversation.messages.get("a1").heard_ms is None
