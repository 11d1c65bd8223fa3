"""Plots people would rather look at than read: waveform, spectrogram, turn timeline, comparisons.

    import realtime_kit as rk
    ax = rk.Audio.tone(440, 2.0).plot(marks={"first_audio": 0.4})
    fig = turn_timeline({"created": 0.21, "first_audio": 0.48, "done": 2.9}, reply.audio,
                            audio_start=0.48)

A waveform is drawn as a min/max envelope per pixel column, so an hour of 24 kHz audio (86 million
samples) draws about as fast as a second and looks like the plot of every sample. matplotlib is
imported inside the functions; no backend is chosen here.

In a notebook every plot shows itself once, when it is drawn, whether or not the line ends in `;`
and whatever the matplotlib backend; the Figure (or Axes) is still returned, so
`fig.savefig("turn.png")` works everywhere. Figures are drawn in a slides style: 12-16 pt text,
150 dpi, labels that never print over each other (mark names go in a legend, event labels on rows).
"""

from __future__ import annotations

import io
import sys
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from .core import Audio

__all__ = ["compare", "envelope", "spectrogram", "turn_timeline", "waveform", "waveform_png"]

Marks = Mapping[str, float | None]
_WAVE_COLOR = "C0"
_MAX_COLUMNS = 4000  # more columns than any screen has pixels across one axes
_SPECTROGRAM_FRAMES = 2000
# slides style: readable from the back of a room, sharp on a projector
DPI = 150
FONT = 12            # ticks, axis labels, event and mark labels
TITLE_FONT = 14
WORD_FONT = 10       # transcript words under a waveform
# width of one 12 pt character (about 0.086 in) as a share of the time axis (about 8 in of a 10 in figure)
_CHAR_WIDTH = 0.0115 * FONT / 12


# ---------------------------------------------------------------------------------------------- pure maths


def envelope(samples: np.ndarray, columns: int) -> tuple[np.ndarray, np.ndarray]:
    """Min and max of each of `columns` contiguous runs of samples (np.array_split's partition).

    With fewer samples than columns there is one column per sample.

    >>> envelope(np.array([1, -2, 3, 0, 5]), 2)
    (array([-2,  0]), array([3, 5]))
    """
    if columns < 1:
        raise ValueError(f"columns must be at least 1, got {columns}")
    flat = np.asarray(samples).reshape(-1)
    columns = min(columns, flat.size)
    if columns == 0:
        return flat[:0].copy(), flat[:0].copy()
    size, extra = divmod(flat.size, columns)
    # the first `extra` columns hold size + 1 samples, the rest hold size: two reshapes, no Python loop
    split = extra * (size + 1)
    head = flat[:split].reshape(extra, size + 1)
    tail = flat[split:].reshape(columns - extra, size)
    mins = np.concatenate([head.min(axis=1), tail.min(axis=1)])
    maxs = np.concatenate([head.max(axis=1), tail.max(axis=1)])
    return mins, maxs


def _column_edges(total: int, columns: int) -> np.ndarray:
    """Sample positions where the columns of `envelope(samples, columns)` start, plus the end."""
    columns = min(columns, total)
    size, extra = divmod(total, columns)
    index = np.arange(columns + 1)
    return index * size + np.minimum(index, extra)


