"""Transcription sessions' config: the ``session.update`` of a transcription session, checked before sending.

A transcription session (``rk.connect(intent="transcription")``) has no model answering: the input
audio is committed and transcribed, with ``conversation.item.input_audio_transcription.delta``
events as words arrive and ``.completed`` at the end. `transcription_config` builds its
``session.update`` from keywords (session/transcription.py sends it).

    >>> transcription_config(model="gpt-transcribe", language="en", logprobs=True)["audio"]["input"]["transcription"]
    {'model': 'gpt-transcribe', 'language': 'en'}
    >>> transcription_config(model="gpt-transcibe")
    Traceback (most recent call last):
    ...
    realtime_kit.errors.ConfigError: session.update: unknown transcription model 'gpt-transcibe'; did you mean \
'gpt-transcribe'? The models: whisper-1, gpt-transcribe, gpt-live-transcribe, gpt-4o-mini-transcribe, \
gpt-4o-mini-transcribe-2025-12-15, gpt-4o-transcribe, gpt-4o-transcribe-diarize, gpt-realtime-whisper.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..errors import ConfigError
from ..rules import transcription_model_names, unsupported_transcription_options
from .checks import closest

__all__ = ["DEFAULT_TRANSCRIPTION_MODEL", "LOGPROBS", "TRANSCRIPTION_KEYWORDS", "transcription_config"]

# The current transcription model the SDK lists with keywords and languages (not marked for shutdown).
DEFAULT_TRANSCRIPTION_MODEL = "gpt-transcribe"
LOGPROBS = "item.input_audio_transcription.logprobs"
CONTEXT = "session.update"
# rk.transcribe's and transcription_config's keywords: the AudioTranscription fields, then the session's.
TRANSCRIPTION_KEYWORDS = ("model", "language", "languages", "prompt", "keywords", "delay", "logprobs",
                          "turn_detection", "noise_reduction")


def transcription_config(**options: Any) -> dict[str, Any]:
    """A checked ``session`` for a transcription session's ``session.update`` (``type: "transcription"``).

    Keywords: model (default `DEFAULT_TRANSCRIPTION_MODEL`), language, languages, prompt, keywords,
    delay (the AudioTranscription fields; each only where the SDK says its model takes it), logprobs
    (True adds the logprobs include), turn_detection (None: the client commits; "server_vad" or a
    dict: the server splits turns), noise_reduction ("near_field", "far_field" or a dict).
    """
    for name in options:
        if name not in TRANSCRIPTION_KEYWORDS:
            guess = closest(name, list(TRANSCRIPTION_KEYWORDS))
            hint = f"did you mean '{guess}'?" if guess else f"the keywords are: {', '.join(TRANSCRIPTION_KEYWORDS)}."
            raise ConfigError(f"{CONTEXT}: unknown transcription keyword '{name}'; {hint}", path=name,
                              suggestion=guess)
    transcription = {key: options[key] for key in ("model", "language", "languages", "prompt", "keywords", "delay")
                     if options.get(key) is not None}
    transcription.setdefault("model", DEFAULT_TRANSCRIPTION_MODEL)
    _check_model(transcription)
    audio_input: dict[str, Any] = {"transcription": transcription}
    if "turn_detection" in options:
        detection = options["turn_detection"]
        audio_input["turn_detection"] = {"type": detection} if isinstance(detection, str) else detection
    if "noise_reduction" in options:
        reduction = options["noise_reduction"]
        audio_input["noise_reduction"] = {"type": reduction} if isinstance(reduction, str) else reduction
    session: dict[str, Any] = {"type": "transcription", "audio": {"input": audio_input}}
    if options.get("logprobs"):
        session["include"] = [LOGPROBS]
    return _validated(session)


def _check_model(transcription: Mapping[str, Any]) -> None:
    model, names = transcription["model"], transcription_model_names()
    if model not in names:
        guess = closest(str(model), list(names))
        hint = f"did you mean '{guess}'? " if guess else ""
        raise ConfigError(f"{CONTEXT}: unknown transcription model {model!r}; {hint}The models: {', '.join(names)}.",
                          path="audio.input.transcription.model", suggestion=guess)
    unsupported = unsupported_transcription_options(dict(transcription))
    if unsupported:
        option = unsupported[0]
        raise ConfigError(f"{CONTEXT}: {option}= is not supported with {model} (the SDK's AudioTranscription "
                          f"docstring); drop it or pick a model that takes it.",
                          path=f"audio.input.transcription.{option}")


def _validated(session: dict[str, Any]) -> dict[str, Any]:
    from ..spec import SpecViolation, validate_transcription_session
    from .checks import friendly

    try:
        validate_transcription_session(session)
    except SpecViolation as violation:
        try:  # the realtime session's audio.input has the same shape: its messages name the key and the fix
            error = friendly(violation, {**session, "type": "realtime"}, CONTEXT)
        except Exception:
            error = ConfigError(f"{CONTEXT}: {violation.message} ({violation.param})", path=violation.param)
        raise error from None
    return session
