"""Render report sections as Markdown and as one self-contained HTML page (inline CSS, base64 images)."""

from __future__ import annotations

import base64
import html
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2em auto;max-width:1400px;
padding:0 1em;color:#222}
h1{border-bottom:2px solid #444}h2{margin-top:1.8em;border-bottom:1px solid #ccc}
table{border-collapse:collapse;font-size:12px;margin:.6em 0;display:block;overflow-x:auto}
th,td{border:1px solid #ccc;padding:3px 7px;text-align:left;white-space:nowrap}
th{background:#f0f0f0}tr:nth-child(even) td{background:#fafafa}
.banner{background:#fff3cd;border:1px solid #e0b100;padding:.6em 1em;margin:1em 0;font-weight:600}
.note{color:#555;font-size:13px}img{max-width:100%;border:1px solid #ddd;margin:.5em 0}
table.wrap td{white-space:pre-wrap;vertical-align:top;max-width:38em;min-width:4em;overflow-wrap:anywhere}
details{margin:.4em 0}summary{cursor:pointer;font-weight:600;font-size:14px}
details.hashes td{font-family:monospace;font-size:11px}
"""


@dataclass
class Section:
    """A titled block: a note, optionally a table and figures (PNG paths).

    `wrap`: the table holds long texts (cells wrap in HTML; newlines shown as '⏎' in Markdown). `children`:
    collapsible parts under the section (HTML <details>, the first one open; Markdown ### headings).
    `collapsed`: the whole section's table sits in a closed <details> (e.g. file hashes).
    """

    title: str
    note: str = ""
    table: pd.DataFrame | None = None
    images: list[Path] = field(default_factory=list)
    wrap: bool = False
    children: list["Section"] = field(default_factory=list)
    collapsed: bool = False


def _data_uri(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(Path(path).read_bytes()).decode("ascii")


def _visible(table: pd.DataFrame) -> pd.DataFrame:
    return table[[c for c in table.columns if not str(c).startswith("_")]]


def _md_table(s: Section) -> str:
    table = _visible(s.table)
    if s.wrap:  # one line per row: newlines and pipes inside cells would break a Markdown table
        table = table.map(lambda v: str(v).replace("\n", " ⏎ ").replace("|", "\\|") if isinstance(v, str) else v)
    return table.to_markdown(index=False, disable_numparse=True) if not table.empty else "_nothing to show_"


def _md_section(s: Section, level: int) -> list[str]:
    lines = [f"{'#' * level} {s.title}", ""]
    if s.note:
        lines += [s.note, ""]
    if s.table is not None:
        lines += [_md_table(s), ""]
    lines += [f"![{p.stem}]({p.name})\n" for p in s.images]
    for child in s.children:
        lines += _md_section(child, level + 1)
    return lines


def render_markdown(title: str, banners: list[str], sections: list[Section]) -> str:
    """The report as Markdown; figures are linked by file name (they sit next to report.md)."""
    lines = [f"# {title}", ""]
    lines += [f"> **{b}**\n" for b in banners]
    for s in sections:
        lines += _md_section(s, 2)
    return "\n".join(lines)


def _wrap_table(table: pd.DataFrame) -> str:
    """A table of long texts, newlines kept (pandas' to_html would print them as '\\n')."""
    def cell(v) -> str:
        return "" if v is None or (isinstance(v, float) and pd.isna(v)) else html.escape(str(v))

    head = "".join(f"<th>{cell(c)}</th>" for c in table.columns)
    rows = "".join("<tr>" + "".join(f"<td>{cell(v)}</td>" for v in row) + "</tr>"
                   for row in table.itertuples(index=False))
    return f'<table class="wrap"><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>'


def _html_table(s: Section) -> str:
    if s.table is None:
        return ""
    if s.table.empty:
        return "<p><em>nothing to show</em></p>"
    if s.wrap:
        return _wrap_table(_visible(s.table))
    return _visible(s.table).to_html(index=False, escape=True, na_rep="", border=0)


def _html_body(s: Section) -> list[str]:
    parts = [f'<p class="note">{html.escape(s.note)}</p>'] if s.note else []
    table = _html_table(s)
    if table and s.collapsed:
        table = f'<details class="hashes"><summary>show ({len(s.table)} rows)</summary>{table}</details>'
    parts += [table] if table else []
    parts += [f'<img alt="{html.escape(p.stem)}" src="{_data_uri(p)}">' for p in s.images]
    for i, child in enumerate(s.children):
        parts.append(f"<details{' open' if i == 0 else ''}><summary>{html.escape(child.title)}</summary>")
        parts += _html_body(child)
        parts.append("</details>")
    return parts


def render_html(title: str, banners: list[str], sections: list[Section]) -> str:
    """The report as one HTML page that opens offline: no external CSS, JS or images."""
    parts = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
             f"<title>{html.escape(title)}</title><style>{CSS}</style></head><body>", f"<h1>{html.escape(title)}</h1>"]
    parts += [f'<div class="banner">{html.escape(b)}</div>' for b in banners]
    toc = "".join(f'<li><a href="#s{i}">{html.escape(s.title)}</a></li>' for i, s in enumerate(sections))
    parts.append(f"<ul>{toc}</ul>")
    for i, s in enumerate(sections):
        parts.append(f'<h2 id="s{i}">{html.escape(s.title)}</h2>')
        parts += _html_body(s)
    parts.append("</body></html>")
    return "\n".join(parts)
