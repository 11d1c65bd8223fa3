"""The test layers hold: every test is in exactly one, and the pure layer stays off the network."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.pure

REPO = Path(__file__).resolve().parent.parent
INI = "[pytest]\nmarkers =\n" + "".join(f"    {layer}: layer\n" for layer in
                                         ("pure", "engines", "wire", "js", "notebook", "browser"))


def run_suite(folder: Path, test_source: str) -> subprocess.CompletedProcess[str]:
    """pytest on one test module beside a copy of the project's layer conftest (no network: a local subprocess)."""
    shutil.copy(REPO / "conftest.py", folder / "conftest.py")
    (folder / "pytest.ini").write_text(INI)
    (folder / "test_example.py").write_text(test_source)
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:asyncio"],
                          cwd=folder, capture_output=True, text=True, timeout=60)


def test_a_test_without_a_layer_stops_the_run_and_names_the_fix(tmp_path: Path) -> None:
    """A test with no layer marker, or two, is a usage error that lists it and says how to mark it."""
    run = run_suite(tmp_path, "import pytest\n\ndef test_nothing():\n    pass\n\n"
                              "@pytest.mark.pure\n@pytest.mark.wire\ndef test_two():\n    pass\n")
    assert run.returncode == pytest.ExitCode.USAGE_ERROR, run.stdout + run.stderr
    assert "test_example.py::test_nothing: no layer" in run.stderr
    assert "test_example.py::test_two: ['pure', 'wire']" in run.stderr
    assert "pytestmark = pytest.mark.pure" in run.stderr


def test_a_pure_test_that_opens_a_socket_fails_and_layers_are_timed(tmp_path: Path) -> None:
    """Connecting from a pure test fails with 'mark it wire'; the same code in the wire layer runs."""
    source = ("import socket\nimport pytest\n\n"
              "def probe():\n    with socket.socket() as sock:\n        sock.bind(('127.0.0.1', 0))\n\n"
              "@pytest.mark.pure\ndef test_pure():\n    probe()\n\n"
              "@pytest.mark.wire\ndef test_wire():\n    probe()\n")
    run = run_suite(tmp_path, source)
    assert "1 failed, 1 passed" in run.stdout, run.stdout
    assert "a pure test used the network" in run.stdout and "mark it wire" in run.stdout
    assert "time per test layer" in run.stdout and "pure:" in run.stdout and "wire:" in run.stdout
