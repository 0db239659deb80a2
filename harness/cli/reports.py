"""`mipo-bench report` (tables, figures and HTML of runs) and `mipo-bench compare` (paired, two runs)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from groundfloor.output import JSON_HELP, Column, emit
from harness.cli.options import out_option, path_option


def report(
    runs: list[Path] = typer.Argument(..., help="One or more run folders."),
    out: Optional[Path] = out_option(None, help="Report folder (default: <first run>/report)."),
) -> None:
    """Build tables, figures and HTML from results.csv (no model is loaded)."""
    from groundfloor.outpaths import check_out_dir, check_run_folder
    from groundfloor.rundir import staged_folder
    from reports.build import build_report

    for r in runs:
        check_run_folder(r)
    out = check_out_dir(out or runs[0] / "report", "--out" if out else "report folder")
    with staged_folder(out) as staged:  # an interrupted build leaves no empty or half-written report folder
        md = out / build_report(runs, staged).name
    typer.echo(f"report: {md}")


def compare(
    run_a: Path = typer.Argument(..., help="Run folder A (the reference)."),
    run_b: Path = typer.Argument(..., help="Run folder B (gain = B − A)."),
    csv: Optional[Path] = path_option(None, "--csv", help="Also write the comparison as CSV."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Paired comparison (B − A) per model, method and task on the item ids both runs evaluated; for 0/1 scores
    also the items improved (0 → 1) and broken (1 → 0)."""
    from groundfloor.outpaths import check_not_a_run_file, check_out_file, check_run_folder
    from reports.compare import compare_runs
    from reports.tables import fmt_discordant, fmt_gain, fmt_p

    check_run_folder(run_a)
    check_run_folder(run_b)
    if csv:
        check_out_file(csv, "--csv")
        check_not_a_run_file(csv, "--csv", [run_a, run_b])
    df = compare_runs(run_a, run_b)
    if as_json:
        emit(json.loads(df.to_json(orient="records")), [], as_json=True)
    else:
        records = [{"model": r["model"], "method": r["method"], "task": r["task"], "on": r["trained on"] or "-",
                    "rounds": f"{r['round A']}/{r['round B']}", "scope": f"{r['scope A'] or '-'}/{r['scope B'] or '-'}",
                    "A": f"{r['A']:.3f}", "B": f"{r['B']:.3f}", "gain": fmt_gain(r["gain"], r["ci_low"], r["ci_high"]),
                    "moved": fmt_discordant(r["improved"], r["broken"]), "p": fmt_p(r["p_value"]), "n": str(r["n"]),
                    "test": r["test"], "ci": r["ci_method"]} for _, r in df.iterrows()]
        cols = [Column("model", "model", keep=True), Column("method", "method", keep=True),
                Column("task", "task", keep=True), Column("on", "trained on"), Column("rounds", "rounds A/B"), Column("scope", "scope A/B"),
                Column("A", "A"), Column("B", "B"), Column("gain", "gain [95% CI]", keep=True),
                Column("moved", "improved/broken", keep=True), Column("p", "p"), Column("n", "n"),
                Column("test", "test"), Column("ci", "CI method")]
        emit(records, cols, title=f"{run_b} − {run_a} (paired on shared item ids; 95% CI)")
    if csv:
        from groundfloor.rundir import atomic_write_text

        atomic_write_text(csv, df.to_csv(index=False))


def view(
    run: Path = typer.Argument(..., help="Run folder (finished or still running)."),
    host: str = typer.Option("127.0.0.1", help="Host the viewer binds to."),
    port: int = typer.Option(7575, min=1, max=65535, help="Port of the viewer."),
    write_only: bool = typer.Option(False, "--write-only", help="Write the inspect logs and print the viewer "
                                    "command without starting it."),
) -> None:
    """Browse every sample of a run in inspect-ai's viewer: writes (or refreshes) <run>/inspect/ from the run's
    samples.jsonl and pairs.jsonl files, then runs `inspect view` on it."""
    import subprocess
    import sys

    from groundfloor.errors import UserError
    from reports.inspect_logs import LOG_DIR, view_command, write_run_logs

    if not run.is_dir():
        raise UserError(f"run folder not found: {run}")
    paths = write_run_logs(run)
    if not paths:
        raise UserError(f"{run}: no samples.jsonl or pairs.jsonl yet (is this a mipo-bench run folder?)")
    cmd = view_command(Path(run) / LOG_DIR, host, port, sys.executable)
    typer.echo(f"inspect logs: {Path(run) / LOG_DIR} ({len(paths)} logs)")
    if write_only:
        typer.echo("view with: " + " ".join(cmd))
        return
    typer.echo(f"viewer: http://{host}:{port} (Ctrl-C stops it)")
    raise typer.Exit(subprocess.call(cmd))
