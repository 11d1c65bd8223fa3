"""Plots: the min/max envelope, waveform, spectrogram, turn timeline, comparisons, the repr thumbnail."""

from __future__ import annotations

import io
import json
import subprocess
import sys

import matplotlib

matplotlib.use("Agg")  # tests only: the library never picks a backend

import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.patches import StepPatch

from realtime_kit.audio import Audio, plots

pytestmark = pytest.mark.pure

TIMINGS = {"request": 0.0, "response.created": 0.21, "first_transcript": 0.35, "first_audio": 0.48,
           "done": 2.9, "speech_started": None}


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def noisy(n: int, seed: int = 0, low: int = -20000, high: int = 20000) -> np.ndarray:
    return np.random.default_rng(seed).integers(low, high, n, dtype=np.int16)


def step_patch(ax) -> StepPatch:
    (patch,) = [p for p in ax.patches if isinstance(p, StepPatch)]
    return patch


# ---------------------------------------------------------------------------------------------- envelope


@pytest.mark.parametrize(("n", "columns"), [(1000, 10), (1003, 10), (999, 7), (5, 10), (1, 1), (100_000, 777)])
def test_envelope_is_min_and_max_of_each_column(n, columns):
    """envelope gives each column's min and max, columns being np.array_split's partition of the samples."""
    samples = noisy(n, seed=n)
    mins, maxs = plots.envelope(samples, columns)
    chunks = np.array_split(samples, min(columns, n))
    np.testing.assert_array_equal(mins, [chunk.min() for chunk in chunks])
    np.testing.assert_array_equal(maxs, [chunk.max() for chunk in chunks])


def test_envelope_of_nothing_and_bad_columns():
    """No samples give empty arrays; fewer than one column is refused."""
    mins, maxs = plots.envelope(np.zeros(0, dtype=np.int16), 100)
    assert mins.size == maxs.size == 0
    with pytest.raises(ValueError, match="columns"):
        plots.envelope(np.zeros(10), 0)


# ---------------------------------------------------------------------------------------------- waveform


def test_waveform_draws_each_columns_full_range():
    """Each drawn column spans its samples' min to max, joined to the next column's first sample."""
    samples = noisy(200_000)
    ax = plots.waveform(Audio(samples, rate=24000))
    high, edges, low = step_patch(ax).get_data()
    columns = high.size
    assert columns == int(ax.bbox.width)
    chunks = np.array_split(samples, columns)
    # a line through every sample covers the column and the step to the next column's first sample
    followers = [*chunks[1:], samples[:0]]
    covered = [np.append(chunk, nxt[:1]) for chunk, nxt in zip(chunks, followers, strict=True)]
    np.testing.assert_array_equal(high, [c.max() / 32768.0 for c in covered])
    np.testing.assert_array_equal(low, [c.min() / 32768.0 for c in covered])
    starts = np.cumsum([0] + [chunk.size for chunk in chunks])
    np.testing.assert_allclose(edges, starts / 24000)


def test_waveform_of_an_hour_draws_a_bounded_number_of_points():
    """An hour of 24 kHz audio is drawn as one column per pixel, not 86 million points."""
    hour = Audio(np.zeros(3600 * 24000, dtype=np.int16))
    ax = plots.waveform(hour)
    high, _, _ = step_patch(ax).get_data()
    assert high.size <= 4000
    assert not ax.lines
    assert ax.get_xlim()[1] >= 3600


def test_short_audio_is_drawn_sample_by_sample_in_seconds():
    """Audio with fewer samples than two per pixel is one line through every sample, x in seconds."""
    samples = noisy(500)
    ax = plots.waveform(Audio(samples, rate=1000))
    (line,) = ax.lines
    np.testing.assert_allclose(np.asarray(line.get_xdata()), np.arange(500) / 1000)
    np.testing.assert_allclose(np.asarray(line.get_ydata()), samples / 32768)
    assert ax.get_xlabel() == "seconds"


