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
from .pump import SessionPump
from .turns import TurnController

# How long send_audio waits for what the server owes (a turn it began, an answer) before it returns what it has.
IN_FLIGHT_TIMEOUT_S = 15.0
# Input audio goes out in chunks of this many milliseconds (the service accepts up to 15 MiB per event).
APPEND_CHUNK_MS = 500


class AudioInput:
    """The session's audio input on a pump: send_audio (a turn, begun by the turn controller), append_audio,
    commit and clear_input."""

    def __init__(self, pump: SessionPump, turns: TurnController) -> None:
        self._pump = pump
        self._turns = turns

    async def send_audio(self, audio: Any, rate: int | None = None, *, vad_timeout: float = 3.0,
                         transcript_timeout: float = 10.0, **overrides: Any) -> Response:
        """One audio turn: append the clip (and the silence server VAD needs), let the VAD or a commit end it,
        wait for every answer the clip's utterances get; the last one, `.turns` listing all (Session.send_audio
        tells the whole story)."""
        from ..audio.core import Audio, coerce_audio

        clip = coerce_audio(audio, rate)
        before = self._turn_marks()
        reply = await self._turns.begin("send_audio", audio_input=True)
        turn = turn_detection_of(self._pump.config)
        waiter = self._turns.expect(reply)
        try:
            await self.append_clip(clip, reply)
            if turn is None:
                await self._commit_and_ask(reply, overrides)
            else:
                padding = silence_needed(clip, turn)
                if padding > 0:
                    await self.append_clip(Audio.silence(padding, clip.rate), reply)
                await self._await_vad(reply, turn, vad_timeout, overrides)
            await self._pump.until(waiter)
        except BaseException:
            self._pump.conversation.withdraw(reply)
            raise
        finally:
            self._pump.forget(waiter)
            self._turns.end(reply)
        turns = [reply]
        if turn is not None:
            turns = await self._every_turn(before, reply, turn, vad_timeout, utterances(clip, turn))
        for each in turns:
            await self._input_transcript(each, transcript_timeout)
        finals = [each.final for each in turns]
        for each, final in zip(turns, finals, strict=True):
            if final is not each:
                final.input_transcript, final.input_item_id = each.input_transcript, each.input_item_id
        finals[-1].turns = finals
        return finals[-1]

    def _turn_marks(self) -> tuple[int, int, int, int]:
        """Counts that tell whether the server VAD is still busy with our audio: (started, stopped,
        committed, responses so far)."""
        counts = self._pump.counts
        return (counts["input_audio_buffer.speech_started"], counts["input_audio_buffer.speech_stopped"],
                counts["input_audio_buffer.committed"], len(self._pump.conversation.responses))

    async def _every_turn(self, before: tuple[int, int, int, int], reply: Response, turn: Mapping[str, Any],
                          vad_timeout: float, expected: int) -> list[Response]:
        """Wait until the VAD has ended every utterance of the clip and each answer is done; the turns in order."""
        answers = turn.get("create_response") is not False

        def owed() -> bool:  # the server began something it must finish: a turn it heard start, its commit, an answer
            started, stopped, committed, created = (now - then for now, then in
                                                    zip(self._turn_marks(), before, strict=True))
            answering = any(not r.final.done for r in self._pump.conversation.responses[before[3]:])
            # the commit follows speech_stopped in the next event: between the two nothing is settled
            return answering or started > stopped or stopped > committed or (answers and committed > created)

        def quiet() -> bool:
            stopped = self._turn_marks()[1] - before[1]
            return (stopped >= expected or not answers) and not owed()

        def progress() -> tuple[Any, ...]:
            return (*self._turn_marks(), sum(r.done for r in self._pump.conversation.responses[before[3]:]))

        while not quiet():
            seen = progress()
            in_flight = owed()
            try:  # what the server owes always comes; otherwise the VAD gets vad_timeout s to do something
                # (a loaded server may take longer than vad_timeout to end a turn it began: it is not idle)
                # what is owed gets longer, but not forever: a response the server never ends must not hang
                await self._pump.wait(lambda seen=seen: quiet() or progress() != seen,  # type: ignore[misc]
                                 timeout=IN_FLIGHT_TIMEOUT_S if in_flight else vad_timeout)
            except TimeoutError:
                if owed():
                    reply.notes.append("The server did nothing more with the clip; send_audio stopped waiting.")
                break
        created = self._pump.conversation.responses[before[3]:]
        follow_ups = {id(r.follow_up) for r in created if r.follow_up is not None}
        roots = [r for r in created if id(r) not in follow_ups]
        return roots if reply in roots else [reply, *roots]

    async def _input_transcript(self, reply: Response, timeout: float) -> None:
        if not self._transcribing():
            return
        try:
            await self._pump.wait(lambda: reply.input_transcript is not None or
                             reply.input_transcript_error is not None, timeout=timeout)
        except TimeoutError:
            reply.notes.append(f"No input transcript arrived within {timeout:.0f} s.")

    async def append_audio(self, samples: Any, rate: int | None = None) -> list[str]:
        """Convert samples (int16/float, any rate/channels) to the input format and append them."""
        from ..audio.core import coerce_audio

        return await self.append_clip(coerce_audio(samples, rate))

    async def commit(self) -> str | None:
        """Commit the input audio buffer; returns the new user item's id (at input_audio_buffer.committed)."""
        before = self._pump.counts["input_audio_buffer.committed"]
        await self._pump.exchange(lambda: self._pump.counts["input_audio_buffer.committed"] > before,
                             {"type": "input_audio_buffer.commit"})
        return self._pump.last_committed

    async def clear_input(self) -> None:
        """Drop the audio appended but not yet committed (at input_audio_buffer.cleared)."""
        before = self._pump.counts["input_audio_buffer.cleared"]
        await self._pump.exchange(lambda: self._pump.counts["input_audio_buffer.cleared"] > before,
                             {"type": "input_audio_buffer.clear"})

    async def append_clip(self, clip: Any, reply: Response | None = None) -> list[str]:
        """Append an rk.Audio in the input format, 500 ms an event; the event ids (kept by `reply` too)."""
        fmt, wire_rate = self._pump.conversation.input_format
        sent = reply.request_event_ids if reply is not None else []
        for chunk in clip.to_base64_chunks(ms=APPEND_CHUNK_MS, fmt=fmt, rate=wire_rate):
            sent.append(await self._pump.send({"type": "input_audio_buffer.append", "audio": chunk}))
        return sent

    async def _commit_and_ask(self, reply: Response, overrides: Mapping[str, Any]) -> None:
        reply.request_event_ids.append(await self._pump.send({"type": "input_audio_buffer.commit"}))
        reply.request_event_ids.append(await self._pump.send(self._turns.response_create(reply.tag, overrides)))

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
                await self._pump.wait(lambda: reply.input_item_id is not None or reply.id is not None,
                                 owns=reply.request_event_ids.__contains__, partial=lambda: reply,
                                 timeout=vad_timeout)
            except TimeoutError:
                continue
        if turn.get("create_response") is False and reply.id is None:
            reply.request_event_ids.append(await self._pump.send(self._turns.response_create(reply.tag, overrides)))

    def _transcribing(self) -> bool:
        return bool(((self._pump.config.get("audio") or {}).get("input") or {}).get("transcription"))


