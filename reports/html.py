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
"""


@dataclass
class Section:
    """A titled block: a note, optionally a table and figures (PNG paths)."""

    title: str
    note: str = ""
    table: pd.DataFrame | None = None
    images: list[Path] = field(default_factory=list)


def _data_uri(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(Path(path).read_bytes()).decode("ascii")


def _visible(table: pd.DataFrame) -> pd.DataFrame:
    return table[[c for c in table.columns if not str(c).startswith("_")]]


def render_markdown(title: str, banners: list[str], sections: list[Section]) -> str:
    """The report as Markdown; figures are linked by file name (they sit next to report.md)."""
    lines = [f"# {title}", ""]
    lines += [f"> **{b}**\n" for b in banners]
    for s in sections:
        lines += [f"## {s.title}", ""]
        if s.note:
            lines += [s.note, ""]
        if s.table is not None:
            lines += [_visible(s.table).to_markdown(index=False, disable_numparse=True) if not s.table.empty else "_nothing to show_", ""]
        lines += [f"![{p.stem}]({p.name})\n" for p in s.images]
    return "\n".join(lines)


def render_html(title: str, banners: list[str], sections: list[Section]) -> str:
    """The report as one HTML page that opens offline: no external CSS, JS or images."""
    parts = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
             f"<title>{html.escape(title)}</title><style>{CSS}</style></head><body>", f"<h1>{html.escape(title)}</h1>"]
    parts += [f'<div class="banner">{html.escape(b)}</div>' for b in banners]
    toc = "".join(f'<li><a href="#s{i}">{html.escape(s.title)}</a></li>' for i, s in enumerate(sections))
    parts.append(f"<ul>{toc}</ul>")
    for i, s in enumerate(sections):
        parts.append(f'<h2 id="s{i}">{html.escape(s.title)}</h2>')
        if s.note:
            parts.append(f'<p class="note">{html.escape(s.note)}</p>')
        if s.table is not None:
            parts.append(_visible(s.table).to_html(index=False, escape=True, na_rep="", border=0)
                         if not s.table.empty else "<p><em>nothing to show</em></p>")
        parts += [f'<img alt="{html.escape(p.stem)}" src="{_data_uri(p)}">' for p in s.images]
    parts.append("</body></html>")
    return "\n".join(parts)
