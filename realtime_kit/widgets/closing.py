"""Closing widgets completely: ipywidgets gives each widget Layout/Style widgets with comms of their own.

    close_tree(panel)      # the panel, its children, and every Layout/Style they carry
"""

from __future__ import annotations

from typing import Any

import ipywidgets as w


def close_own_parts(widget: Any) -> None:
    """Close the Layout and Style widgets that ipywidgets made for `widget` (each holds a comm)."""
    for part in ("layout", "style"):
        sub = getattr(widget, part, None)
        if isinstance(sub, w.Widget):
            sub.close()


def close_tree(widget: Any) -> None:
    """Close a widget, its children, and the Layout/Style widgets each of them carries."""
    for child in getattr(widget, "children", ()):
        close_tree(child)
    close_own_parts(widget)
    widget.close()
