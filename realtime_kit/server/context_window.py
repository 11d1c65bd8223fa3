"""The model's context window: which conversation items a response reads, per the session's ``truncation``.

The rule, from the SDK's docstrings (RealtimeSessionCreateRequest.truncation and
RealtimeTruncationRetentionRatio): when the conversation's tokens exceed the model's input limit,
"messages (starting from the oldest) will not be included in the model's context"; with
``retention_ratio`` r, "messages will be dropped until r of the maximum allowed tokens are used";
``token_limits.post_instructions`` sets that maximum for the conversation after the instructions
(tools included); ``"disabled"`` never truncates but errors when the conversation is over the limit.

Items stay in the conversation (no event deletes them); they leave the model's context for good,
so the next turns start from the same place (which is what keeps the service's cache warm). The
service reports it in what it charges: a response's ``usage.input_tokens`` counts only the items
kept. Tokens are the server's estimates (`usage.py`), images by the vision rule (`images.py`).

    >>> window = ContextWindow()
    >>> window.limit({"type": "retention_ratio", "retention_ratio": 0.5,
    ...               "token_limits": {"post_instructions": 1000}}, model_limit=28_224, instruction_tokens=200)
    (1000, 500)
    >>> window.limit("auto", model_limit=28_224, instruction_tokens=224)
    (28000, 28000)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from .images import image_tokens_of
from .items import Item
from .usage import context_tokens, text_tokens
from .wire import ClientError

__all__ = ["ContextWindow", "item_tokens", "over_limit_error"]


def item_tokens(item: Item) -> int:
    """The tokens one item takes in the model's context: its text and audio, and its images."""
    text, audio = context_tokens([item], "")
    return text + audio + image_tokens_of(item)


def over_limit_error(tokens: int, limit: int) -> ClientError:
    """What a response gets when truncation is disabled and the conversation does not fit."""
    return ClientError("context_length_exceeded", f"Your input exceeds the context window of this model: the "
                       f"conversation is about {tokens} tokens after the instructions, the limit is {limit}. "
                       "Delete items, or set truncation to 'auto' or a retention_ratio.", "truncation")


class ContextWindow:
    """Remembers which items have left the model's context; picks the items a response reads."""

    def __init__(self, tokens_of: Callable[[Item], int] = item_tokens) -> None:
        self._tokens_of = tokens_of
        self._dropped: set[str] = set()

    @property
    def dropped(self) -> frozenset[str]:
        """Ids of the items no longer in the model's context, for good."""
        return frozenset(self._dropped)

    def limit(self, truncation: Any, *, model_limit: int, instruction_tokens: int) -> tuple[int, int]:
        """(when to truncate, what to keep) in conversation tokens after the instructions."""
        ratio = 1.0
        most = model_limit - instruction_tokens
        if isinstance(truncation, Mapping):
            ratio = float(truncation.get("retention_ratio", 1.0))
            custom = (truncation.get("token_limits") or {}).get("post_instructions")
            most = min(most, int(custom)) if custom is not None else most
        return most, int(most * ratio)

    def fit(self, items: Sequence[Item], settings: Mapping[str, Any], model_limit: int) -> list[Item]:
        """The items still in context, after dropping the oldest if they are over the limit."""
        truncation = (settings.get("session_view") or {}).get("truncation", "auto")
        instructions = settings.get("instructions") or ""
        instruction_tokens = text_tokens(instructions) + text_tokens(str(settings.get("tools") or ""))
        most, keep = self.limit(truncation, model_limit=model_limit, instruction_tokens=instruction_tokens)
        kept = [item for item in items if item.id not in self._dropped]
        sizes = [self._tokens_of(item) for item in kept]
        total = sum(sizes)
        if total <= most:
            return kept
        if truncation == "disabled":
            raise over_limit_error(total, most)
        while kept and total > keep:
            self._dropped.add(kept.pop(0).id)
            total -= sizes.pop(0)
        return kept
