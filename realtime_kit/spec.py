"""Strict validation of GA Realtime events against the installed openai SDK, as the real service does.

The SDK's pydantic models accept unknown keys and its unions carry no discriminator that pydantic
understands, so a bare ``TypeAdapter`` both lets typos through and reports errors for every union
member. This module dispatches on ``type`` itself, validates with ``TypeAdapter`` (strict mode),
reports unknown keys, and turns pydantic errors into the real service's error shape::

    >>> validate_client_event({"type": "input_audio_buffer.clear"}).type
    'input_audio_buffer.clear'
    >>> try:
    ...     validate_client_event({"type": "session.update", "session": {"type": "realtime", "tracin": "auto"}})
    ... except SpecViolation as err:
    ...     print(err.code, err.param)
    unknown_parameter session.tracin
"""

from __future__ import annotations

import functools
import typing
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel, TypeAdapter, ValidationError

# One path element of a dotted parameter name: a key or a list index.
PathPart = str | int

# Fields whose literal value picks the member of a union (an item's role, a config's type).
_DISCRIMINATORS = ("type", "role")

# Session fields the service reports in session.created/updated beyond the SDK's request model.
_SERVER_SESSION_FIELDS = ("id", "object", "expires_at")


class SpecViolation(ValueError):
    """An event the GA Realtime API would refuse, shaped like the service's `error` event."""

    def __init__(self, code: str, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.param = param

    def as_error(self, event_id: str | None = None) -> dict[str, Any]:
        """The `error` object of a server `error` event for this violation."""
        return {
            "type": "invalid_request_error",
            "code": self.code,
            "message": self.message,
            "param": self.param,
            "event_id": event_id,
        }


def validate_client_event(event: Any) -> BaseModel:
    """Validate one client event strictly; raise SpecViolation naming the offending parameter."""
    return _validate_event(event, _client_event_models())


def validate_server_event(event: Any) -> BaseModel:
    """Validate one server event strictly (our server's self-check, and the tests' oracle).

    Keys the real service sends beyond the SDK's models (`SERVICE_EXTRAS`) are checked on their own.
    """
    return _validate_event(_without_service_extras(event), _server_event_models())


def validate_session(session: Any, path: str = "session") -> BaseModel:
    """Validate a GA session config (``type: "realtime"``), with parameter names under ``path``."""
    from openai.types.realtime import RealtimeSessionCreateRequest

    if not isinstance(session, Mapping):
        raise SpecViolation("invalid_type", f"Invalid type for '{path}': expected an object.", path)
    if "type" not in session:
        raise SpecViolation("missing_required_parameter", f"Missing required parameter: '{path}.type'.",
                            f"{path}.type")
    return _validate_model(RealtimeSessionCreateRequest, session, (path,))


def validate_transcription_session(session: Any, path: str = "session") -> BaseModel:
    """Validate a GA transcription session config (``type: "transcription"``), names under ``path``."""
    from openai.types.realtime import RealtimeTranscriptionSessionCreateRequest

    if not isinstance(session, Mapping):
        raise SpecViolation("invalid_type", f"Invalid type for '{path}': expected an object.", path)
    return _validate_model(RealtimeTranscriptionSessionCreateRequest, session, (path,))


def unknown_keys(model: Any, prefix: Sequence[PathPart] = ()) -> list[str]:
    """Dotted paths of keys that the SDK's models do not define, anywhere inside ``model``."""
    found: list[str] = []
    _collect_unknown(model, tuple(prefix), found)
    return found


def client_event_types() -> list[str]:
    """Every GA client event type, in the SDK's order."""
    return list(_client_event_models())


def server_event_types() -> list[str]:
    """Every GA server event type, in the SDK's order."""
    return list(_server_event_models())


# -- keys the service sends that the SDK does not model (seen in ../shared/real-traces) ------------

_TEXT_DELTAS = ("response.output_text.delta", "response.output_audio_transcript.delta",
                "response.function_call_arguments.delta", "conversation.item.input_audio_transcription.delta")
_ITEM_PATHS = {"conversation.item.added": ("item",), "conversation.item.done": ("item",),
               "conversation.item.retrieved": ("item",), "response.output_item.added": ("item",),
               "response.output_item.done": ("item",), "response.done": ("response", "output", "[]")}
_PHASES = ("commentary", "final_answer")


def _without_service_extras(event: Any) -> Any:
    """``event`` without the service-only keys, after checking each one's shape.

    ``obfuscation`` (a string) on text deltas; ``content`` (the same as ``part``) on Azure's
    content part events; ``phase`` on gpt-realtime-2.1's items; ``reasoning_tokens`` in its usage.
    """
    if not isinstance(event, Mapping) or not isinstance(event.get("type"), str):
        return event
    kind, out = event["type"], dict(event)
    if kind in _TEXT_DELTAS and "obfuscation" in out:
        _expect(isinstance(out.pop("obfuscation"), str), "obfuscation", "a string")
    if kind.startswith("response.content_part.") and "content" in out:
        _expect(out.pop("content") == out.get("part"), "content", "the same object as 'part'")
    if kind in _ITEM_PATHS:
        out = _strip_phase(out, _ITEM_PATHS[kind])
    if kind == "response.done":
        out = _strip_reasoning_tokens(out)
    return out


def _expect(ok: bool, param: str, what: str) -> None:
    if not ok:
        raise SpecViolation("invalid_value", f"Invalid value for '{param}': expected {what}.", param)


def _strip_phase(event: dict[str, Any], path: tuple[str, ...]) -> dict[str, Any]:
    def strip(item: Any) -> Any:
        if isinstance(item, Mapping) and "phase" in item:
            _expect(item.get("phase") in _PHASES and item.get("type") == "message", "item.phase",
                    f"one of {_PHASES} on a message")
            return {k: v for k, v in item.items() if k != "phase"}
        return item

    if path == ("item",):
        return {**event, "item": strip(event.get("item"))}
    response = event.get("response")
    if not isinstance(response, Mapping) or not isinstance(response.get("output"), list):
        return event
    return {**event, "response": {**response, "output": [strip(item) for item in response["output"]]}}


def _strip_reasoning_tokens(event: dict[str, Any]) -> dict[str, Any]:
    response = event.get("response")
    usage = response.get("usage") if isinstance(response, Mapping) else None
    details = usage.get("output_token_details") if isinstance(usage, Mapping) else None
    if not isinstance(response, Mapping) or not isinstance(usage, Mapping) or not isinstance(details, Mapping) \
            or "reasoning_tokens" not in details:
        return event
    _expect(type(details["reasoning_tokens"]) is int, "response.usage.output_token_details.reasoning_tokens",
            "an integer")
    details = {k: v for k, v in details.items() if k != "reasoning_tokens"}
    return {**event, "response": {**response, "usage": {**usage, "output_token_details": details}}}


# -- dispatch -------------------------------------------------------------------------------------


def _validate_event(event: Any, models: Mapping[str, type[BaseModel]]) -> BaseModel:
    if not isinstance(event, Mapping):
        raise SpecViolation("invalid_type", "Invalid event: expected a JSON object with a 'type'.", None)
    event_type = event.get("type")
    if event_type is None:
        raise SpecViolation("missing_required_parameter", "Missing required parameter: 'type'.", "type")
    model = models.get(event_type) if isinstance(event_type, str) else None
    if model is None:
        supported = ", ".join(f"'{name}'" for name in models)
        raise SpecViolation(
            "invalid_value", f"Invalid value: '{event_type}'. Supported values are: {supported}.", "type"
        )
    if event_type == "response.create":
        event = _without_item_references(event)
    if event_type in ("session.created", "session.updated"):
        event = _without_server_session_fields(event)
    return _validate_model(model, event, ())


def _without_item_references(event: Mapping[str, Any]) -> dict[str, Any]:
    """Check `response.input` item references (a Param-only type in the SDK) and leave the rest to the model."""
    from openai.types.realtime import ResponseItemReference

    response = event.get("response")
    if not isinstance(response, Mapping) or not isinstance(response.get("input"), list):
        return dict(event)
    kept = []
    for index, item in enumerate(response["input"]):
        if isinstance(item, Mapping) and item.get("type") == "item_reference":
            _validate_model(ResponseItemReference, item, ("response", "input", index))
        else:
            kept.append(item)
    return {**event, "response": {**response, "input": kept}}


def _without_server_session_fields(event: Mapping[str, Any]) -> dict[str, Any]:
    """The service adds id, object and expires_at to the session it reports; the SDK's event model omits them."""
    from openai.types.realtime.realtime_session_create_response import RealtimeSessionCreateResponse
    from openai.types.realtime.realtime_transcription_session_create_response import (
        RealtimeTranscriptionSessionCreateResponse,
    )

    session = event.get("session")
    if not isinstance(session, Mapping):
        return dict(event)
    reported: type[BaseModel] = RealtimeTranscriptionSessionCreateResponse \
        if session.get("type") == "transcription" else RealtimeSessionCreateResponse
    for key in _SERVER_SESSION_FIELDS:
        if key in session:
            annotation = reported.model_fields[key].annotation
            if annotation is None:  # pydantic types it Optional; the SDK's fields always carry one
                continue
            try:
                TypeAdapter(annotation).validate_python(session[key], strict=True)
            except ValidationError as err:
                raise _violation(err.errors()[0], ("session", key)) from None
    rest = {key: value for key, value in session.items() if key not in _SERVER_SESSION_FIELDS}
    return {**event, "session": rest}


def _validate_model(model: type[BaseModel], data: Mapping[str, Any], prefix: tuple[PathPart, ...]) -> BaseModel:
    try:
        instance = _adapter(model).validate_python(dict(data), strict=True)
    except ValidationError as err:
        raise _violation_from(err, data, prefix) from None
    extras = unknown_keys(instance, prefix)
    if extras:
        raise SpecViolation("unknown_parameter", f"Unknown parameter: '{extras[0]}'.", extras[0])
    return instance


@functools.cache
def _adapter(model: type[BaseModel]) -> TypeAdapter[Any]:
    return TypeAdapter(model)


@functools.cache
def _client_event_models() -> dict[str, type[BaseModel]]:
    from openai.types.realtime import RealtimeClientEvent

    return _models_by_type(RealtimeClientEvent)


@functools.cache
def _server_event_models() -> dict[str, type[BaseModel]]:
    from openai.types.realtime import RealtimeServerEvent

    return _models_by_type(RealtimeServerEvent)


def _models_by_type(union: Any) -> dict[str, type[BaseModel]]:
    """Map each event type literal to its model, unwrapping Annotated[Union[...], ...]."""
    members = typing.get_args(typing.get_args(union)[0]) if typing.get_origin(union) is typing.Annotated \
        else typing.get_args(union)
    by_type: dict[str, type[BaseModel]] = {}
    for member in members:
        for literal in typing.get_args(member.model_fields["type"].annotation):
            by_type[literal] = member
    return by_type


# -- unknown keys ---------------------------------------------------------------------------------


def _collect_unknown(value: Any, path: tuple[PathPart, ...], found: list[str]) -> None:
    if isinstance(value, BaseModel):
        for key in value.model_extra or {}:
            found.append(dotted((*path, key)))
        for name, field in type(value).model_fields.items():
            _collect_unknown(getattr(value, name, None), (*path, field.alias or name), found)
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            _collect_unknown(item, (*path, index), found)


# -- pydantic errors -> the service's error shape -------------------------------------------------


def _violation_from(err: ValidationError, data: Any, prefix: tuple[PathPart, ...]) -> SpecViolation:
    located = [(_locate(e["loc"], data, e["type"] == "missing"), e) for e in err.errors()]
    wrong_members = {
        tags for (path, tags), e in located
        if e["type"] == "literal_error" and tags and path and path[-1] in _DISCRIMINATORS
    }
    relevant = [
        (path, e) for (path, tags), e in located
        if not any(tags[: len(wrong)] == wrong for wrong in wrong_members)
    ]
    if not relevant:
        # Every union member refused the discriminator itself: report that value with all the options.
        return _invalid_discriminator(located, prefix)
    # the union member that got furthest into the input is the one the sender meant
    path, error = max(relevant, key=lambda pair: len(pair[0]))
    return _violation(error, (*prefix, *path))


def _locate(loc: tuple[Any, ...], data: Any, missing: bool) -> tuple[tuple[PathPart, ...], tuple[str, ...]]:
    """Split a pydantic loc into the path through the input and the union-member tags along it."""
    path: list[PathPart] = []
    tags: list[str] = []
    node = data
    for position, part in enumerate(loc):
        # only a "missing" error names a key that is absent from the input; other absent names are union tags
        absent_key = missing and position == len(loc) - 1
        if isinstance(node, Mapping) and isinstance(part, str) and (part in node or absent_key):
            path.append(part)
            node = node.get(part)
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            path.append(part)
            node = node[part]
        else:
            tags.append(f"{len(path)}:{part}")
    return tuple(path), tuple(tags)


def _invalid_discriminator(
    located: list[tuple[tuple[tuple[PathPart, ...], tuple[str, ...]], Any]], prefix: tuple[PathPart, ...]
) -> SpecViolation:
    literal_errors = [(path, e) for (path, _), e in located if e["type"] == "literal_error"]
    path, first = literal_errors[0]
    options: list[str] = []
    for other_path, e in literal_errors:
        expected = str(e.get("ctx", {}).get("expected", ""))
        if other_path == path and expected and expected not in options:
            options.append(expected)
    param = dotted((*prefix, *path))
    return SpecViolation(
        "invalid_value",
        f"Invalid value: '{first['input']}'. Supported values are: {' or '.join(options)}.",
        param,
    )


def _violation(error: Any, path: tuple[PathPart, ...]) -> SpecViolation:
    param = dotted(path)
    kind = error["type"]
    if kind == "missing":
        return SpecViolation("missing_required_parameter", f"Missing required parameter: '{param}'.", param)
    if kind in ("literal_error", "enum"):
        expected = error.get("ctx", {}).get("expected", "")
        return SpecViolation(
            "invalid_value", f"Invalid value: '{error['input']}'. Supported values are: {expected}.", param
        )
    if kind.endswith(("_too_long", "_too_short", "less_than", "greater_than", "less_than_equal",
                      "greater_than_equal")):
        return SpecViolation("invalid_value", f"Invalid value for '{param}': {error['msg']}.", param)
    got = type(error.get("input")).__name__
    return SpecViolation(
        "invalid_type",
        f"Invalid type for '{param}': {error['msg'][0].lower()}{error['msg'][1:]}, but got {got} instead.",
        param,
    )


def dotted(path: Sequence[PathPart]) -> str:
    """A path as the service spells a param: ``audio.input.format``, ``tools[0].name``."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text
