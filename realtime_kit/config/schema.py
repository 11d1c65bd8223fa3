"""What the installed SDK allows in a session: keys, enum values and voices, read from its pydantic types.

Nothing here is written down by hand, so a newer ``openai`` package brings its new keys along::

    >>> "alloy" in ga_voices() and "server_vad" in vad_types()
    True
    >>> allowed_values(("audio", "input", "turn_detection", "type"), {})
    ['server_vad', 'semantic_vad']
"""

from __future__ import annotations

import functools
import types
import typing
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel

from .tree import Path, get_at


@functools.cache
def session_keys() -> tuple[str, ...]:
    """The top-level keys of a GA session, from the SDK's RealtimeSessionCreateRequest."""
    from openai.types.realtime import RealtimeSessionCreateRequest

    return model_keys(RealtimeSessionCreateRequest)


@functools.cache
def read_only_keys() -> tuple[str, ...]:
    """Keys the server reports in a session but a client cannot send (id, object, expires_at)."""
    from openai.types.realtime import RealtimeSessionCreateResponse

    return tuple(sorted(set(model_keys(RealtimeSessionCreateResponse)) - set(session_keys())))


@functools.cache
def ga_voices() -> tuple[str, ...]:
    """The built-in GA voice names (the rulebook reads them from the SDK)."""
    from ..rules import voices

    return voices()


@functools.cache
def vad_types() -> tuple[str, ...]:
    """The turn detection types ("server_vad", "semantic_vad"), from the SDK's union."""
    from openai.types.realtime import RealtimeAudioConfigInput

    annotation = RealtimeAudioConfigInput.model_fields["turn_detection"].annotation
    return tuple(kind for model in models(annotation) for kind in literals(model.model_fields["type"].annotation))


def allowed_keys(path: Path, session: Mapping[str, Any]) -> list[str]:
    """The keys the SDK defines for the object at ``path`` (union members picked by their ``type``)."""
    found = _pick(annotation_at(path, session), get_at(session, path))
    return sorted({key for model in found for key in model_keys(model)})


def allowed_values(path: Path, session: Mapping[str, Any]) -> list[Any]:
    """The Literal values the SDK allows at ``path`` (for a union's ``type``: every member's)."""
    if path and path[-1] == "type":
        parent = annotation_at(path[:-1], session)
        found = [v for m in models(parent) if "type" in m.model_fields
                 for v in literals(m.model_fields["type"].annotation)]
        if found:
            return found
    return literals(annotation_at(path, session))


def annotation_at(path: Path, session: Mapping[str, Any]) -> Any:
    """The SDK annotation for ``path`` in ``session`` (None past the keys the SDK defines)."""
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
    candidates = models(annotation)
    kind = value.get("type") if isinstance(value, Mapping) else None
    matching = [m for m in candidates
                if "type" in m.model_fields and kind in literals(m.model_fields["type"].annotation)]
    return matching or candidates


def _members(annotation: Any) -> list[Any]:
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _members(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        return [m for arg in typing.get_args(annotation) for m in _members(arg)]
    return [annotation]


def models(annotation: Any) -> list[type[BaseModel]]:
    """The pydantic models in an annotation (the members of a union, or the one model)."""
    return [m for m in _members(annotation) if isinstance(m, type) and issubclass(m, BaseModel)]


def _is_list(annotation: Any) -> bool:
    return typing.get_origin(annotation) is list


def literals(annotation: Any) -> list[Any]:
    """The values of every Literal in an annotation: ``Literal["a"] | str | None`` -> ['a']."""
    return [v for m in _members(annotation) if typing.get_origin(m) is typing.Literal for v in typing.get_args(m)]


def model_keys(model: type[BaseModel]) -> tuple[str, ...]:
    """The JSON keys a model defines (aliases where it has them)."""
    return tuple(field.alias or name for name, field in model.model_fields.items())


_DESCRIPTIONS = {str: "a string", int: "an integer", float: "a number", bool: "true or false",
                 type(None): "null", object: "any JSON value", dict: "an object"}


def describe(annotation: Any) -> str:
    """A readable type for messages: 'a number', "'auto' or an object", ...

        >>> describe(typing.Literal["auto", "none"] | None)
        "'auto' or 'none'"
    """
    members = _members(annotation)
    values = literals(annotation)
    words: list[str] = []
    if values:
        # Next to a free string the literals are only examples (voice names).
        words.append(f"a string such as {values[0]!r}" if str in members else " or ".join(map(repr, values)))
    for member in members:
        if typing.get_origin(member) is typing.Literal or (member is type(None) and len(members) > 1):
            continue
        if member is str and values:
            continue
        word = "a list" if _is_list(member) else "an object" if member in models(annotation) \
            else _DESCRIPTIONS.get(member, getattr(member, "__name__", str(member)))
        if word not in words:
            words.append(word)
    return " or ".join(words)
