"""Session config: build the GA nested dict from friendly keywords, check it, explain the fix.

The allowed keys and enum values come from the installed SDK's types (``openai.types.realtime``);
only the preview-to-GA renames are written down here, because the SDK no longer knows them::

    >>> build_session(voice="coral", vad_threshold=0.6)["audio"]
    {'output': {'voice': 'coral'}, 'input': {'turn_detection': {'type': 'server_vad', 'threshold': 0.6}}}
    >>> build_session({"type": "realtime", "modalities": ["audio"]})  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    realtime_kit.errors.ConfigError: session.update: 'modalities' is the preview-era name; ...
"""

from __future__ import annotations

import copy
import difflib
import functools
import html
import math
import numbers
import re
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from .errors import ConfigError
from .spec import SpecViolation, validate_session

Path = tuple[str | int, ...]

CONTEXT = "session.update"

# Preview-era format strings and their GA objects (the flat input_format=/output_format= accept both).
FORMATS: dict[str, dict[str, Any]] = {
    "pcm16": {"type": "audio/pcm", "rate": 24000},
    "g711_ulaw": {"type": "audio/pcmu"},
    "g711_alaw": {"type": "audio/pcma"},
    "audio/pcm": {"type": "audio/pcm", "rate": 24000},
    "audio/pcmu": {"type": "audio/pcmu"},
    "audio/pcma": {"type": "audio/pcma"},
}

# Preview-era top-level session keys -> (where GA puts it, the flat keyword that sets it).
PREVIEW_KEYS: dict[str, tuple[str | None, str | None]] = {
    "modalities": ("output_modalities", "output_modalities"),
    "input_audio_format": ("audio.input.format", "input_format"),
    "output_audio_format": ("audio.output.format", "output_format"),
    "voice": ("audio.output.voice", "voice"),
    "speed": ("audio.output.speed", "speed"),
    "turn_detection": ("audio.input.turn_detection", "turn_detection"),
    "input_audio_transcription": ("audio.input.transcription", "transcription"),
    "input_audio_noise_reduction": ("audio.input.noise_reduction", "noise_reduction"),
    "max_response_output_tokens": ("max_output_tokens", "max_output_tokens"),
    "temperature": (None, None),
}

_TD = ("audio", "input", "turn_detection")
_TRANSCRIPTION = ("audio", "input", "transcription")

# Flat keyword -> the GA path it sets (turn detection and transcription keys are merged specially).
FLAT_PATHS: dict[str, Path] = {
    "instructions": ("instructions",),
    "voice": ("audio", "output", "voice"),
    "speed": ("audio", "output", "speed"),
    "output_modalities": ("output_modalities",),
    "max_output_tokens": ("max_output_tokens",),
    "tools": ("tools",),
    "tool_choice": ("tool_choice",),
    "tracing": ("tracing",),
    "truncation": ("truncation",),
    "input_format": ("audio", "input", "format"),
    "output_format": ("audio", "output", "format"),
    "noise_reduction": ("audio", "input", "noise_reduction"),
    "transcription": _TRANSCRIPTION,
    "transcription_language": (*_TRANSCRIPTION, "language"),
    "turn_detection": _TD,
    "vad_threshold": (*_TD, "threshold"),
    "prefix_padding_ms": (*_TD, "prefix_padding_ms"),
    "silence_duration_ms": (*_TD, "silence_duration_ms"),
    "idle_timeout_ms": (*_TD, "idle_timeout_ms"),
    "create_response": (*_TD, "create_response"),
    "interrupt_response": (*_TD, "interrupt_response"),
    "eagerness": (*_TD, "eagerness"),
}
FLAT_KEYWORDS = tuple(FLAT_PATHS)
_TD_PARAMS = ("vad_threshold", "prefix_padding_ms", "silence_duration_ms", "idle_timeout_ms",
              "create_response", "interrupt_response", "eagerness")
# For these, None or False means "turn it off" (an explicit null); for every other keyword None means "leave it".
_SWITCHES = ("turn_detection", "transcription", "noise_reduction", "tracing")

# Ranges the SDK documents in prose only: path -> (low, high).
_RANGES: dict[Path, tuple[float, float]] = {
    ("audio", "output", "speed"): (0.25, 1.5),
    (*_TD, "threshold"): (0.0, 1.0),
    (*_TD, "prefix_padding_ms"): (0, math.inf),
    (*_TD, "silence_duration_ms"): (0, math.inf),
    (*_TD, "idle_timeout_ms"): (0, math.inf),
    ("max_output_tokens",): (1, 4096),
    ("truncation", "retention_ratio"): (0.0, 1.0),
}

