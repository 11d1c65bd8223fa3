"""The JavaScript modules of the widgets, each with the shared controller registry in front.

    >>> "function controllerFor" in widget_module("player.js")
    True
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

_HERE = Path(__file__).resolve().parent


@cache
def widget_module(name: str) -> str:
    """The source of widgets/<name> with controllers.js prepended (anywidget loads each module alone)."""
    return (_HERE / "controllers.js").read_text() + "\n" + (_HERE / name).read_text()
