"""server_vad's ``idle_timeout_ms``: when the user says nothing for that long after the assistant finished.

The rule, from the SDK's docstrings (RealtimeAudioInputTurnDetection.idle_timeout_ms and
InputAudioBufferTimeoutTriggered): the timeout "will be applied after the last model response's
audio has finished playing, i.e. it's set to the response.done time plus audio playback duration";
when it is reached with no speech, ``input_audio_buffer.timeout_triggered`` carries the silent
segment (``audio_start_ms``: after the playback, ``audio_end_ms``: now, both as offsets into the
input audio), "the empty audio will be committed to the conversation as an input_audio item" and
"a model response will be generated". Only for ``server_vad``.

Time here is the input audio's own clock (ms of audio appended), so the rule is deterministic: a
client streaming a microphone advances it in real time, a test advances it by appending silence.

    >>> timer = IdleTimer()
    >>> timer.fed(1000); timer.response_done(audio_ms=500)     # playback ends at 1500 ms of input
    >>> timer.fed(5000); timer.due(5000) is None
    True
    >>> timer.fed(1000); timer.due(5000)
    (1500, 7000)
    >>> timer.response_done(audio_ms=0); timer.fed(9000); timer.due(5000, judged_ms=11000) is None   # not heard yet
    True
    >>> timer.due(5000, judged_ms=12500)
    (7000, 12500)
"""

from __future__ import annotations

__all__ = ["IdleTimer"]


class IdleTimer:
    """Watches the input audio clock, the assistant's playback and the user's speech for one session."""

    def __init__(self) -> None:
        self.input_ms = 0.0                  # audio appended so far, in ms
        self._from_ms: float | None = None   # where the idle stretch starts (armed), or None
        self._speaking = False

    def fed(self, ms: float) -> None:
        """``ms`` more input audio arrived."""
        self.input_ms += ms

    def response_done(self, audio_ms: float) -> None:
        """A response ended now, its audio playing for ``audio_ms`` more: the idle stretch starts after that."""
        self._from_ms = self.input_ms + audio_ms

    def speech_started(self) -> None:
        """The user speaks: nothing is idle until the next response has played."""
        self._speaking, self._from_ms = True, None

    def speech_stopped(self) -> None:
        self._speaking = False

    def due(self, timeout_ms: int | None, judged_ms: float | None = None) -> tuple[int, int] | None:
        """(audio_start_ms, audio_end_ms) of the idle stretch once it reaches ``timeout_ms``; disarms itself.

        ``judged_ms``: how far the detector has heard the input (audio appended since may still hold speech),
        so the answer depends on the audio, not on how far appends ran ahead of the detector.
        """
        if timeout_ms is None or self._from_ms is None or self._speaking:
            return None
        now = self.input_ms if judged_ms is None else min(judged_ms, self.input_ms)
        if now - self._from_ms < timeout_ms:
            return None
        start, self._from_ms = self._from_ms, None
        return int(start), int(now)
