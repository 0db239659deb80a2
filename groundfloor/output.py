"""What list/show commands print: a rich table in a terminal, plain aligned text in a pipe, JSON on request.

Id and path columns (`Column.keep`) are never truncated nor wrapped: in a terminal too narrow for them
the other columns wrap, and when even that cannot fit the table is printed as plain text.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

JSON_HELP = "Print JSON (for scripts) instead of a table."


@dataclass(frozen=True)
class Column:
    key: str  # the record's key
    header: str
    keep: bool = False  # an id or a path: printed whole, never cut


def _cell(value: Any) -> str:
    return " ".join(str("" if value is None else value).split())  # one line per row in plain text


def plain_text(records: list[dict], columns: list[Column]) -> str:
    """Columns separated by two spaces, padded to the widest cell, nothing cut; the last column unpadded."""
    rows = [[c.header for c in columns]] + [[_cell(r.get(c.key)) for c in columns] for r in records]
    widths = [max(len(row[i]) for row in rows) for i in range(len(columns))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row[:-1], widths)) + ("  " if len(row) > 1 else "") + row[-1]
             for row in rows]
    return "\n".join(line.rstrip() for line in lines) + "\n"


def _fits(records: list[dict], columns: list[Column], width: int) -> bool:
    """Whether the kept columns, at full width, leave room (borders, padding, ≥ 8 per other column)."""
    kept = sum(max([len(c.header)] + [len(_cell(r.get(c.key))) for r in records]) for c in columns if c.keep)
    others = sum(1 for c in columns if not c.keep)
    return kept + 8 * others + 3 * len(columns) + 1 <= width


def rich_table(records: list[dict], columns: list[Column], title: str | None = None) -> Table:
    table = Table(title=title)
    for c in columns:
        if c.keep:
            longest = max([len(c.header)] + [len(_cell(r.get(c.key))) for r in records])
            table.add_column(c.header, no_wrap=True, min_width=longest, overflow="ignore")
        else:
            table.add_column(c.header, overflow="fold")
    for r in records:
        table.add_row(*[_cell(r.get(c.key)) for c in columns])
    return table


def emit(records: list[dict], columns: list[Column], as_json: bool = False, title: str | None = None,
         console: Console | None = None) -> None:
    """Print records as JSON (every key), a rich table (terminal) or plain text (pipe, file, narrow terminal)."""
    if as_json:
        typer.echo(json.dumps(records, indent=2, ensure_ascii=False, default=str))
        return
    console = console or Console()
    if console.is_terminal and _fits(records, columns, console.width):
        console.print(rich_table(records, columns, title))
        return
    if title:
        typer.echo(title)
    typer.echo(plain_text(records, columns), nl=False)


def emit_json(obj: Any) -> None:
    """One JSON document (what show commands print, with or without --json)."""
    typer.echo(json.dumps(obj, indent=2, ensure_ascii=False, default=str))
