"""The session's configuration: GA defaults, session.update merging, value checks and the voice lock.

Pure functions of dicts; `RealtimeProtocol` keeps the current session and calls these.

    >>> session = default_session("gpt-realtime", "sess_1", expires_at=0)
    >>> update = {"type": "realtime", "audio": {"output": {"voice": "ash"}}}
    >>> updated_session(session, update, voice_locked=False)["audio"]["output"]["voice"]
    'ash'
    >>> updated_session(session, update, voice_locked=True)
    Traceback (most recent call last):
    ...
    realtime_kit.server.wire.ClientError: Cannot update a conversation's voice if assistant audio is present.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..rules import GPT_REALTIME, RANGES, SPEED_RANGE, ModelProfile, profile_for, voices
from .audio_format import PCM_RATE
from .noise import merged_noise_reduction
from .wire import ClientError, dig, json_copy

__all__ = [
    "DEFAULT_INSTRUCTIONS", "GA_VOICES", "REASONING_KEYS", "check_model_params", "check_session_values",
    "default_session", "format_filled", "format_kind", "merge_session", "response_settings", "updated_session",
]

MAX_OUTPUT_TOKENS_RANGE = RANGES[("max_output_tokens",)]
DEFAULT_INSTRUCTIONS = (
    "You are the realtime-kit local assistant, an offline stand-in for gpt-realtime. You follow simple "
    "documented rules: you say what you heard and describe how this session is set up when asked."
)


GA_VOICES = voices()


# -- defaults and merging --------------------------------------------------------------------------


def default_session(model: str, session_id: str, expires_at: int, profile: ModelProfile | None = None,
                    ) -> dict[str, Any]:
    """The effective session of a new connection, with the real service's defaults (the model's) filled in."""
    profile = profile or profile_for(model) or GPT_REALTIME
    return {
        "type": "realtime",
        "object": "realtime.session",
        "id": session_id,
        "model": model,
        "output_modalities": ["audio"],
        "instructions": DEFAULT_INSTRUCTIONS,
        "tools": [],
        "tool_choice": "auto",
        "max_output_tokens": "inf",
        "tracing": None,
        "truncation": "auto",
        "prompt": None,
        "expires_at": expires_at,
        "include": None,
        "audio": {
            "input": {
                "format": {"type": "audio/pcm", "rate": PCM_RATE},
                "transcription": None,
                "noise_reduction": None,
                "turn_detection": _turn_detection_defaults("server_vad", profile.silence_duration_ms),
            },
            "output": {"format": {"type": "audio/pcm", "rate": PCM_RATE}, "voice": profile.voice, "speed": 1.0},
        },
    }


def merge_session(current: Mapping[str, Any], update: Mapping[str, Any]) -> dict[str, Any]:
    """``current`` with a session.update's ``session`` deep-merged in, defaults filled.

    Top-level keys replace; ``audio.input``/``audio.output`` merge key by key; a format or a
    turn detection of a new type is replaced whole and filled with that type's defaults.

        >>> s = merge_session(default_session("m", "sess_1", 0), {"type": "realtime",
        ...     "audio": {"input": {"turn_detection": {"type": "semantic_vad", "eagerness": "high"}}}})
        >>> s["audio"]["input"]["turn_detection"]["create_response"]
        True
    """
    merged = json_copy(dict(current))
    for key, value in update.items():
        if key == "audio" and isinstance(value, Mapping):
            silence_ms = (profile_for(str(merged.get("model"))) or GPT_REALTIME).silence_duration_ms
            _merge_audio(merged.setdefault("audio", {}), value, silence_ms)
        else:
            merged[key] = json_copy(value)
    return merged


def _merge_audio(audio: dict[str, Any], update: Mapping[str, Any], silence_ms: int) -> None:
    for direction in ("input", "output"):
        changes = update.get(direction)
        if not isinstance(changes, Mapping):
            continue
        target = audio.setdefault(direction, {})
        for key, value in changes.items():
            if key == "format":
                target[key] = format_filled(value)
            elif key == "turn_detection":
                target[key] = _turn_detection_merged(target.get(key), value, silence_ms)
            elif key == "noise_reduction":
                target[key] = merged_noise_reduction(target.get(key), value)
            elif key == "transcription" and isinstance(value, Mapping):
                # the service echoes language and prompt as null when they were not given
                target[key] = {"model": None, "language": None, "prompt": None, **json_copy(dict(value))}
            else:
                target[key] = json_copy(value)


def format_filled(fmt: Mapping[str, Any] | None) -> dict[str, Any]:
    """A GA audio format with its rate filled in (PCM only carries one)."""
    kind = (fmt or {}).get("type") or "audio/pcm"
    return {"type": kind, "rate": PCM_RATE} if kind == "audio/pcm" else {"type": kind}


def format_kind(session: Mapping[str, Any], direction: str) -> str:
    """The session's audio format type for "input" or "output"."""
    return str(dig(session, "audio", direction, "format", "type") or "audio/pcm")


