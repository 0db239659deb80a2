"""results.csv: the tidy table rebuilt from every metrics file in a run (reports read only this)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np
import pandas as pd

from groundfloor.errors import UserError
from groundfloor.records import RoundHeader
from groundfloor.rundir import RunDir, atomic_write_text

COLUMNS = ["model", "family", "method", "round", "task", "metric", "value", "ci_low", "ci_high", "n", "kind",
           "partial"]
# training scope of the row's policy (per_task | joint; empty for round 0) and the tasks whose pairs trained it
# ("+"-joined); results.csv files written before these columns existed are read as joint (see fill_columns)
SCOPE_COLUMNS = ["scope", "trained_on"]
# True on the row of the task's own main metric (the scorer's `metric`; metrics.json `main_metric`), False on
# its other metrics, empty where unknown (training and diagnostic rows, files written before the column)
MAIN_COLUMN = "main"
# what produced the row's CI (groundfloor.stats.mean_interval: wilson, bootstrap, bootstrap+wilson-floor, none);
# empty where not recorded (rows without a CI, files written before the column)
CI_METHOD_COLUMN = "ci_method"


def fill_columns(df: pd.DataFrame) -> pd.DataFrame:
    """Add the columns an older results table lacks: its trained rounds were joint, trained on unknown tasks,
    and its main metrics and CI methods are unknown (`main`, `ci_method` empty). `main` is read as the strings
    "True", "False" or ""."""
    if "scope" not in df.columns:
        df["scope"] = ["joint" if int(k) >= 1 else "" for k in df["round"]]
    if "trained_on" not in df.columns:
        df["trained_on"] = ""
    if MAIN_COLUMN not in df.columns:
        df[MAIN_COLUMN] = ""
    if CI_METHOD_COLUMN not in df.columns:
        df[CI_METHOD_COLUMN] = ""
    df[CI_METHOD_COLUMN] = df[CI_METHOD_COLUMN].astype(object).fillna("").astype(str)
    df[MAIN_COLUMN] = [str(v) if str(v) in ("True", "False") else "" for v in df[MAIN_COLUMN]]
    df["scope"] = df["scope"].astype(object).fillna("").astype(str)
    df["trained_on"] = df["trained_on"].astype(object).fillna("").astype(str)
    return df


def nested_runs(run: RunDir) -> set[Path]:
    """Run folders inside this run's models/ (another run's --out pointed there): their files are not this run's."""
    models = run.root / "models"
    return {p.parent for name in ("manifest.json", "results.csv") for p in models.rglob(name)}


def collect_rows(run: RunDir) -> list[dict]:
    """One row per (model, method, round, task, metric) from this run's metrics.json / diagnostics.json files."""
    rows, foreign = [], nested_runs(run)
    for path in sorted(run.root.glob("models/**/*.json")):
        if path.name not in {"metrics.json", "diagnostics.json", "train_summary.json"}:
            continue
        if foreign.intersection(path.parents):
            continue
        data = json.loads(path.read_text())
        if not data.get("metrics"):
            continue
        header = RoundHeader.from_json(data)  # the identity columns: the header's fields (groundfloor/records.py)
        kind = "transfer" if header.transfer else data.get("kind", "eval")
        for metric, m in data["metrics"].items():
            rows.append({
                **header.columns(), "task": data["task"], "metric": metric,
                "value": m["value"], "ci_low": m.get("ci_low"), "ci_high": m.get("ci_high"), "n": m.get("n"),
                "kind": kind,
                MAIN_COLUMN: metric == data["main_metric"] if data.get("main_metric") else "",
                CI_METHOD_COLUMN: m.get("ci_method") or "",
            })
    return rows


def write_results(run: RunDir) -> pd.DataFrame:
    """Rebuild results.csv atomically and return it."""
    df = pd.DataFrame(collect_rows(run), columns=COLUMNS + SCOPE_COLUMNS + [MAIN_COLUMN, CI_METHOD_COLUMN])
    if not df.empty:
        df = df.sort_values(["model", "method", "round", "task", "trained_on", "metric"], kind="stable")
    atomic_write_text(run.results, df.to_csv(index=False))
    return df


def _damaged(path: Path, what: str) -> UserError:
    return UserError(f"{path}: {what}; re-run the `mipo-bench run` command of that folder to rebuild it "
                     "from the metrics files")


def read_results(path: Path) -> pd.DataFrame:
    """results.csv, checked: an empty file, missing columns or a truncated row is a UserError naming the line."""
    try:
        raw = Path(path).read_bytes().decode("utf-8")
    except UnicodeDecodeError as e:
        raise _damaged(path, f"not UTF-8 text (byte {e.start})") from None
    if not raw.strip():
        raise _damaged(path, "the file is empty")
    if "\x00" in raw:
        raise _damaged(path, f"line {raw[:raw.index(chr(0))].count(chr(10)) + 1} contains a NUL byte")
    rows = list(csv.reader(io.StringIO(raw)))
    missing = [c for c in COLUMNS if c not in rows[0]]
    if missing:
        raise _damaged(path, f"not a results table (missing column {', '.join(missing[:3])})")
    for lineno, row in enumerate(rows[1:], 2):
        if row and len(row) != len(rows[0]):
            raise _damaged(path, f"line {lineno} is truncated ({len(row)} of {len(rows[0])} fields)")
    if not raw.endswith("\n"):
        raise _damaged(path, f"line {len(rows)} is truncated (the file ends without a line break)")
    df = pd.read_csv(io.StringIO(raw))
    _check_numbers(path, df)
    return fill_columns(df)


# the numeric columns: (may be empty, must be a whole number >= 0)
NUMERIC = {"round": (False, True), "value": (True, False), "ci_low": (True, False), "ci_high": (True, False),
           "n": (True, True)}


def _check_numbers(path: Path, df: pd.DataFrame) -> None:
    """Every cell of the numeric columns a finite number (a whole one >= 0 for round and n), or empty where allowed."""
    for column, (may_be_empty, whole) in NUMERIC.items():
        cells = df[column]
        num = pd.to_numeric(cells, errors="coerce")
        problems = {"is not a number": num.isna() & cells.notna(), "is not finite": num.abs() == np.inf}
        if not may_be_empty:
            problems["is empty"] = cells.isna()
        if whole:
            problems["is not a whole number >= 0"] = (num.notna() & (num % 1 != 0)) | (num < 0)
        for what, bad in problems.items():
            if bad.any():
                raise _damaged(path, f"line {int(bad.idxmax()) + 2} has a {column} that {what}")