def test_marks_are_labelled_vertical_lines_and_words_are_written():
    """Each mark with a time is a vertical line named in the legend; None marks are left out; words appear."""
    audio = Audio.tone(440, 2.0)
    ax = audio.plot(marks=TIMINGS, words=[(0.5, "hello"), (0.9, "there")], title="reply")
    xs = [np.asarray(line.get_xdata(), dtype=float) for line in ax.lines]
    assert sorted(x[0] for x in xs if x.size == 2 and x[0] == x[1]) == [0.0, 0.21, 0.35, 0.48, 2.9]
    legend = [text.get_text() for text in ax.get_legend().get_texts()]
    assert legend == ["request 0.00 s", "response.created 0.21 s", "first_transcript 0.35 s",
                      "first_audio 0.48 s", "done 2.90 s"]
    assert {text.get_text().strip() for text in ax.texts} == {"hello", "there"}
    assert ax.get_title() == "reply"
    assert ax.get_xlim()[1] >= 2.9


def test_crowded_marks_and_words_never_overprint():
    """Marks milliseconds apart and a dense transcript render with no two labels overlapping."""
    marks = {f"mark{i}": 0.2 + 0.004 * i for i in range(8)}
    sentence = "the quick brown fox jumps over the lazy dog again"
    words = [(0.1 * i, word) for i, word in enumerate(sentence.split())]
    ax = Audio.tone(440, 1.2).plot(marks=marks, words=words, title="crowded")
    fig = ax.figure
    FigureCanvasAgg(fig).draw()
    texts = [*ax.texts, *ax.get_legend().get_texts(), ax.title]
    boxes = [text.get_window_extent() for text in texts]
    for index, box in enumerate(boxes):
        assert not any(box.overlaps(other) for other in boxes[index + 1 :]), texts[index].get_text()


def test_figures_are_drawn_in_the_slides_style():
    """Figures are 150 dpi with 12 pt tick labels and 14 pt titles."""
    ax = Audio.tone(440, 1.0).plot(title="slides")
    assert ax.figure.dpi >= 150
    assert ax.xaxis.get_ticklabels()[0].get_fontsize() >= 12
    assert ax.title.get_fontsize() >= 14
    fig = plots.compare([("alloy", Audio.tone(440, 1.0), None)])
    assert fig.dpi >= 150 and fig.axes[0].xaxis.label.get_fontsize() >= 12


def test_a_figure_shows_once_per_cell(monkeypatch):
    """In a notebook a figure displays one sharp PNG per cell, even when it is also the cell's value."""
    from realtime_kit import _figures

    shown = []
    monkeypatch.setattr("IPython.display.display", lambda bundle, **kw: shown.append((bundle, kw)))
    cell = iter([7, 7, 8])
    monkeypatch.setattr(_figures, "_cell_number", lambda: next(cell))
    fig = plots.turn_timeline({"request": 0.0, "done": 1.0})
    fig._ipython_display_()
    fig._ipython_display_()  # the cell's value, same cell: nothing more
    assert len(shown) == 1
    fig._ipython_display_()  # a later cell shows it again
    assert len(shown) == 2
    bundle, kw = shown[0]
    image = plt.imread(io.BytesIO(bundle["image/png"]), format="png")
    assert image.shape[1] == 1500 and kw["metadata"]["image/png"]["width"] == 1000


def test_plot_draws_on_a_given_axes():
    """audio.plot(ax) draws on that axes and returns it."""
    _, ax = plt.subplots()
    assert Audio.tone(440, 1.0).plot(ax) is ax


# ---------------------------------------------------------------------------------------------- spectrogram


def test_spectrogram_puts_a_tone_at_its_frequency():
    """The loudest row of the spectrogram is at the tone's frequency; axes are seconds and Hz."""
    audio = Audio.tone(3000, 1.5, rate=16000)
    ax = audio.spectrogram()
    (image,) = ax.images
    levels = np.asarray(image.get_array(), dtype=float)
    left, right, bottom, top = image.get_extent()
    loudest_row = levels.mean(axis=1).argmax()
    assert (loudest_row + 0.5) / levels.shape[0] * top == pytest.approx(3000, abs=40)
    assert (left, bottom, top) == (0.0, 0.0, 8000)
    assert right == pytest.approx(1.5, abs=0.05)
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("seconds", "Hz")


