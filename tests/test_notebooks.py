"""Every notebook (numbered lessons, exercises, solutions) runs top to bottom against the embedded server,
offline, and shows what it promises: a figure under every cell that draws, players, tables. None is
committed with outputs."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

pytestmark = pytest.mark.notebook

FOLDER = Path(__file__).resolve().parent.parent / "notebooks"
LESSONS = sorted(FOLDER.glob("[0-9][0-9]_*.ipynb"))
EXERCISES = sorted((FOLDER / "exercises").glob("*.ipynb"))
SOLUTIONS = sorted((FOLDER / "solutions").glob("*.ipynb"))
NOTEBOOKS = [*LESSONS, *EXERCISES, *SOLUTIONS]
CLOUD_VARIABLES = ("AZURE_OPENAI_ENDPOINT", "AZURE_OPENAI_API_KEY", "OPENAI_API_KEY", "OPENAI_BASE_URL",
                   "REALTIME_KIT_URL", "REALTIME_KIT_API_KEY")
# a cell draws when it calls one of these; each such cell must show at least one image/png
DRAWS = re.compile(r"\.plot\(|\.timeline\(|plots\.\w+\(|\.spectrogram\(|plt\.subplots\(")
# a cell that draws only when a cloud is configured (`if os.environ.get("AZURE_OPENAI_ENDPOINT"): ...`) runs offline
CLOUD_ONLY = re.compile(r"^if os\.environ\.get\(\"(AZURE_OPENAI_ENDPOINT|OPENAI_API_KEY)\"\)", re.MULTILINE)
# what a notebook promises beyond its figures, counted over all its outputs (at least this many)
PROMISES: dict[str, dict[str, int]] = {
    "02_text_in_audio_out": {"player": 2, "table": 2},
    "03_session_config_lab": {"figure": 1},
    "04_audio_in": {"figure": 2, "player": 1},
    "05_playground": {"snapshot": 1},
    "06_events_and_latency": {"figure": 1, "table": 2},
    "10_telephony": {"figure": 2, "player": 2, "table": 1},
    "solutions/02_text_in_audio_out": {"figure": 1, "player": 2},
    "solutions/03_session_config_lab": {"figure": 1},
    "solutions/04_audio_in": {"figure": 1},
    "solutions/06_events_and_latency": {"figure": 1},
    "solutions/10_telephony": {"figure": 1, "player": 1, "table": 1},
}

# text that must appear in the outputs of the cell whose source contains the key (output under the right cell)
CELL_PROMISES: dict[str, dict[str, str]] = {
    "07_tools": {"flaky_lookup for the opening hours": "raised RuntimeError: the lookup service is down"},
    "solutions/07_tools": {"Use to_fahrenheit for 21 degrees": "to_fahrenheit(21.0) was called"},
    "solutions/04_audio_in": {"PAUSE_S = 1.5": "completed"},
    "solutions/01_setup_and_targets": {"voise=": "did you mean voice="},
}


def _label(path: Path) -> str:
    return str(path.relative_to(FOLDER).with_suffix(""))


def test_lessons_are_numbered_with_no_number_used_twice():
    """The workshop's lessons are numbered from 01 (01 to 07 at least), each number once."""
    numbers = [int(p.name[:2]) for p in LESSONS]
    assert len(numbers) == len(set(numbers)) and set(range(1, 8)) <= set(numbers)


def test_every_exercise_has_its_solution():
    """Each notebook in exercises/ has a solution of the same name in solutions/, and the other way round."""
    assert EXERCISES, "notebooks/exercises/ is empty"
    assert [p.name for p in EXERCISES] == [p.name for p in SOLUTIONS]


@pytest.mark.parametrize("path", [p for p in LESSONS if (FOLDER / "exercises" / p.name).exists()], ids=_label)
def test_a_lesson_ends_by_pointing_to_its_exercise(path):
    """A lesson with an exercise ends with a link to it (the old "Try it" cells became the exercises)."""
    book = nbformat.read(path, as_version=4)
    last = [c.source for c in book.cells if c.cell_type == "markdown"][-1]
    assert f"exercises/{path.name}" in last and f"solutions/{path.name}" in last
    assert not any("## Try it" in c.source for c in book.cells if c.cell_type == "markdown")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_label)
def test_notebook_is_committed_without_outputs(path):
    """Saved outputs could leak secrets and bloat diffs: cells carry none."""
    book = nbformat.read(path, as_version=4)
    for cell in book.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, f"{path.name}: clear outputs before committing"


def _outputs(cell: nbformat.NotebookNode) -> list[nbformat.NotebookNode]:
    return cell.get("outputs", []) if cell.cell_type == "code" else []


def _html(output: nbformat.NotebookNode) -> str:
    return str(output.get("data", {}).get("text/html", ""))


def _text(cell: nbformat.NotebookNode) -> str:
    """Everything a cell printed or displayed as text."""
    return "".join(str(o.get("text", "")) + str(o.get("data", {}).get("text/plain", "")) for o in _outputs(cell))


def _count(book: nbformat.NotebookNode) -> dict[str, int]:
    """How many figures, players, tables and playground snapshots the executed notebook shows."""
    outputs = [o for cell in book.cells for o in _outputs(cell)]
    return {
        "figure": sum("image/png" in o.get("data", {}) for o in outputs),
        "player": sum(_html(o).count("<audio") for o in outputs),
        "table": sum(_html(o).count("<table") for o in outputs),
        "snapshot": sum(_html(o).count("class='rk-snapshot'") for o in outputs),  # what a saved playground keeps
    }


def _execute(path: Path, workdir: Path) -> nbformat.NotebookNode:
    shutil.copy(path, workdir / path.name)
    book = nbformat.read(workdir / path.name, as_version=4)
    client = NotebookClient(book, timeout=90, kernel_name="python3", resources={"metadata": {"path": str(workdir)}})
    client.execute()
    return book


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_label)
def test_notebook_runs_offline_and_shows_what_it_promises(path, tmp_path, monkeypatch):
    """The notebook executes against the embedded server; every cell that draws shows a figure, once."""
    for name in CLOUD_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    book = _execute(path, tmp_path)
    errors = [o for cell in book.cells for o in _outputs(cell) if o.output_type == "error"]
    assert errors == []
    for cell in book.cells:
        if cell.cell_type != "code":
            continue
        images = [o["data"]["image/png"] for o in _outputs(cell) if "image/png" in o.get("data", {})]
        if DRAWS.search(cell.source) and not CLOUD_ONLY.search(cell.source):
            assert images, f"no figure under the cell:\n{cell.source}"
        assert len(images) == len(set(images)), f"a figure shown twice under:\n{cell.source}"
    for marker, expected in CELL_PROMISES.get(_label(path), {}).items():
        (cell,) = [c for c in book.cells if c.cell_type == "code" and marker in c.source]
        assert expected in _text(cell), f"{path.name}: {expected!r} is not under the cell with {marker!r}"
    shown = _count(book)
    for kind, least in PROMISES.get(_label(path), {}).items():
        assert shown[kind] >= least, f"{path.name}: {shown[kind]} {kind}(s), expected at least {least}"
