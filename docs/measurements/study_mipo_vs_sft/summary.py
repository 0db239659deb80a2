"""The write-up's compact tables, computed from the study's run folders with the report's own functions.

    python docs/measurements/study_mipo_vs_sft/summary.py runs/study_small runs/study_qwen15

Prints Markdown: (1) every round's paired gain over round 0 with the validity rates' changes beside it;
(2) MIPO − SFT-self on the same items at equal rounds; (3) the PMI diagnostic and the relative weight
change of every trained policy per round. Paired 0/1 rows carry McNemar's improved / broken counts and every
interval its CI method (`groundfloor.stats.paired_interval`). `mipo-bench report` holds the full tables. The
study's run folders were not kept: `reinterval.py` rebuilds what it can of (1) and (2) from the published
figures.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

from reports.load import load_results, open_runs
from reports.paired import gains_vs_round0, method_vs_method
from reports.tables import main_metrics

SIDE = {"no_answer_rate": "Δ no answer", "truncated_rate": "Δ truncated", "repeating_rate": "Δ looping",
        "response_tokens": "Δ tokens"}


def ci(v, lo, hi, digits: int = 3) -> str:
    return f"{v:+.{digits}f} [{lo:+.{digits}f}, {hi:+.{digits}f}]"


def p_text(p: float) -> str:
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def counts(improved, broken) -> str:
    """McNemar's discordant counts of a paired 0/1 gain, "improved / broken"; empty for graded scores."""
    return "" if pd.isna(improved) else f"{int(improved)} / {int(broken)}"


def side_deltas(df: pd.DataFrame, row) -> list[str]:
    """Change of each validity rate from round 0 to this round (same run, model, task)."""
    ev = df[(df["kind"] == "eval") & (df["run"] == row.run) & (df["model"] == row.model) & (df["task"] == row.task)]
    out = []
    for metric in SIDE:
        base = ev[(ev["metric"] == metric) & (ev["round"] == 0)]["value"]
        now = ev[(ev["metric"] == metric) & (ev["round"] == row.round) & (ev["method"] == row.method)]["value"]
        delta = now.iloc[0] - base.iloc[0] if len(base) and len(now) else float("nan")
        out.append("" if pd.isna(delta) else f"{delta:+.2f}")
    return out


def gains_table(df: pd.DataFrame, gains: pd.DataFrame) -> list[str]:
    head = ["model", "task", "metric", "method", "round", "round 0", "value", "gain [95 % CI]", "p", "n",
            "improved / broken", "CI method", *SIDE.values()]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in gains.sort_values(["model", "task", "method", "round"]).itertuples():
        cells = [r.model, r.task, r.metric, r.method, str(r.round), f"{r.base:.3f}", f"{r.value:.3f}",
                 ci(r.gain, r.ci_low, r.ci_high), p_text(r.p_value), str(r.n), counts(r.improved, r.broken),
                 r.ci_method, *side_deltas(df, r)]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def methods_table(mm: pd.DataFrame) -> list[str]:
    lines = ["| model | task | round | MIPO − SFT-self [95 % CI] | p | n | improved / broken | CI method |",
             "|---|---|---|---|---|---|---|---|"]
    for r in mm.sort_values(["model", "task", "round"]).itertuples():
        lines.append(f"| {r.model} | {r.task} | {r.round} | {ci(r.diff, r.ci_low, r.ci_high)} | {p_text(r.p_value)} "
                     f"| {r.n} | {counts(r.improved, r.broken)} | {r.ci_method} |")
    return lines


def training_table(df: pd.DataFrame) -> list[str]:
    """PMI on the policy's own task (n held-out prompts) and the relative weight change, per round."""
    pmi = df[(df["kind"] == "diagnostic") & (df["metric"] == "pmi")]
    wc = df[(df["kind"] == "train") & (df["metric"] == "relative_weight_change")]
    lines = ["| model | task | method | round | PMI [95 % CI] (n) | relative weight change |", "|---|---|---|---|---|---|"]
    for r in pmi.sort_values(["model", "task", "method", "round"]).itertuples():
        if r.round and r.trained_on != r.task:
            continue
        w = wc[(wc["run"] == r.run) & (wc["model"] == r.model) & (wc["method"] == r.method)
               & (wc["round"] == r.round) & (wc["trained_on"] == r.task)]["value"]
        lines.append(f"| {r.model} | {r.task} | {r.method} | {r.round} | {r.value:.1f} [{r.ci_low:.1f}, {r.ci_high:.1f}] "
                     f"(n={int(r.n)}) | {f'{w.iloc[0]:.2e}' if len(w) else ''} |")
    return lines


def main(paths: list[str]) -> None:
    runs = open_runs([Path(p) for p in paths])
    df = load_results(runs)
    main_rows = main_metrics(df)
    print("## Paired gains over round 0\n\n" + "\n".join(gains_table(df, gains_vs_round0(main_rows, runs))))
    print("\n## MIPO − SFT-self at equal rounds\n\n" + "\n".join(methods_table(method_vs_method(main_rows, runs))))
    print("\n## PMI and weight change per round\n\n" + "\n".join(training_table(df)))


if __name__ == "__main__":
    main(sys.argv[1:])
