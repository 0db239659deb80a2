"""The results table `run` and `eval` print at the end (lm-eval style), or its rows as JSON with `--json`.

The rows come from the run folder's results.csv: each task's main metric for round 0 and every trained
round, with its 95% CI and n. Under `--json` everything a run would print on stdout goes to stderr, so
stdout carries the JSON list alone.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import typer

from groundfloor.output import Column, emit

JSON_HELP = "Print only the results rows as a JSON list on stdout (progress and log lines go to stderr)."


def _number(x) -> float | None:
    """A finite float, or None (an empty cell)."""
    try:
        x = float(x)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


def result_rows(run: Path, seed: int | None = None) -> list[dict]:
    """The main-metric rows of `<run>/results.csv` (eval rows: round 0, then each method's trained rounds);
    [] without the file."""
    from groundfloor.results import read_results
    from reports.tables import main_metrics

    path = Path(run) / "results.csv"
    if not path.exists():
        return []
    main = main_metrics(read_results(path))
    rows = []
    for r in main.to_dict("records"):
        n = _number(r.get("n"))
        row = {"model": str(r["model"]), "method": str(r["method"]), "round": int(r["round"]),
               "task": str(r["task"]), "metric": str(r["metric"]), "value": _number(r["value"]),
               "ci_low": _number(r.get("ci_low")), "ci_high": _number(r.get("ci_high")),
               "n": None if n is None else int(n), "partial": str(r.get("partial")) == "True",
               "scope": str(r.get("scope") or ""), "trained_on": str(r.get("trained_on") or "")}
        rows.append({**row, "seed": seed} if seed is not None else row)
    return sorted(rows, key=lambda r: (r["model"], r["round"] > 0, r["method"], r["round"], r["trained_on"], r["task"]))


def _cell(row: dict) -> str:
    from reports.tables import fmt_ci

    nan = float("nan")
    return fmt_ci(*(nan if row[k] is None else row[k] for k in ("value", "ci_low", "ci_high", "n")))


def print_table(rows: list[dict]) -> None:
    """The rows as a table: model, method, round, task, metric, value [95% CI] (n)."""
    if not rows:
        typer.echo("results: none (no results.csv rows)")
        return
    shown = [{**r, "cell": _cell(r), "partial": "PARTIAL" if r["partial"] else ""} for r in rows]
    columns = [Column("seed", "seed")] if any("seed" in r for r in rows) else []
    columns += [Column("model", "model", keep=True), Column("method", "method"), Column("round", "round")]
    if any(r["scope"] == "per_task" for r in rows):  # one lineage per task: say which task trained the round
        columns.append(Column("trained_on", "trained on"))
    columns += [Column("task", "task", keep=True), Column("metric", "metric"),
                Column("cell", "value [95% CI] (n)", keep=True)]
    if any(r["partial"] for r in rows):
        columns.append(Column("partial", "partial"))
    emit(shown, columns, title="results (main metric per task)")


def print_rows(rows: list[dict], as_json: bool) -> None:
    """The JSON list (--json) or the table."""
    if as_json:
        typer.echo(json.dumps(rows, indent=2, ensure_ascii=False))
    else:
        print_table(rows)


def say(as_json: bool):
    """The echo for the commands' own lines: stdout, or stderr under --json."""
    return lambda msg: typer.echo(msg, err=as_json)


@contextlib.contextmanager
def stdout_to_stderr(active: bool) -> Iterator[None]:
    """While active, send Python's and the process's stdout (fd 1, what child processes inherit) to stderr."""
    if not active:
        yield
        return
    sys.stdout.flush()
    try:
        saved = os.dup(1)
        os.dup2(2, 1)
    except OSError:  # a closed stdout or stderr: Python's stdout is still redirected
        saved = None
    try:
        with contextlib.redirect_stdout(sys.stderr):
            yield
    finally:
        sys.stdout.flush()  # what was written meanwhile through an earlier reference to stdout
        sys.stderr.flush()
        if saved is not None:
            os.dup2(saved, 1)
            os.close(saved)
