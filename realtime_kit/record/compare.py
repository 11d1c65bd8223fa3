"""Two recordings side by side, turn by turn: what was asked and said, how long, how fast.

    cmp = rk.Recording.load("a.rkrec").compare(rk.Recording.load("b.rkrec"))
    cmp                      # in a cell: a table, differing words marked
    cmp.rows[0]["same_text"], cmp.rows[0]["latency_b_s"]
    cmp.to_dataframe()       # with pandas

Text similarity is difflib's ratio over lower-cased words (1.0: the same words in the same order).

    >>> similarity("Hello there!", "hello there"), similarity("a b", "c d")
    (1.0, 0.0)
"""

from __future__ import annotations

import difflib
import html
import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .recording import Recording
    from .turns import Turn

__all__ = ["Comparison", "similarity"]

_WORD = re.compile(r"[\w']+")


def words(text: str | None) -> list[str]:
    """Lower-cased words, punctuation dropped."""
    return _WORD.findall((text or "").lower())


def similarity(a: str | None, b: str | None) -> float:
    """How alike two texts are, word by word, from 0.0 to 1.0 (two empty texts are alike)."""
    left, right = words(a), words(b)
    if not left and not right:
        return 1.0
    return round(difflib.SequenceMatcher(a=left, b=right, autojunk=False).ratio(), 3)


class Comparison:
    """The turns of two recordings paired in order; `rows` holds one dict per turn."""

    def __init__(self, a: Recording, b: Recording) -> None:
        self.a, self.b = a, b
        count = max(len(a.turns), len(b.turns))
        self.rows = [_row(i, _at(a.turns, i), _at(b.turns, i)) for i in range(count)]

    @property
    def same(self) -> bool:
        """Both recordings said the same words in every turn."""
        return all(row["same_text"] for row in self.rows)

    def to_dataframe(self) -> Any:
        """The rows as a pandas DataFrame (needs pandas)."""
        try:
            import pandas as pd
        except ImportError as err:
            raise ImportError("Comparison.to_dataframe needs pandas: pip install pandas") from err
        return pd.DataFrame(self.rows).set_index("turn")

    def __repr__(self) -> str:
        lines = [f"Comparison({len(self.rows)} turns, {sum(r['same_text'] for r in self.rows)} alike)"]
        for row in self.rows:
            mark = "=" if row["same_text"] else "≠"
            lines.append(f"  {row['turn']} {mark} {row['said_a']!r} | {row['said_b']!r}  "
                         f"({_s(row['duration_a_s'])} vs {_s(row['duration_b_s'])}, "
                         f"latency {_s(row['latency_a_s'])} vs {_s(row['latency_b_s'])})")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        head = "".join(f"<th style='text-align:left'>{h}</th>" for h in
                       ("#", "user (a / b)", "said by a", "said by b", "similarity", "audio s (a / b)",
                        "latency s (a / b)"))
        body = "".join(
            f"<tr><td>{r['turn']}</td><td>{html.escape(r['user_a'] or '')}<br>{html.escape(r['user_b'] or '')}</td>"
            f"<td>{_marked(r['said_a'], r['said_b'])}</td><td>{_marked(r['said_b'], r['said_a'])}</td>"
            f"<td>{r['similarity']:.2f}</td><td>{_s(r['duration_a_s'])} / {_s(r['duration_b_s'])}</td>"
            f"<td>{_s(r['latency_a_s'])} / {_s(r['latency_b_s'])}</td></tr>"
            for r in self.rows)
        return f"<div><b>{len(self.rows)} turns compared</b><table>{head}{body}</table></div>"


def _at(turns: list[Turn], index: int) -> Turn | None:
    return turns[index] if index < len(turns) else None


def _row(index: int, a: Turn | None, b: Turn | None) -> dict[str, Any]:
    said_a, said_b = (a.said if a else None), (b.said if b else None)
    score = similarity(said_a, said_b) if a and b else 0.0
    return {
        "turn": index,
        "user_a": a.user_text if a else None, "user_b": b.user_text if b else None,
        "said_a": said_a, "said_b": said_b,
        "similarity": score, "same_text": bool(a and b) and score == 1.0,
        "duration_a_s": round(a.duration, 3) if a else None, "duration_b_s": round(b.duration, 3) if b else None,
        "latency_a_s": _round(a.latency if a else None), "latency_b_s": _round(b.latency if b else None),
        "tools_a": [c["name"] for c in a.tool_calls] if a else [],
        "tools_b": [c["name"] for c in b.tool_calls] if b else [],
    }


def _marked(text: str | None, other: str | None) -> str:
    """``text`` with the words ``other`` lacks in bold."""
    if text is None:
        return "<i>(no turn)</i>"
    theirs = set(words(other))
    return " ".join(f"<b>{html.escape(w)}</b>" if any(x not in theirs for x in words(w)) else html.escape(w)
                    for w in text.split())


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def _s(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"
