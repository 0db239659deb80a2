"""The `mipo-bench compare` command: paired comparison of two runs on shared items."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table


def compare(
    run_a: Path = typer.Argument(..., help="Run folder A (the reference)."),
    run_b: Path = typer.Argument(..., help="Run folder B (gain = B − A)."),
    csv: Optional[Path] = typer.Option(None, "--csv", help="Also write the comparison as CSV."),
) -> None:
    """Paired comparison (B − A) per model, method and task on the item ids both runs evaluated."""
    from harness.outpaths import check_out_file, check_run_folder
    from reports.compare import compare_runs
    from reports.tables import fmt_gain, fmt_p

    check_run_folder(run_a)
    check_run_folder(run_b)
    if csv:
        check_out_file(csv, "--csv")
    df = compare_runs(run_a, run_b)
    table = Table(title=f"{run_b} − {run_a} (paired on shared item ids; 95% CI)")
    for col in ("model", "method", "task", "rounds A/B", "A", "B", "gain [95% CI]", "p", "n", "test"):
        table.add_column(col, justify="right" if col in {"A", "B", "p", "n"} else "left")
    for _, r in df.iterrows():
        table.add_row(r["model"], r["method"], r["task"], f"{r['round A']}/{r['round B']}", f"{r['A']:.3f}",
                      f"{r['B']:.3f}", fmt_gain(r["gain"], r["ci_low"], r["ci_high"]), fmt_p(r["p_value"]),
                      str(r["n"]), r["test"])
    Console(width=200).print(table)
    if csv:
        from harness.rundir import atomic_write_text

        atomic_write_text(csv, df.to_csv(index=False))
