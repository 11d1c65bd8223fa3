"""Per-response overrides (the keywords of send_text, send_audio, stream_text) checked like session.update.

The service takes a response's own instructions, voice, output modalities, token limit, tools and
metadata in ``response.create``; a wrong name or value here would come back as a server error after
the user's message was already added. Checked first, it is a ConfigError that names the fix::

    >>> build_response(voice="coral", output_modalities="text")
    {'audio': {'output': {'voice': 'coral'}}, 'output_modalities': ['text']}
    >>> build_response(voise="coral")
    Traceback (most recent call last):
    ...
    realtime_kit.errors.ConfigError: response.create: unknown keyword 'voise'; did you mean 'voice'?
"""

from __future__ import annotations

from functools import cache
from typing import Any

from ..errors import ConfigError
from ..spec import SpecViolation, validate_client_event
from .checks import check_values, closest
from .tree import merge, plain

CONTEXT = "response.create"
# Keywords that stand for a nested place, as in session.update.
NESTED = {"voice": ("audio", "output", "voice")}


@cache
def response_keys() -> tuple[str, ...]:
    """The keys of the SDK's RealtimeResponseCreateParams, plus the nested keywords above."""
    from openai.types.realtime.realtime_response_create_params import RealtimeResponseCreateParams

    return (*RealtimeResponseCreateParams.model_fields, *NESTED)


def build_response(**overrides: Any) -> dict[str, Any]:
    """The ``response`` of a response.create from keywords, checked; raises ConfigError naming the fix."""
    params: dict[str, Any] = {}
    for name, value in overrides.items():
        value = plain(value)
        if name not in response_keys():
            guess = closest(name, list(response_keys()))
            hint = f"did you mean '{guess}'?" if guess else f"a response takes: {', '.join(response_keys())}."
            raise ConfigError(f"{CONTEXT}: unknown keyword '{name}'; {hint}", path=name, suggestion=guess)
        if name == "output_modalities" and isinstance(value, str):
            value = [value]
        nested: Any = value
        for step in reversed(NESTED.get(name, (name,))):
            nested = {step: nested}
        params = merge(params, nested)
    try:
        validate_client_event({"type": "response.create", "response": params})
    except SpecViolation as err:
        raise ConfigError(f"{CONTEXT}: {err.message} Nothing was sent.", path=err.param) from None
    check_values(params, CONTEXT)
    return params
