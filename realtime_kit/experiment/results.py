"""An experiment's results: a pandas table (a row per target x config x turn x repeat), a summary, plots, files.

    results.table                         # latencies (s), transcripts, WER, tokens, cost, status, config used
    results.summary()                     # per target and config: p50/p95 of each latency, WER, cost, errors
    results.plot()                        # median latency components per config, and time-to-audio spreads
    results.save("run.csv"); Results.load("run.csv")

Columns: `target`, `model`, `config`, `turn` (index), `label`, `kind` ("text" / "audio"), `repeat`,
`input_s` (the clip's length), `started_at` (UTC), `wall_s` (the turn's session, connect to close),
`session_config` (the effective session the server returned, JSON); then the measures of
`realtime_kit.experiment.metrics`: latencies in seconds (`*_to_*_s`, `to_first_audio_s`), the VAD on
the audio's timeline (`speech_end_s`, `vad_end_s`, `vad_lag_s`), `status`, `error`, `transcript`,
`audio_s`, `input_transcript`, `expected`, `wer`, `tool_calls`, `tool_names`, `tokens_*` and
`cost_usd`. A turn that failed has `status` "error" and the reason in `error`.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .metrics import LATENCIES

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

__all__ = ["LATENCY_COLUMNS", "Results"]

LATENCY_COLUMNS = [*(f"{a}_to_{b}_s" for a, b in LATENCIES), "to_first_audio_s"]
GROUP = ["target", "config", "kind"]   # text and audio turns have different latency components
ORDER = ["target", "config", "turn", "repeat"]


class Results:
    """What `Experiment.run` returns; `interrupted` is True when the run was stopped early."""

    def __init__(self, rows: list[dict[str, Any]] | pd.DataFrame, *, interrupted: bool = False) -> None:
        import pandas as pd

        table = rows if isinstance(rows, pd.DataFrame) else pd.DataFrame(list(rows))
        if not table.empty and set(ORDER) <= set(table.columns):
            table = table.sort_values(ORDER, kind="stable").reset_index(drop=True)
        self.table: pd.DataFrame = table
        self.interrupted = interrupted

    def __len__(self) -> int:
        return len(self.table)

    @property
    def errors(self) -> pd.DataFrame:
        """The rows of turns that did not complete (status other than "completed")."""
        if self.table.empty or "status" not in self.table:
            return self.table
        return self.table[self.table["status"] != "completed"]

    def summary(self) -> pd.DataFrame:
        """Per target, config and turn kind: turns, errors, p50/p95 of each latency (ms), WER, cost per turn and all."""
        import pandas as pd

        table = self.table
        if table.empty:
            return pd.DataFrame()
        groups = table.groupby(GROUP, sort=False)
        out = pd.DataFrame({"turns": groups.size(), "errors": groups["status"].apply(lambda s: int((s != "completed")
                                                                                                   .sum()))})
        for column in [c for c in LATENCY_COLUMNS if c in table and table[c].notna().any()]:
            name = column.removesuffix("_s")
            out[f"{name}_p50_ms"] = groups[column].quantile(0.5) * 1000
            out[f"{name}_p95_ms"] = groups[column].quantile(0.95) * 1000
        if "wer" in table and table["wer"].notna().any():
            out["wer_mean"] = groups["wer"].mean()
        if "cost_usd" in table:
            out["cost_per_turn_usd"] = groups["cost_usd"].mean()
            out["cost_usd"] = groups["cost_usd"].sum(min_count=1)
        return out.round(6)

    def plot(self, metric: str = "to_first_audio_s") -> Figure:
        """Left: median latency components per config and turn kind, stacked; right: the spread of `metric`."""
        from ..audio.plots import _pyplot_figure, _released

        figure, (stacked, spread) = _pyplot_figure(ncols=2, figsize=(11, 4.2), gridspec_kw={"width_ratios": [3, 2]})
        table = self.table
        if table.empty:
            stacked.set_title("no turns finished")
            return _released(figure)
        labels = [" / ".join(map(str, key)) for key, _ in table.groupby(GROUP, sort=False)]
        medians = table.groupby(GROUP, sort=False)[[c for c in LATENCY_COLUMNS[:-1] if c in table]].median()
        left = [0.0] * len(medians)
        for index, column in enumerate(medians.columns):
            values = medians[column].fillna(0.0).to_numpy() * 1000
            if values.any():
                stacked.barh(labels, values, left=left, color=f"C{index}", label=column.removesuffix("_s")
                             .replace("_to_", " → ").replace("_", " "))
                left = [a + b for a, b in zip(left, values, strict=True)]
        stacked.set(xlabel="ms (median per component)", title="Where the time goes")
        stacked.legend(fontsize=7, loc="upper left", bbox_to_anchor=(0, -0.2), ncols=3, frameon=False)
        stacked.invert_yaxis()
        samples = [group[metric].dropna().to_numpy() * 1000 for _, group in table.groupby(GROUP, sort=False)]
        if metric in table and any(len(s) for s in samples):
            spread.boxplot([s if len(s) else [float("nan")] for s in samples], orientation="horizontal",
                           tick_labels=labels)
            spread.invert_yaxis()
        spread.set(xlabel="ms", title=metric.removesuffix("_s").replace("_", " ") + " per turn")
        return _released(figure)

    def save(self, path: str | Path) -> Path:
        """Write the table as CSV (or Parquet for a .parquet path, which needs pyarrow); returns the path."""
        target = Path(path)
        if target.suffix == ".parquet":
            _need_pyarrow()
            self.table.to_parquet(target, index=False)
        else:
            self.table.to_csv(target, index=False)
        return target

    @classmethod
    def load(cls, path: str | Path) -> Results:
        """Read a table written by `save` (CSV, or Parquet with pyarrow installed)."""
        import pandas as pd

        source = Path(path)
        if source.suffix == ".parquet":
            _need_pyarrow()
            return cls(pd.read_parquet(source))
        return cls(pd.read_csv(source, keep_default_na=True))

    def __repr__(self) -> str:
        state = ", interrupted" if self.interrupted else ""
        return f"Results({len(self.table)} turns, {len(self.errors)} not completed{state})"

    def _repr_html_(self) -> str:
        head = f"<div><b>{html.escape(repr(self))}</b></div>"
        summary = self.summary()
        return head + (summary.to_html() if not summary.empty else "")


def _need_pyarrow() -> None:
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        raise ImportError("Parquet needs pyarrow, which is not installed: save as .csv instead, or "
                          "`pip install pyarrow`.") from None
