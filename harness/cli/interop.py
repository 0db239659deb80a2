"""`mipo-bench score` (re-score saved outputs) and `mipo-bench export lm-eval|inspect`."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from harness.cli.options import INCLUDE, OFFLINE, out_option, path_option

export_app = typer.Typer(no_args_is_help=True,
                         help="Export tasks to lm-eval or inspect-ai with the same items, prompts and scoring.")


LIMIT = typer.Option(None, min=1, help="At most N items per task (as `run --limit`).")
TASKS = typer.Option(..., help="Comma-separated task ids.")


def _offline(offline: bool) -> bool:
    from harness.cache import hub_reachable

    return offline or not hub_reachable()


def score(
    task: str = typer.Option(..., help="Task id."),
    predictions: Path = path_option(..., "--predictions", help='JSONL file, one {"id": ..., "output": ...} per line.'),
    out: Optional[Path] = out_option(None, help="Scored JSONL (default: <predictions>.scored.jsonl)."),
    include: list[Path] = INCLUDE,
    offline: bool = OFFLINE,
) -> None:
    """Re-score saved outputs with the task's own scorer (no model). Validates every line and id first."""
    from harness.outpaths import check_in_file, check_out_file
    from harness.evaluation.score import aggregate, default_out, item_index, read_predictions, score_rows, write_scored
    from tasks.registry import TaskRegistry

    t = TaskRegistry(include).get(task)  # an unknown task is named first; nothing is read or written yet
    check_in_file(predictions, "predictions file")
    target = check_out_file(out, "--out") if out else check_out_file(default_out(predictions), "scored file")
    preds = read_predictions(predictions)
    scored = score_rows(t, preds, item_index(t, _offline(offline)))
    write_scored(target, [{**p, **s} for p, s in zip(preds, scored)])
    for metric, m in aggregate(t, scored).items():
        typer.echo(f"{t.id} {metric}: {m['value']:.4f} [{m['ci_low']:.4f}, {m['ci_high']:.4f}] n={m['n']}")
    typer.echo(f"scored: {target}")


def _plan(tasks: str, out: Path, include: list[Path], limit: int | None, offline: bool):
    """The export's folder checked, then the comma-separated tasks planned (items, prompts, scoring)."""
    from harness.evaluation.export.common import plan_exports
    from harness.outpaths import check_out_dir

    check_out_dir(out)
    return plan_exports([t.strip() for t in tasks.split(",") if t.strip()], include, limit, _offline(offline))


@export_app.command("lm-eval")
def export_lm_eval(
    tasks: str = TASKS,
    out: Path = out_option(..., help="Folder for the YAMLs, data and utils.py."),
    limit: Optional[int] = LIMIT,
    include: list[Path] = INCLUDE,
    offline: bool = OFFLINE,
) -> None:
    """lm-eval 0.4.13 task YAMLs whose scoring calls mipo-bench's Task.score (use --apply_chat_template)."""
    from harness.evaluation.export.lmeval import export_lmeval

    exports = _plan(tasks, out, include, limit, offline)
    for path in export_lmeval(exports, out, include):
        typer.echo(f"wrote {path}")
    typer.echo(f"run: lm_eval --include_path {out.expanduser().resolve()} --tasks "
               f"{','.join(ex.name for ex in exports)} --apply_chat_template --model ... --model_args ...")


@export_app.command("inspect")
def export_inspect_cmd(
    tasks: str = TASKS,
    out: Path = out_option(..., help="Folder for the task file and data."),
    limit: Optional[int] = LIMIT,
    include: list[Path] = INCLUDE,
    offline: bool = OFFLINE,
) -> None:
    """An inspect-ai task file whose scorer calls mipo-bench's Task.score."""
    from harness.evaluation.export.inspect_eval import export_inspect

    exports = _plan(tasks, out, include, limit, offline)
    path = export_inspect(exports, out, include)
    typer.echo(f"wrote {path}")
    typer.echo(f"run: inspect eval {path}@{exports[0].name} --model <provider/model>")