def _turn_detection_defaults(kind: str, silence_ms: int) -> dict[str, Any]:
    if kind == "semantic_vad":
        return {"type": kind, "eagerness": "auto", "create_response": True, "interrupt_response": True}
    return {"type": kind, "threshold": 0.5, "prefix_padding_ms": 300, "silence_duration_ms": silence_ms,
            "idle_timeout_ms": None, "create_response": True, "interrupt_response": True}


def _turn_detection_merged(current: Mapping[str, Any] | None, update: Mapping[str, Any] | None,
                           silence_ms: int) -> Any:
    if update is None:
        return None
    base = dict(current) if current and current.get("type") == update.get("type") \
        else _turn_detection_defaults(str(update.get("type")), silence_ms)
    return {**base, **json_copy(dict(update))}


# -- session.update and per-response settings ------------------------------------------------------


def updated_session(current: Mapping[str, Any], update: Mapping[str, Any], *, voice_locked: bool) -> dict[str, Any]:
    """The session after a ``session.update``; a `ClientError` the service would send instead.

    ``voice_locked``: the assistant has produced audio, so the voice can no longer change.
    """
    if update.get("type") != "realtime":
        # the service's words (community.openai.com/t/1366640), then the fix
        raise ClientError("invalid_value", "Passing a transcription session update event to a realtime session is "
                          "not allowed. Connect with intent=transcription for a transcription session.",
                          "session.type")
    _refuse_nulls(update, current, "session")
    check_model_params(update, "session", str(current.get("model")))
    merged = merge_session(current, update)
    # accepted, not echoed: the SDK's effective session (RealtimeSessionCreateResponse) has no such field,
    # and the local assistant calls at most one tool per response anyway
    merged.pop("parallel_tool_calls", None)
    check_session_values(merged, "session")
    voice = dig(update, "audio", "output", "voice")
    if voice is not None and voice != dig(current, "audio", "output", "voice") and voice_locked:
        raise ClientError("cannot_update_voice", "Cannot update a conversation's voice if assistant audio is "
                          "present.", "session.audio.output.voice")
    return merged


# Session keys a client may set to null (their default is null, or null turns them off).
_NULLABLE = frozenset({"tracing", "prompt", "include", "transcription", "noise_reduction", "turn_detection",
                       "idle_timeout_ms", "metadata"})
_JSON_KINDS = ((dict, "an object"), (list, "an array"), (str, "a string"), (bool, "a boolean"),
               (int | float, "a number"))


def _refuse_nulls(update: Mapping[str, Any], current: Any, path: str) -> None:
    """Refuse ``null`` for a key that has a value and cannot be unset (e.g. ``session.audio``), as the service does."""
    for key, value in update.items():
        here = current.get(key) if isinstance(current, Mapping) else None
        if value is None and key not in _NULLABLE and here is not None:
            expected = next((name for kind, name in _JSON_KINDS if isinstance(here, kind)), "a value")
            raise ClientError("invalid_type", f"Invalid type for '{path}.{key}': expected {expected}, but got null "
                              "instead.", f"{path}.{key}")
        if isinstance(value, Mapping) and isinstance(here, Mapping) and key != "turn_detection":
            _refuse_nulls(value, here, f"{path}.{key}")


