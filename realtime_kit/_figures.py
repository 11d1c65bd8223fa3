"""Figures that show themselves once per notebook cell, as a sharp PNG, whatever the matplotlib backend.

realtime_kit.audio.plots draws into these classes (it imports this module only when it draws, so matplotlib
stays a lazy import). A plot shows itself as soon as it is drawn, so a trailing `;` cannot hide it;
when the same Figure is also the cell's value, IPython calls `_ipython_display_` again in the same
cell and nothing is shown twice. Evaluating the figure in a later cell shows it again.
"""

from __future__ import annotations

import io
import sys
from typing import Any

from matplotlib.axes import Axes
from matplotlib.figure import Figure

_SCREEN_DPI = 100  # one figure inch is shown as 100 CSS pixels; the PNG itself has the figure's dpi


def _cell_number() -> int | None:
    """The running cell's execution count (the same during the cell and for its displayed value)."""
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    return getattr(shell, "execution_count", None)


def png_bundle(fig: Figure) -> tuple[dict[str, Any], dict[str, Any]]:
    """The figure as a display bundle (PNG at the figure's dpi, shown at 100 CSS px per inch) and its metadata."""
    out = io.BytesIO()
    fig.savefig(out, format="png", dpi=fig.dpi)
    width, height = fig.get_size_inches()
    size = {"width": round(width * _SCREEN_DPI), "height": round(height * _SCREEN_DPI)}
    return ({"image/png": out.getvalue(), "text/plain": f"<Figure {size['width']}x{size['height']}>"},
            {"image/png": size})


class SlideFigure(Figure):
    """A matplotlib Figure that a notebook shows once per cell."""

    _shown_in_cell: int | None = None

    def _ipython_display_(self) -> None:
        from IPython.display import display

        cell = _cell_number()
        if cell is not None and cell == self._shown_in_cell:
            return
        self._shown_in_cell = cell
        bundle, metadata = png_bundle(self)
        display(bundle, metadata=metadata, raw=True)


class SlideAxes(Axes):
    """Axes whose display in a notebook is its figure's (not `<Axes: ...>`)."""

    def _ipython_display_(self) -> None:
        figure = self.figure
        if isinstance(figure, SlideFigure):
            figure._ipython_display_()
        else:
            from IPython.display import display

            display(figure)
