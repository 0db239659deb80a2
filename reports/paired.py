"""Paired gains between two evaluations of the same items (rounds, methods or runs).

Pairing is on item ids found in both samples.jsonl files. 0/1 scores get Newcombe's method-10 CI, an
exact McNemar p-value and the discordant counts (improved 0 → 1, broken 1 → 0); graded scores a paired
bootstrap CI and p-value. When the `user` field repeats (several items per user), the bootstrap resamples
whole users and its p-value replaces McNemar (whose items-are-independent assumption no longer holds).
`ci_method` names what produced each CI (`groundfloor.stats.paired_interval`). Without samples, the gain falls
back to an unpaired normal approximation from the two CIs.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from groundfloor.methods import BASELINE
from groundfloor.stats import paired_interval
from reports.load import Run, read_samples
from reports.tables import fill_lineage

Z = 1.959964


def paired_gain(a: dict, b: dict, n_boot: int = 5000) -> dict | None:
    """Gain b - a over shared ids of two `read_samples` dicts; None when no id is shared."""
    ids = sorted(set(a) & set(b))
    if not ids:
        return None
    xa = [a[i][0] for i in ids]
    xb = [b[i][0] for i in ids]
    users = [a[i][1] if a[i][1] is not None else b[i][1] for i in ids]
    keys = [str(u) if u is not None else f"item:{i}" for u, i in zip(users, ids)]
    n_clusters = len(set(keys))
    clusters = keys if n_clusters < len(ids) else None
    res = paired_interval(xa, xb, n_boot=n_boot, clusters=clusters)
    if res["ci_method"] == "newcombe10":
        test = "McNemar exact"
    else:
        test = "paired bootstrap" + (f", {n_clusters} user clusters" if clusters else "")
    res.update(test=test, n_clusters=n_clusters, base=float(np.mean(xa)), value=float(np.mean(xb)))
    return res


def _se(lo, hi) -> float:
    try:
        se = (float(hi) - float(lo)) / (2 * Z)
    except (TypeError, ValueError):
        return float("nan")
    return se if math.isfinite(se) else float("nan")


def unpaired_gain(base: pd.Series, row: pd.Series) -> dict:
    """Fallback without samples: difference of the two means, normal CI from the two reported CIs
    (none when they have zero width: older results.csv files can hold such CIs)."""
    gain = float(row["value"]) - float(base["value"])
    se = math.hypot(_se(base["ci_low"], base["ci_high"]), _se(row["ci_low"], row["ci_high"]))
    ok = math.isfinite(se) and se > 0
    lo, hi = (gain - Z * se, gain + Z * se) if ok else (float("nan"), float("nan"))
    p = float(math.erfc(abs(gain) / se / math.sqrt(2))) if ok else float("nan")
    return {"gain": gain, "ci_low": lo, "ci_high": hi, "p_value": p, "n": int(min(base["n"], row["n"])),
            "test": "unpaired normal (no samples)", "n_clusters": float("nan"),
            "ci_method": "normal (no samples)" if ok else "none", "improved": None, "broken": None}


def gains_vs_round0(main: pd.DataFrame, runs: list[Run]) -> pd.DataFrame:
    """For every (run, model, method, task, round >= 1): gain over round 0 of the same run and model."""
    by_label = {r.label: r for r in runs}
    cols = ["run", "seed", "model", "family", "method", "task", "metric", "round", "partial"]
    cols += [c for c in ("scope", "trained_on") if c in main.columns]
    rows = []
    base_rows = main[main["round"] == 0].set_index(["run", "model", "task"])
    for _, row in main[main["round"] >= 1].iterrows():
        key = (row["run"], row["model"], row["task"])
        if key not in base_rows.index:
            continue
        base = base_rows.loc[[key]].iloc[0]
        run = by_label[row["run"]]
        a = read_samples(run.samples_path(row["model"], BASELINE, 0, row["task"]))
        b = read_samples(run.samples_path(row["model"], row["method"], row["round"], row["task"],
                                          row.get("trained_on", "")))
        res = paired_gain(a, b) or unpaired_gain(base, row)
        base_v, val = float(base["value"]), float(row["value"])
        rows.append({**{c: row[c] for c in cols}, "partial": bool(row["partial"] or base["partial"]),
                     "base": base_v, "base_n": int(base["n"]), "value": val, "value_n": int(row["n"]),
                     "base_lo": base["ci_low"], "base_hi": base["ci_high"], "value_lo": row["ci_low"],
                     "value_hi": row["ci_high"],
                     "gain": res["gain"], "ci_low": res["ci_low"], "ci_high": res["ci_high"],
                     "rel_gain": res["gain"] / base_v if base_v else float("nan"),
                     "p_value": res["p_value"], "n": res["n"], "n_clusters": res["n_clusters"], "test": res["test"],
                     "ci_method": res["ci_method"], "improved": res["improved"], "broken": res["broken"]})
    return pd.DataFrame(rows)


def last_round(gains: pd.DataFrame) -> pd.DataFrame:
    """The rows of the last round of every (run, model, method, task)."""
    if gains.empty:
        return gains
    gains = fill_lineage(gains)
    keys = ["run", "model", "method", "task"] + (["trained_on"] if "trained_on" in gains.columns else [])
    idx = gains.groupby(keys)["round"].idxmax()  # per lineage: lm-eval tasks are evaluated after each
    return gains.loc[idx].sort_values(["model", "method", "task", "run"]).reset_index(drop=True)


def method_vs_method(main: pd.DataFrame, runs: list[Run]) -> pd.DataFrame:
    """Paired difference between every two trained methods at the same (run, model, task, round) and, for
    tasks evaluated after every lineage (lm-eval tasks, scope per_task), the same lineage."""
    by_label = {r.label: r for r in runs}
    trained = main[main["round"] >= 1]  # from load_results: blank lineages already ""
    lineage = ["trained_on"] if "trained_on" in trained.columns else []
    rows = []
    for key, grp in trained.groupby(["run", "model", "task", "round", *lineage]):
        run, model, task, k, *on = key
        on_name = on[0] if on else ""
        methods = sorted(grp["method"].unique())
        for i, m_a in enumerate(methods):
            for m_b in methods[i + 1:]:
                r = by_label[run]
                res = paired_gain(read_samples(r.samples_path(model, m_b, k, task, on_name)),
                                  read_samples(r.samples_path(model, m_a, k, task, on_name)))
                if res is None:
                    ra, rb = grp[grp["method"] == m_a].iloc[0], grp[grp["method"] == m_b].iloc[0]
                    res = unpaired_gain(rb, ra)
                rows.append({"run": run, "model": model, "task": task, "round": int(k), "trained on": on_name,
                             "comparison": f"{m_a} − {m_b}", "diff": res["gain"], "ci_low": res["ci_low"],
                             "ci_high": res["ci_high"], "p_value": res["p_value"], "n": res["n"],
                             "improved": res["improved"], "broken": res["broken"], "test": res["test"],
                             "ci_method": res["ci_method"]})
    return pd.DataFrame(rows)