def response_settings(session: Mapping[str, Any], params: Mapping[str, Any]) -> dict[str, Any]:
    """The session's settings with one ``response.create``'s overrides applied.

        >>> settings = response_settings(default_session("m", "sess_1", 0), {"instructions": "Be brief."})
        >>> settings["instructions"], settings["voice"], settings["format"]
        ('Be brief.', 'alloy', {'type': 'audio/pcm', 'rate': 24000})
    """
    output = dig(params, "audio", "output") or {}

    def pick(override: Any, *path: str, default: Any) -> Any:
        value = override if override is not None else dig(session, *path)
        return default if value is None else value

    settings = {
        "instructions": pick(params.get("instructions"), "instructions", default=""),
        "output_modalities": pick(params.get("output_modalities"), "output_modalities", default=["audio"]),
        "voice": pick(output.get("voice"), "audio", "output", "voice", default="alloy"),
        "format": format_filled(pick(output.get("format"), "audio", "output", "format", default=None)),
        "speed": float(pick(None, "audio", "output", "speed", default=1.0)),
        "tools": pick(params.get("tools"), "tools", default=[]),
        "tool_choice": pick(params.get("tool_choice"), "tool_choice", default="auto"),
        "max_output_tokens": pick(params.get("max_output_tokens"), "max_output_tokens", default="inf"),
        # gpt-realtime-2's documented default effort is low (vercel.com/ai-gateway/models/gpt-realtime-2/about)
        "reasoning_effort": pick(dig(params, "reasoning", "effort"), "reasoning", "effort", default="low"),
    }
    # What the responder describes when asked about its settings: the session as this response sees it.
    settings["session_view"] = merge_session(session, {
        "output_modalities": settings["output_modalities"], "tools": settings["tools"],
        "instructions": settings["instructions"], "audio": {"output": {"voice": settings["voice"]}}})
    return settings


# -- value checks ----------------------------------------------------------------------------------

# Keys only reasoning models take: the SDK's docstrings say "Only supported by reasoning Realtime models
# such as gpt-realtime-2" (parallel_tool_calls) and "for reasoning-capable Realtime models" (reasoning).
REASONING_KEYS = ("reasoning", "parallel_tool_calls")


def check_model_params(config: Mapping[str, Any], path: str, model: str) -> None:
    """Refuse ``reasoning``/``parallel_tool_calls`` for a model whose profile has no reasoning.

    The wording is the API's for a parameter a model does not take ("Unsupported parameter: '...' is
    not supported with this model.", code ``unsupported_parameter``).
    """
    if (profile_for(model) or GPT_REALTIME).reasoning:
        return
    for key in REASONING_KEYS:
        if config.get(key) is not None:
            raise ClientError("unsupported_parameter", f"Unsupported parameter: '{path}.{key}' is not supported "
                              f"with this model ({model}); use a reasoning model such as gpt-realtime-2.1, or "
                              f"drop {key}.", f"{path}.{key}")



def check_session_values(config: Mapping[str, Any], path: str) -> None:
    """Refuse values the SDK types allow but the service does not (``path``: "session" or "response")."""
    _check_modalities(config.get("output_modalities"), f"{path}.output_modalities")
    _check_max_tokens(config.get("max_output_tokens"), f"{path}.max_output_tokens")
    output = dig(config, "audio", "output") or {}
    _check_voice(output.get("voice"), f"{path}.audio.output.voice")
    _check_range(output.get("speed"), SPEED_RANGE, f"{path}.audio.output.speed", "decimal")
    turn = dig(config, "audio", "input", "turn_detection") or {}
    for key, kind in (("threshold", "decimal"), ("prefix_padding_ms", "integer"), ("silence_duration_ms", "integer")):
        bounds = RANGES[("audio", "input", "turn_detection", key)]
        _check_range(turn.get(key), bounds, f"{path}.audio.input.turn_detection.{key}", kind)


def _check_modalities(modalities: Any, param: str) -> None:
    if isinstance(modalities, list) and len(set(modalities)) > 1:
        raise ClientError("invalid_value", "It is not possible to request both 'text' and 'audio' at the same "
                          "time; use ['audio'] (speech with a transcript) or ['text'].", param)


def _check_max_tokens(value: Any, param: str) -> None:
    if isinstance(value, int) and not isinstance(value, bool):
        _check_range(value, MAX_OUTPUT_TOKENS_RANGE, param, "integer")


def _check_voice(voice: Any, param: str) -> None:
    if voice is None:
        return
    if not isinstance(voice, str):
        raise ClientError("invalid_value", "Custom voices are not available on the local server; use one of: "
                          f"{', '.join(GA_VOICES)}.", param)
    if voice not in GA_VOICES:
        supported = ", ".join(f"'{name}'" for name in GA_VOICES)
        raise ClientError("invalid_value", f"Invalid value: '{voice}'. Supported values are: {supported}.", param)


def _check_range(value: Any, bounds: tuple[float, float], param: str, kind: str) -> None:
    if not isinstance(value, int | float) or isinstance(value, bool):
        return
    low, high = bounds
    if value < low:
        raise ClientError(f"{kind}_below_min_value", f"Invalid '{param}': {kind} below minimum value. Expected a "
                          f"value >= {low}, but got {value} instead.", param)
    if value > high:
        raise ClientError(f"{kind}_above_max_value", f"Invalid '{param}': {kind} above maximum value. Expected a "
                          f"value <= {high}, but got {value} instead.", param)
