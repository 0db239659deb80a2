"""Tables built from the tidy results frame."""

from __future__ import annotations

import pandas as pd


def main_metrics(df: pd.DataFrame) -> pd.DataFrame:
    """Rows of each task's main metric (the first metric recorded for an eval task: accuracy/honoured)."""
    ev = df[df["kind"] == "eval"]
    mains = {"accuracy", "honoured"}
    return ev[ev["metric"].isin(mains)]


def fmt_ci(value: float, lo: float, hi: float, n: int) -> str:
    return f"{value:.3f} [{lo:.3f}, {hi:.3f}] (n={int(n)})"


def per_round_table(df: pd.DataFrame) -> pd.DataFrame:
    """model, family, method, round, and one column per task with mean [CI] (n)."""
    m = main_metrics(df)
    if m.empty:
        return pd.DataFrame()
    m = m.assign(cell=[fmt_ci(v, lo, hi, n) for v, lo, hi, n in zip(m["value"], m["ci_low"], m["ci_high"], m["n"])])
    wide = m.pivot_table(index=["model", "family", "method", "round"], columns="task", values="cell",
                         aggfunc="first").reset_index()
    wide.columns.name = None
    return wide.sort_values(["model", "round", "method"])
