"""Options shared by the commands: path options that refuse an empty value, `--out`, `--include`, `--offline`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import typer

from groundfloor.errors import UserError

OUT_NAMES = ("--out", "--output-path", "--output_path")  # the last two for lm-eval users


def as_path(text: Any) -> Path | str:
    """The parser of every path option: an empty value stays "" for `refuse_empty` (Path("") is ".")."""
    return "" if not str(text).strip() else Path(text)


def _given_name(param: typer.CallbackParam) -> str:
    """The option name as typed (`--output-path` rather than `--out` when that alias was used)."""
    args = sys.argv[1:]
    used = [n for n in param.opts if any(a == n or a.startswith(f"{n}=") for a in args)]
    return (used or param.opts)[0]


def refuse_empty(ctx: typer.Context, param: typer.CallbackParam, value: Any) -> Any:
    """The callback of every path option: `--out ""` is an error naming the option, not the current folder."""
    values = value if isinstance(value, (list, tuple)) else [value]
    if any(v == "" for v in values):
        raise UserError(f"{_given_name(param)} is empty; give a path")
    return value


def path_option(default: Any, *names: str, help: str) -> Any:
    """A path option: parsed by `as_path`, checked by `refuse_empty`."""
    return typer.Option(default, *names, help=help, parser=as_path, callback=refuse_empty)


def out_option(default: Any, help: str) -> Any:
    """`--out` (also `--output-path`, as lm-eval spells it)."""
    return path_option(default, *OUT_NAMES, help=help)


INCLUDE = path_option([], "--include", help="Folder with user task modules (repeatable).")
OFFLINE = typer.Option(False, help="Use offline data sources only.")
