"""What the server made of a session.update: how the effective session differs from the one asked for.

    >>> changes = session_changes({"audio": {"output": {"voice": "coral"}}},
    ...                           {"audio": {"output": {"voice": "alloy", "speed": 1.0}}})
    >>> print(format_changes(changes))
    path                asked    server
    audio.output.voice  'coral'  'alloy'  changed
    audio.output.speed           1.0      filled in
"""

from __future__ import annotations

import html
import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from ..spec import dotted
from .tree import Path, plain


class _Unset:
    def __repr__(self) -> str:
        return "(not set)"


NOT_SET: Any = _Unset()


@dataclass(frozen=True)
class Change:
    """One difference between the session asked for and the one the server reports."""

    path: str
    requested: Any
    effective: Any

    @property
    def kind(self) -> str:
        """'filled in' (server default), 'dropped' (absent from the effective session) or 'changed'."""
        if self.requested is NOT_SET:
            return "filled in"
        return "dropped" if self.effective is NOT_SET else "changed"

    def __repr__(self) -> str:
        return f"Change({self.path}: {self.requested!r} -> {self.effective!r})"

    def __str__(self) -> str:
        if self.kind == "filled in":
            return f"{self.path}: not asked, server uses {self.effective!r}"
        return f"{self.path}: asked {self.requested!r}, server has {self.effective!r}"


def session_changes(requested: Mapping[str, Any], effective: Mapping[str, Any] | BaseModel) -> list[Change]:
    """What the server changed, dropped or filled in, compared with what was asked.

    Values the server filled in are reported inside the objects the request named, not at the top level
    (a voice-only update does not list every default).

        >>> session_changes({"audio": {"output": {"voice": "coral"}}},
        ...                 {"audio": {"output": {"voice": "alloy", "speed": 1.0}}})
        [Change(audio.output.voice: 'coral' -> 'alloy'), Change(audio.output.speed: (not set) -> 1.0)]
    """
    found: list[Change] = []
    _diff(plain(requested), plain(effective), (), found)
    return found


def _diff(asked: Any, got: Any, path: Path, found: list[Change]) -> None:
    if isinstance(asked, dict) and isinstance(got, dict):
        for key, value in asked.items():
            _diff(value, got.get(key, NOT_SET), (*path, key), found)
        if path:
            found.extend(Change(dotted((*path, k)), NOT_SET, v) for k, v in got.items() if k not in asked)
    elif isinstance(asked, list) and isinstance(got, list) and len(asked) == len(got):
        for index, (a, g) in enumerate(zip(asked, got, strict=True)):
            _diff(a, g, (*path, index), found)
    elif not _same(asked, got):
        found.append(Change(dotted(path), asked, got))


def _same(a: Any, b: Any) -> bool:
    numeric = all(isinstance(x, numbers.Real) and not isinstance(x, bool) for x in (a, b))
    return math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-9) if numeric else bool(a == b)


def format_changes(changes: list[Change], *, as_html: bool = False) -> str:
    """A small table of changes: plain text, or HTML for a notebook."""
    rows = [(c.path, "" if c.requested is NOT_SET else repr(c.requested), repr(c.effective), c.kind)
            for c in changes]
    if as_html:
        cells = "".join(f"<tr>{''.join(f'<td>{html.escape(cell)}</td>' for cell in row)}</tr>" for row in rows)
        head = "".join(f"<th>{name}</th>" for name in ("path", "asked", "server", ""))
        return f"<table><tr>{head}</tr>{cells}</table>" if rows else "<p>no changes</p>"
    if not rows:
        return "no changes"
    widths = [max(len(r[i]) for r in [("path", "asked", "server", ""), *rows]) for i in range(4)]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip()
             for r in [("path", "asked", "server", ""), *rows]]
    return "\n".join(lines)
