"""Transcription sessions for a Session: ``session.transcribe(audio)`` and the one-call ``rk.transcribe(audio)``.

    result = await rk.transcribe(rk.Audio.from_wav("question.wav"), language="en", logprobs=True)
    result.text, result.deltas, result.logprobs

    async with rk.connect(intent="transcription") as session:      # ?intent=transcription
        await session.update(model="gpt-transcribe", turn_detection=None)
        first = await session.transcribe(clip_one)
        second = await session.transcribe(clip_two)

The audio goes through the realtime transcription path: appended in chunks, committed by the client
(one clip, one user item), then transcribed by the service, which streams
``conversation.item.input_audio_transcription.delta`` and ends with ``.completed`` (or ``.failed``).
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ..config.transcription import DEFAULT_TRANSCRIPTION_MODEL, transcription_config
from ..errors import InvalidState
from .audio_input import AudioInput
from .pump import SessionPump

__all__ = ["Transcription", "TranscriptionInput", "transcribe"]

_EVENTS = "conversation.item.input_audio_transcription."


@dataclass
class Transcription:
    """What ``rk.transcribe`` returns: the text, the deltas as they came, and logprobs when asked.

        result = await rk.transcribe(rk.Audio.from_wav("question.wav"), logprobs=True)
        result.text, result.deltas, result.logprobs
    """

    text: str = ""
    deltas: list[str] = field(default_factory=list)
    logprobs: list[dict[str, Any]] | None = None
    item_id: str | None = None
    model: str = DEFAULT_TRANSCRIPTION_MODEL
    usage: dict[str, Any] | None = None
    error: str | None = None            # the failed event's message, when transcription failed

    def add_delta(self, delta: str, logprobs: Sequence[Any] | None) -> None:
        """Keep one delta (and its logprobs, as plain dicts) in arrival order."""
        self.deltas.append(delta)
        if logprobs is not None:
            self.logprobs = [*(self.logprobs or []), *(_plain(p) for p in logprobs)]

    def __repr__(self) -> str:
        logprobs = "" if self.logprobs is None else f", {len(self.logprobs)} logprobs"
        return f"Transcription({self.text!r}, {len(self.deltas)} deltas{logprobs}, model={self.model!r})"

    def _repr_html_(self) -> str:
        deltas = " | ".join(html.escape(d) for d in self.deltas)
        failed = f"<br><b>failed:</b> {html.escape(self.error)}" if self.error else ""
        return (f"<div><b>{html.escape(self.model)}</b>: {html.escape(self.text) or '<i>(nothing heard)</i>'}"
                f"<br><small>deltas: {deltas}</small>{failed}</div>")


def _plain(value: Any) -> dict[str, Any]:
    dump = getattr(value, "model_dump", None)
    return dict(dump()) if callable(dump) else dict(value)


class TranscriptionInput:
    """A transcription session's methods on a pump and its audio input: ``update_transcription``, ``transcribe``."""

    def __init__(self, pump: SessionPump, audio: AudioInput) -> None:
        self._pump = pump
        self._audio = audio

    @property
    def is_transcription(self) -> bool:
        """True for a transcription session (``rk.connect(intent="transcription")``)."""
        return self._pump.config.get("type") == "transcription"

    async def update_transcription(self, **options: Any) -> dict[str, Any]:
        """Send a transcription session.update (keywords of `transcription_config`); the effective session."""
        if not self.is_transcription:
            raise InvalidState("update_transcription() is for transcription sessions: connect with "
                               "rk.connect(intent=\"transcription\"), or set transcription= with update() here.")
        before = self._pump.conversation.session_updates
        await self._pump.exchange(lambda: self._pump.conversation.session_updates > before,
                             {"type": "session.update", "session": transcription_config(**options)})
        return self._pump.config

    async def transcribe(self, audio: Any, rate: int | None = None, *, timeout: float = 60.0) -> Transcription:
        """Append ``audio`` (anything rk.Audio accepts), commit it and return its transcription."""
        from ..audio.core import coerce_audio

        if not self.is_transcription:
            raise InvalidState("transcribe() needs a transcription session: rk.connect(intent=\"transcription\"), "
                               "or the one call rk.transcribe(audio).")
        transcription = ((self._pump.config.get("audio") or {}).get("input") or {}).get("transcription") or {}
        result = Transcription(model=str(transcription.get("model") or "none"))
        if not transcription:
            raise InvalidState("This transcription session has no transcription model yet: call "
                               "await session.update_transcription(model=...) first.")

        def on_event(event: Any) -> None:
            if getattr(event, "item_id", None) != result.item_id or result.item_id is None:
                return
            kind = event.type.removeprefix(_EVENTS)
            if kind == "delta":
                result.add_delta(event.delta or "", getattr(event, "logprobs", None))
            elif kind == "completed":
                result.text = event.transcript
                result.usage = event.usage.model_dump() if getattr(event, "usage", None) is not None else None
                if getattr(event, "logprobs", None) is not None and result.logprobs is None:
                    result.logprobs = [p.model_dump() for p in event.logprobs]
            elif kind == "failed":
                result.error = getattr(event.error, "message", None) or "transcription failed"

        stops = [self._pump.subscribe(_EVENTS + kind, on_event) for kind in ("delta", "completed", "failed")]
        try:
            await self._audio.append_clip(coerce_audio(audio, rate))
            result.item_id = await self._audio.commit()
            self._replay_transcription_events(result.item_id, on_event)
            ended = [(_EVENTS + kind, result.item_id) for kind in ("completed", "failed")]
            # the pump counts an event before its listeners run; the result is filled by the time this resumes
            await self._pump.wait(lambda: any(self._pump.counts[key] for key in ended), timeout=timeout)
        finally:
            for stop in stops:
                stop()
        return result

    def _replay_transcription_events(self, item_id: str | None, handler: Any) -> None:
        """Feed the handler the events for ``item_id`` that arrived before commit() returned its id."""
        for row in self._pump.events.filter(direction="in", item_id=item_id):
            if row.type.startswith(_EVENTS):
                handler(row.source)   # incoming rows keep the SDK's event model


async def transcribe(audio: Any, rate: int | None = None, *, target: str | None = None, timeout: float = 60.0,
                     endpoint: str | None = None, api_key: str | None = None, deployment: str | None = None,
                     credential: Any = None, **options: Any) -> Transcription:
    """Transcribe ``audio`` in one call through a realtime transcription session, then close it.

    ``options`` are `transcription_config`'s (model, language, languages, prompt, keywords, delay,
    logprobs, noise_reduction); the target is chosen as rk.connect chooses it (``target=``, endpoint=...).

        result = await rk.transcribe(rk.Audio.from_wav("q.wav"), model="gpt-transcribe", logprobs=True)
    """
    from .connecting import connect

    config_options = {"turn_detection": None, **options}
    transcription_config(**config_options)   # checked before connecting
    targeting = {k: v for k, v in dict(endpoint=endpoint, api_key=api_key, deployment=deployment,
                                       credential=credential).items() if v is not None}
    async with connect(target, intent="transcription", **targeting) as session:
        await session.update_transcription(**config_options)
        return await session.transcribe(audio, rate, timeout=timeout)