def turn_detection_of(session: Mapping[str, Any]) -> Any:
    """The session's audio.input.turn_detection (None when off)."""
    return ((session.get("audio") or {}).get("input") or {}).get("turn_detection")


def utterances(clip: Any, turn: Mapping[str, Any], frame_ms: int = 32) -> int:
    """How many loud stretches the clip has, apart by at least the turn's silence_duration_ms (at least 1).

    Loud means within 30 dB of the clip's loudest 32 ms frame: an estimate of how many turns server VAD
    will find, so send_audio knows how many answers to wait for.

    >>> from realtime_kit.audio import Audio
    >>> word = Audio.tone(300, 0.4)
    >>> utterances(word + Audio.silence(1.0) + word, {"silence_duration_ms": 500})
    2
    >>> utterances(word + Audio.silence(0.2) + word, {"silence_duration_ms": 500})
    1
    """
    frame = max(1, clip.rate * frame_ms // 1000)
    count = len(clip.samples) // frame
    if count == 0:
        return 1
    frames = clip.samples[: count * frame].astype(np.float64).reshape(count, frame)
    rms = np.sqrt((frames ** 2).mean(axis=1)) + 1e-9
    loud = np.flatnonzero(rms > rms.max() * 10 ** (-30 / 20))
    gap_frames = (turn.get("silence_duration_ms") or 500) / frame_ms
    return 1 + int(np.sum(np.diff(loud) > gap_frames))


def silence_needed(clip: Any, turn: Mapping[str, Any]) -> float:
    """Seconds of silence to append so server VAD hears the end of speech (minus what the clip has)."""
    wanted = (turn.get("silence_duration_ms") or 500) / 1000 + 0.3 if turn.get("type") != "semantic_vad" else 1.0
    samples = np.abs(clip.samples.astype(np.int32))
    loud = np.flatnonzero(samples > 104)  # about -50 dBFS
    trailing = (len(samples) - 1 - loud[-1]) / clip.rate if len(loud) else clip.duration
    return max(0.0, wanted - trailing)
