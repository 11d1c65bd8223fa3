"""Small wording helpers shared by the local assistant's replies and its tool calls.

    >>> as_sentence("the sky is green"), key_word("the sky is green"), spoken_number(2.50)
    ('The sky is green.', 'Green.', '2.5')
    >>> words("What's the weather in Paris?"), stem("cities")
    (["what's", 'the', 'weather', 'in', 'paris'], 'city')
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

__all__ = [
    "STOPWORDS", "as_sentence", "key_word", "last_word", "plural", "speakable_output", "spoken_number", "stem",
    "words",
]

# Words that say nothing about which tool is meant (generic verbs, question words, fillers).
_STOPWORD_TEXT = (
    "a an the and or but if of to in on at by for with from into about as is are was were be been am do does "
    "did get gets set sets fetch find look lookup return returns call calls use uses using tool tools function "
    "current given some any this that these those what when where which who whom how why can could would "
    "should will shall may might please tell me my you your our we it its it's give show check make let")
STOPWORDS = frozenset(_STOPWORD_TEXT.split())


def words(text: str) -> list[str]:
    """Lower-case words (digits count; an apostrophe suffix stays on its word)."""
    return re.findall(r"[a-z0-9]+(?:'[a-z]+)?", text.lower())


def stem(word: str) -> str:
    """A crude plural fold so "cities" ~ "city" and "forecasts" ~ "forecast"."""
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith("s") and not word.endswith("ss") and len(word) > 3:
        return word[:-1]
    return word


def as_sentence(text: str) -> str:
    """Text with its first letter capitalised and closing punctuation."""
    text = " ".join(text.split())
    if not text:
        return text
    text = text[0].upper() + text[1:]
    return text if text.endswith((".", "!", "?")) else text + "."


def key_word(text: str) -> str:
    """The longest word (first on ties), capitalised, with a full stop: the one-word answer."""
    candidates = [word for word in words(text) if word not in STOPWORDS] or words(text) or ["okay"]
    longest = max(candidates, key=len)
    return longest[0].upper() + longest[1:] + "."


def last_word(text: str) -> str:
    found = words(text)
    return (found[-1].capitalize() + ".") if found else ""


def speakable_output(output: str) -> str:
    """A function output as a sentence: JSON objects become "key value, key value"."""
    try:
        data = json.loads(output)
    except ValueError:
        data = output
    if isinstance(data, Mapping):
        spoken = ", ".join(f"{key.replace('_', ' ')} {_plain(value)}" for key, value in data.items())
    else:
        spoken = _plain(data)
    spoken = spoken.strip() or "nothing"
    if len(spoken) > 300:
        spoken = spoken[:297].rstrip() + "..."
    return spoken if spoken.endswith((".", "!", "?")) else spoken + "."


def _plain(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, float):
        return spoken_number(value)
    return json.dumps(value) if isinstance(value, list | dict) else str(value)


def spoken_number(value: float) -> str:
    """An integer without ".0", else four significant digits."""
    return str(int(value)) if float(value).is_integer() else f"{value:.4g}"


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"
