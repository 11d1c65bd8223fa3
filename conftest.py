"""Test layers for the whole suite (tests/ and the doctests in realtime_kit/): every test is in exactly one.

The layers are pyproject's markers; `pytest -m pure` runs one alone. Tests run fast layers first, the pure layer
may not open a network socket, and the run ends with the time each layer took.
"""

from __future__ import annotations

import socket
from collections.abc import Callable

import pytest

# The test layers (pyproject's markers): every test is in exactly one.
LAYERS = ("pure", "engines", "wire", "js", "notebook", "browser")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Doctests are pure; any other test must carry exactly one layer marker, or the run stops here."""
    wrong = []
    for item in items:
        layers = {mark.name for mark in item.iter_markers() if mark.name in LAYERS}
        if not layers and isinstance(item, pytest.DoctestItem):
            item.add_marker(pytest.mark.pure)
        elif len(layers) != 1:
            wrong.append(f"  {item.nodeid}: {sorted(layers) or 'no layer'}")
    if wrong:
        raise pytest.UsageError(
            "every test needs exactly one layer marker of " + ", ".join(LAYERS)
            + " (a module-level `pytestmark = pytest.mark.pure`, say):\n" + "\n".join(wrong))
    for item in items:
        _LAYER_OF[item.nodeid] = next(m.name for m in item.iter_markers() if m.name in LAYERS)
    # Fast layers first, so a broken core shows in seconds; a stable sort keeps each module's order.
    items.sort(key=lambda item: LAYERS.index(_LAYER_OF[item.nodeid]))


_LAYER_OF: dict[str, str] = {}
_LAYER_SECONDS: dict[str, float] = {}
_LAYER_COUNTS: dict[str, int] = {}


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Add each phase's duration to its test's layer."""
    layer = _LAYER_OF.get(report.nodeid)
    if layer is not None:
        _LAYER_SECONDS[layer] = _LAYER_SECONDS.get(layer, 0.0) + report.duration
        if report.when == "call":
            _LAYER_COUNTS[layer] = _LAYER_COUNTS.get(layer, 0) + 1


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """The time each layer took (setup, call and teardown of its tests)."""
    if not _LAYER_SECONDS:
        return
    terminalreporter.section("time per test layer", sep="=")
    for layer in LAYERS:
        if layer in _LAYER_SECONDS:
            terminalreporter.write_line(
                f"{layer:>9}: {_LAYER_SECONDS[layer]:7.1f} s  {_LAYER_COUNTS.get(layer, 0):4d} tests")


class NetworkInPureTest(AssertionError):
    """A test marked pure opened a network socket."""


@pytest.fixture(autouse=True)
def _pure_means_no_network(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """In the pure layer, binding or connecting an internet socket fails the test (the layer's promise)."""
    if request.node.get_closest_marker("pure") is None:
        return
    real_bind, real_connect = socket.socket.bind, socket.socket.connect

    def refuse(real: Callable[..., object]) -> Callable[..., object]:
        def guarded(sock: socket.socket, address: object) -> object:
            if sock.family in (socket.AF_INET, socket.AF_INET6):
                raise NetworkInPureTest(f"a pure test used the network ({address!r}): mark it wire")
            return real(sock, address)
        return guarded

    monkeypatch.setattr(socket.socket, "bind", refuse(real_bind))
    monkeypatch.setattr(socket.socket, "connect", refuse(real_connect))