_ABSENT: Any = object()


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
    session = _plain(config) if config is not None else {}
    if not isinstance(session, dict):
        raise ConfigError(f"{CONTEXT}: the session config must be a dict in the GA shape, not "
                          f"{type(config).__name__}; or pass keywords such as voice='alloy'.")
    for key in read_only_keys():
        session.pop(key, None)
    _reject_preview_keys(session)
    for name in flat:
        _check_keyword(name)
    flat = {name: _plain(value) for name, value in flat.items()}
    session = _merge(session, _overlay(flat))
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
    plain = _plain(session)
    if not isinstance(plain, dict):
        raise ConfigError(f"{context}: the session must be a dict, not {type(session).__name__}.")
    _reject_preview_keys(plain, context)
    if "type" not in plain:
        raise ConfigError(f"{context}: the GA session needs \"type\": \"realtime\"; add it (build_session "
                          "adds it for you).", path="type", suggestion="realtime")
    try:
        validate_session(plain)
    except SpecViolation as violation:
        raise _friendly(violation, plain, context) from None
    _check_values(plain, context)
    return plain


# -- flat keywords ---------------------------------------------------------------------------------


@functools.cache
def session_keys() -> tuple[str, ...]:
    """The top-level keys of a GA session, from the SDK's RealtimeSessionCreateRequest."""
    from openai.types.realtime import RealtimeSessionCreateRequest

    return _model_keys(RealtimeSessionCreateRequest)


@functools.cache
def read_only_keys() -> tuple[str, ...]:
    """Keys the server reports in a session but a client cannot send (id, object, expires_at)."""
    from openai.types.realtime import RealtimeSessionCreateResponse

    return tuple(sorted(set(_model_keys(RealtimeSessionCreateResponse)) - set(session_keys())))


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
    guess = _closest(name, candidates)
    hint = f"did you mean '{guess}'?" if guess else f"the keywords are: {', '.join(FLAT_KEYWORDS)}."
    raise ConfigError(f"{CONTEXT}: unknown keyword '{name}'; {hint}", path=name, suggestion=guess)


def _overlay(flat: Mapping[str, Any]) -> dict[str, Any]:
    """The nested dict set by the simple keywords (turn detection and transcription come later)."""
    overlay: dict[str, Any] = {}
    for name, value in flat.items():
        if name in _TD_PARAMS or name in ("turn_detection", "transcription", "transcription_language"):
            continue
        if value is None and name not in _SWITCHES:
            continue
        path = FLAT_PATHS.get(name, (name,))
        _set(overlay, path, _normalise(name, value))
    return overlay


def _normalise(name: str, value: Any) -> Any:
    if name in ("input_format", "output_format") and isinstance(value, str):
        if value not in FORMATS:
            guess = _closest(value, list(FORMATS))
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
    asked = flat.get("transcription", _ABSENT)
    language = flat.get("transcription_language")
    if asked is not _ABSENT:
        value = _transcription(asked)
        current = _get(session, _TRANSCRIPTION)
        merged = _merge(current, value) if isinstance(current, dict) and isinstance(value, dict) else value
        _set(session, _TRANSCRIPTION, merged)
    if language is None:
        return
    current = _get(session, _TRANSCRIPTION)
    if current is None:
        raise ConfigError(f"{CONTEXT}: transcription_language={language!r} needs transcription, but it is "
                          "turned off; drop transcription=None or the language.", path="audio.input.transcription")
    base = current if isinstance(current, dict) else {"model": "whisper-1"}
    _set(session, _TRANSCRIPTION, {**base, "language": language})


def _transcription(value: Any) -> Any:
    if value is None or value is False:
        return None
    if value is True:
        return {"model": "whisper-1"}
    if isinstance(value, str):
        return {"model": value}
    return value


