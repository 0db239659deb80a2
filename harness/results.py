"""results.csv: the tidy table rebuilt from every metrics file in a run (reports read only this)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from harness.rundir import RunDir, atomic_write_text

COLUMNS = ["model", "family", "method", "round", "task", "metric", "value", "ci_low", "ci_high", "n", "kind",
           "partial"]


def collect_rows(run: RunDir) -> list[dict]:
    """One row per (model, method, round, task, metric) from metrics.json / diagnostics.json files."""
    rows = []
    for path in sorted(run.root.glob("models/**/*.json")):
        if path.name not in {"metrics.json", "diagnostics.json", "train_summary.json"}:
            continue
        data = json.loads(path.read_text())
        for metric, m in data.get("metrics", {}).items():
            rows.append({
                "model": data["model"], "family": data["family"], "method": data["method"],
                "round": int(data["round"]), "task": data["task"], "metric": metric,
                "value": m["value"], "ci_low": m.get("ci_low"), "ci_high": m.get("ci_high"), "n": m.get("n"),
                "kind": data.get("kind", "eval"), "partial": bool(data.get("partial", False)),
            })
    return rows


def write_results(run: RunDir) -> pd.DataFrame:
    """Rebuild results.csv atomically and return it."""
    df = pd.DataFrame(collect_rows(run), columns=COLUMNS)
    if not df.empty:
        df = df.sort_values(["model", "method", "round", "task", "metric"], kind="stable")
    atomic_write_text(run.results, df.to_csv(index=False))
    return df


def read_results(path: Path) -> pd.DataFrame:
    return pd.read_csv(path)
