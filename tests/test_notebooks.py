"""Every notebook runs top to bottom against the embedded server, offline; none is committed with outputs."""

import shutil
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

pytestmark = pytest.mark.notebook

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("*.ipynb"))
CLOUD_VARIABLES = ("AZURE_OPENAI_ENDPOINT", "AZURE_OPENAI_API_KEY", "OPENAI_API_KEY", "OPENAI_BASE_URL")


def test_notebooks_are_numbered_once_each():
    """The workshop's notebooks start with its seven core ones, and each number is used once."""
    numbers = [p.name[:3] for p in NOTEBOOKS]
    assert numbers[:7] == [f"{i:02d}_" for i in range(1, 8)]
    assert len(set(numbers)) == len(numbers) and all(n[:2].isdigit() and n[2] == "_" for n in numbers)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_committed_without_outputs(path):
    """Saved outputs could leak secrets and bloat diffs: cells carry none."""
    book = nbformat.read(path, as_version=4)
    for cell in book.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, f"{path.name}: clear outputs before committing"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_last_cells_invite_the_reader_to_try_it(path):
    """Each notebook ends with a "Try it" section whose code runs as shipped."""
    book = nbformat.read(path, as_version=4)
    headings = [c.source for c in book.cells if c.cell_type == "markdown"]
    assert "## Try it" in headings[-1]



@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_top_to_bottom_offline(path, tmp_path, monkeypatch):
    """The notebook executes without error against the embedded server, each cell within a minute."""
    for name in CLOUD_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    workdir = tmp_path / path.stem
    workdir.mkdir()
    shutil.copy(path, workdir / path.name)
    book = nbformat.read(workdir / path.name, as_version=4)
    client = NotebookClient(book, timeout=60, kernel_name="python3", resources={"metadata": {"path": str(workdir)}})
    client.execute()
    errors = [o for c in book.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert errors == []
