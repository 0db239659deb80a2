"""`mipo-bench tasks list|show|validate`."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from groundfloor.errors import UserError
from groundfloor.output import JSON_HELP, Column, emit, emit_json
from harness.cli.options import INCLUDE, OFFLINE

tasks_app = typer.Typer(no_args_is_help=True, help="Tasks: list, show their protocol, validate a user task.")


@tasks_app.command("list")
def list_tasks(include: list[Path] = INCLUDE, as_json: bool = typer.Option(False, "--json", help=JSON_HELP)) -> None:
    """Every task with its family and where it comes from."""
    from tasks.registry import TaskRegistry

    reg = TaskRegistry(include)
    records = []
    for tid in reg.ids():
        t = reg.get(tid)
        records.append({"task": tid, "family": t.family, "negative": t.default_negative, "origin": reg.origin(tid),
                        "description": t.description})
    emit(records, [Column("task", "task", keep=True), Column("family", "family"), Column("negative", "negative"),
                   Column("origin", "origin", keep=True), Column("description", "description")], as_json=as_json)


@tasks_app.command()
def show(task: str = typer.Argument(...), include: list[Path] = INCLUDE,
         as_json: bool = typer.Option(False, "--json", help="Print JSON (the default: show is always JSON).")) -> None:
    """Data sources, train pool, negative strategy, sample size, seed, generation and scorers (JSON)."""
    from tasks.registry import TaskRegistry

    emit_json(TaskRegistry(include).get(task).describe())


@tasks_app.command()
def validate(task: str = typer.Argument(...), include: list[Path] = INCLUDE, offline: bool = OFFLINE) -> None:
    """Load the first items, render one prompt, and check the gold answer scores as correct."""
    from tasks.loader import describe_source, load_data
    from tasks.registry import TaskRegistry

    t = TaskRegistry(include).get(task)
    try:
        loaded = load_data(t, "pypi" if offline else "auto")
    except ValueError as e:  # a malformed data file (as `run` reports it)
        raise UserError(f"task {task}: {e}") from None
    split = loaded.split
    typer.echo(f"data: {describe_source(loaded.provenance)}")
    if not split.eval_items:
        raise UserError(f"task {task}: no evaluation items")
    items = split.eval_items[:3]
    typer.echo(f"{task}: {len(split.eval_items)} eval items, {len(split.train_items)} train prompts")
    typer.echo("prompt of the first item:\n" + json.dumps(t.messages(items[0]), indent=2, ensure_ascii=False))
    for it in items:
        sc = t.score(t.gold_output(it), it)
        if sc.score is None or sc.score < 1.0:
            raise UserError(f"task {task}: the gold output of item {it.id} scores {sc.score}, not 1.0 "
                            f"(extracted {sc.extracted!r}, target {it.target!r})")
    typer.echo(f"ok: gold outputs of {len(items)} items score 1.0")
