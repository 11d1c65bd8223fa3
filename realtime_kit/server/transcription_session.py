"""Transcription sessions (``?intent=transcription``, ``session.type: "transcription"``): config and output.

Pure functions of dicts and event iterators; `RealtimeProtocol` calls them when its intent is
"transcription". Such a session has no model answering: committed audio (by server VAD or by the
client) becomes a user item whose transcription streams as
``conversation.item.input_audio_transcription.delta`` events, then ``.completed``; no responses.

    >>> session = default_transcription_session("sess_1", expires_at=0)
    >>> session["type"], session["audio"]["input"]["transcription"]
    ('transcription', None)
    >>> update = {"type": "transcription", "audio": {"input": {"transcription": {"model": "gpt-transcribe"}}}}
    >>> updated_transcription_session(session, update)["audio"]["input"]["transcription"]["model"]
    'gpt-transcribe'

Where the service's behaviour is documented, it is followed: the connection asks for a transcription
session with ``intent=transcription`` in its URL (the SDK's ``realtime.connect`` docstring), and a
session.update of the other type is refused ("Passing a transcription session update event to a
realtime session is not allowed", as quoted in community.openai.com/t/1366640).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from difflib import get_close_matches
from typing import Any

from ..rules import transcription_model_names, unsupported_transcription_options
from .audio_format import PCM_RATE
from .items import Item
from .noise import merged_noise_reduction
from .wire import ClientError, dig, json_copy

__all__ = [
    "LOGPROBS", "check_transcription", "default_transcription_session", "refined_transcription",
    "transcription_only", "updated_transcription_session",
]

# The include value that asks for logprobs on the transcription events (the SDK's `include` literal).
LOGPROBS = "item.input_audio_transcription.logprobs"
# A keyword replaces a heard word this close to it (difflib ratio): the local analogue of "guide transcription".
KEYWORD_CUTOFF = 0.75


def default_transcription_session(session_id: str, expires_at: int) -> dict[str, Any]:
    """The effective session of a new transcription connection: transcription off until the client picks a model."""
    return {
        "type": "transcription",
        "object": "realtime.transcription_session",
        "id": session_id,
        "expires_at": expires_at,
        "include": None,
        "audio": {"input": {
            "format": {"type": "audio/pcm", "rate": PCM_RATE},
            "transcription": None,
            "noise_reduction": None,
            "turn_detection": {"type": "server_vad", "threshold": 0.5, "prefix_padding_ms": 300,
                               "silence_duration_ms": 500},
        }},
    }


def updated_transcription_session(current: Mapping[str, Any], update: Mapping[str, Any]) -> dict[str, Any]:
    """The transcription session after a ``session.update``; a `ClientError` the service would send instead."""
    if update.get("type") != "transcription":
        raise ClientError("invalid_value", "Passing a realtime session update event to a transcription "
                          "session is not allowed. Send session.type 'transcription' here, or open a realtime "
                          "session (without intent=transcription) to talk to a model.", "session.type")
    merged = json_copy(dict(current))
    if "include" in update:
        merged["include"] = json_copy(update["include"])
    target = merged["audio"]["input"]
    for key, value in (dig(update, "audio", "input") or {}).items():
        if key == "transcription" and isinstance(value, Mapping):
            value = {"model": None, "language": None, "prompt": None, **value}
        elif key == "noise_reduction":
            value = merged_noise_reduction(target.get(key), value)
        elif key == "turn_detection" and isinstance(value, Mapping) and isinstance(target.get(key), Mapping) \
                and target[key].get("type") == value.get("type"):
            value = {**target[key], **value}
        target[key] = json_copy(value)
    check_transcription(target.get("transcription"), "session.audio.input.transcription")
    return merged


def check_transcription(transcription: Any, path: str) -> None:
    """Refuse a transcription model the SDK does not list, or an option its model does not take."""
    if not isinstance(transcription, Mapping) or transcription.get("model") is None:
        return
    model, names = transcription["model"], transcription_model_names()
    if model not in names:
        guess = get_close_matches(str(model), names, n=1)
        hint = f" Did you mean '{guess[0]}'?" if guess else ""
        supported = ", ".join(f"'{name}'" for name in names)
        raise ClientError("invalid_value", f"Invalid value: '{model}'. Supported values are: {supported}.{hint}",
                          f"{path}.model")
    for option in unsupported_transcription_options(dict(transcription)):
        raise ClientError("unsupported_parameter", f"Unsupported parameter: '{path}.{option}' is not supported "
                          f"with this model ({model}).", f"{path}.{option}")


def transcription_only(event_type: str) -> ClientError:
    """The error for a client event that asks a transcription session for a model response."""
    return ClientError("invalid_value", f"{event_type} is not available in a transcription session: it "
                       "only transcribes the input audio. Open a realtime session to get responses.", "type")


def refined_transcription(events: Iterator[Any], session: Mapping[str, Any],
                          item: Item | None = None) -> Iterator[Any]:
    """The transcription events with the session's keywords applied and logprobs added when included.

    Keywords: a heard word close to a keyword (difflib ratio >= `KEYWORD_CUTOFF`) is written as the
    keyword, in the deltas and the completed transcript alike. Logprobs: the local recogniser reports
    no confidences, so each word token carries logprob 0.0; the shape is the service's.
    """
    transcription = dig(session, "audio", "input", "transcription") or {}
    keywords = [str(k) for k in transcription.get("keywords") or []]
    logprobs = LOGPROBS in (session.get("include") or [])
    for out in events:
        if out is None:  # a job waiting on engine work (the server's offloaded engines) passes that on
            yield out
            continue
        event = out.event
        if event["type"].endswith(".delta"):
            event["delta"] = _with_keywords(event["delta"], keywords)
            if logprobs:
                event["logprobs"] = _logprobs(event["delta"])
        elif event["type"].endswith(".completed"):
            event["transcript"] = _with_keywords(event["transcript"], keywords)
            if item is not None:  # the item keeps what the client was told
                item.wire["content"][0]["transcript"] = event["transcript"]
            if logprobs:
                event["logprobs"] = _logprobs(event["transcript"])
        yield out


def _with_keywords(text: str, keywords: Sequence[str]) -> str:
    if not keywords:
        return text

    def replace(match: re.Match[str]) -> str:
        word = match.group(0)
        lowered = {k.lower(): k for k in keywords}
        close = get_close_matches(word.lower(), list(lowered), n=1, cutoff=KEYWORD_CUTOFF)
        return lowered[close[0]] if close else word

    return re.sub(r"[\w'-]+", replace, text)


def _logprobs(text: str) -> list[dict[str, Any]]:
    return [{"token": token, "logprob": 0.0, "bytes": list(token.encode())} for token in re.findall(r"\s*\S+", text)]
