"""What each score measures: no-answer, truncation and looping rates, response length, accuracy among answered
items and, for multiple choice, the chance level. Flags a gain whose round also moved the no-answer,
truncation or looping rate by more than the gain itself, and multiple-choice results below chance.
"""

from __future__ import annotations

import math

import pandas as pd

from groundfloor.methods import BASELINE
from reports.tables import fmt_ci, main_metrics

RATES = ("no_answer_rate", "truncated_rate", "repeating_rate")
COLUMNS = {"accuracy_answered": "accuracy among answered", "no_answer_rate": "no answer",
           "truncated_rate": "truncated", "repeating_rate": "looping", "response_tokens": "response tokens",
           "chance": "chance"}
FORMAT_FLAG = "may be format or length, not knowledge"
NOTE = ("Per round and task: main metric; accuracy among items with an extracted answer; share of outputs "
        "with no extractable answer; share cut off by max_new_tokens before a stop token; share ending in a loop "
        "(the last 600 characters compress to under 20 %: any budget cuts these); mean response length "
        "in tokens; for multiple choice the chance level (mean of 1 / choices). Each cell: mean [95% CI] (n). "
        "'below chance' marks a multiple-choice result under its chance level.")
FLAG_NOTE = (f"Flags: '{FORMAT_FLAG}' when the round also moved the no-answer, truncation or looping rate by "
             "more than the gain's own size; 'below chance' for a multiple-choice value under its chance level.")
KEY = ["run", "model", "method", "round", "task"]


def _num(x) -> float:
    try:
        return float(x)
    except (TypeError, ValueError):
        return float("nan")


def _values(df: pd.DataFrame) -> dict[tuple, dict[str, float]]:
    """(run, model, method, round, task) -> {metric: value} for the evaluation rows."""
    ev = df[df["kind"] == "eval"]
    out: dict[tuple, dict[str, float]] = {}
    for row in ev.itertuples(index=False):
        key = tuple(getattr(row, k) for k in KEY[:3]) + (int(row.round), row.task)
        out.setdefault(key, {})[row.metric] = _num(row.value)
    return out


def below_chance(value, chance) -> str:
    """'below chance (v < c)' when a multiple-choice value is under its chance level, else ''."""
    v, c = _num(value), _num(chance)
    return f"below chance ({v:.3f} < {c:.3f})" if math.isfinite(c) and math.isfinite(v) and v < c else ""


def format_flag(gain, deltas: dict[str, float]) -> str:
    """The format/length flag when a rate moved by more than |gain| (a zero gain is never flagged)."""
    g = abs(_num(gain))
    moved = {k: d for k, d in deltas.items() if math.isfinite(d) and abs(d) > g}
    if not g or not math.isfinite(g) or not moved:
        return ""
    return FORMAT_FLAG + " (" + ", ".join(f"Δ{k} {d:+.3f}" for k, d in moved.items()) + ")"


def gain_flags(last: pd.DataFrame, df: pd.DataFrame) -> list[str]:
    """One flag text per row of the headline gains (round 0 = prompting of the same run and model)."""
    vals = _values(df)
    flags = []
    for row in last.itertuples(index=False):
        base = vals.get((row.run, row.model, BASELINE, 0, row.task), {})
        cur = vals.get((row.run, row.model, row.method, int(row.round), row.task), {})
        deltas = {k: cur.get(k, math.nan) - base.get(k, math.nan) for k in RATES}
        parts = [format_flag(row.gain, deltas)]
        for label, value, chance in (("round 0", row.base, base.get("chance")),
                                     ("last round", row.value, cur.get("chance"))):
            below = below_chance(value, chance)
            parts.append(f"{label} {below}" if below else "")
        flags.append("; ".join(p for p in parts if p))
    return flags


def validity_table(df: pd.DataFrame) -> pd.DataFrame:
    """One row per run, model, method, round and task with the validity figures and flags."""
    main = main_metrics(df)
    ev = df[(df["kind"] == "eval") & df["metric"].isin(list(COLUMNS))]
    if main.empty or ev.empty:
        return pd.DataFrame()
    cells = {(r.run, r.model, r.method, int(r.round), r.task, r.metric): (fmt_ci(r.value, r.ci_low, r.ci_high, r.n),
                                                                         _num(r.value))
             for r in ev.itertuples(index=False)}
    rows = []
    for r in main.sort_values(["model", "method", "round", "task"]).itertuples(index=False):
        key = (r.run, r.model, r.method, int(r.round), r.task)
        row = {"run": r.run, "model": r.model, "method": r.method, "round": int(r.round), "task": r.task,
               "metric": r.metric, "main metric": fmt_ci(r.value, r.ci_low, r.ci_high, r.n)}
        row.update({label: cells.get(key + (m,), ("", None))[0] for m, label in COLUMNS.items()})
        row["flags"] = below_chance(r.value, cells.get(key + ("chance",), ("", None))[1])
        rows.append(row)
    out = pd.DataFrame(rows)
    return out.loc[:, (out != "").any(axis=0)] if len(out) else out
