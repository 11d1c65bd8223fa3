"""The conversation: its items in order, and the client's create, delete, retrieve and truncate.

An item keeps its wire form without audio bytes; the audio of each content part lives beside it,
so events stay small and a truncate can cut the bytes the client heard.

    >>> conversation = Conversation(Ids(seed=1))
    >>> text = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi"}]}
    >>> before, item = conversation.create(text, None, session={})
    >>> before, item.wire["status"], conversation.find(item.id) is item
    (None, 'completed', True)
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .audio_format import bytes_per_ms, ms_of, sample_width
from .images import check_images
from .session_config import format_kind
from .wire import ClientError, Ids, b64decode, json_copy
from .work import Work

__all__ = ["Conversation", "Item"]


@dataclass(eq=False)
class Item:
    """A conversation item: its wire form (no audio bytes) plus the audio of each content part."""

    wire: dict[str, Any]
    audio: dict[int, bytearray] = field(default_factory=dict)
    audio_format: str = "audio/pcm"
    heard: str | None = None               # transcription of its input audio, once computed
    hearing: Work | None = None            # the engine work that computes it, while asked for
    response_id: str | None = None         # set while the response that writes it is in flight

    @property
    def id(self) -> str:
        return str(self.wire["id"])

    def audio_ms(self, index: int) -> float:
        return ms_of(len(self.audio.get(index, b"")), self.audio_format)

    @classmethod
    def user_audio(cls, item_id: str, data: bytes, kind: str) -> Item:
        """The user message a commit makes of buffered audio (transcript filled in later, if at all)."""
        content = [{"type": "input_audio", "transcript": None}]
        return cls({"id": item_id, "type": "message", "role": "user",
                    "status": "completed", "content": content}, audio={0: bytearray(data)}, audio_format=kind)


class Conversation:
    """The items of the default conversation, in order, with the client events that edit them."""

    def __init__(self, ids: Ids) -> None:
        self._ids = ids
        self.items: list[Item] = []

    def find(self, item_id: str) -> Item | None:
        return next((item for item in self.items if item.id == item_id), None)

    def __contains__(self, item: Item) -> bool:
        return item in self.items

    def add(self, item: Item, previous_item_id: str | None = None, *, at_start: bool = False) -> str | None:
        """Insert ``item``; returns the id of the item before it (None when first)."""
        if at_start:
            self.items.insert(0, item)
            return None
        if previous_item_id is None:
            before = self.items[-1].id if self.items else None
            self.items.append(item)
            return before
        index = next(i for i, existing in enumerate(self.items) if existing.id == previous_item_id)
        self.items.insert(index + 1, item)
        return previous_item_id

    def previous_id(self, item: Item) -> str | None:
        """The id of the item just before ``item`` (None when it is first)."""
        index = self.items.index(item)
        return self.items[index - 1].id if index else None

    # -- client events -----------------------------------------------------------------------------

    def create(self, raw: Mapping[str, Any], previous: str | None, session: Mapping[str, Any],
               ) -> tuple[str | None, Item]:
        """``conversation.item.create``: the new item and the id of the item before it."""
        if previous not in (None, "root") and self.find(previous) is None:
            raise ClientError("invalid_value", f"Previous item with id '{previous}' does not exist; use the id "
                              "of an item in the conversation, 'root', or leave it out.", "previous_item_id")
        item = self.from_client(raw, "item", session)
        if self.find(item.id) is not None:
            raise ClientError("invalid_value", f"Item with id '{item.id}' already exists; leave 'id' out to let "
                              "the server choose one.", "item.id")
        before = self.add(item, None if previous == "root" else previous, at_start=previous == "root")
        return before, item

    def from_client(self, raw: Mapping[str, Any], path: str, session: Mapping[str, Any]) -> Item:
        """An item as the client wrote it, completed, with ids filled and its audio moved aside.

        As the service echoes them: no ``object``; a function_call_output carries no ``status``.
        """
        status = {} if raw.get("type") == "function_call_output" else {"status": "completed"}
        wire = {"id": raw.get("id") or self._ids.new("item_"), "type": raw.get("type"), **status,
                **{k: json_copy(v) for k, v in raw.items() if k not in ("id", "type", "object", "status")}}
        if str(wire["type"]).startswith("mcp_"):  # the SDK's MCP items carry no status
            wire.pop("status", None)
        if wire["type"] == "function_call":
            wire.setdefault("call_id", self._ids.new("call_", 16))
        item = Item(wire)
        if wire["type"] == "message":
            _take_audio(item, path, session)
            check_images(item.wire, path)
        return item

    def response_input(self, raw_items: list[Any] | None, session: Mapping[str, Any]) -> list[Item]:
        """The items of a ``response.create``'s ``input``: references resolved, new items not added."""
        items: list[Item] = []
        for index, raw in enumerate(raw_items or []):
            if raw.get("type") == "item_reference":
                found = self.find(raw["id"])
                if found is None:
                    raise ClientError("invalid_value", f"Item with id '{raw['id']}' does not exist in the "
                                      "conversation; reference an existing item.", f"response.input[{index}].id")
                items.append(found)
            else:
                items.append(self.from_client(raw, f"response.input[{index}]", session))
        return items

    def delete(self, item_id: str) -> Item:
        item = self._existing(item_id, "deleting")
        self.items.remove(item)
        return item

    def retrieved(self, item_id: str) -> dict[str, Any]:
        """The item's wire form with its audio put back as base64."""
        item = self._existing(item_id, "retrieving")
        wire = json_copy(item.wire)
        for index, data in item.audio.items():
            wire["content"][index]["audio"] = base64.b64encode(bytes(data)).decode("ascii")
        return wire

    def truncatable(self, item_id: str, index: int) -> Item:
        """The assistant item whose audio part ``index`` a ``conversation.item.truncate`` may cut."""
        item = self._existing(item_id, "truncating")
        content = item.wire.get("content", [])
        is_model_audio = item.wire.get("type") == "message" and item.wire.get("role") == "assistant" \
            and any(part.get("type") == "output_audio" for part in content)
        if not is_model_audio:  # the service's code and message for a user item or an item without audio
            raise ClientError("unsupported_content_type", "Only model output audio messages can be truncated",
                              "item_id")
        if not 0 <= index < len(content) or content[index].get("type") != "output_audio":
            raise ClientError("invalid_value", f"Item '{item.id}' has no audio content at index {index}; "
                              "use content_index 0 for the assistant's audio.", "content_index")
        return item

    def truncate(self, item: Item, index: int, end_ms: int) -> None:
        """Cut part ``index`` at ``end_ms``: its audio bytes; the transcript goes, as on the service.

        The service deletes the server-side transcript so no text the user did not hear stays in the context.
        """
        duration = item.audio_ms(index)
        if end_ms < 0 or end_ms > duration:
            raise ClientError("invalid_value", f"Audio content of {duration:.0f}ms is already shorter than "
                              f"{end_ms}ms; audio_end_ms must be within the audio played.", "audio_end_ms")
        keep = int(end_ms * bytes_per_ms(item.audio_format))
        keep -= keep % sample_width(item.audio_format)
        del item.audio[index][keep:]
        item.wire["content"][index]["transcript"] = ""

    def _existing(self, item_id: str, doing: str) -> Item:
        item = self.find(item_id)
        if item is None:
            raise ClientError("invalid_value", f"Error {doing} item: the item with id '{item_id}' does not "
                              "exist in the conversation.", "item_id")
        return item


def _take_audio(item: Item, path: str, session: Mapping[str, Any]) -> None:
    """Move base64 audio out of the wire content into the item's audio store."""
    role = item.wire.get("role")
    item.audio_format = format_kind(session, "input" if role == "user" else "output")
    for index, part in enumerate(item.wire.get("content", [])):
        if part.get("type") in ("input_audio", "output_audio"):
            encoded = part.pop("audio", None) or ""
            item.audio[index] = bytearray(b64decode(encoded, f"{path}.content[{index}].audio"))
            part.setdefault("transcript", None)
