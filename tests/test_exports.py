"""The public face: every exported name resolves, and importing the package stays light."""

import subprocess
import sys

import pytest

import realtime_kit as rk

pytestmark = pytest.mark.pure


def test_every_exported_name_resolves():
    """Each name in __all__ is reachable as rk.<name> (lazy ones load on first use)."""
    for name in rk.__all__:
        assert getattr(rk, name) is not None, name


def test_exports_are_sorted_and_unique():
    """__all__ lists each name once, in order, so `from realtime_kit import *` and docs stay tidy."""
    assert len(set(rk.__all__)) == len(rk.__all__)
    assert rk.__all__ == sorted(rk.__all__, key=lambda name: (name.startswith("_") or name.islower(), name))


def test_unknown_attribute_names_the_module():
    """A typo gets the usual AttributeError, not a lazy-import crash."""
    try:
        rk.Sesion  # noqa: B018
    except AttributeError as err:
        assert "Sesion" in str(err)
    else:
        raise AssertionError("rk.Sesion should not exist")


def test_import_loads_no_heavy_modules():
    """`import realtime_kit` loads none of matplotlib, scipy, widgets, IPython or the openai SDK."""
    heavy = ["matplotlib", "scipy", "ipywidgets", "IPython", "openai", "anywidget", "websockets"]
    code = f"import sys, realtime_kit; print([m for m in {heavy!r} if m in sys.modules])"
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert loaded.strip() == "[]"


def test_errors_form_one_tree():
    """Every rk error is a RealtimeKitError and also the matching builtin where one fits."""
    assert issubclass(rk.ConfigError, rk.RealtimeKitError) and issubclass(rk.ConfigError, ValueError)
    assert issubclass(rk.TargetError, ValueError)
    assert issubclass(rk.ConnectionLost, ConnectionError)
    assert issubclass(rk.InvalidState, RuntimeError)
    assert issubclass(rk.RealtimeError, rk.RealtimeKitError)


def test_experiment_names_come_from_the_experiment_package():
    """rk.Experiment and rk.vad_sweep are the experiment package's, loaded lazily (pandas only when used)."""
    from realtime_kit import experiment

    assert rk.Experiment is experiment.Experiment and rk.vad_sweep is experiment.vad_sweep
    code = "import sys, realtime_kit as rk; rk.Experiment; print('pandas' in sys.modules)"
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert loaded.strip() == "False"


def test_recordings_are_public():
    """rk.Recording loads recordings and rk.ReplayMismatch is the warning a replay gives (both lazy)."""
    assert callable(rk.Recording.load) and callable(rk.Recording.compare)
    assert issubclass(rk.ReplayMismatch, UserWarning)
