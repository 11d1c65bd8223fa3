"""Per-turn measures, read from the conversation fold: one definition for the local server and the cloud.

The session's fold (`conversation.Conversation`) already turns server events into Responses with
`timings` (seconds since the request: `speech_stopped`, `committed`, `created`, `first_audio`,
`done`, ...). This module only reads them; `fold` feeds an event list through that same fold, so
a test can go from events to numbers::

    >>> replies = fold([(0.10, {"type": "response.created", "event_id": "e1",
    ...                        "response": {"id": "r1", "object": "realtime.response", "status": "in_progress"}}),
    ...                 (0.35, {"type": "response.done", "event_id": "e2",
    ...                        "response": {"id": "r1", "object": "realtime.response", "status": "completed"}})])
    >>> turn_metrics(replies)["request_to_created_s"]
    0.1

The moments of a turn, all on the client's clock, in seconds since the request:

- `end_of_speech` (audio turns): when the client had sent the input audio up to the end of speech
  (the last 10 ms frame above -50 dBFS; `speech_end_s` is that point on the audio's own timeline).
- `speech_stopped`, `committed`: the server's VAD events (`input_audio_buffer.*`); `committed` also
  for a manual commit.
- `request` (text turns): when `conversation.item.create` + `response.create` were sent (0).
- `created`, `first_audio` (first `response.output_audio.delta`), `done` (`response.done`) over the
  whole tool-call chain: `done` is the last response's.

Latencies are differences of consecutive moments (`LATENCIES`), and `to_first_audio_s` is the
headline: from the end of speech (audio) or the request (text) to the first audio. `send_audio`
sends faster than real time, so `end_of_speech_to_speech_stopped_s` is the server's processing
time; how long the VAD waited on the audio's own timeline is `vad_lag_s`.
"""

from __future__ import annotations

import math
import string
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from ..session.conversation import Conversation, Response
from .cost import Price, cost_of, tokens_of, transcription_cost

__all__ = ["LATENCIES", "fold", "speech_end_s", "speech_end_sent", "turn_metrics", "word_error_rate"]

# (from, to) moments; each gives a column "<from>_to_<to>_s".
LATENCIES: tuple[tuple[str, str], ...] = (
    ("end_of_speech", "speech_stopped"),
    ("speech_stopped", "committed"),
    ("committed", "created"),
    ("request", "created"),
    ("created", "first_audio"),
    ("first_audio", "done"),
)
FRAME_S = 0.010
SPEECH_DBFS = -50.0   # the same loudness floor send_audio uses to find trailing silence


def fold(events: Iterable[tuple[float, Any]]) -> list[Response]:
    """Feed (seconds since the request, server event) pairs through the session's fold; the responses made.

    Events may be dicts (validated against the SDK) or SDK models. The turn is requested at time 0,
    as an audio turn when the events contain VAD or commit events.
    """
    from ..spec import validate_server_event

    pairs = [(at, validate_server_event(e) if isinstance(e, Mapping) else e) for at, e in events]
    audio = any(getattr(e, "type", "").startswith("input_audio_buffer.") for _, e in pairs)
    conversation = Conversation()
    conversation.request(0.0, audio_input=audio)
    for at, event in pairs:
        conversation.apply(event, at)
    return list(conversation.responses)


def speech_end_s(samples: np.ndarray, rate: int) -> float | None:
    """Where speech ends in a clip (s): the end of its last 10 ms frame above -50 dBFS; None if silent."""
    frame = max(1, int(rate * FRAME_S))
    usable = len(samples) // frame * frame
    if usable == 0:
        return None
    frames = samples[:usable].astype(np.float64).reshape(-1, frame) / 32768.0
    loud = np.flatnonzero(np.sqrt((frames ** 2).mean(axis=1)) > 10 ** (SPEECH_DBFS / 20))
    return None if loud.size == 0 else round((loud[-1] + 1) * frame / rate, 3)


def speech_end_sent(append_times: Sequence[float], speech_end: float | None, chunk_s: float) -> float | None:
    """When the append carrying the end of speech was sent (the client's clock), from the appends' times."""
    if speech_end is None or not append_times:
        return None
    index = min(len(append_times) - 1, max(0, math.ceil(speech_end / chunk_s) - 1))
    return append_times[index]


