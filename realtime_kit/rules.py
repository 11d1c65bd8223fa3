"""The rulebook: what each model and each service does by default, read by the server (and later the client).

One place for the facts the recordings of the real service show (../shared/real-traces): a model's
default voice and turn detection, whether its items carry ``phase``, how each service flavours the
same GA protocol (Azure's ``/openai/v1`` vs OpenAI's ``/v1``), how transcription usage is counted.

    >>> profile_for("gpt-realtime-2.1").voice, profile_for("gpt-realtime").silence_duration_ms
    ('marin', 200)
    >>> profile_for("no-such-model") is None
    True
    >>> SERVICES["azure"].rate_limits_updated, SERVICES["openai"].rate_limits_updated
    (False, True)
    >>> shutdown_notice("gpt-realtime-mini").split(";")[0]
    'gpt-realtime-mini shuts down on 2027-01-20 (announced in the openai SDK)'
    >>> shutdown_notice(CURRENT_MODEL) is None
    True
"""

from __future__ import annotations

import functools
import math
import typing
from dataclasses import dataclass
from typing import Literal

__all__ = [
    "AUDIO_FORMATS",
    "CURRENT_MODEL",
    "GPT_REALTIME",
    "GPT_REALTIME_2",
    "RANGES",
    "SERVICES",
    "SHUTDOWNS",
    "SPEED_RANGE",
    "TRANSCRIPTION_OPTIONS",
    "ModelProfile",
    "Service",
    "ServiceRules",
    "Shutdown",
    "model_names",
    "profile_for",
    "shutdown_notice",
    "transcription_model_names",
    "transcription_usage_kind",
    "unsupported_transcription_options",
    "voices",
]

# The model rk.connect and the notebooks use unless told otherwise: the current generation.
CURRENT_MODEL = "gpt-realtime-2.1"

Service = Literal["openai", "azure"]


@dataclass(frozen=True)
class ModelProfile:
    """What one realtime model does by default, as its recorded sessions show."""

    family: str
    voice: str = "alloy"                   # session.audio.output.voice in session.created
    silence_duration_ms: int = 200         # server_vad's default silence
    item_phase: bool = False               # assistant messages carry phase: commentary | final_answer
    preamble_before_tool: bool = False     # says a short commentary message before calling a tool
    reasoning_tokens: bool = False         # usage.output_token_details.reasoning_tokens in response.done
    reasoning: bool = False                # accepts ``reasoning`` and ``parallel_tool_calls`` (SDK: "reasoning
                                           # Realtime models such as gpt-realtime-2" only)
    input_token_limit: int = 28_224        # context tokens before truncation (the SDK's truncation docstring:
                                           # "A 32k context model with 4,096 max output tokens ... 28,224")


# gpt-realtime (2025-08-28) and its mini: recorded on OpenAI and Azure, July-August 2026.
GPT_REALTIME = ModelProfile("gpt-realtime")
# gpt-realtime-2.1: recorded (parity traces, "openai-current"): voice marin, 500 ms silence, item.phase,
# a commentary message before a tool call in the same response, reasoning tokens in usage.
GPT_REALTIME_2 = ModelProfile("gpt-realtime-2", voice="marin", silence_duration_ms=500, item_phase=True,
                              preamble_before_tool=True, reasoning_tokens=True, reasoning=True,
                              input_token_limit=128_000 - 32_000)  # model page: 128,000 context, 32,000 max output


@functools.cache
def model_names() -> tuple[str, ...]:
    """The realtime model names the installed SDK lists (RealtimeSessionCreateRequest.model)."""
    from openai.types.realtime import RealtimeSessionCreateRequest

    names: list[str] = []
    for member in typing.get_args(RealtimeSessionCreateRequest.model_fields["model"].annotation):
        if typing.get_origin(member) is Literal:
            names.extend(typing.get_args(member))
    return tuple(names)


def profile_for(model: str) -> ModelProfile | None:
    """The profile of a model the SDK lists (the 2.x generation shares 2.1's); None for an unknown name."""
    if model not in model_names():
        return None
    return GPT_REALTIME_2 if model.startswith("gpt-realtime-2") else GPT_REALTIME


@dataclass(frozen=True)
class Shutdown:
    """A model the SDK marks for shutdown: the date it announces and the model that replaces it."""

    date: str
    successor: str


# The SDK's docstring of RealtimeSessionCreateRequest.model: "Deprecated values: gpt-realtime,
# gpt-realtime-2025-08-28, gpt-realtime-mini, gpt-realtime-mini-2025-12-15, gpt-audio-mini,
# gpt-audio-mini-2025-12-15: Announced shutdown date: 2027-01-20". The SDK names no successor; the
# deprecations page's replacements as relayed by https://docs.retellai.com/deprecation-notice/2027/
# 01-19_model_replacements (gpt-realtime -> gpt-realtime-2.1, gpt-realtime-mini -> gpt-realtime-2.1-mini).
# gpt-audio-mini is the audio model of Chat Completions: its current one, gpt-audio-1.5, replaces it.
SHUTDOWNS: dict[str, Shutdown] = {
    **dict.fromkeys(("gpt-realtime", "gpt-realtime-2025-08-28"), Shutdown("2027-01-20", "gpt-realtime-2.1")),
    **dict.fromkeys(("gpt-realtime-mini", "gpt-realtime-mini-2025-12-15"),
                    Shutdown("2027-01-20", "gpt-realtime-2.1-mini")),
    **dict.fromkeys(("gpt-audio-mini", "gpt-audio-mini-2025-12-15"), Shutdown("2027-01-20", "gpt-audio-1.5")),
}


