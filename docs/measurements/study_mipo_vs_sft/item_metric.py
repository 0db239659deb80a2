"""Paired gains on any per-item field of samples.jsonl (the report pairs only each task's main metric).

The study needs it for GSM8K: both Qwen2.5-Coder models answer with `\\boxed{N}` instead of `#### N`, so the
strict (main) accuracy is 0 for every round and only `accuracy_flexible` (lm-eval's flexible-extract: the
last number) can move. Usage:

    python docs/measurements/study_mipo_vs_sft/item_metric.py gsm8k accuracy_flexible runs/study_small runs/study_qwen15

Prints a Markdown table per model: the value [95 % CI] (n) of every method and round, the paired gain over
round 0 and the paired MIPO − SFT-self difference at equal rounds (95 % paired bootstrap CIs; exact
McNemar p-values for 0/1 scores), computed by the report's own `reports.paired.paired_gain`.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from groundfloor.stats import is_binary, mean_ci, wilson_ci
from reports.load import load_results, open_runs
from reports.paired import paired_gain


def field_scores(path: Path, field: str) -> dict[str, tuple[float, str | None]]:
    """id -> (value of `field`, user) for the items of one samples.jsonl that carry the field."""
    out = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        if row.get(field) is not None:
            out[str(row["id"])] = (float(row[field]), row.get("user"))
    return out


def value_ci(scores: dict) -> str:
    """Mean [95 % CI] (n): Wilson for 0/1 values, bootstrap otherwise."""
    x = [v for v, _ in scores.values()]
    lo, hi = wilson_ci(int(sum(x)), len(x)) if is_binary(x) else mean_ci(x)
    return f"{np.mean(x):.3f} [{lo:.3f}, {hi:.3f}] (n={len(x)})"


def gain_text(res: dict | None) -> str:
    if res is None:
        return "n/a"
    return f"{res['gain']:+.3f} [{res['ci_low']:+.3f}, {res['ci_high']:+.3f}], p = {res['p_value']:.3f}"


def lineages(run, task: str) -> dict[tuple[str, str, int], Path]:
    """(model, method, round) -> samples.jsonl path of every evaluation of `task` in one run folder."""
    df = load_results([run])
    rows = df[(df["task"] == task) & (df["kind"] == "eval")][["model", "method", "round"]].drop_duplicates()
    return {(m, meth, int(k)): run.samples_path(m, meth, int(k), task) for m, meth, k in rows.itertuples(index=False)}


def table(found: dict, field: str) -> list[str]:
    """Markdown rows: value, gain over round 0, MIPO − SFT-self at the same round."""
    lines = ["| model | method | round | value [95 % CI] (n) | gain over round 0 [95 % CI], p | mipo − sft_self [95 % CI], p |",
             "|---|---|---|---|---|---|"]
    for model, method, k in sorted(found, key=lambda t: (t[0], t[2], t[1])):
        scores = field_scores(found[(model, method, k)], field)
        base = field_scores(found[(model, "prompting", 0)], field) if (model, "prompting", 0) in found else None
        gain = gain_text(paired_gain(base, scores)) if k and base is not None else ""
        vs = ""
        if method == "mipo" and (model, "sft_self", k) in found:
            vs = gain_text(paired_gain(field_scores(found[(model, "sft_self", k)], field), scores))
        lines.append(f"| {model} | {method} | {k} | {value_ci(scores)} | {gain} | {vs} |")
    return lines


def main(argv: list[str]) -> None:
    if len(argv) < 3:
        raise SystemExit("usage: item_metric.py TASK FIELD RUN [RUN ...]")
    task, field, paths = argv[0], argv[1], [Path(p) for p in argv[2:]]
    for run in open_runs(paths):
        print(f"\n{run.label}: {task} `{field}`\n")
        print("\n".join(table(lineages(run, task), field)))


if __name__ == "__main__":
    main(sys.argv[1:])
