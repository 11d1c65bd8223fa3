"""What an experiment sends: a Turn is a text or an audio clip, with the words it should be heard as.

`coerce_turn` is the one place that decides what counts as a turn; extend it for new kinds of input::

    >>> coerce_turn("How are you?")
    Turn(label='How are you?', text='How are you?', audio=None, expected=None)
    >>> coerce_turn(("question.wav", "what is the weather")).expected      # doctest: +SKIP
    'what is the weather'

Accepted: a str (a text turn, or a path to an existing .wav file), a Path, an `rk.Audio`, an
(audio or path, expected words) pair, a dict with text= or audio= (and expected=, label=), a Turn,
or any object with an `audio_in` clip (a recording; its `expected`, else `transcript`, is used).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..audio.core import Audio

__all__ = ["Turn", "coerce_turn", "expand_turns"]


@dataclass(frozen=True)
class Turn:
    """One input of an experiment: `text` or `audio` (exactly one), and optionally the `expected` words."""

    label: str
    text: str | None = None
    audio: Audio | None = None
    expected: str | None = None

    @property
    def kind(self) -> str:
        """"text" or "audio"."""
        return "text" if self.text is not None else "audio"


def coerce_turn(value: Any, index: int = 0) -> Turn:
    """A Turn from any accepted shape (see the module docstring); a clear TypeError otherwise."""
    if isinstance(value, Turn):
        return value
    if isinstance(value, tuple) and len(value) == 2 and (value[1] is None or isinstance(value[1], str)):
        turn = coerce_turn(value[0], index)
        return Turn(turn.label, turn.text, turn.audio, value[1])
    if isinstance(value, Mapping):
        return _from_mapping(value, index)
    if isinstance(value, str) and not _is_wav(value):
        if not value.strip():
            raise TypeError(f"Experiment turn {index}: an empty text; give the words to send.")
        return Turn(_short(value), text=value)
    if isinstance(value, str | Path):
        if not Path(value).is_file():
            raise FileNotFoundError(f"Experiment turn {index}: no file {str(value)!r}; check the path (relative "
                                    f"to {Path.cwd()}).")
        return Turn(Path(value).name, audio=Audio.from_wav(value))
    if isinstance(value, Audio):
        return Turn(f"audio {index} ({value.duration:.1f} s)", audio=value)
    if hasattr(value, "turns") and hasattr(value, "track"):  # a whole rk.Recording: its input track
        return Turn(f"recording {index} (input track)", audio=value.track("audio_in.wav"))
    if getattr(value, "input_kind", None) == "text" and value.user_text:  # a typed turn of a recording
        return Turn(_short(value.user_text), text=value.user_text)
    clip = getattr(value, "audio_in", None)
    if isinstance(clip, Audio):  # a spoken turn of a recording, or anything holding the user's audio
        # a recorded turn's `transcript` is the model's answer: what the user said is its `user_text`
        said = getattr(value, "user_text", None) if hasattr(value, "input_kind") else None
        expected = said or getattr(value, "expected", None) or getattr(value, "transcript", None)
        label = getattr(value, "label", None) or getattr(value, "name", None) or f"recording {index}"
        return Turn(str(label), audio=clip, expected=expected if isinstance(expected, str) else None)
    raise TypeError(f"Experiment turn {index}: {type(value).__name__} is not a turn; give a text, an rk.Audio, "
                    f"a .wav path, (audio or path, 'expected words'), or dict(text=... | audio=..., expected=...).")


def expand_turns(values: Iterable[Any]) -> list[Turn]:
    """Every turn of ``values``; an rk.Recording stands for the user's turns it recorded, in order.

    Typed turns are sent as text, spoken turns as their recorded audio (expected: what the recorded
    service heard); turns that only carried a tool's output are left out (the tools answer again).
    """
    turns: list[Turn] = []
    for index, value in enumerate(values):
        if hasattr(value, "turns") and hasattr(value, "track"):
            recorded = [t for t in value.turns if getattr(t, "input_kind", "") in ("text", "audio")]
            if not recorded:
                raise ValueError(f"Experiment turn {index}: the recording has no typed or spoken turns to re-run.")
            turns.extend(coerce_turn(turn, len(turns)) for turn in recorded)
        else:
            turns.append(coerce_turn(value, len(turns)))
    return turns


def _from_mapping(value: Mapping[str, Any], index: int) -> Turn:
    unknown = set(value) - {"text", "audio", "expected", "label"}
    if unknown or ("text" in value) == ("audio" in value):
        raise TypeError(f"Experiment turn {index}: a dict turn needs exactly one of text= or audio= (and "
                        f"optionally expected=, label=); got keys {sorted(value)}.")
    if "text" in value:
        turn = Turn(_short(value["text"]), text=str(value["text"]))
    else:
        audio = value["audio"]
        turn = coerce_turn(audio if isinstance(audio, Audio | Path) else Path(str(audio)), index)
    return Turn(str(value.get("label") or turn.label), turn.text, turn.audio, value.get("expected"))


def _is_wav(text: str) -> bool:
    return text.lower().endswith(".wav") and "\n" not in text


def _short(text: str) -> str:
    return text if len(text) <= 40 else text[:37] + "..."