def shutdown_notice(model: str) -> str | None:
    """One line saying when ``model`` shuts down and what replaces it; None for a model with no shutdown date."""
    shutdown = SHUTDOWNS.get(model)
    if shutdown is None:
        return None
    return (f"{model} shuts down on {shutdown.date} (announced in the openai SDK); its successor is "
            f"{shutdown.successor}: rk.connect(model=\"{shutdown.successor}\").")


@dataclass(frozen=True)
class ServiceRules:
    """How one service flavours the GA protocol, where the Azure and OpenAI recordings differ."""

    rate_limits_updated: bool     # OpenAI sends rate_limits.updated after responses; Azure never did
    content_beside_part: bool     # Azure's content_part events repeat ``part`` as ``content``


SERVICES: dict[Service, ServiceRules] = {
    "openai": ServiceRules(rate_limits_updated=True, content_beside_part=False),
    "azure": ServiceRules(rate_limits_updated=False, content_beside_part=True),
}


def transcription_usage_kind(model: str) -> Literal["duration", "tokens"]:
    """How input transcription usage is counted: seconds of audio for the whisper models, else tokens.

    Recorded: gpt-realtime-whisper -> {"type": "duration", "seconds": 3}; gpt-4o-transcribe -> tokens.
    """
    return "duration" if "whisper" in model else "tokens"


# -- the protocol's vocabulary: the client's checks and the server read these, nothing else ---------


@functools.cache
def voices() -> tuple[str, ...]:
    """The built-in GA voice names, from the Literal in the SDK's audio output config (the spec).

        >>> voices()[:3], "marin" in voices()
        (('alloy', 'ash', 'ballad'), True)
    """
    from openai.types.realtime import RealtimeAudioConfigOutput

    annotation = RealtimeAudioConfigOutput.model_fields["voice"].annotation
    for member in _flattened(annotation):
        if typing.get_origin(member) is Literal:
            return tuple(typing.get_args(member))
    raise RuntimeError("openai.types.realtime no longer lists the built-in voices; update realtime_kit")


def _flattened(annotation: object) -> list[object]:
    members: list[object] = []
    for member in typing.get_args(annotation) or (annotation,):
        members.extend(_flattened(member) if typing.get_origin(member) is typing.Union else [member])
    return members


SPEED_RANGE = (0.25, 1.5)
# Ranges the SDK documents in prose only, by GA session path: (low, high). No maximum is documented for
# the turn-detection durations, so none is invented here.
RANGES: dict[tuple[str, ...], tuple[float, float]] = {
    ("audio", "output", "speed"): SPEED_RANGE,
    ("audio", "input", "turn_detection", "threshold"): (0.0, 1.0),
    ("audio", "input", "turn_detection", "prefix_padding_ms"): (0, math.inf),
    ("audio", "input", "turn_detection", "silence_duration_ms"): (0, math.inf),
    ("audio", "input", "turn_detection", "idle_timeout_ms"): (0, math.inf),
    ("max_output_tokens",): (1, 4096),
    ("truncation", "retention_ratio"): (0.0, 1.0),
}

# The GA audio formats, by their GA type and by the preview-era names the flat keywords still accept.
PCM_RATE, G711_RATE = 24000, 8000
AUDIO_FORMATS: dict[str, dict[str, object]] = {
    "audio/pcm": {"type": "audio/pcm", "rate": PCM_RATE},
    "audio/pcmu": {"type": "audio/pcmu"},
    "audio/pcma": {"type": "audio/pcma"},
    "pcm16": {"type": "audio/pcm", "rate": PCM_RATE},
    "g711_ulaw": {"type": "audio/pcmu"},
    "g711_alaw": {"type": "audio/pcma"},
}


# -- transcription models ----------------------------------------------------------------------------


@functools.cache
def transcription_model_names() -> tuple[str, ...]:
    """The transcription model names the installed SDK lists (AudioTranscription.model)."""
    from openai.types.realtime import AudioTranscription

    names: list[str] = []
    for member in typing.get_args(AudioTranscription.model_fields["model"].annotation):
        if typing.get_origin(member) is Literal:
            names.extend(typing.get_args(member))
    return tuple(names)


# Which transcription models take which option, from the SDK's AudioTranscription docstrings: delay "Only
# supported with gpt-realtime-whisper", keywords and languages "Supported by gpt-transcribe and
# gpt-live-transcribe"; prompt "is not supported with gpt-realtime-whisper" (None: every other model).
TRANSCRIPTION_OPTIONS: dict[str, tuple[str, ...] | None] = {
    "delay": ("gpt-realtime-whisper",),
    "keywords": ("gpt-transcribe", "gpt-live-transcribe"),
    "languages": ("gpt-transcribe", "gpt-live-transcribe"),
    "prompt": None,
}


def unsupported_transcription_options(transcription: dict[str, object]) -> list[str]:
    """The options set in ``transcription`` that its model does not take, per `TRANSCRIPTION_OPTIONS`.

        >>> unsupported_transcription_options({"model": "whisper-1", "delay": "low", "language": "en"})
        ['delay']
        >>> unsupported_transcription_options({"model": "gpt-realtime-whisper", "prompt": "tech words"})
        ['prompt']
    """
    model = str(transcription.get("model") or "")
    found = []
    for option, models in TRANSCRIPTION_OPTIONS.items():
        if transcription.get(option) in (None, "", []):
            continue
        allowed = model in models if models is not None else model != "gpt-realtime-whisper"
        if not allowed:
            found.append(option)
    return found
