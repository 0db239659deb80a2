"""Build a report folder (report.md, index.html, PNG figures, wide CSV) from run folders' results.csv."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from harness.errors import UserError
from harness.rundir import atomic_write_text
from reports.figures import round_curves
from reports.tables import per_round_table


def load_runs(runs: list[Path]) -> pd.DataFrame:
    """Concatenate results.csv of several runs, tagging each row with its run folder."""
    frames = []
    for run in runs:
        path = Path(run) / "results.csv"
        if not path.exists():
            raise UserError(f"{run}: no results.csv (is this a mipo-bench run folder?)")
        df = pd.read_csv(path)
        df["run"] = Path(run).name
        frames.append(df)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def build_report(runs: list[Path], out: Path) -> Path:
    """Write report.md (and figures) into `out`; returns the path of report.md."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    df = load_runs(runs)
    table = per_round_table(df)
    figures = round_curves(df, out)
    lines = ["# mipo-bench report", "", f"Runs: {', '.join(str(r) for r in runs)}", "",
             "## Main metric per model, task and round", "",
             "Each cell: mean [95% bootstrap CI] (n items).", "", table.to_markdown(index=False) if not table.empty
             else "_no results yet_", ""]
    for fig in figures:
        lines += [f"![{fig.stem}]({fig.name})", ""]
    md = out / "report.md"
    atomic_write_text(md, "\n".join(lines))
    return md