def _apply_turn_detection(session: dict[str, Any], flat: Mapping[str, Any]) -> None:
    params = {name: flat[name] for name in _TD_PARAMS if flat.get(name) is not None}
    asked = flat.get("turn_detection", _ABSENT)
    current = _get(session, _TD)
    if asked is not _ABSENT:
        value = _turn_detection(asked)
        same_type = isinstance(current, dict) and isinstance(value, dict) and current.get("type") == value.get("type")
        current = _merge(current, value) if same_type else value
    if not params:
        if asked is not _ABSENT:
            _set(session, _TD, current)
        return
    if current is None:
        names = ", ".join(f"{name}=" for name in params)
        verb = "needs" if len(params) == 1 else "need"
        raise ConfigError(f"{CONTEXT}: {names} {verb} turn detection, but turn_detection is None (off); "
                          "set turn_detection='server_vad' or drop them.", path="audio.input.turn_detection")
    if current is _ABSENT:
        current = {"type": "semantic_vad" if "eagerness" in params else "server_vad"}
    detection = dict(current)
    for name, value in params.items():
        key = str(FLAT_PATHS[name][-1])
        detection[key] = _number(value, integer=key.endswith("_ms")) if key != "eagerness" else value
    _set(session, _TD, detection)


def _turn_detection(value: Any) -> Any:
    if value is None or value is False:
        return None
    if value is True:
        return {"type": "server_vad"}
    if isinstance(value, str):
        kinds = vad_types()
        if value not in kinds:
            guess = _closest(value, list(kinds))
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


# -- the friendly layer over spec.py ----------------------------------------------------------------


def _reject_preview_keys(session: Mapping[str, Any], context: str = CONTEXT) -> None:
    for key in session:
        if key in PREVIEW_KEYS:
            raise _preview_error(key, context)
    for side in ("input", "output"):
        fmt = _get(session, ("audio", side, "format"))
        spelling = fmt if isinstance(fmt, str) else fmt.get("type") if isinstance(fmt, dict) else None
        if spelling in FORMATS and (isinstance(fmt, str) or not spelling.startswith("audio/")):
            ga = FORMATS[spelling]
            raise ConfigError(f"{context}: audio.{side}.format is {fmt!r}; the GA session wants {ga!r} "
                              f"(or the keyword {side}_format={spelling!r}).",
                              path=f"audio.{side}.format", suggestion=repr(ga))


def _preview_error(key: str, context: str) -> ConfigError:
    where, keyword = PREVIEW_KEYS[key]
    if where is None:
        return ConfigError(f"{context}: '{key}' is not part of the GA session; remove it.", path=key)
    if key in ("modalities", "max_response_output_tokens"):
        text = f"'{key}' is the preview-era name; the GA session calls it '{where}' (keyword {keyword}=)."
    else:
        text = f"top-level '{key}' is the preview-era place; the GA session puts it at {where} (keyword {keyword}=)."
    return ConfigError(f"{context}: {text}", path=key, suggestion=where)


def _friendly(violation: SpecViolation, session: Mapping[str, Any], context: str) -> ConfigError:
    path = _known_prefix(_parse_param(violation.param), session)
    where = _dotted(path)
    value = _get(session, path)
    if where != (violation.param or "").removeprefix("session."):
        # The violation points inside a union member that has no name in the data: describe the whole value.
        expected = _describe(_annotation_at(path, session))
        return ConfigError(f"{context}: {where} is {value!r}, which is not valid; it should be {expected}.",
                           path=where)
    if violation.code == "unknown_parameter":
        return _unknown_key(path, session, context)
    if violation.code == "missing_required_parameter":
        options = ", ".join(map(repr, allowed_values(path, session)))
        return ConfigError(f"{context}: {where} is required here; add it{f' (one of {options})' if options else ''}.",
                           path=where)
    if violation.code == "invalid_value":
        allowed = allowed_values(path, session)
        if allowed:
            return _bad_value(where, value, allowed, context)
    if violation.code == "invalid_type":
        expected = _describe(_annotation_at(path, session))
        if expected:
            return ConfigError(f"{context}: {where} should be {expected}, not {type(value).__name__} {value!r}.",
                               path=where)
    return ConfigError(f"{context}: {violation.message}", path=where)


def _known_prefix(path: Path, session: Mapping[str, Any]) -> Path:
    """The part of a violation's path that names real keys (pydantic adds union-member tags)."""
    for end in range(len(path)):
        present = _get(session, path[: end + 1]) is not _ABSENT
        missing_key = end == len(path) - 1 and str(path[end]) in allowed_keys(path[:end], session)
        if not (present or missing_key):
            return path[:end]
    return path


