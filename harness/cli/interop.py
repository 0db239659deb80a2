"""`mipo-bench score` (re-score saved outputs) and `mipo-bench export lm-eval|inspect`."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from groundfloor.errors import UserError
from groundfloor.limits import MAX_BATCH, MAX_ITEMS, MAX_SEED
from harness.cli.options import INCLUDE, OFFLINE, out_option, path_option

export_app = typer.Typer(no_args_is_help=True,
                         help="Export tasks to lm-eval or inspect-ai with the same items, prompts and scoring.")


LIMIT = typer.Option(None, min=1, max=MAX_ITEMS, help="At most N items per task (as `run --limit`).")
TASKS = typer.Option(..., help="Comma-separated task ids.")


def _offline(offline: bool) -> bool:
    from groundfloor.cache import hub_reachable

    return offline or not hub_reachable()


def score(
    task: str = typer.Option(..., help="Task id."),
    predictions: Path = path_option(..., "--predictions", help='JSONL file, one {"id": ..., "output": ...} per line.'),
    out: Optional[Path] = out_option(None, help="Scored JSONL (default: <predictions>.scored.jsonl)."),
    model: Optional[str] = typer.Option(None, help="The model that wrote the outputs (alias, hub id or folder): "
                                        "runs the task's model stage (GSM8K/SVAMP: the authors' extraction turn)."),
    adapter: Optional[Path] = path_option(None, "--adapter", help="With --model: a LoRA adapter folder on top of it "
                                          "(the policy of a trained LoRA round)."),
    device: str = typer.Option("auto", help="With --model: cpu, cuda or auto."),
    seed: int = typer.Option(42, min=0, max=MAX_SEED, help="With --model: the seed of the model stage's sampling (a run's: its seed)."),
    batch_size: int = typer.Option(8, min=1, max=MAX_BATCH, help="With --model: generation batch size."),
    include: list[Path] = INCLUDE,
    offline: bool = OFFLINE,
) -> None:
    """Re-score saved outputs with the task's own scorer. Validates every line and id first.

    No model is loaded unless --model is given; a task whose reading needs a second turn of the model then
    reports that stage as not run (per line and in the summary) instead of scoring those outputs.
    """
    from groundfloor.backends.base import GenParams
    from groundfloor.outpaths import check_in_file, check_out_file
    from harness.evaluation.score import (rescored_metrics, default_out, item_index, not_run,
                                          read_predictions, score_rows, write_scored)
    from tasks.registry import TaskRegistry

    t = TaskRegistry(include).get(task)  # an unknown task is named first; nothing is read or written yet
    _check_model_options(device, model, adapter)
    check_in_file(predictions, "predictions file")
    target = check_out_file(out, "--out") if out else check_out_file(default_out(predictions), "scored file")
    preds = read_predictions(predictions)
    index = item_index(t, _offline(offline))
    stage = t.scorer.stage
    backend = _scoring_model(t.id, stage, model, device, adapter)
    try:
        scored = score_rows(t, preds, index, backend, GenParams(batch_size=batch_size, seed=seed))
    finally:
        if backend is not None:
            backend.close()
    write_scored(target, [{**p, **s} for p, s in zip(preds, scored)])
    pending = not_run(scored)
    if pending:
        typer.echo(f"{t.id} {t.metric}: not computed: {pending} of {len(scored)} outputs need the {stage.name} stage "
                   f"(a second turn of the model under test), which was not run; give --model to run it")
    for metric, m in rescored_metrics(t, scored).items():
        typer.echo(f"{t.id} {metric}: {m['value']:.4f} [{m['ci_low']:.4f}, {m['ci_high']:.4f}] n={m['n']}")
    if backend is not None:
        _say_stage(stage.name, scored, model, seed)
    typer.echo(f"scored: {target}")


def _scoring_model(task_id: str, stage, model: str | None, device: str, adapter: Path | None):
    """The model that runs the task's model stage (None: no --model, or a task without a stage)."""
    from harness.evaluation.score import load_scoring_model

    if model and stage is None:
        typer.echo(f"note: task {task_id} has no model stage; --model is not used")
    if not model or stage is None:
        return None
    return load_scoring_model(model, device, adapter=str(Path(adapter).expanduser()) if adapter else None,
                              log=typer.echo)


def _say_stage(stage: str, scored: list[dict], model: str | None, seed: int) -> None:
    asked = sum(1 for r in scored if f"{stage}_reply" in r)
    typer.echo(f"{stage} stage: {asked} of {len(scored)} outputs asked with {model} (seed {seed})")


def _check_model_options(device: str, model: str | None, adapter: Path | None) -> None:
    """`score`'s --device / --adapter, checked before anything is read."""
    if device not in ("cpu", "cuda", "auto"):
        raise UserError(f"--device must be cpu, cuda or auto, not '{device}'")
    if adapter is not None and not model:
        raise UserError("--adapter needs --model (the base model the adapter was trained on)")
    if adapter is not None and not Path(adapter).expanduser().is_dir():
        raise UserError(f"--adapter {adapter}: not a folder")


def _plan(tasks: str, out: Path, include: list[Path], limit: int | None, offline: bool):
    """The export's folder checked, then the comma-separated tasks planned (items, prompts, scoring)."""
    from groundfloor.outpaths import check_out_dir
    from harness.evaluation.export.common import plan_exports

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
