"""The friendly layer over spec.py: each refused session config becomes a sentence that names the fix.

Preview-era names get their GA spelling, misspelt keys a did-you-mean, wrong values the allowed ones::

    >>> closest("create_responese", ["create_response", "interrupt_response"])
    'create_response'
    >>> print(preview_error("modalities", "session.update"))  # doctest: +ELLIPSIS
    session.update: 'modalities' is the preview-era name; the GA session calls it 'output_modalities' ...
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Mapping
from typing import Any

from ..errors import ConfigError
from ..spec import SpecViolation, dotted
from .keys import CONTEXT, FLAT_PATHS, FORMATS, PREVIEW_KEYS, RANGES
from .schema import (
    allowed_keys,
    allowed_values,
    annotation_at,
    describe,
    ga_voices,
    literals,
    model_keys,
    models,
)
from .tree import ABSENT, Path, get_at, parse_param


def closest(word: str, candidates: list[str] | tuple[str, ...]) -> str | None:
    """The likely intended name: a close spelling, or the one name that starts with ``word`` ('near')."""
    matches = difflib.get_close_matches(word, list(candidates), n=1, cutoff=0.6)
    prefixed = [c for c in candidates if len(word) >= 3 and c.startswith(word)]
    return matches[0] if matches else prefixed[0] if len(prefixed) == 1 else None


def reject_preview_keys(session: Mapping[str, Any], context: str = CONTEXT) -> None:
    """Raise ConfigError for a preview-era key or audio format string, naming the GA spelling."""
    for key in session:
        if key in PREVIEW_KEYS:
            raise preview_error(key, context)
    for side in ("input", "output"):
        fmt = get_at(session, ("audio", side, "format"))
        spelling = fmt if isinstance(fmt, str) else fmt.get("type") if isinstance(fmt, dict) else None
        if spelling in FORMATS and (isinstance(fmt, str) or not spelling.startswith("audio/")):
            ga = FORMATS[spelling]
            raise ConfigError(f"{context}: audio.{side}.format is {fmt!r}; the GA session wants {ga!r} "
                              f"(or the keyword {side}_format={spelling!r}).",
                              path=f"audio.{side}.format", suggestion=repr(ga))


def preview_error(key: str, context: str) -> ConfigError:
    """The error for a preview-era top-level key: where GA puts it and the keyword that sets it."""
    where, keyword = PREVIEW_KEYS[key]
    if where is None:
        return ConfigError(f"{context}: '{key}' is not part of the GA session; remove it.", path=key)
    if key in ("modalities", "max_response_output_tokens"):
        text = f"'{key}' is the preview-era name; the GA session calls it '{where}' (keyword {keyword}=)."
    else:
        text = f"top-level '{key}' is the preview-era place; the GA session puts it at {where} (keyword {keyword}=)."
    return ConfigError(f"{context}: {text}", path=key, suggestion=where)


def friendly(violation: SpecViolation, session: Mapping[str, Any], context: str) -> ConfigError:
    """Turn spec.py's violation into a ConfigError that names the key, what is allowed and the likely fix."""
    path = _known_prefix(parse_param(violation.param), session)
    where = dotted(path)
    value = get_at(session, path)
    if where != (violation.param or "").removeprefix("session."):
        # The violation points inside a union member that has no name in the data: describe the whole value.
        expected = describe(annotation_at(path, session))
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
        expected = describe(annotation_at(path, session))
        if expected:
            return ConfigError(f"{context}: {where} should be {expected}, not {type(value).__name__} {value!r}.",
                               path=where)
    return ConfigError(f"{context}: {violation.message}", path=where)


def _known_prefix(path: Path, session: Mapping[str, Any]) -> Path:
    """The part of a violation's path that names real keys (pydantic adds union-member tags)."""
    for end in range(len(path)):
        present = get_at(session, path[: end + 1]) is not ABSENT
        missing_key = end == len(path) - 1 and str(path[end]) in allowed_keys(path[:end], session)
        if not (present or missing_key):
            return path[:end]
    return path


def _unknown_key(path: Path, session: Mapping[str, Any], context: str) -> ConfigError:
    key, parent = str(path[-1]), path[:-1]
    where = dotted(parent) or "the session"
    allowed = allowed_keys(parent, session)
    guess = closest(key, allowed)
    if guess:
        hint = f"did you mean '{guess}'?"
    elif not parent and key in FLAT_PATHS:
        hint = (f"'{key}' is a keyword, not a session key: pass {key}=... to build_session or session.update, "
                f"or set {dotted(FLAT_PATHS[key])}.")
    elif (owner := _sibling_owner(key, parent, session)) is not None:
        hint = f"'{key}' belongs to {owner}; change the type or drop '{key}'."
    else:
        hint = f"allowed keys there: {', '.join(allowed)}."
    return ConfigError(f"{context}: unknown key '{key}' in {where}; {hint}", path=dotted(path), suggestion=guess)


def _sibling_owner(key: str, parent: Path, session: Mapping[str, Any]) -> str | None:
    """The other `type` of a union object that does define ``key`` (threshold is server_vad's)."""
    annotation = annotation_at(parent, session)
    for model in models(annotation):
        if key in model_keys(model):
            kinds = literals(model.model_fields["type"].annotation) if "type" in model.model_fields else []
            return f"type {kinds[0]!r}" if kinds else model.__name__
    return None


def _bad_value(where: str, value: Any, allowed: list[Any], context: str) -> ConfigError:
    guess = closest(value, [a for a in allowed if isinstance(a, str)]) if isinstance(value, str) else None
    hint = f"did you mean {guess!r}? " if guess else ""
    options = ", ".join(repr(a) for a in allowed)
    return ConfigError(f"{context}: invalid value {value!r} for {where}; {hint}allowed values: {options}.",
                       path=where, suggestion=guess)


def check_values(session: Mapping[str, Any], context: str) -> None:
    """What the SDK types accept but the service refuses: unknown voice names, ranges, both modalities."""
    voice = get_at(session, ("audio", "output", "voice"))
    if isinstance(voice, str) and voice not in ga_voices():
        guess = closest(voice, list(ga_voices()))
        raise ConfigError(f"{context}: unknown voice {voice!r} at audio.output.voice; "
                          f"{f'did you mean {guess!r}? ' if guess else ''}the GA voices are: "
                          f"{', '.join(ga_voices())} (a custom voice is {{'id': 'voice_...'}}).",
                          path="audio.output.voice", suggestion=guess)
    for path, (low, high) in RANGES.items():
        value = get_at(session, path)
        if isinstance(value, int | float) and not isinstance(value, bool) and not low <= value <= high:
            span = f"at least {low}" if high == math.inf else f"between {low} and {high}"
            raise ConfigError(f"{context}: {dotted(path)} is {value}, out of range; use a value {span}.",
                              path=dotted(path))
    modalities = session.get("output_modalities")
    if isinstance(modalities, list) and len(set(modalities)) != 1:
        raise ConfigError(f"{context}: output_modalities is {modalities!r}; GA takes exactly one: ['audio'] "
                          "(speech plus its transcript) or ['text'].", path="output_modalities")
