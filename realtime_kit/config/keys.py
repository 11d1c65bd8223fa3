"""The session config's vocabulary: flat keywords and the GA paths they set, preview-era names, ranges.

Only what the installed SDK cannot tell us is written down here (schema.py reads the rest)::

    >>> FLAT_PATHS["vad_threshold"]
    ('audio', 'input', 'turn_detection', 'threshold')
    >>> PREVIEW_KEYS["modalities"]
    ('output_modalities', 'output_modalities')
"""

from __future__ import annotations

from typing import Any

from .. import rules
from ..rules import AUDIO_FORMATS
from .tree import Path

CONTEXT = "session.update"

# GA format types and preview-era names -> their GA objects (the flat input_format=/output_format= accept both).
FORMATS: dict[str, dict[str, Any]] = dict(AUDIO_FORMATS)

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

TURN_DETECTION: Path = ("audio", "input", "turn_detection")
TRANSCRIPTION: Path = ("audio", "input", "transcription")

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
    "reasoning_effort": ("reasoning", "effort"),
    "truncation": ("truncation",),
    "input_format": ("audio", "input", "format"),
    "output_format": ("audio", "output", "format"),
    "noise_reduction": ("audio", "input", "noise_reduction"),
    "transcription": TRANSCRIPTION,
    "transcription_language": (*TRANSCRIPTION, "language"),
    "turn_detection": TURN_DETECTION,
    "vad_threshold": (*TURN_DETECTION, "threshold"),
    "prefix_padding_ms": (*TURN_DETECTION, "prefix_padding_ms"),
    "silence_duration_ms": (*TURN_DETECTION, "silence_duration_ms"),
    "idle_timeout_ms": (*TURN_DETECTION, "idle_timeout_ms"),
    "create_response": (*TURN_DETECTION, "create_response"),
    "interrupt_response": (*TURN_DETECTION, "interrupt_response"),
    "eagerness": (*TURN_DETECTION, "eagerness"),
}
FLAT_KEYWORDS = tuple(FLAT_PATHS)
TURN_DETECTION_KEYWORDS = ("vad_threshold", "prefix_padding_ms", "silence_duration_ms", "idle_timeout_ms",
                           "create_response", "interrupt_response", "eagerness")
# For these, None or False means "turn it off" (an explicit null); for every other keyword None means "leave it".
SWITCHES = ("turn_detection", "transcription", "noise_reduction", "tracing")

# Ranges the SDK documents in prose only: path -> (low, high), from the rulebook.
RANGES: dict[Path, tuple[float, float]] = {tuple(path): bounds for path, bounds in rules.RANGES.items()}
