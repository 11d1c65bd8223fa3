"""Audio input for a session: convert and append speech, then commit it or let server VAD end the turn.

The pure part, `silence_needed`, decides how much trailing silence server VAD needs to hear a clip
end; the methods send 500 ms `input_audio_buffer.append` chunks in the session's input format::

    reply = await session.send_audio(rk.Audio.from_wav("question.wav"))
    reply.input_transcript, reply.transcript

    >>> from realtime_kit.audio import Audio
    >>> clip = Audio.tone(440, 1.0) + Audio.silence(0.2)   # 0.2 s of its own silence
    >>> round(float(silence_needed(clip, {"type": "server_vad", "silence_duration_ms": 500})), 2)
    0.6
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from .conversation import Response
from .tool_loop import ToolCalling

# Input audio goes out in chunks of this many milliseconds (the service accepts up to 15 MiB per event).
APPEND_CHUNK_MS = 500


class AudioInput(ToolCalling):
    """The session's audio input methods: send_audio, append_audio, commit and clear_input."""

    async def send_audio(self, audio: Any, rate: int | None = None, *, vad_timeout: float = 3.0,
                         transcript_timeout: float = 10.0, **overrides: Any) -> Response:
        """Send speech (rk.Audio, ndarray + rate, (ndarray, rate) or a WAV path) and return the answer.

        The audio is converted to the session's input format (PCM16 24 kHz or G.711 8 kHz) and appended
        in 500 ms chunks. With turn detection off it is committed and a response requested here.
        With server VAD the server decides: silence is appended after the audio (the configured
        silence_duration_ms plus 300 ms) so the VAD hears the speech end; if the VAD reports nothing
        for `vad_timeout` seconds after the last chunk, the audio is committed and answered anyway.
        When input transcription is on, waits up to `transcript_timeout` s for `input_transcript`.
        """
        from ..audio.core import Audio, coerce_audio

        clip = coerce_audio(audio, rate)
        reply = await self._begin_turn("send_audio", audio_input=True)
        turn = turn_detection_of(self.config)
        waiter = self._expect_turn(reply)
        try:
            await self._append(clip, reply)
            if turn is None:
                await self._commit_and_ask(reply, overrides)
            else:
                padding = silence_needed(clip, turn)
                if padding > 0:
                    await self._append(Audio.silence(padding, clip.rate), reply)
                await self._await_vad(reply, turn, vad_timeout, overrides)
            await self._until(waiter)
        except BaseException:
            self.conversation.withdraw(reply)
            raise
        finally:
            self._forget(waiter)
            self._end_turn(reply)
        if self._transcribing():
            try:
                await self._wait(lambda: reply.input_transcript is not None or
                                 reply.input_transcript_error is not None, timeout=transcript_timeout)
            except TimeoutError:
                reply.notes.append(f"No input transcript arrived within {transcript_timeout:.0f} s.")
        final = reply.final
        if final is not reply:
            final.input_transcript, final.input_item_id = reply.input_transcript, reply.input_item_id
        return final

    async def append_audio(self, samples: Any, rate: int | None = None) -> list[str]:
        """Convert samples (int16/float, any rate/channels) to the input format and append them."""
        from ..audio.core import coerce_audio

        return await self._append(coerce_audio(samples, rate))

    async def commit(self) -> str | None:
        """Commit the input audio buffer; returns the new user item's id (at input_audio_buffer.committed)."""
        before = self._counts["input_audio_buffer.committed"]
        await self._exchange(lambda: self._counts["input_audio_buffer.committed"] > before,
                             {"type": "input_audio_buffer.commit"})
        return self._last_committed

    async def clear_input(self) -> None:
        """Drop the audio appended but not yet committed (at input_audio_buffer.cleared)."""
        before = self._counts["input_audio_buffer.cleared"]
        await self._exchange(lambda: self._counts["input_audio_buffer.cleared"] > before,
                             {"type": "input_audio_buffer.clear"})

    async def _append(self, clip: Any, reply: Response | None = None) -> list[str]:
        fmt, wire_rate = self.conversation.input_format
        sent = reply.request_event_ids if reply is not None else []
        for chunk in clip.to_base64_chunks(ms=APPEND_CHUNK_MS, fmt=fmt, rate=wire_rate):
            sent.append(await self._send({"type": "input_audio_buffer.append", "audio": chunk}))
        return sent

    async def _commit_and_ask(self, reply: Response, overrides: Mapping[str, Any]) -> None:
        reply.request_event_ids.append(await self._send({"type": "input_audio_buffer.commit"}))
        reply.request_event_ids.append(await self._send(self._response_create(reply.tag, overrides)))

    async def _await_vad(self, reply: Response, turn: Mapping[str, Any], vad_timeout: float,
                         overrides: Mapping[str, Any]) -> None:
        seen = -1
        while reply.input_item_id is None and reply.id is None:
            progress = len(reply.timings)  # speech_started / speech_stopped marks mean the VAD is working
            if progress == seen:
                # the VAD heard nothing new for vad_timeout seconds: commit and ask ourselves
                reply.notes.append("Server VAD did not end the turn; send_audio committed the audio itself.")
                await self._commit_and_ask(reply, overrides)
                return
            seen = progress
            try:
                await self._wait(lambda: reply.input_item_id is not None or reply.id is not None,
                                 owns=reply.request_event_ids.__contains__, partial=lambda: reply,
                                 timeout=vad_timeout)
            except TimeoutError:
                continue
        if turn.get("create_response") is False and reply.id is None:
            reply.request_event_ids.append(await self._send(self._response_create(reply.tag, overrides)))

    def _transcribing(self) -> bool:
        return bool(((self.config.get("audio") or {}).get("input") or {}).get("transcription"))


def turn_detection_of(session: Mapping[str, Any]) -> Any:
    """The session's audio.input.turn_detection (None when off)."""
    return ((session.get("audio") or {}).get("input") or {}).get("turn_detection")


def silence_needed(clip: Any, turn: Mapping[str, Any]) -> float:
    """Seconds of silence to append so server VAD hears the end of speech (minus what the clip has)."""
    wanted = (turn.get("silence_duration_ms") or 500) / 1000 + 0.3 if turn.get("type") != "semantic_vad" else 1.0
    samples = np.abs(clip.samples.astype(np.int32))
    loud = np.flatnonzero(samples > 104)  # about -50 dBFS
    trailing = (len(samples) - 1 - loud[-1]) / clip.rate if len(loud) else clip.duration
    return max(0.0, wanted - trailing)