def moments(chain: Sequence[Response], end_of_speech: float | None = None) -> dict[str, float]:
    """The turn's moments in seconds since the first request (see the module docstring)."""
    head = chain[0]
    found: dict[str, float] = {}
    if end_of_speech is not None:
        found["end_of_speech"] = end_of_speech
    if not head.audio_input:
        found["request"] = 0.0
    for name in ("speech_stopped", "committed", "created"):
        if name in head.timings:
            found[name] = head.timings[name]
    firsts = [r.requested_at - head.requested_at + r.timings["first_audio"]
              for r in chain if "first_audio" in r.timings]
    if firsts:
        found["first_audio"] = min(firsts)
    last = chain[-1]
    if "done" in last.timings:
        found["done"] = last.requested_at - head.requested_at + last.timings["done"]
    return found


def latencies(found: Mapping[str, float]) -> dict[str, float]:
    """Each `LATENCIES` column (NaN where a moment is missing) and `to_first_audio_s`."""
    def gap(start: str, end: str) -> float:
        return round(found[end] - found[start], 6) if start in found and end in found else math.nan

    columns = {f"{a}_to_{b}_s": gap(a, b) for a, b in LATENCIES}
    start = "end_of_speech" if "end_of_speech" in found else "request"
    columns["to_first_audio_s"] = gap(start, "first_audio")
    return columns


def word_error_rate(expected: str | None, heard: str | None) -> float:
    """jiwer's WER after lower-casing and dropping punctuation; NaN without an expected text or a transcript.

        >>> word_error_rate("What is the weather like?", "what is the whether like")
        0.2

    `heard=None` (no transcript arrived: transcription off or failed) is NaN; `""` (heard nothing) is 1.0.
    """
    import jiwer

    if not expected or not _words(expected) or heard is None:
        return math.nan
    return round(float(jiwer.wer(_words(expected), _words(heard or "") or "<nothing>")), 6)


def _words(text: str) -> str:
    return " ".join(text.lower().translate(str.maketrans("", "", string.punctuation)).split())


def turn_metrics(chain: Sequence[Response], *, end_of_speech: float | None = None, speech_end: float | None = None,
                 expected: str | None = None, model: str | None = None,
                 prices: Mapping[str, Price] | None = None, transcription_model: str | None = None) -> dict[str, Any]:
    """Every measure of one turn from its responses (the first, then any tool-call follow-ups).

    `end_of_speech` is the client's clock (see `speech_end_sent`), `speech_end` the audio's own.
    """
    head, last = chain[0], chain[-1]
    row: dict[str, Any] = latencies(moments(chain, end_of_speech))
    vad_end = _vad_end_s(head)
    row.update(speech_end_s=_nan(speech_end), vad_end_s=_nan(vad_end),
               vad_lag_s=round(vad_end - speech_end, 6) if vad_end is not None and speech_end is not None
               else math.nan)
    row.update(status=last.status, error=_error(chain), transcript=last.transcript or last.text,
               audio_s=round(sum(r.audio_duration for r in chain), 6), input_transcript=head.input_transcript,
               input_transcript_error=head.input_transcript_error, expected=expected,
               wer=word_error_rate(expected, head.input_transcript))
    calls = list({call.call_id: call for r in chain for call in r.tool_calls}.values())  # the last carries all
    row.update(tool_calls=len(calls), tool_names=",".join(call.name for call in calls))
    tokens: dict[str, int] = {}
    for response in chain:
        for name, count in tokens_of(response.usage).items():
            tokens[name] = tokens.get(name, 0) + count
    row.update({f"tokens_{name}": count for name, count in tokens.items()})
    total = sum((cost_of(r.usage, model, prices) for r in chain if r.usage), start=cost_of({}, model, prices))
    heard = transcription_cost(head.input_transcript_usage, transcription_model)
    row["transcription_cost_usd"] = heard.transcription
    row["cost_usd"] = (total + heard).total
    return row


def _vad_end_s(head: Response) -> float | None:
    stopped = [e for e in head.events if getattr(e, "type", None) == "input_audio_buffer.speech_stopped"]
    return stopped[0].audio_end_ms / 1000 if stopped else None


def _error(chain: Sequence[Response]) -> str | None:
    notes = [note for r in chain for note in r.notes]
    for response in chain:
        details = response.status_details or {}
        error = details.get("error") or {}
        if response.status not in (None, "completed"):
            reason = error.get("message") or details.get("reason") or response.status
            return f"{response.status}: {reason}"
    return "; ".join(notes) or None


def _nan(value: float | None) -> float:
    return math.nan if value is None else value