def _unknown_key(path: Path, session: Mapping[str, Any], context: str) -> ConfigError:
    key, parent = str(path[-1]), path[:-1]
    where = _dotted(parent) or "the session"
    allowed = allowed_keys(parent, session)
    guess = _closest(key, allowed)
    if guess:
        hint = f"did you mean '{guess}'?"
    elif not parent and key in FLAT_PATHS:
        hint = (f"'{key}' is a keyword, not a session key: pass {key}=... to build_session or session.update, "
                f"or set {_dotted(FLAT_PATHS[key])}.")
    elif (owner := _sibling_owner(key, parent, session)) is not None:
        hint = f"'{key}' belongs to {owner}; change the type or drop '{key}'."
    else:
        hint = f"allowed keys there: {', '.join(allowed)}."
    return ConfigError(f"{context}: unknown key '{key}' in {where}; {hint}", path=_dotted(path), suggestion=guess)


def _sibling_owner(key: str, parent: Path, session: Mapping[str, Any]) -> str | None:
    """The other `type` of a union object that does define ``key`` (threshold is server_vad's)."""
    annotation = _annotation_at(parent, session)
    for model in _models(annotation):
        if key in _model_keys(model):
            kinds = _literals(model.model_fields["type"].annotation) if "type" in model.model_fields else []
            return f"type {kinds[0]!r}" if kinds else model.__name__
    return None


def _bad_value(where: str, value: Any, allowed: list[Any], context: str) -> ConfigError:
    guess = _closest(value, [a for a in allowed if isinstance(a, str)]) if isinstance(value, str) else None
    hint = f"did you mean {guess!r}? " if guess else ""
    options = ", ".join(repr(a) for a in allowed)
    return ConfigError(f"{context}: invalid value {value!r} for {where}; {hint}allowed values: {options}.",
                       path=where, suggestion=guess)


def _check_values(session: Mapping[str, Any], context: str) -> None:
    """What the SDK types accept but the service refuses: unknown voice names, ranges, both modalities."""
    voice = _get(session, ("audio", "output", "voice"))
    if isinstance(voice, str) and voice not in ga_voices():
        guess = _closest(voice, list(ga_voices()))
        raise ConfigError(f"{context}: unknown voice {voice!r} at audio.output.voice; "
                          f"{f'did you mean {guess!r}? ' if guess else ''}the GA voices are: "
                          f"{', '.join(ga_voices())} (a custom voice is {{'id': 'voice_...'}}).",
                          path="audio.output.voice", suggestion=guess)
    for path, (low, high) in _RANGES.items():
        value = _get(session, path)
        if isinstance(value, int | float) and not isinstance(value, bool) and not low <= value <= high:
            span = f"at least {low}" if high == math.inf else f"between {low} and {high}"
            raise ConfigError(f"{context}: {_dotted(path)} is {value}, out of range; use a value {span}.",
                              path=_dotted(path))
    modalities = session.get("output_modalities")
    if isinstance(modalities, list) and len(set(modalities)) != 1:
        raise ConfigError(f"{context}: output_modalities is {modalities!r}; GA takes exactly one: ['audio'] "
                          "(speech plus its transcript) or ['text'].", path="output_modalities")


# -- reading the SDK's types ------------------------------------------------------------------------


@functools.cache
def ga_voices() -> tuple[str, ...]:
    """The built-in GA voice names, from the Literal in the SDK's audio output config."""
    from openai.types.realtime import RealtimeAudioConfigOutput

    return tuple(_literals(RealtimeAudioConfigOutput.model_fields["voice"].annotation))


@functools.cache
def vad_types() -> tuple[str, ...]:
    """The turn detection types ("server_vad", "semantic_vad"), from the SDK's union."""
    from openai.types.realtime import RealtimeAudioConfigInput

    annotation = RealtimeAudioConfigInput.model_fields["turn_detection"].annotation
    return tuple(kind for model in _models(annotation) for kind in _literals(model.model_fields["type"].annotation))


def allowed_keys(path: Path, session: Mapping[str, Any]) -> list[str]:
    """The keys the SDK defines for the object at ``path`` (union members picked by their ``type``)."""
    models = _pick(_annotation_at(path, session), _get(session, path))
    return sorted({key for model in models for key in _model_keys(model)})


