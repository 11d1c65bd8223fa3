"""Session config: build the GA nested dict from friendly keywords, check it, explain the fix.

The allowed keys and enum values come from the installed SDK's types (``openai.types.realtime``, read
in schema.py); only the keywords, ranges and preview-to-GA renames are written down (keys.py),
because the SDK does not know them. checks.py words the errors; changes.py compares what the
server made of a session with what was asked::

    >>> build_session(voice="coral", vad_threshold=0.6)["audio"]
    {'output': {'voice': 'coral'}, 'input': {'turn_detection': {'type': 'server_vad', 'threshold': 0.6}}}
    >>> build_session({"type": "realtime", "modalities": ["audio"]})  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    realtime_kit.errors.ConfigError: session.update: 'modalities' is the preview-era name; ...
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping
from typing import Any

from ..errors import ConfigError
from ..spec import SpecViolation, validate_session
from .changes import NOT_SET, Change, format_changes, session_changes
from .checks import check_values, closest, friendly, reject_preview_keys
from .keys import (
    CONTEXT,
    FLAT_KEYWORDS,
    FLAT_PATHS,
    FORMATS,
    PREVIEW_KEYS,
    SWITCHES,
    TRANSCRIPTION,
    TURN_DETECTION,
    TURN_DETECTION_KEYWORDS,
)
from .response import build_response, response_keys
from .schema import allowed_keys, allowed_values, ga_voices, read_only_keys, session_keys, vad_types
from .tree import ABSENT, Path, get_at, merge, plain, set_at

# The public names, here and in the config_* modules they come from (imports keep working from here).
__all__ = [
    "CONTEXT",
    "FLAT_KEYWORDS",
    "FLAT_PATHS",
    "FORMATS",
    "NOT_SET",
    "PREVIEW_KEYS",
    "Change",
    "Path",
    "allowed_keys",
    "allowed_values",
    "build_response",
    "build_session",
    "check_session",
    "format_changes",
    "ga_voices",
    "read_only_keys",
    "response_keys",
    "session_changes",
    "session_keys",
    "vad_types",
]


def build_session(config: Mapping[str, Any] | None = None, /, **flat: Any) -> dict[str, Any]:
    """Build a checked GA session dict (``type: "realtime"``) from a whole dict and/or flat keywords.

    Flat keywords are deep-merged onto ``config``; an object whose ``type`` changes is replaced.

    ==========================  =================================================================
    keyword                     GA session path (value)
    ==========================  =================================================================
    instructions                instructions
    voice, speed                audio.output.voice ("alloy", ..., or {"id": ...}), .speed (0.25..1.5)
    output_modalities           output_modalities ("audio" or "text"; a string or a one-item list)
    max_output_tokens           max_output_tokens (1..4096 or "inf")
    tools, tool_choice          tools, tool_choice
    tracing, truncation         tracing, truncation
    reasoning_effort            reasoning.effort ("minimal" .. "xhigh"; reasoning models: gpt-realtime-2.x)
    parallel_tool_calls         parallel_tool_calls (True/False; reasoning models only)
    input_format, output_format audio.input.format, audio.output.format ("pcm16" | "g711_ulaw" |
                                "g711_alaw" | "audio/pcm" | "audio/pcmu" | "audio/pcma" | dict)
    noise_reduction             audio.input.noise_reduction ("near_field" | "far_field" | None)
    transcription               audio.input.transcription (True = whisper-1, a model, dict, None)
    transcription_language      audio.input.transcription.language (turns whisper-1 on if off)
    turn_detection              audio.input.turn_detection ("server_vad" | "semantic_vad" | dict |
                                None/False = off, then the client commits audio itself)
    vad_threshold               audio.input.turn_detection.threshold (0..1; implies server_vad)
    prefix_padding_ms,          audio.input.turn_detection.<same name> (server_vad)
    silence_duration_ms,
    idle_timeout_ms
    create_response,            audio.input.turn_detection.<same name> (both VAD types)
    interrupt_response
    eagerness                   audio.input.turn_detection.eagerness (implies semantic_vad)
    ==========================  =================================================================

    Any other top-level GA key (``audio``, ``include``, ``prompt``...) is accepted as a keyword too.
    An effective session (from ``session.updated``) can be passed back as ``config``: its read-only
    ``id``, ``object`` and ``expires_at`` are dropped.
    ``None`` leaves a setting as it is, except for turn_detection, transcription, noise_reduction
    and tracing, where None (or False) turns the feature off.

        >>> build_session(instructions="Be brief.", output_modalities="text")
        {'type': 'realtime', 'instructions': 'Be brief.', 'output_modalities': ['text']}
    """
    session = plain(config) if config is not None else {}
    if not isinstance(session, dict):
        raise ConfigError(f"{CONTEXT}: the session config must be a dict in the GA shape, not "
                          f"{type(config).__name__}; or pass keywords such as voice='alloy'.")
    for key in read_only_keys():
        session.pop(key, None)
    reject_preview_keys(session)
    for name in flat:
        _check_keyword(name)
    flat = {name: plain(value) for name, value in flat.items()}
    session = merge(session, _overlay(flat))
    _apply_transcription(session, flat)
    _apply_turn_detection(session, flat)
    session.setdefault("type", "realtime")
    ordered = {"type": session.pop("type"), **session}
    return check_session(ordered)


def check_session(session: Mapping[str, Any], *, context: str = CONTEXT) -> dict[str, Any]:
    """Check a full GA session dict strictly (the SDK's types plus documented ranges); return a copy.

        >>> check_session({"type": "realtime", "audio": {"output": {"voice": "coral"}}})
        {'type': 'realtime', 'audio': {'output': {'voice': 'coral'}}}
    """
    copied = plain(session)
    if not isinstance(copied, dict):
        raise ConfigError(f"{context}: the session must be a dict, not {type(session).__name__}.")
    reject_preview_keys(copied, context)
    if "type" not in copied:
        raise ConfigError(f"{context}: the GA session needs \"type\": \"realtime\"; add it (build_session "
                          "adds it for you).", path="type", suggestion="realtime")
    try:
        validate_session(copied)
    except SpecViolation as violation:
        raise friendly(violation, copied, context) from None
    check_values(copied, context)
    return copied


# -- flat keywords ---------------------------------------------------------------------------------


def _check_keyword(name: str) -> None:
    if name in FLAT_PATHS or name in session_keys():
        return
    if name in PREVIEW_KEYS:
        _, keyword = PREVIEW_KEYS[name]
        fix = f"use {keyword}=" if keyword else "remove it"
        raise ConfigError(f"{CONTEXT}: '{name}=' is a preview-era setting; {fix}"
                          f"{'' if keyword else ' (it is not part of the GA session)'}.", path=name,
                          suggestion=keyword)
    candidates = sorted(set(FLAT_KEYWORDS) | set(session_keys()))
    guess = closest(name, candidates)
    hint = f"did you mean '{guess}'?" if guess else f"the keywords are: {', '.join(FLAT_KEYWORDS)}."
    raise ConfigError(f"{CONTEXT}: unknown keyword '{name}'; {hint}", path=name, suggestion=guess)


def _overlay(flat: Mapping[str, Any]) -> dict[str, Any]:
    """The nested dict set by the simple keywords (turn detection and transcription come later)."""
    overlay: dict[str, Any] = {}
    for name, value in flat.items():
        if name in TURN_DETECTION_KEYWORDS or name in ("turn_detection", "transcription", "transcription_language"):
            continue
        if value is None and name not in SWITCHES:
            continue
        path = FLAT_PATHS.get(name, (name,))
        set_at(overlay, path, _normalise(name, value))
    return overlay


def _normalise(name: str, value: Any) -> Any:
    if name in ("input_format", "output_format") and isinstance(value, str):
        if value not in FORMATS:
            guess = closest(value, list(FORMATS))
            raise ConfigError(f"{CONTEXT}: unknown audio format {value!r} for {name}=; "
                              f"{f'did you mean {guess!r}? ' if guess else ''}use one of: {', '.join(FORMATS)}.",
                              path=".".join(map(str, FLAT_PATHS[name])), suggestion=guess)
        return dict(FORMATS[value])
    if name == "noise_reduction":
        return None if value is None or value is False else ({"type": value} if isinstance(value, str) else value)
    if name == "output_modalities" and isinstance(value, str):
        return [value]
    if name == "speed":
        return _number(value)
    return value


def _apply_transcription(session: dict[str, Any], flat: Mapping[str, Any]) -> None:
    asked = flat.get("transcription", ABSENT)
    language = flat.get("transcription_language")
    if asked is not ABSENT:
        value = _transcription(asked)
        current = get_at(session, TRANSCRIPTION)
        merged = merge(current, value) if isinstance(current, dict) and isinstance(value, dict) else value
        set_at(session, TRANSCRIPTION, merged)
    if language is None:
        return
    current = get_at(session, TRANSCRIPTION)
    if current is None:
        raise ConfigError(f"{CONTEXT}: transcription_language={language!r} needs transcription, but it is "
                          "turned off; drop transcription=None or the language.", path="audio.input.transcription")
    base = current if isinstance(current, dict) else {"model": "whisper-1"}
    set_at(session, TRANSCRIPTION, {**base, "language": language})


def _transcription(value: Any) -> Any:
    if value is None or value is False:
        return None
    if value is True:
        return {"model": "whisper-1"}
    if isinstance(value, str):
        return {"model": value}
    return value


def _apply_turn_detection(session: dict[str, Any], flat: Mapping[str, Any]) -> None:
    params = {name: flat[name] for name in TURN_DETECTION_KEYWORDS if flat.get(name) is not None}
    asked = flat.get("turn_detection", ABSENT)
    current = get_at(session, TURN_DETECTION)
    if asked is not ABSENT:
        value = _turn_detection(asked)
        same_type = isinstance(current, dict) and isinstance(value, dict) and current.get("type") == value.get("type")
        current = merge(current, value) if same_type else value
    if not params:
        if asked is not ABSENT:
            set_at(session, TURN_DETECTION, current)
        return
    if current is None:
        names = ", ".join(f"{name}=" for name in params)
        verb = "needs" if len(params) == 1 else "need"
        raise ConfigError(f"{CONTEXT}: {names} {verb} turn detection, but turn_detection is None (off); "
                          "set turn_detection='server_vad' or drop them.", path="audio.input.turn_detection")
    if current is ABSENT:
        current = {"type": "semantic_vad" if "eagerness" in params else "server_vad"}
    detection = dict(current)
    for name, value in params.items():
        key = str(FLAT_PATHS[name][-1])
        detection[key] = _number(value, integer=key.endswith("_ms")) if key != "eagerness" else value
    set_at(session, TURN_DETECTION, detection)


def _turn_detection(value: Any) -> Any:
    if value is None or value is False:
        return None
    if value is True:
        return {"type": "server_vad"}
    if isinstance(value, str):
        kinds = vad_types()
        if value not in kinds:
            guess = closest(value, list(kinds))
            raise ConfigError(f"{CONTEXT}: unknown turn_detection {value!r}; "
                              f"{f'did you mean {guess!r}? ' if guess else ''}use one of: "
                              f"{', '.join(map(repr, kinds))}, or None to turn it off.",
                              path="audio.input.turn_detection.type", suggestion=guess)
        return {"type": value}
    return value


def _number(value: Any, *, integer: bool = False) -> Any:
    """Numbers from widgets and numpy as plain JSON numbers (200.0 ms -> 200); anything else unchanged."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return value
    if integer:
        return int(float(value)) if float(value).is_integer() else float(value)
    return int(value) if isinstance(value, numbers.Integral) else float(value)

