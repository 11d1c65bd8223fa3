"""Token estimates and rate limits: deterministic stand-ins for the service's counts.

Text is ~0.75 words per token; audio is `AUDIO_TOKENS_PER_SECOND` tokens per second, input and
output. Cached tokens are always 0.

    >>> text_tokens("one two three"), audio_tokens(1500)
    (4, 15)
    >>> cut_to_tokens("one two three four five", 2)
    ('one', True)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from ..rules import transcription_usage_kind
from .items import Item
from .limits import MAX_OUTPUT_TOKENS, MAX_REPLY_CHARS

__all__ = [
    "AUDIO_TOKENS_PER_SECOND", "REASONING_SHARE", "audio_tokens", "context_tokens", "cut_to_tokens", "output_tokens",
    "rate_limits", "reasoning_tokens", "text_tokens", "transcription_usage", "usage",
]

WORDS_PER_TOKEN = 0.75
AUDIO_TOKENS_PER_SECOND = 10
RATE_LIMIT_REQUESTS, RATE_LIMIT_TOKENS = 5000, 400_000


def text_tokens(text: str | None) -> int:
    """Approximate text tokens: ~0.75 words per token."""
    words = len((text or "").split())
    return math.ceil(words / WORDS_PER_TOKEN) if words else 0


def audio_tokens(ms: float) -> int:
    return math.ceil(ms / 1000 * AUDIO_TOKENS_PER_SECOND)


def cut_to_tokens(text: str, max_tokens: Any) -> tuple[str, bool]:
    """``text`` cut to ``max_tokens``' worth of words (at least one) and `MAX_REPLY_CHARS`; whether it was cut.

    ``"inf"`` means the service's cap, `MAX_OUTPUT_TOKENS`.

        >>> cut_to_tokens("banana " * 20000, "inf")[0].count("banana") <= MAX_REPLY_CHARS // 7
        True
    """
    if not isinstance(max_tokens, int) or isinstance(max_tokens, bool):
        max_tokens = MAX_OUTPUT_TOKENS
    words = text.split()
    keep = max(1, math.floor(min(max_tokens, MAX_OUTPUT_TOKENS) * WORDS_PER_TOKEN))
    cut = len(words) > keep
    kept = " ".join(words[:keep]) if cut else text
    if len(kept) > MAX_REPLY_CHARS:
        kept, cut = kept[:MAX_REPLY_CHARS].rsplit(" ", 1)[0] or kept[:MAX_REPLY_CHARS], True
    return kept, cut


def context_tokens(items: Sequence[Item], instructions: str) -> tuple[int, int]:
    """(text tokens, audio tokens) a response reads: its instructions and its input items."""
    text = text_tokens(instructions)
    audio = 0
    for item in items:
        for index, part in enumerate(item.wire.get("content", []) or []):
            text += text_tokens(part.get("text") or (part.get("transcript") if index not in item.audio else ""))
            if index in item.audio:
                audio += audio_tokens(item.audio_ms(index))
        text += text_tokens(item.wire.get("arguments")) + text_tokens(item.wire.get("output"))
    return text, audio


def output_tokens(items: Sequence[Item]) -> tuple[int, int]:
    """(text tokens, audio tokens) a response wrote: transcripts, texts, arguments and audio."""
    text = sum(text_tokens(part.get("transcript") or part.get("text"))
               for item in items for part in item.wire.get("content", []))
    text += sum(text_tokens(item.wire.get("arguments")) for item in items)
    audio = sum(audio_tokens(item.audio_ms(0)) for item in items if item.audio)
    return text, audio


# Reasoning tokens per answer token, by effort: the local server's rule (low is the models' default).
REASONING_SHARE = {"minimal": 0.25, "low": 0.5, "medium": 1.0, "high": 2.0, "xhigh": 4.0}


def reasoning_tokens(answer_tokens: int, effort: str) -> int:
    """How many reasoning tokens the local server reports for an answer of ``answer_tokens`` text tokens.

        >>> reasoning_tokens(10, "low"), reasoning_tokens(10, "high")
        (5, 20)
    """
    return int(answer_tokens * REASONING_SHARE.get(effort, 0.5))


def usage(context: tuple[int, int], output: tuple[int, int], reasoning: int | None = None,
          images: int = 0) -> dict[str, Any]:
    """A ``response.done`` usage object from (text, audio) tokens in and out (reasoning, if the model says;
    the input images' tokens)."""
    in_text, in_audio = context
    out_text, out_audio = output
    details: dict[str, Any] = {"text_tokens": out_text, "audio_tokens": out_audio}
    if reasoning is not None:
        details["reasoning_tokens"] = reasoning
    return {
        "total_tokens": in_text + in_audio + images + out_text + out_audio,
        "input_tokens": in_text + in_audio + images,
        "output_tokens": out_text + out_audio,
        "input_token_details": {"text_tokens": in_text, "audio_tokens": in_audio, "image_tokens": images,
                                "cached_tokens": 0,
                                "cached_tokens_details": {"text_tokens": 0, "audio_tokens": 0, "image_tokens": 0}},
        "output_token_details": details,
    }


def transcription_usage(model: str, audio_ms: float, transcript: str) -> dict[str, Any]:
    """Usage of one input transcription: whole seconds for the whisper models (as recorded), tokens for the others."""
    if transcription_usage_kind(model) == "duration":
        return {"type": "duration", "seconds": math.ceil(audio_ms / 1000)}
    audio, text = audio_tokens(audio_ms), text_tokens(transcript)
    return {"type": "tokens", "input_tokens": audio, "output_tokens": text, "total_tokens": audio + text,
            "input_token_details": {"audio_tokens": audio, "text_tokens": 0}}


def rate_limits(responses_done: int, tokens_used: int) -> list[dict[str, Any]]:
    """The ``rate_limits.updated`` list after ``responses_done`` responses that used ``tokens_used``."""
    tokens_left = max(0, RATE_LIMIT_TOKENS - tokens_used)
    return [
        {"name": "requests", "limit": RATE_LIMIT_REQUESTS,
         "remaining": max(0, RATE_LIMIT_REQUESTS - responses_done), "reset_seconds": 60.0},
        {"name": "tokens", "limit": RATE_LIMIT_TOKENS, "remaining": tokens_left,
         "reset_seconds": round(60.0 * tokens_used / RATE_LIMIT_TOKENS, 3)},
    ]