def _spectrum_frames(samples: np.ndarray, rate: int, nperseg: int = 512) -> tuple[np.ndarray, float]:
    """Power in dBFS per (frame, frequency bin) for at most _SPECTROGRAM_FRAMES frames, and the hop in s."""
    padded = np.pad(samples, (0, max(0, nperseg - samples.size)))
    hop = max(nperseg // 4, -(-(padded.size - nperseg) // _SPECTROGRAM_FRAMES))
    starts = np.arange(0, padded.size - nperseg + 1, hop)
    window = np.hanning(nperseg).astype(np.float32)
    frames = padded[starts[:, None] + np.arange(nperseg)] * window
    power = np.abs(np.fft.rfft(frames, axis=1)) ** 2
    full_scale = (window.sum() / 2.0) ** 2  # a full-scale sine reads 0 dB
    return 10.0 * np.log10(power / full_scale + 1e-12), hop / rate


# ---------------------------------------------------------------------------------------------- drawing parts


def _columns_of(ax: Axes) -> int:
    """One envelope column per pixel the axes spans."""
    return int(min(max(ax.bbox.width, 200), _MAX_COLUMNS))


def _draw_waveform(ax: Axes, audio: Audio, offset: float = 0.0, color: str = _WAVE_COLOR) -> None:
    """The waveform on `ax`, its first sample at `offset` seconds; every sample if few, else the envelope."""
    samples, rate = audio.samples, audio.rate
    columns = _columns_of(ax)
    ax.set_ylim(-1.05, 1.05)
    ax.set_ylabel("amplitude")
    if samples.size <= 2 * columns:
        times = offset + np.arange(samples.size) / rate
        ax.plot(times, samples / 32768.0, color=color, linewidth=0.8)
        return
    low, high = _column_ranges(samples, columns, one_pixel=2.1 / max(ax.bbox.height, 1.0))
    edges = offset + _column_edges(samples.size, columns) / rate
    ax.stairs(high, edges, baseline=low, fill=True, color=color, linewidth=0)


def _column_ranges(samples: np.ndarray, columns: int, one_pixel: float) -> tuple[np.ndarray, np.ndarray]:
    """What a line through every sample covers in each column, as floats: at least one pixel tall."""
    mins, maxs = envelope(samples, columns)
    low, high = mins / 32768.0, maxs / 32768.0
    # the full plot's line also runs on to the next column's first sample: no gaps between columns
    following = samples[_column_edges(samples.size, columns)[1:-1]] / 32768.0
    low[:-1] = np.minimum(low[:-1], following)
    high[:-1] = np.maximum(high[:-1], following)
    centre, half = (low + high) / 2.0, np.maximum((high - low) / 2.0, one_pixel / 2.0)
    return centre - half, centre + half


def _timed(marks: Marks | None) -> list[tuple[str, float]]:
    """Marks that happened (time not None), in time order."""
    return sorted(((name, float(t)) for name, t in (marks or {}).items() if t is not None), key=lambda m: m[1])


def _draw_marks(ax: Axes, marks: Marks | None, *, labels: bool = True) -> None:
    """Each mark as a dashed vertical line; with `labels`, named in a legend beside the axes (never overprinted)."""
    for index, (name, seconds) in enumerate(_timed(marks)):
        ax.axvline(seconds, color=f"C{index % 9 + 1}", linestyle="--", linewidth=1.2,
                   label=f"{name} {seconds:.2f} s")
    if labels and _timed(marks):
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=FONT - 2, frameon=False,
                  borderaxespad=0.0, handlelength=1.5)


def _draw_words(ax: Axes, words: Iterable[tuple[float, str]] | None, span: float) -> None:
    """Transcript pieces at their times, stacked on as many rows near the bottom as keep them apart."""
    placed = sorted(words or (), key=lambda word: word[0])
    widths = [(len(text) + 1) * _CHAR_WIDTH * WORD_FONT / FONT * span for _, text in placed]
    rows = _label_rows([seconds for seconds, _ in placed], widths)
    for (seconds, text), row in zip(placed, rows, strict=True):
        ax.text(seconds, -0.97 + 0.17 * row, text, fontsize=WORD_FONT, color="0.25", ha="left", va="bottom")


def _style_axes(ax: Axes) -> None:
    """Slides-size tick labels, axis labels and title on one axes."""
    ax.tick_params(labelsize=FONT)
    ax.xaxis.label.set_fontsize(FONT)
    ax.yaxis.label.set_fontsize(FONT)
    ax.title.set_fontsize(TITLE_FONT)


def _fit_time_axis(ax: Axes, spans: Iterable[float]) -> None:
    """x limits covering every time in `spans`, with a little air either side."""
    times = [0.0, *spans]
    low, high = min(times), max(times)
    pad = 0.01 * (high - low) or 0.05
    ax.set_xlim(low - pad, high + pad)
    ax.set_xlabel("seconds")


def _mark_times(marks: Marks | None) -> list[float]:
    return [seconds for _, seconds in _timed(marks)]


