"""Pure core of the playground's controls: control values <-> `session.update` keywords.

    values = ControlValues(voice="coral", turn_detection="server_vad", vad_threshold=0.6)
    await session.update(**values.update_kwargs())
    ControlValues.from_config(session.config)   # the controls that show an effective session

No widgets and no asyncio here, so the mapping is tested without a kernel.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..rules import voices

# The GA voices, in the order the Azure AI Foundry playground lists them (same tuple as server/voice.py).
GA_VOICES = voices()
TURN_DETECTION_TYPES = ("server_vad", "semantic_vad", "none")
OUTPUT_MODALITIES = ("audio", "text")


@dataclass(frozen=True)
class ControlValues:
    """What the playground's controls show; `update_kwargs()` turns them into `session.update` keywords."""

    instructions: str = ""
    voice: str = "alloy"
    output_modality: str = "audio"  # GA allows exactly one: "audio" (with transcript) or "text"
    turn_detection: str = "server_vad"  # one of TURN_DETECTION_TYPES
    vad_threshold: float = 0.5
    prefix_padding_ms: int = 300
    silence_duration_ms: int = 500
    transcription: bool = True

    def update_kwargs(self) -> dict[str, Any]:
        """The flat keywords of `session.update` (see config.build_session) these controls ask for.

        >>> ControlValues(turn_detection="none", transcription=False).update_kwargs()["turn_detection"] is None
        True
        """
        kwargs: dict[str, Any] = {
            "instructions": self.instructions,
            "voice": self.voice,
            "output_modalities": [self.output_modality],
            "turn_detection": None if self.turn_detection == "none" else self.turn_detection,
            "transcription": True if self.transcription else None,
        }
        # threshold, padding and silence exist only for server_vad; semantic_vad would refuse them
        if self.turn_detection == "server_vad":
            kwargs["vad_threshold"] = round(float(self.vad_threshold), 2)
            kwargs["prefix_padding_ms"] = int(self.prefix_padding_ms)
            kwargs["silence_duration_ms"] = int(self.silence_duration_ms)
        return kwargs

    @classmethod
    def from_config(cls, config: Mapping[str, Any] | None) -> ControlValues:
        """The control values that show an effective GA session dict; defaults for what it lacks."""
        if not config:
            return cls()
        audio = _mapping(config.get("audio"))
        audio_in, audio_out = _mapping(audio.get("input")), _mapping(audio.get("output"))
        defaults = cls()
        # an absent key keeps the control's default; a present None means the feature is off
        turn = _mapping(audio_in["turn_detection"]) if audio_in.get("turn_detection") is not None else None
        if "turn_detection" not in audio_in:
            turn = {"type": defaults.turn_detection}
        modalities = list(config.get("output_modalities") or ["audio"])
        return cls(
            instructions=str(config.get("instructions") or ""),
            voice=_voice_name(audio_out.get("voice"), defaults.voice),
            output_modality="text" if modalities == ["text"] else "audio",
            turn_detection="none" if turn is None else str(turn.get("type") or "server_vad"),
            vad_threshold=float(_or(turn, "threshold", defaults.vad_threshold)),
            prefix_padding_ms=int(_or(turn, "prefix_padding_ms", defaults.prefix_padding_ms)),
            silence_duration_ms=int(_or(turn, "silence_duration_ms", defaults.silence_duration_ms)),
            transcription=(audio_in["transcription"] is not None if "transcription" in audio_in
                           else defaults.transcription),
        )


def truncate_point(played_ms: float, audio_ms: float) -> int:
    """Where to truncate an assistant item: the audio actually played, never past the audio's end.

    >>> truncate_point(1234.7, 900.0), truncate_point(-5, 900), truncate_point(450.9, 900)
    (900, 0, 450)
    """
    end = max(0, int(audio_ms))  # int() floors: a truncation one ms past the end is a server error
    return min(end, max(0, int(played_ms)))


def pcm16_ms(nbytes: int, rate: int) -> float:
    """Milliseconds of mono PCM16 audio in `nbytes` bytes at `rate` Hz."""
    return 1000.0 * (nbytes // 2) / rate


def session_config(session: Any) -> dict[str, Any]:
    """The session's effective GA config as a dict ({} when it has none yet)."""
    config = getattr(session, "config", None)
    return dict(config) if isinstance(config, Mapping) else dict(_mapping(config))


def turn_detection_type(config: Mapping[str, Any]) -> str | None:
    """The config's turn detection type, or None when it is off (the client commits its audio).

    >>> turn_detection_type({"audio": {"input": {"turn_detection": None}}}) is None
    True
    """
    audio_in = _mapping(_mapping(config.get("audio")).get("input"))
    if "turn_detection" not in audio_in:
        return "server_vad"  # what a fresh GA session uses
    turn = audio_in["turn_detection"]
    return None if turn is None else str(_mapping(turn).get("type") or "server_vad")


def server_interrupts(config: Mapping[str, Any]) -> bool:
    """True when the server cancels a response itself on speech_started (interrupt_response not false)."""
    turn = _mapping(_mapping(_mapping(config.get("audio")).get("input")).get("turn_detection"))
    return turn.get("interrupt_response") is not False


def _mapping(value: Any) -> Mapping[str, Any]:
    if isinstance(value, Mapping):
        return value
    if hasattr(value, "model_dump"):  # an SDK model instead of a dict
        dumped: Mapping[str, Any] = value.model_dump(exclude_none=True)
        return dumped
    return {}


def _or(mapping: Mapping[str, Any] | None, key: str, default: Any) -> Any:
    value = mapping.get(key) if mapping is not None else None
    return default if value is None else value


def _voice_name(voice: Any, default: str) -> str:
    if isinstance(voice, str):
        return voice
    return default  # a custom voice object ({"id": ...}) has no entry in the dropdown
