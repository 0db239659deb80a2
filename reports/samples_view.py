"""Per-sample report sections: the items whose score changed between round 0 and the last round of every headline
cell (outputs side by side), and a few example preference pairs per task and round.

Read from the run folder's samples.jsonl and pairs.jsonl files; texts are cut to a readable length.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from groundfloor.methods import BASELINE
from groundfloor.rundir import read_jsonl
from reports.html import Section
from reports.load import Run

OUTPUT_CHARS = 500  # an output shown in a table is cut to this many characters
PROMPT_CHARS = 300
PER_DIRECTION = 3  # flipped items shown per direction and headline cell
PAIRS_SHOWN = 2  # example pairs per model, method, round and task
FLIP_NOTE = ("Items whose score changed between round 0 (the untrained model) and the last round, on the same "
             "item ids: '0 → 1' gained, '1 → 0' lost. Up to "
             f"{PER_DIRECTION} per direction (0/1 scores in the order of samples.jsonl, graded scores the largest "
             f"rises and falls first); outputs cut to {OUTPUT_CHARS} "
             "characters ('…' marks a cut). Every sample: `mipo-bench view RUN` (inspect's viewer).")
PAIRS_NOTE = ("The first pairs of each round's pairs.jsonl per model, method and task: the prompt, the chosen "
              "answer (the policy's own answer to it) and the rejected one with its negative strategy and, for "
              "a derangement, the prompt it answered (rejected_from). Texts cut to "
              f"{OUTPUT_CHARS} characters, prompts to {PROMPT_CHARS}.")


def cut(value, limit: int = OUTPUT_CHARS) -> str:
    """`value` as text, at most `limit` characters (a cut ends in '…'); None as an empty string."""
    if value is None:
        return ""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    text = text.strip()
    return text if len(text) <= limit else text[:limit - 1].rstrip() + "…"


def _rows(path: Path) -> dict[str, dict]:
    """id -> row of a samples.jsonl (rows without an id or a score left out)."""
    return {str(r["id"]): r for r in read_jsonl(path, repair=False) if r.get("id") is not None and r.get("score") is not None}


def _label(score: float) -> str:
    return f"{score:g}"


def flips(base: dict[str, dict], end: dict[str, dict]) -> tuple[list[str], list[str]]:
    """Ids that rose and ids that fell from `base` to `end`, the largest changes first (ties: file order)."""
    order = {k: i for i, k in enumerate(end)}
    moved = [(float(end[k]["score"]) - float(base[k]["score"]), order[k], k) for k in end if k in base]
    up = [k for d, _, k in sorted(moved, key=lambda t: (-t[0], t[1])) if d > 0]
    down = [k for d, _, k in sorted(moved, key=lambda t: (t[0], t[1])) if d < 0]
    return up, down


def _flip_table(base: dict[str, dict], end: dict[str, dict], ids: list[str], k: int) -> list[dict]:
    out = []
    for i in ids:
        a, b = base[i], end[i]
        out.append({"change": f"{_label(float(a['score']))} → {_label(float(b['score']))}", "id": i,
                    "target": cut(a.get("target"), 120),
                    "round 0 answer": cut(a.get("extracted"), 80), "round 0 output": cut(a.get("output")),
                    f"round {k} answer": cut(b.get("extracted"), 80), f"round {k} output": cut(b.get("output"))})
    return out


def flip_section(run: Run, model: str, method: str, task: str, k: int, multi: bool = False) -> Section | None:
    """One headline cell's flipped items; None when either round's samples are missing."""
    base = _rows(run.samples_path(model, BASELINE, 0, task))
    end = _rows(run.samples_path(model, method, k, task))
    if not base or not end:
        return None
    up, down = flips(base, end)
    rows = _flip_table(base, end, up[:PER_DIRECTION], k) + _flip_table(base, end, down[:PER_DIRECTION], k)
    paired = sum(1 for i in end if i in base)
    title = (f"{run.label} · " if multi else "") + \
        f"{model} · {method} · {task}: round 0 → round {k} ({len(up)} up, {len(down)} down of {paired})"
    note = "" if rows else "No item changed its score."
    return Section(title, note, pd.DataFrame(rows) if rows else None, wrap=True)


def flipped_items(runs: list[Run], last: pd.DataFrame) -> Section | None:
    """The 'flipped items' section: one collapsible part per headline cell (run, model, method, task)."""
    if last.empty:
        return None
    by_label = {r.label: r for r in runs}
    parts = []
    for row in last.itertuples(index=False):
        run = by_label.get(row.run)
        part = flip_section(run, row.model, row.method, row.task, int(row.round), len(runs) > 1) if run else None
        if part is not None:
            parts.append(part)
    return Section("Flipped items: round 0 vs last round", FLIP_NOTE, children=parts) if parts else None


def _pair_files(run: Run) -> list[Path]:
    models = run.path / "models"
    return sorted(models.rglob("pairs.jsonl")) if models.is_dir() else []


def _pair_rows(run: Run, path: Path, names: dict[str, str]) -> list[dict]:
    parts = path.relative_to(run.path / "models").parts
    model, method, k = names.get(parts[0], parts[0]), parts[1], int(parts[2][len("round_"):])
    shown: dict[str, int] = {}
    out = []
    for p in read_jsonl(path, repair=False):
        task = str(p.get("task", ""))
        if shown.get(task, 0) >= PAIRS_SHOWN:
            continue
        shown[task] = shown.get(task, 0) + 1
        out.append({"run": run.label, "model": model, "method": method, "round": k, "task": task,
                    "negative": p.get("negative_strategy"), "prompt": cut(p.get("prompt"), PROMPT_CHARS),
                    "chosen": cut(p.get("chosen")), "rejected": cut(p.get("rejected")),
                    "rejected_from": p.get("rejected_from") or ""})
    return out


def example_pairs(runs: list[Run]) -> Section | None:
    """A few pairs per model, method, round and task from every run's pairs.jsonl files."""
    from groundfloor.rundir import RunDir

    rows = []
    for run in runs:
        folder = RunDir(run.path).model_folder
        names = {folder(m): m for m in (run.manifest.get("models") or {})}
        for path in _pair_files(run):
            rows += _pair_rows(run, path, names)
    if not rows:
        return None
    df = pd.DataFrame(rows).sort_values(["model", "method", "task", "round", "run"], kind="stable")
    if df["run"].nunique() == 1:
        df = df.drop(columns="run")
    return Section("Example pairs per task and round", PAIRS_NOTE, df.reset_index(drop=True), wrap=True)
