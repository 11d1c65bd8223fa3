"""The locks agree with the requirements they were made from (refresh them with `bash tools/lock.sh`)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

pytestmark = pytest.mark.pure

REPO = Path(__file__).resolve().parent.parent
FIX = "refresh the locks with `bash tools/lock.sh` and commit them"
PIN = re.compile(r"^([A-Za-z0-9._-]+(?:\[[^\]]*\])?)==([^\s;\\]+)\s*(?:;\s*([^\\]+?))?\s*\\?$")


def direct_requirements(path: Path) -> list[Requirement]:
    """The requirements a .in file names, following `-r` includes."""
    found: list[Requirement] = []
    for line in path.read_text().splitlines():
        line = line.split(" #")[0].strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("-r "):
            found += direct_requirements(path.parent / line.removeprefix("-r ").strip())
        else:
            found.append(Requirement(line))
    return found


def pins(lock: Path) -> dict[str, list[tuple[str, str]]]:
    """name -> [(version, marker)] for every `name==version` line of a lock made by uv."""
    found: dict[str, list[tuple[str, str]]] = {}
    for line in lock.read_text().splitlines():
        if match := PIN.match(line):
            name = canonicalize_name(Requirement(match[1]).name)
            found.setdefault(name, []).append((match[2], (match[3] or "").strip()))
    return found


@pytest.mark.parametrize(("source", "lock"), [("requirements.in", "requirements.txt"),
                                              ("tests/requirements.in", "tests/requirements.txt")])
def test_every_direct_requirement_is_pinned_within_its_range(source: str, lock: str) -> None:
    """Each package a .in file asks for has a pin in its lock, and every pin of it satisfies the range."""
    locked = pins(REPO / lock)
    for requirement in direct_requirements(REPO / source):
        versions = locked.get(canonicalize_name(requirement.name))
        assert versions, f"{lock} has no pin for {requirement.name} ({source} asks for it): {FIX}"
        for version, _marker in versions:
            assert requirement.specifier.contains(version, prereleases=True), (
                f"{lock} pins {requirement.name}=={version}, outside {source}'s {requirement}: {FIX}")


@pytest.mark.parametrize("lock", ["requirements.txt", "tests/requirements.txt"])
def test_every_pin_carries_hashes(lock: str) -> None:
    """pip installs the locks with --require-hashes, so each pinned package needs its hashes."""
    text = (REPO / lock).read_text()
    blocks = re.split(r"\n(?=[A-Za-z0-9])", text.split("\n", 2)[2])
    pinned = [block for block in blocks if PIN.match(block.splitlines()[0])]
    assert len(pinned) > 100
    unhashed = [block.split()[0] for block in pinned if "--hash=sha256:" not in block]
    assert not unhashed, f"{lock} pins without hashes: {unhashed}: {FIX}"


def test_the_test_lock_keeps_every_version_of_the_run_lock() -> None:
    """The tests run on exactly the versions the README's first command installs."""
    run, tests = pins(REPO / "requirements.txt"), pins(REPO / "tests/requirements.txt")
    differ = {name: (run[name], tests.get(name)) for name in run if sorted(run[name]) != sorted(tests.get(name, []))}
    assert not differ, f"the locks disagree: {differ}: {FIX}"


def test_the_library_ranges_are_what_the_project_declares() -> None:
    """pyproject reads its dependencies from requirements-core.txt, which requirements.in includes."""
    pyproject = (REPO / "pyproject.toml").read_text()
    assert 'dependencies = { file = ["requirements-core.txt"] }' in pyproject
    assert "-r requirements-core.txt" in (REPO / "requirements.in").read_text()
    assert all(req.specifier for req in direct_requirements(REPO / "requirements-core.txt")), "ranges, not bare names"
