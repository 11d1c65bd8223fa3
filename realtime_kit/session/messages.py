"""The conversation as words, both sides, in order: the part of the fold a transcript view reads.

    messages = Messages()                       # Conversation keeps one and feeds it every server event
    messages.apply(event)                       # returns the item id it changed, if any
    [(m.role, m.text, m.note) for m in messages]   # [("user", "what time is it", ""), ("assistant", ...)]

A user message appears when its speech starts (words follow with the transcription) or when a typed
item is added; an assistant message when its output item is added, growing with each transcript or
text delta. Pure: no asyncio, no network, no clock.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

Role = Literal["user", "assistant"]


@dataclass
class Message:
    """One message item as a transcript shows it."""

    item_id: str
    role: Role
    text: str = ""
    pending: bool = True                # speech still being transcribed, or the assistant still speaking
    response_id: str | None = None      # the response that produced an assistant message
    heard_ms: int | None = None         # where the listener cut it off (conversation.item.truncated)
    transcription_failed: bool = False

    @property
    def note(self) -> str:
        """What a reader should know beside the words ("interrupted: 1.23 s heard"), or ""."""
        if self.heard_ms is not None:
            return f"interrupted: {self.heard_ms / 1000:.2f} s heard"
        return "transcription failed" if self.transcription_failed else ""


class Messages:
    """Message items in the order they appeared, by item id."""

    def __init__(self) -> None:
        self._by_id: dict[str, Message] = {}
        self._unanswered: str | None = None   # the latest user message no response has claimed yet

    def __iter__(self) -> Iterator[Message]:
        return iter(list(self._by_id.values()))

    def __len__(self) -> int:
        return len(self._by_id)

    def get(self, item_id: str | None) -> Message | None:
        """The message with this item id, if there is one."""
        return self._by_id.get(item_id) if item_id else None

    def claim_unanswered(self) -> str | None:
        """The latest user message since the last claim (what a new response answers), once."""
        claimed, self._unanswered = self._unanswered, None
        return claimed

    def apply(self, event: Any) -> str | None:
        """Fold one server event (an SDK model); returns the id of the message it changed."""
        handler = _HANDLERS.get(getattr(event, "type", "") or "")
        return handler(self, event) if handler is not None else None

    # -- handlers, one per event type (the GA event name is the comment) ----------------------------

    def _speech_started(self, event: Any) -> str | None:
        # input_audio_buffer.speech_started: the user's item id is known before its words
        return self._message("user", event.item_id).item_id if event.item_id else None

    def _item(self, event: Any) -> str | None:
        # conversation.item.added / .done / .created / .retrieved
        item = event.item
        role = getattr(item, "role", None)
        if getattr(item, "type", None) != "message" or role not in ("user", "assistant") or not item.id:
            return None
        message = self._message(role, item.id)
        words = _content_words(getattr(item, "content", None) or [])
        if words and not message.text:
            message.text = words
        if words if role == "user" else event.type == "conversation.item.done":
            message.pending = False  # typed words are complete as they arrive; an answer once its item is done
        return message.item_id

    def _output_item(self, event: Any) -> str | None:
        # response.output_item.added: an assistant message begins (its words follow)
        item = event.item
        if getattr(item, "type", None) != "message" or not item.id:
            return None
        self._message("assistant", item.id).response_id = event.response_id
        return str(item.id)

    def _words_delta(self, event: Any) -> str:
        # response.output_audio_transcript.delta / response.output_text.delta
        message = self._message("assistant", event.item_id)
        message.response_id = message.response_id or event.response_id
        message.text += event.delta or ""
        return message.item_id

    def _transcript_done(self, event: Any) -> str:
        # response.output_audio_transcript.done: the server's final words win
        message = self._message("assistant", event.item_id)
        if event.transcript is not None:
            message.text = event.transcript
        return message.item_id

    def _text_done(self, event: Any) -> str:
        # response.output_text.done
        message = self._message("assistant", event.item_id)
        if event.text is not None:
            message.text = event.text
        return message.item_id

    def _transcription_delta(self, event: Any) -> str:
        # conversation.item.input_audio_transcription.delta
        message = self._message("user", event.item_id)
        message.text += event.delta or ""
        return message.item_id

    def _transcription_completed(self, event: Any) -> str:
        # conversation.item.input_audio_transcription.completed
        message = self._message("user", event.item_id)
        message.text, message.pending = (event.transcript or "").strip(), False
        return message.item_id

    def _transcription_failed(self, event: Any) -> str:
        # conversation.item.input_audio_transcription.failed
        message = self._message("user", event.item_id)
        message.pending, message.transcription_failed = False, True
        return message.item_id

    def _truncated(self, event: Any) -> str | None:
        # conversation.item.truncated: the listener heard only audio_end_ms of it
        message = self._by_id.get(event.item_id)
        if message is None:
            return None
        message.heard_ms, message.pending = int(event.audio_end_ms), False
        return message.item_id

    def _deleted(self, event: Any) -> str | None:
        # conversation.item.deleted
        return event.item_id if self._by_id.pop(event.item_id, None) is not None else None

    def response_done(self, response_id: str) -> list[str]:
        """response.done: its messages stop growing; returns their ids."""
        done = [m for m in self._by_id.values() if m.response_id == response_id and m.pending]
        for message in done:
            message.pending = False
        return [m.item_id for m in done]

    def _message(self, role: Role, item_id: str) -> Message:
        message = self._by_id.get(item_id)
        if message is None:
            message = self._by_id[item_id] = Message(item_id, role)
            if role == "user":
                self._unanswered = item_id
        return message


_HANDLERS: dict[str, Callable[[Messages, Any], str | None]] = {
    "input_audio_buffer.speech_started": Messages._speech_started,
    "conversation.item.added": Messages._item,
    "conversation.item.done": Messages._item,
    "conversation.item.created": Messages._item,
    "conversation.item.retrieved": Messages._item,
    "response.output_item.added": Messages._output_item,
    "response.output_audio_transcript.delta": Messages._words_delta,
    "response.output_text.delta": Messages._words_delta,
    "response.output_audio_transcript.done": Messages._transcript_done,
    "response.output_text.done": Messages._text_done,
    "conversation.item.input_audio_transcription.delta": Messages._transcription_delta,
    "conversation.item.input_audio_transcription.completed": Messages._transcription_completed,
    "conversation.item.input_audio_transcription.failed": Messages._transcription_failed,
    "conversation.item.truncated": Messages._truncated,
    "conversation.item.deleted": Messages._deleted,
}


def _content_words(parts: list[Any]) -> str:
    """The text (or transcript) of an item's content parts."""
    words = []
    for part in parts:
        get = part.get if isinstance(part, Mapping) else lambda key, p=part: getattr(p, key, None)
        words.append(str(get("text") or get("transcript") or ""))
    return "".join(words).strip()
