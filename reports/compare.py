"""Run-vs-run comparison: paired gains (B − A) on the item ids both runs evaluated."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from groundfloor.errors import UserError
from reports.load import Run, load_results, open_runs, read_samples
from reports.paired import paired_gain
from reports.tables import main_metrics


def _pick_round(rounds_a: set[int], rounds_b: set[int]) -> tuple[int, int]:
    """The last round both runs reached, else the last round of each."""
    shared = rounds_a & rounds_b
    return (max(shared), max(shared)) if shared else (max(rounds_a), max(rounds_b))


def _keys(main: pd.DataFrame) -> dict[tuple, set[int]]:
    """(model, method, task, trained_on) -> rounds: a task evaluated after every lineage (lm-eval tasks with
    scope per_task) is compared lineage by lineage."""
    main = main if "trained_on" in main.columns else main.assign(trained_on="")  # load_results filled blanks
    return {k: set(g["round"]) for k, g in main.groupby(["model", "method", "task", "trained_on"])}


def _scope(main: pd.DataFrame, key: tuple, k: int) -> str:
    """The training scope of a (model, method, task) at round k ('' for round 0 or an older results.csv)."""
    if "scope" not in main.columns:
        return ""
    hit = main[(main["model"] == key[0]) & (main["method"] == key[1]) & (main["task"] == key[2]) & (main["round"] == k)
               & (main["trained_on"] == key[3])]
    return str(hit["scope"].iloc[0]) if len(hit) else ""


def compare_runs(run_a: Path, run_b: Path) -> pd.DataFrame:
    """One row per shared (model, method, task): rounds compared, means, paired gain B − A, CI, the
    discordant counts of 0/1 scores (improved: A 0 → B 1, broken: A 1 → B 0; None for graded), p, n, test
    and the CI's method.

    Models are matched by name; when the runs share no model but each holds exactly one, that one
    model is compared with the other (e.g. two model families run on different machines).
    Raises UserError when no item id is shared.
    """
    ra, rb = open_runs([Path(run_a), Path(run_b)])
    if ra.label == rb.label:
        ra, rb = Run("A:" + ra.label, ra.path, ra.manifest), Run("B:" + rb.label, rb.path, rb.manifest)
    ma, mb = main_metrics(load_results([ra])), main_metrics(load_results([rb]))
    ka, kb = _keys(ma), _keys(mb)
    pairs = [(k, k) for k in sorted(set(ka) & set(kb))]
    if not pairs and ma["model"].nunique() == 1 and mb["model"].nunique() == 1:
        pairs = [(a, b) for a in sorted(ka) for b in sorted(kb) if a[1:] == b[1:]]
    rows = []
    for a, b in pairs:
        k_a, k_b = _pick_round(ka[a], kb[b])
        sa = read_samples(ra.samples_path(a[0], a[1], k_a, a[2], a[3]))
        sb = read_samples(rb.samples_path(b[0], b[1], k_b, b[2], b[3]))
        res = paired_gain(sa, sb)
        if res is None:
            continue
        model = a[0] if a[0] == b[0] else f"{a[0]} → {b[0]}"
        rows.append({"model": model, "method": a[1], "task": a[2], "trained on": a[3], "round A": k_a, "round B": k_b,
                     "scope A": _scope(ma, a, k_a), "scope B": _scope(mb, b, k_b),
                     "A": res["base"], "B": res["value"], "gain": res["gain"], "ci_low": res["ci_low"],
                     "ci_high": res["ci_high"], "improved": res["improved"], "broken": res["broken"],
                     "p_value": res["p_value"], "n": res["n"], "test": res["test"], "ci_method": res["ci_method"]})
    if not rows:
        raise UserError(f"{run_a} and {run_b} share no (model, method, task) with common item ids; nothing to compare")
    return pd.DataFrame(rows)