def test_spectrogram_of_long_and_tiny_audio():
    """A long recording gives at most 2000 frames; audio shorter than one frame still draws."""
    long_levels = np.asarray(plots.spectrogram(Audio.silence(600, rate=8000)).images[0].get_array())
    assert long_levels.shape[1] <= 2000
    assert plots.spectrogram(Audio(np.ones(10, dtype=np.int16))).images


# ---------------------------------------------------------------------------------------------- timeline, compare


def test_turn_timeline_puts_events_and_waveform_on_one_time_axis():
    """The timeline labels each event with its time and draws the waveform from audio_start, sharing x."""
    audio = Audio.tone(440, 2.4)
    fig = plots.turn_timeline(TIMINGS, audio, audio_start=0.48, title="turn 1")
    events_ax, wave_ax = fig.axes
    labels = " ".join(text.get_text() for text in events_ax.texts)
    for name, seconds in TIMINGS.items():
        if seconds is not None:
            assert f"{name} {seconds:.3f} s" in labels
    assert "speech_started" not in labels
    _, edges, _ = step_patch(wave_ax).get_data()
    assert edges[0] == pytest.approx(0.48)
    assert edges[-1] == pytest.approx(0.48 + 2.4)
    assert events_ax.get_xlim() == wave_ax.get_xlim()
    assert wave_ax.get_xlim()[0] <= 0.0 and wave_ax.get_xlim()[1] >= 2.9
    assert fig.get_suptitle() == "turn 1"


def test_turn_timeline_labels_of_close_events_do_not_overlap():
    """Events a few milliseconds apart get labels on separate rows, none overlapping when rendered."""
    crowded = {"speech_started": -0.8, "speech_stopped": -0.1, "committed": -0.05, "request": 0.0,
               "response.created": 0.2, "first_transcript": 0.3, "first_audio": 0.45, "done": 3.6}
    fig = plots.turn_timeline(crowded, Audio.tone(440, 3.0), audio_start=0.45)
    FigureCanvasAgg(fig).draw()
    boxes = [text.get_window_extent() for text in fig.axes[0].texts]
    assert len(boxes) == len(crowded)
    for index, box in enumerate(boxes):
        assert not any(box.overlaps(other) for other in boxes[index + 1 :])


def test_turn_timeline_without_audio_and_figure_ownership():
    """Without audio the timeline is one axes; the Figure is handed over, not left open in pyplot."""
    fig = plots.turn_timeline({"request": 0.0, "done": 1.2})
    assert len(fig.axes) == 1
    assert fig.number not in plt.get_fignums()
    out = io.BytesIO()
    fig.savefig(out, format="png")
    assert out.getvalue().startswith(b"\x89PNG")


def test_compare_draws_one_row_per_response_on_a_shared_time_axis():
    """compare gives one labelled row per item, all rows on the same x range covering the longest."""
    items = [("alloy", Audio.tone(440, 1.0), {"first_audio": 0.3}), ("cedar", Audio.tone(220, 2.5), None)]
    fig = plots.compare(items)
    assert [ax.get_title(loc="left") for ax in fig.axes] == ["alloy", "cedar"]
    assert fig.axes[0].get_xlim() == fig.axes[1].get_xlim()
    assert fig.axes[0].get_xlim()[1] >= 2.5
    with pytest.raises(ValueError, match="at least one"):
        plots.compare([])


# ---------------------------------------------------------------------------------------------- thumbnail


def test_waveform_png_has_the_asked_size_and_uses_no_pyplot():
    """The repr thumbnail is a PNG of width x height pixels and leaves no pyplot figure behind."""
    png = plots.waveform_png(Audio.tone(440, 1.0), width=300, height=60)
    image = plt.imread(io.BytesIO(png), format="png")
    assert image.shape[:2] == (60, 300)
    assert plt.get_fignums() == []
    assert plots.waveform_png(Audio.silence(0.0)).startswith(b"\x89PNG")


def test_importing_plots_does_not_import_matplotlib():
    """realtime_kit.audio.plots imports matplotlib only when a plot is drawn."""
    code = "import sys, realtime_kit.audio.plots; print(__import__('json').dumps('matplotlib' in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) is False
