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
NESTED = {"voice": ("audio", "output", "voice"), "reasoning_effort": ("reasoning", "effort")}
# Keywords send_text/stream_text take beside the response's: named in the did-you-mean of a typo.
TURN_KEYWORDS = ("image", "image_detail")


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
        if name in TURN_KEYWORDS:
            raise ConfigError(f"{CONTEXT}: {name}= goes with a text message: use send_text or stream_text, or put "
                              "the picture in a user message of your own.", path=name)
        if name not in response_keys():
            guess = closest(name, [*response_keys(), *TURN_KEYWORDS])
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
