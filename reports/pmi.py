"""The change in PMI from round 0 to round k, paired on the held-out diagnostic prompts.

Every round measures PMI on the same prompts x and counterfactuals x' (the plan sets them aside once), with
the round's own answers y, so a round is paired with round 0 prompt by prompt: the change is the mean over
shared prompts of PMI_k(x) − PMI_0(x), with a paired bootstrap CI and p-value (`groundfloor.stats.paired_interval`),
for the summed PMI (nats) and the PMI per response token (nats per token). Rounds whose diagnostics.json
predates the per-prompt records are left out (their rows only have the two unpaired CIs).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd

from groundfloor.methods import BASELINE
from groundfloor.rundir import RunDir
from groundfloor.stats import paired_interval
from reports.load import Run
from reports.tables import fmt_gain, fmt_p

FIELDS = (("pmi", "PMI"), ("pmi_per_token", "PMI/token"))  # nats summed over the response; nats per token


def diag_path(run: Run, model: str, method: str, round_k: int, task: str) -> Path:
    """The diagnostics.json of a round's task (round 0 is shared by every method)."""
    return RunDir(run.path).round_dir(model, method, int(round_k)) / "diagnostics" / task / "diagnostics.json"


def read_prompts(path: Path) -> dict[str, dict]:
    """id -> per-prompt record of a diagnostics.json; empty when the file or its records are missing."""
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError):
        return {}
    return {str(r["id"]): r for r in data.get("per_prompt") or [] if isinstance(r, dict) and "id" in r}


def _finite(x) -> bool:
    return isinstance(x, (int, float)) and math.isfinite(x)


def paired_change(base: dict[str, dict], new: dict[str, dict], field: str) -> dict | None:
    """Mean change new − base of `field` over the prompts both hold a finite value for; None if none."""
    ids = sorted(i for i in set(base) & set(new) if _finite(base[i].get(field)) and _finite(new[i].get(field)))
    if not ids:
        return None
    a, b = [float(base[i][field]) for i in ids], [float(new[i][field]) for i in ids]
    return {**paired_interval(a, b), "base": float(np.mean(a)), "value": float(np.mean(b))}


def _row(key: dict, base: dict, new: dict) -> dict | None:
    """One table row: each field's round-0 and round-k means, paired change [CI] and p; n prompts, CI method."""
    row = dict(key)
    for field, label in FIELDS:
        res = paired_change(base, new, field)
        if res is None:
            return None if field == "pmi" else row
        row.update({f"{label} round 0": f"{res['base']:+.3f}", f"{label} round k": f"{res['value']:+.3f}",
                    f"{label} change [95% CI]": fmt_gain(res["gain"], res["ci_low"], res["ci_high"]),
                    f"{label} p": fmt_p(res["p_value"]), f"_{field}_change": res["gain"],
                    f"_{field}_lo": res["ci_low"], f"_{field}_hi": res["ci_high"], f"_{field}_n": res["n"]})
        if field == "pmi":
            row.update({"n prompts": res["n"], "CI method": res["ci_method"]})
    return row


def pmi_changes(df: pd.DataFrame, runs: list[Run]) -> pd.DataFrame:
    """One row per (run, model, method, round >= 1, task) with PMI diagnostics: the paired change vs round 0."""
    by_label = {r.label: r for r in runs}
    dg = df[(df["kind"] == "diagnostic") & (df["metric"] == "pmi") & (df["round"] >= 1)]
    rows = []
    for (run, model, method, k, task), _ in dg.groupby(["run", "model", "method", "round", "task"]):
        r = by_label[run]
        key = {"run": run, "model": model, "method": method, "round": int(k), "task": task}
        row = _row(key, read_prompts(diag_path(r, model, BASELINE, 0, task)),
                   read_prompts(diag_path(r, model, method, k, task)))
        if row is not None:
            rows.append(row)
    return pd.DataFrame(rows)