def allowed_values(path: Path, session: Mapping[str, Any]) -> list[Any]:
    """The Literal values the SDK allows at ``path`` (for a union's ``type``: every member's)."""
    if path and path[-1] == "type":
        parent = _annotation_at(path[:-1], session)
        found = [v for m in _models(parent) if "type" in m.model_fields
                 for v in _literals(m.model_fields["type"].annotation)]
        if found:
            return found
    return _literals(_annotation_at(path, session))


def _annotation_at(path: Path, session: Mapping[str, Any]) -> Any:
    from openai.types.realtime import RealtimeSessionCreateRequest

    annotation: Any = RealtimeSessionCreateRequest
    value: Any = session
    for part in path:
        if isinstance(part, int):
            annotation = next((typing.get_args(m)[0] for m in _members(annotation) if _is_list(m)), None)
            value = value[part] if isinstance(value, list) and part < len(value) else None
            continue
        fields = [m.model_fields[part] for m in _pick(annotation, value) if part in m.model_fields]
        if not fields:
            return None
        annotation = fields[0].annotation
        value = value.get(part) if isinstance(value, Mapping) else None
    return annotation


def _pick(annotation: Any, value: Any) -> list[type[BaseModel]]:
    """The union members that fit ``value``: by its ``type`` when it has one, else all of them."""
    models = _models(annotation)
    kind = value.get("type") if isinstance(value, Mapping) else None
    matching = [m for m in models if "type" in m.model_fields and kind in _literals(m.model_fields["type"].annotation)]
    return matching or models


def _members(annotation: Any) -> list[Any]:
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _members(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        return [m for arg in typing.get_args(annotation) for m in _members(arg)]
    return [annotation]


def _models(annotation: Any) -> list[type[BaseModel]]:
    return [m for m in _members(annotation) if isinstance(m, type) and issubclass(m, BaseModel)]


def _is_list(annotation: Any) -> bool:
    return typing.get_origin(annotation) is list


def _literals(annotation: Any) -> list[Any]:
    return [v for m in _members(annotation) if typing.get_origin(m) is typing.Literal for v in typing.get_args(m)]


def _model_keys(model: type[BaseModel]) -> tuple[str, ...]:
    return tuple(field.alias or name for name, field in model.model_fields.items())


_DESCRIPTIONS = {str: "a string", int: "an integer", float: "a number", bool: "true or false",
                 type(None): "null", object: "any JSON value", dict: "an object"}


def _describe(annotation: Any) -> str:
    """A readable type for messages: 'a number', "'auto' or an object", ..."""
    members = _members(annotation)
    literals = _literals(annotation)
    words: list[str] = []
    if literals:
        # Next to a free string the literals are only examples (voice names).
        words.append(f"a string such as {literals[0]!r}" if str in members else " or ".join(map(repr, literals)))
    for member in members:
        if typing.get_origin(member) is typing.Literal or (member is type(None) and len(members) > 1):
            continue
        if member is str and literals:
            continue
        word = "a list" if _is_list(member) else "an object" if member in _models(annotation) \
            else _DESCRIPTIONS.get(member, getattr(member, "__name__", str(member)))
        if word not in words:
            words.append(word)
    return " or ".join(words)


# -- what the server changed ------------------------------------------------------------------------


class _Unset:
    def __repr__(self) -> str:
        return "(not set)"


NOT_SET: Any = _Unset()


@dataclass(frozen=True)
class Change:
    """One difference between the session asked for and the one the server reports."""

    path: str
    requested: Any
    effective: Any

    @property
    def kind(self) -> str:
        """'filled in' (server default), 'dropped' (absent from the effective session) or 'changed'."""
        if self.requested is NOT_SET:
            return "filled in"
        return "dropped" if self.effective is NOT_SET else "changed"

    def __repr__(self) -> str:
        return f"Change({self.path}: {self.requested!r} -> {self.effective!r})"

    def __str__(self) -> str:
        if self.kind == "filled in":
            return f"{self.path}: not asked, server uses {self.effective!r}"
        return f"{self.path}: asked {self.requested!r}, server has {self.effective!r}"


def session_changes(requested: Mapping[str, Any], effective: Mapping[str, Any] | BaseModel) -> list[Change]:
    """What the server changed, dropped or filled in, compared with what was asked.

    Values the server filled in are reported inside the objects the request named, not at the top level
    (a voice-only update does not list every default).

        >>> session_changes({"audio": {"output": {"voice": "coral"}}},
        ...                 {"audio": {"output": {"voice": "alloy", "speed": 1.0}}})
        [Change(audio.output.voice: 'coral' -> 'alloy'), Change(audio.output.speed: (not set) -> 1.0)]
    """
    found: list[Change] = []
    _diff(_plain(requested), _plain(effective), (), found)
    return found


def _diff(asked: Any, got: Any, path: Path, found: list[Change]) -> None:
    if isinstance(asked, dict) and isinstance(got, dict):
        for key, value in asked.items():
            _diff(value, got.get(key, NOT_SET), (*path, key), found)
        if path:
            found.extend(Change(_dotted((*path, k)), NOT_SET, v) for k, v in got.items() if k not in asked)
    elif isinstance(asked, list) and isinstance(got, list) and len(asked) == len(got):
        for index, (a, g) in enumerate(zip(asked, got, strict=True)):
            _diff(a, g, (*path, index), found)
    elif not _same(asked, got):
        found.append(Change(_dotted(path), asked, got))


def _same(a: Any, b: Any) -> bool:
    numeric = all(isinstance(x, numbers.Real) and not isinstance(x, bool) for x in (a, b))
    return math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-9) if numeric else bool(a == b)