def _pyplot_figure(**subplots: Any) -> tuple[Figure, Any]:
    import matplotlib.pyplot as plt

    from .._figures import SlideAxes, SlideFigure

    return plt.subplots(layout="constrained", FigureClass=SlideFigure, dpi=DPI,
                        subplot_kw={"axes_class": SlideAxes}, **subplots)


def _released(fig: Figure) -> Figure:
    """Hand a Figure to the caller, closed in pyplot, and show it now if this is a notebook."""
    import matplotlib.pyplot as plt

    plt.close(fig)
    return _shown(fig)


def _shown(fig: Figure) -> Figure:
    """Show `fig` under the running notebook cell (once, even if also the cell's value); elsewhere leave it be."""
    if _in_notebook():
        import matplotlib.pyplot as plt
        from IPython.display import display

        plt.close(fig)  # the inline backend would otherwise show it a second time at the end of the cell
        display(fig)
    return fig


def _in_notebook() -> bool:
    """True inside a Jupyter kernel (IPython already imported and running with a kernel)."""
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    return getattr(shell, "kernel", None) is not None


# ---------------------------------------------------------------------------------------------- public plots


def waveform(audio: Audio, ax: Axes | None = None, *, marks: Marks | None = None,
             words: Iterable[tuple[float, str]] | None = None, title: str | None = None) -> Axes:
    """Plot `audio` against seconds; `marks` (name -> seconds) as labelled lines, `words` as (seconds, text).

        ax = waveform(reply.audio, marks=reply.timings, title="reply")
    """
    created = ax is None
    if ax is None:
        _, ax = _pyplot_figure(figsize=(10, 2.8))
    _draw_waveform(ax, audio)
    _draw_marks(ax, marks)
    spans = [audio.duration, *_mark_times(marks)]
    _draw_words(ax, words, span=max(spans) - min(0.0, *spans) or 1.0)
    _fit_time_axis(ax, spans)
    if title:
        ax.set_title(title)
    if created:
        _style_axes(ax)
        _shown(ax.get_figure(root=True))  # type: ignore[arg-type]
    return ax


def spectrogram(audio: Audio, ax: Axes | None = None) -> Axes:
    """Spectrogram in dBFS (time in seconds, frequency in Hz), at most 2000 frames however long the audio.

        ax = spectrogram(rk.Audio.from_wav("question.wav"))
    """
    created = ax is None
    if ax is None:
        _, ax = _pyplot_figure(figsize=(10, 3))
    levels, hop_seconds = _spectrum_frames(audio.as_float(), audio.rate)
    top = float(levels.max()) if levels.size else 0.0
    image = ax.imshow(levels.T, origin="lower", aspect="auto", cmap="magma", vmin=top - 80.0, vmax=top,
                      extent=(0.0, max(audio.duration, levels.shape[0] * hop_seconds), 0.0, audio.rate / 2))
    ax.set_xlabel("seconds")
    ax.set_ylabel("Hz")
    if created:
        ax.figure.colorbar(image, ax=ax, label="dBFS")
        _style_axes(ax)
        _shown(ax.get_figure(root=True))  # type: ignore[arg-type]
    return ax


def turn_timeline(marks: Marks, audio: Audio | None = None, *, audio_start: float = 0.0,
                  title: str | None = None) -> Figure:
    """A turn's events (request, response.created, first deltas, done, speech_started, ...) on one time axis,
    with the waveform under it, its first sample at `audio_start` seconds.

        fig = turn_timeline(reply.timings, reply.audio, audio_start=reply.timings["first_audio"])
    """
    spans = _mark_times(marks) + ([audio_start, audio_start + audio.duration] if audio is not None else [])
    events = _event_labels(marks, span=max([0.0, *spans]) - min([0.0, *spans]) or 1.0)
    label_rows = max(3, max((row for *_, row in events), default=0) + 1)
    events_height = 0.5 + 0.28 * label_rows  # inches: 0.28 in per row of 12 pt labels
    heights = [events_height, 1.8][: 2 if audio is not None else 1]
    fig, axes = _pyplot_figure(nrows=len(heights), sharex=True, squeeze=False, height_ratios=heights,
                               figsize=(10, sum(heights) + 0.7 + (0.35 if title else 0.0)))
    _draw_events(axes[0][0], events, label_rows)
    if audio is not None:
        _draw_waveform(axes[1][0], audio, offset=audio_start)
        _draw_marks(axes[1][0], marks, labels=False)
    _fit_time_axis(axes[-1][0], spans)
    for row in axes:
        _style_axes(row[0])
    if title:
        fig.suptitle(title, fontsize=TITLE_FONT)
    return _released(fig)


