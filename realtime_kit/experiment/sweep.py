"""vad_sweep: one recording through the server's VAD at each setting; where it cut the turns.

    sweep = await rk.vad_sweep("meeting.wav", threshold=[0.3, 0.5, 0.7], silence_duration_ms=[200, 500, 800])
    sweep.table          # a row per setting x turn the VAD cut: start_s, end_s, duration_s
    sweep.settings       # a row per setting: how many turns, seconds of speech
    sweep.plot()         # the cut turns per setting, under the waveform

Each setting gets a session of its own with `server_vad` (`create_response` and
`interrupt_response` off, so only the VAD works), the audio appended as fast as the connection
takes it plus enough silence for the last turn to end. Turns are read from the server's
`speech_started` / `speech_stopped` events (`audio_start_ms`, `audio_end_ms`), so the same sweep
measures the embedded server's Silero VAD or the service's.
"""

from __future__ import annotations

import asyncio
import html
import itertools
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ..audio.core import Audio
from .turns import coerce_turn

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

__all__ = ["VadSweep", "vad_sweep"]

SETTLE_S = 0.5      # the VAD is done when no event arrived for this long after the appends were read...
TIMEOUT_S = 10.0    # ...or, at the latest, this long after it


async def vad_sweep(recording: Any, threshold: Sequence[float] = (0.5,), silence_duration_ms: Sequence[int] = (500,),
                    *, prefix_padding_ms: int | None = None, target: Any = "local", concurrency: int = 4,
                    progress: bool = True, connect_options: Mapping[str, Any] | None = None) -> VadSweep:
    """Run `recording` (an rk.Audio, a .wav path, or anything `coerce_turn` takes as audio) at every setting."""
    from tqdm.auto import tqdm

    from .runner import _checked_target

    clip = coerce_turn(recording).audio
    if clip is None:
        raise TypeError("vad_sweep needs audio (an rk.Audio, a .wav path or a recording), not a text.")
    where = _checked_target(target, connect_options or {})
    settings = [{"threshold": float(t), "silence_duration_ms": int(s)}
                for t, s in itertools.product(threshold, silence_duration_ms)]
    slots = asyncio.Semaphore(max(1, concurrency))
    bar = tqdm(total=len(settings), desc="vad sweep", unit="setting", disable=not progress)

    async def one(setting: dict[str, Any]) -> list[dict[str, Any]]:
        async with slots:
            cuts = await _cut(clip, where, {**setting, "prefix_padding_ms": prefix_padding_ms}, connect_options or {})
        bar.update()
        return [{**setting, "turn": index, **cut} for index, cut in enumerate(cuts)]

    try:
        found = await asyncio.gather(*(one(setting) for setting in settings))
    finally:
        bar.close()
    return VadSweep(clip, settings, [row for rows in found for row in rows])


async def _cut(clip: Audio, target: str, setting: Mapping[str, Any],
               options: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The turns the server's VAD cut from `clip` at one setting: start, end and duration in seconds."""
    from ..session.core import connect

    starts: list[float] = []
    ends: list[float] = []
    last_event = [time.perf_counter()]

    def heard(event: Any) -> None:
        last_event[0] = time.perf_counter()
        if event.type.endswith("speech_started"):
            starts.append(event.audio_start_ms / 1000)
        else:
            ends.append(event.audio_end_ms / 1000)

    turn = {"type": "server_vad", "create_response": False, "interrupt_response": False,
            **{k: v for k, v in setting.items() if v is not None}}
    async with connect(target, **options) as session:
        session.on("input_audio_buffer.speech_started", heard)
        session.on("input_audio_buffer.speech_stopped", heard)
        await session.update(turn_detection=turn)
        await session.append_audio(clip + Audio.silence(setting["silence_duration_ms"] / 1000 + 0.3, clip.rate))
        await session.update()  # a round trip: the server has read every append before it answers
        last_event[0] = max(last_event[0], time.perf_counter())  # the settle clock starts once they are read
        deadline = time.perf_counter() + TIMEOUT_S
        while time.perf_counter() < deadline and (len(ends) < len(starts) or
                                                  time.perf_counter() - last_event[0] < SETTLE_S):
            await asyncio.sleep(0.02)
    ends += [clip.duration] * (len(starts) - len(ends))  # speech still going when the audio ran out
    return [{"start_s": round(a, 3), "end_s": round(b, 3), "duration_s": round(b - a, 3)}
            for a, b in zip(starts, ends, strict=False)]


class VadSweep:
    """What vad_sweep returns: the clip, the settings tried, and the turns cut at each."""

    def __init__(self, audio: Audio, settings: list[dict[str, Any]], rows: list[dict[str, Any]]) -> None:
        import pandas as pd

        self.audio = audio
        self.table: pd.DataFrame = pd.DataFrame(rows, columns=["threshold", "silence_duration_ms", "turn",
                                                               "start_s", "end_s", "duration_s"])
        keys = pd.DataFrame(settings, columns=["threshold", "silence_duration_ms"])
        counts = self.table.groupby(["threshold", "silence_duration_ms"]).agg(
            turns=("turn", "count"), speech_s=("duration_s", "sum")).reset_index()
        self.settings: pd.DataFrame = keys.merge(counts, how="left", on=["threshold", "silence_duration_ms"]) \
            .fillna({"turns": 0, "speech_s": 0.0}).astype({"turns": int})

    def __repr__(self) -> str:
        return f"VadSweep({len(self.settings)} settings over {self.audio.duration:.1f} s of audio)\n{self.settings}"

    def _repr_html_(self) -> str:
        return (f"<div><b>VAD sweep</b>: {len(self.settings)} settings over {self.audio.duration:.1f} s of audio"
                f"</div>{self.settings.to_html(index=False)}" if len(self.settings) else html.escape(repr(self)))

    def plot(self) -> Figure:
        """The waveform on top; below, one row per setting with the turns its VAD cut as bars."""
        from ..audio.plots import _pyplot_figure, _released, waveform

        rows = len(self.settings)
        fig, (top, bottom) = _pyplot_figure(nrows=2, sharex=True, figsize=(10, 2.2 + 0.32 * rows),
                                            gridspec_kw={"height_ratios": [2, max(1.5, 0.32 * rows)]})
        waveform(self.audio, ax=top, title="The recording, and the turns the server's VAD cut at each setting")
        top.set_xlabel("")
        labels = []
        for row, setting in enumerate(self.settings.itertuples(index=False)):
            cut = self.table[(self.table.threshold == setting.threshold) &
                             (self.table.silence_duration_ms == setting.silence_duration_ms)]
            spans = [(start, end - start) for start, end in zip(cut.start_s, cut.end_s, strict=True)]
            bottom.broken_barh(spans, (row - 0.35, 0.7), color=f"C{row % 10}", alpha=0.7, edgecolor="white")
            labels.append(f"threshold {setting.threshold:g}, silence {setting.silence_duration_ms} ms")
        bottom.set_yticks(range(rows), labels, fontsize=8)
        bottom.set_ylim(rows - 0.5, -0.5)
        bottom.set_xlabel("time (s)")
        return _released(fig)