def format_changes(changes: list[Change], *, as_html: bool = False) -> str:
    """A small table of changes: plain text, or HTML for a notebook."""
    rows = [(c.path, "" if c.requested is NOT_SET else repr(c.requested), repr(c.effective), c.kind)
            for c in changes]
    if as_html:
        cells = "".join(f"<tr>{''.join(f'<td>{html.escape(cell)}</td>' for cell in row)}</tr>" for row in rows)
        head = "".join(f"<th>{name}</th>" for name in ("path", "asked", "server", ""))
        return f"<table><tr>{head}</tr>{cells}</table>" if rows else "<p>no changes</p>"
    if not rows:
        return "no changes"
    widths = [max(len(r[i]) for r in [("path", "asked", "server", ""), *rows]) for i in range(4)]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip()
             for r in [("path", "asked", "server", ""), *rows]]
    return "\n".join(lines)


# -- small dict helpers -----------------------------------------------------------------------------


def _plain(value: Any) -> Any:
    """Deep copy as plain dicts and lists (pydantic models dumped with only the keys that were set)."""
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json", by_alias=True, exclude_unset=True)
    if isinstance(value, Mapping):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return copy.copy(value)


def _merge(base: Any, overlay: Any) -> Any:
    """Deep merge; an object whose ``type`` changes is replaced, not merged."""
    if not (isinstance(base, dict) and isinstance(overlay, dict)):
        return overlay
    if "type" in overlay and base.get("type", overlay["type"]) != overlay["type"]:
        return overlay
    merged = dict(base)
    for key, value in overlay.items():
        merged[key] = _merge(base[key], value) if key in base else value
    return merged


def _get(tree: Any, path: Path) -> Any:
    for part in path:
        in_list = isinstance(part, int) and isinstance(tree, list) and 0 <= part < len(tree)
        if not (in_list or (isinstance(part, str) and isinstance(tree, Mapping) and part in tree)):
            return _ABSENT
        tree = tree[part]
    return tree


def _set(tree: dict[str, Any], path: Path, value: Any) -> None:
    for part in path[:-1]:
        child = tree.get(str(part))
        if not isinstance(child, dict):
            child = tree[str(part)] = {}
        tree = child
    tree[str(path[-1])] = value


def _parse_param(param: str | None) -> Path:
    """'session.tools[0].name' -> ('tools', 0, 'name'), stopping at anything that is not a key or index."""
    parts: list[str | int] = []
    for index, name in re.findall(r"\[(\d+)\]|([^.\[\]]+)", param or ""):
        if not index and not name.isidentifier():
            break
        parts.append(int(index) if index else name)
    return tuple(parts[1:]) if parts[:1] == ["session"] else tuple(parts)


def _dotted(path: Path) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


def _closest(word: str, candidates: list[str] | tuple[str, ...]) -> str | None:
    """The likely intended name: a close spelling, or the one name that starts with ``word`` ('near')."""
    matches = difflib.get_close_matches(word, list(candidates), n=1, cutoff=0.6)
    prefixed = [c for c in candidates if len(word) >= 3 and c.startswith(word)]
    return matches[0] if matches else prefixed[0] if len(prefixed) == 1 else None