def _event_labels(marks: Marks, span: float) -> list[tuple[float, str, int]]:
    """(seconds, label, row) per event in time order; rows keep labels from running into each other."""
    events = _timed(marks)
    labels = [f" {name} {seconds:.3f} s" for name, seconds in events]
    rows = _label_rows([seconds for _, seconds in events], [len(label) * _CHAR_WIDTH * span for label in labels])
    return [(seconds, label, row) for (_, seconds), label, row in zip(events, labels, rows, strict=True)]


def _draw_events(ax: Axes, events: list[tuple[float, str, int]], label_rows: int) -> None:
    """Stems on a baseline, one per event, each labelled with name and time on its row."""
    ax.axhline(0.0, color="0.6", linewidth=1.0)
    for index, (seconds, label, row) in enumerate(events):
        height, color = 1.0 - (row + 0.5) / label_rows * 0.9, f"C{index % 9 + 1}"
        ax.vlines(seconds, 0.0, height, color=color, linewidth=1.2)
        ax.plot([seconds], [0.0], "o", color=color, markersize=4)
        ax.text(seconds, height, label, fontsize=FONT, color=color, va="center", ha="left")
    ax.set_ylim(-0.1, 1.0)
    ax.set_yticks([])
    for side in ("left", "right", "top"):
        ax.spines[side].set_visible(False)


def _label_rows(starts: Sequence[float], widths: Sequence[float]) -> list[int]:
    """Greedy rows for labels in time order: each goes on the first row whose last label has ended."""
    ends: list[float] = []
    rows = []
    for start, width in zip(starts, widths, strict=True):
        row = next((i for i, end in enumerate(ends) if start >= end), len(ends))
        if row == len(ends):
            ends.append(0.0)
        ends[row] = start + width
        rows.append(row)
    return rows


def compare(items: Sequence[tuple[str, Audio, Marks | None]]) -> Figure:
    """Responses side by side: one row each (label, audio, marks), one shared time axis.

        fig = compare([("alloy", a.audio, a.timings), ("cedar", b.audio, b.timings)])
    """
    if not items:
        raise ValueError("compare needs at least one (label, audio, marks) item")
    fig, axes = _pyplot_figure(nrows=len(items), sharex=True, squeeze=False, figsize=(10, 0.8 + 2.0 * len(items)))
    spans: list[float] = []
    for row, (label, audio, marks) in zip(axes, items, strict=True):
        ax = row[0]
        _draw_waveform(ax, audio)
        _draw_marks(ax, marks)
        ax.set_title(label, loc="left")
        _style_axes(ax)
        spans += [audio.duration, *_mark_times(marks)]
    _fit_time_axis(axes[-1][0], spans)
    return _released(fig)


def waveform_png(audio: Audio, width: int = 480, height: int = 72) -> bytes:
    """A small PNG of the waveform (no axes), for reprs; uses Agg directly, never pyplot.

    >>> from realtime_kit.audio import Audio
    >>> waveform_png(Audio.tone(440, 0.5))[:8]
    b'\\x89PNG\\r\\n\\x1a\\n'
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    dpi = 100
    fig = Figure(figsize=(width / dpi, height / dpi), dpi=dpi)
    FigureCanvasAgg(fig)
    ax = fig.add_axes((0.0, 0.0, 1.0, 1.0))
    ax.set_axis_off()
    ax.axhline(0.0, color="0.8", linewidth=0.5, zorder=0)
    if audio.samples.size:
        _draw_waveform(ax, audio)
        ax.set_xlim(0.0, audio.duration)
    out = io.BytesIO()
    fig.savefig(out, format="png", dpi=dpi)
    return out.getvalue()
