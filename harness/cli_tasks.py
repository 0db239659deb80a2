"""`mipo-bench tasks list|show|validate`."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from harness.errors import UserError

tasks_app = typer.Typer(no_args_is_help=True, help="Tasks: list, show their protocol, validate a user task.")
INCLUDE = typer.Option([], "--include", help="Folder with user task modules (repeatable).")


@tasks_app.command("list")
def list_tasks(include: list[Path] = INCLUDE) -> None:
    """Every task with its family and where it comes from."""
    from tasks.registry import TaskRegistry

    reg = TaskRegistry(include)
    table = Table("task", "family", "negative", "origin", "description")
    for tid in reg.ids():
        t = reg.get(tid)
        table.add_row(tid, t.family, t.default_negative, reg.origin(tid), t.description)
    Console(width=200).print(table)


@tasks_app.command()
def show(task: str = typer.Argument(...), include: list[Path] = INCLUDE) -> None:
    """Data sources, train pool, negative strategy, sample size, seed, generation and scorers."""
    from tasks.registry import TaskRegistry

    typer.echo(json.dumps(TaskRegistry(include).get(task).describe(), indent=2, default=str))


@tasks_app.command()
def validate(task: str = typer.Argument(...), include: list[Path] = INCLUDE,
             offline: bool = typer.Option(False, help="Use offline data sources only.")) -> None:
    """Load the first items, render one prompt, and check the gold answer scores as correct."""
    from harness.cache import hub_reachable
    from tasks.registry import TaskRegistry

    t = TaskRegistry(include).get(task)
    split = t.load(offline or not hub_reachable())
    if not split.eval_items:
        raise UserError(f"task {task}: no evaluation items")
    items = split.eval_items[:3]
    typer.echo(f"{task}: {len(split.eval_items)} eval items, {len(split.train_items)} train prompts")
    typer.echo("prompt of the first item:\n" + json.dumps(t.messages(items[0]), indent=2, ensure_ascii=False))
    for it in items:
        sc = t.score(t.gold_output(it), it)
        if sc.score < 1.0:
            raise UserError(f"task {task}: the gold output of item {it.id} scores {sc.score}, not 1.0 "
                            f"(extracted {sc.extracted!r}, target {it.target!r})")
    typer.echo(f"ok: gold outputs of {len(items)} items score 1.0")
