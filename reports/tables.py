"""Tables built from the tidy results frame and the paired gains (numbers formatted with n and CI)."""

from __future__ import annotations

import math

import pandas as pd

MAIN_METRICS = ("accuracy", "honoured")
TRAIN_METRICS = ("relative_weight_change", "loss", "rewards_margins", "rewards_accuracies")
DIAG_METRICS = ("pmi", "pmi_per_token", "response_words", "distinct_2")
SIDE_METRICS = ("no_answer_rate", "truncated_rate", "repeating_rate", "chance")  # validity figures, never a main metric
LENGTH_METRICS = ("response_tokens", "response_words")  # output lengths, never a main metric either
Z = 1.959964
LINEAGE = "trained_on"  # the tasks whose pairs trained a round's policy: one lineage per task with scope per_task


def lineage_cols(df: pd.DataFrame) -> list[str]:
    """`["trained_on"]` where the frame has that column with a value in it (lm-eval tasks get one row per lineage
    and round); none for a run without lineage names, whose tables keep their columns."""
    return [LINEAGE] if LINEAGE in df.columns and df[LINEAGE].fillna("").astype(str).ne("").any() else []


def fill_lineage(df: pd.DataFrame) -> pd.DataFrame:
    """A blank `trained_on` (read back from a CSV as NaN) as "", so grouping by it keeps those rows."""
    return df.assign(**{LINEAGE: df[LINEAGE].fillna("").astype(str)}) if LINEAGE in df.columns else df


def main_metrics(df: pd.DataFrame) -> pd.DataFrame:
    """Rows of each task's main metric: the one its metrics files name (`main` column), else, for results
    written before that column, accuracy/honoured, else the task's first other eval metric."""
    ev = df[df["kind"] == "eval"]
    if ev.empty:
        return ev
    keep = []
    for task, grp in ev.groupby("task", sort=False):
        flagged = grp[grp["main"].astype(str) == "True"]["metric"] if "main" in grp.columns else pd.Series(dtype=object)
        names = list(dict.fromkeys(grp["metric"]))
        main = flagged.mode().iloc[0] if not flagged.empty else next((m for m in MAIN_METRICS if m in names), None)
        main = main or next((m for m in names if m not in SIDE_METRICS + LENGTH_METRICS), names[0])
        keep.append(grp[grp["metric"] == main])
    return pd.concat(keep)


def _num(x) -> float:
    try:
        x = float(x)
    except (TypeError, ValueError):
        return float("nan")
    return x


def _ends(lo: float, hi: float, sign: str = "", digits: int = 3, unit: str = "") -> str:
    """`[lo, hi]` with `digits` decimals, more (up to 8) where the ends of a CI of non-zero width would print alike."""
    for d in range(digits, 9):
        a, b = f"{lo:{sign}.{d}f}", f"{hi:{sign}.{d}f}"
        if a != b or hi == lo:
            break
    return f"[{a}{unit}, {b}{unit}]"


def fmt_ci(value, lo, hi, n) -> str:
    """`mean [lo, hi] (n=N)`; a missing CI shows as `[n/a]`."""
    v, lo, hi = _num(value), _num(lo), _num(hi)
    ci = _ends(lo, hi) if math.isfinite(lo) and math.isfinite(hi) else "[CI n/a]"
    n_txt = f"n={int(n)}" if math.isfinite(_num(n)) else "n=?"
    return f"{v:.3f} {ci} ({n_txt})"


def fmt_gain(g, lo, hi) -> str:
    g, lo, hi = _num(g), _num(lo), _num(hi)
    ci = _ends(lo, hi, "+") if math.isfinite(lo) and math.isfinite(hi) else "[CI n/a]"
    return f"{g:+.3f} {ci}"


def fmt_discordant(improved, broken) -> str:
    """McNemar's discordant counts of a paired 0/1 gain, `improved / broken` (items 0 → 1 and 1 → 0);
    empty for graded scores (None / nan)."""
    up, down = _num(improved), _num(broken)
    return f"{int(up)} / {int(down)}" if math.isfinite(up) and math.isfinite(down) else ""


def fmt_p(p) -> str:
    p = _num(p)
    if not math.isfinite(p):
        return "n/a"
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def fmt_rel(gain, lo, hi, base) -> str:
    """Relative gain gain/base with the gain's CI scaled by base."""
    base = _num(base)
    if not math.isfinite(base) or base == 0:
        return "n/a (base 0)"
    ci = " " + _ends(100 * _num(lo) / base, 100 * _num(hi) / base, "+", 1, "%") if math.isfinite(_num(lo)) else ""
    return f"{100 * _num(gain) / base:+.1f}%{ci}"


def per_round_table(df: pd.DataFrame) -> pd.DataFrame:
    """run, model, family, method, round, and one column per task with mean [CI] (n)."""
    m = main_metrics(df)
    if m.empty:
        return pd.DataFrame()
    m = m.assign(cell=[fmt_ci(v, lo, hi, n) for v, lo, hi, n in zip(m["value"], m["ci_low"], m["ci_high"], m["n"])])
    idx = [c for c in ["run", "model", "family", "method", "round", "scope", LINEAGE] if c in m.columns]
    wide = m.pivot_table(index=idx, columns="task", values="cell", aggfunc="first").reset_index()
    wide.columns.name = None
    return wide.sort_values(["model", "round", "method"]).reset_index(drop=True)


def _col(df: pd.DataFrame, name: str, default=None) -> list:
    """A column as a list, `default` everywhere when an older gains table lacks it."""
    return list(df[name]) if name in df.columns else [default] * len(df)


def headline_table(last: pd.DataFrame, multi_run: bool) -> pd.DataFrame:
    """Round 0 vs last round per model x task x method: values, absolute and relative gain, CI, p."""
    if last.empty:
        return pd.DataFrame()
    out = pd.DataFrame({
        "model": last["model"], "family": last["family"], "method": last["method"],
        "scope": last["scope"] if "scope" in last.columns else "",
        **({"trained on": fill_lineage(last)[LINEAGE]} if lineage_cols(last) else {}),
        "task": last["task"], "metric": last["metric"],
        "round 0 [95% CI]": [fmt_ci(*t) for t in zip(last["base"], last["base_lo"], last["base_hi"], last["base_n"])],
        "last round": last["round"].astype(int),
        "last round value [95% CI]": [fmt_ci(*t) for t in zip(last["value"], last["value_lo"], last["value_hi"],
                                                               last["value_n"])],
        "gain [95% CI]": [fmt_gain(*t) for t in zip(last["gain"], last["ci_low"], last["ci_high"])],
        "improved / broken": [fmt_discordant(*t) for t in zip(_col(last, "improved"), _col(last, "broken"))],
        "rel. gain [95% CI]": [fmt_rel(*t) for t in zip(last["gain"], last["ci_low"], last["ci_high"], last["base"])],
        "p": [fmt_p(p) for p in last["p_value"]],
        "n paired": last["n"], "test": last["test"], "CI method": _col(last, "ci_method", ""),
        "partial": last["partial"].map({True: "PARTIAL", False: ""}),
    })
    if multi_run:
        out.insert(0, "run", last["run"].values)
        out.insert(1, "seed", last["seed"].values)
    return out.reset_index(drop=True)


def family_table(gains: pd.DataFrame) -> pd.DataFrame:
    """Mean gain per family x method x task x round; CI = normal combination of the models' gain CIs."""
    if gains.empty:
        return pd.DataFrame()
    rows = []
    gains = fill_lineage(gains)
    for key, g in gains.groupby(["family", "method", *lineage_cols(gains), "task", "round"]):
        se = ((g["ci_high"] - g["ci_low"]) / (2 * Z)).pow(2).sum() ** 0.5 / len(g)
        mean = g["gain"].mean()
        fam, method, *on, task, k = key
        rows.append({"family": fam, "method": method, **({"trained on": on[0]} if on else {}), "task": task,
                     "round": int(k), "models": g["model"].nunique(),
                     "runs": len(g), "n items": int(g["n"].sum()), "mean gain [95% CI]":
                     fmt_gain(mean, mean - Z * se, mean + Z * se), "_gain": mean})
    return pd.DataFrame(rows)


def fmt_change(value, n) -> str:
    """A relative weight change (often ~1e-6): three significant digits, and the number of weights compared."""
    v, n = _num(value), _num(n)
    return f"{v:.3g} (n={int(n)} weights)" if math.isfinite(v) and math.isfinite(n) else f"{v:.3g}"


def diagnostics_table(df: pd.DataFrame) -> pd.DataFrame:
    """Training (task `_train`) and diagnostic metrics per run, model, method, round (mean [CI] (n))."""
    tr = df[(df["kind"] == "train") & df["metric"].isin(TRAIN_METRICS)]
    dg = df[(df["kind"] == "diagnostic") & df["metric"].isin(DIAG_METRICS)]
    both = pd.concat([tr, dg])
    if both.empty:
        return pd.DataFrame()
    both = both.assign(col=[f"{t}:{m}" if t != "_train" else m for t, m in zip(both["task"], both["metric"])],
                       cell=[fmt_change(v, n) if m == "relative_weight_change" else fmt_ci(v, lo, hi, n)
                             for v, lo, hi, n, m in zip(both["value"], both["ci_low"], both["ci_high"], both["n"],
                                                        both["metric"])])
    idx = ["run", "model", "method", "round"] + (["trained_on"] if "trained_on" in both.columns else [])
    wide = both.pivot_table(index=idx, columns="col", values="cell", aggfunc="first").fillna("")
    first = [m for m in TRAIN_METRICS if m in wide.columns]
    wide = wide[first + sorted(c for c in wide.columns if c not in first)].reset_index()
    wide.columns.name = None
    return wide.sort_values(["model", "method", "round"]).reset_index(drop=True)


def transfer_table(df: pd.DataFrame) -> pd.DataFrame:
    """Per-task policies on every task (`training.transfer`): one row per policy, main metric per task."""
    tr = df[df["kind"] == "transfer"]
    if tr.empty or "trained_on" not in df.columns:
        return pd.DataFrame()
    main = main_metrics(df)
    both = pd.concat([main[main["round"] >= 1], main_metrics(tr.assign(kind="eval"))])
    both = both.assign(cell=[fmt_ci(v, lo, hi, n) + (" (own task)" if t == on else "") for v, lo, hi, n, t, on in
                             zip(both["value"], both["ci_low"], both["ci_high"], both["n"], both["task"],
                                 both["trained_on"])])
    wide = both.pivot_table(index=["run", "model", "method", "round", "trained_on"], columns="task", values="cell",
                            aggfunc="first").fillna("").reset_index()
    wide.columns.name = None
    return wide.rename(columns={"trained_on": "policy trained on"})


def method_table(main: pd.DataFrame) -> pd.DataFrame:
    """Main metric of every method side by side at equal rounds (prompting = round 0 baseline)."""
    if main.loc[main["round"] >= 1, "method"].nunique() < 2:
        return pd.DataFrame()
    base = main[main["round"] == 0].set_index(["run", "model", "task"])
    rows = []
    main = fill_lineage(main)
    for key, g in main[main["round"] >= 1].groupby(["run", "model", *lineage_cols(main), "task", "round"]):
        run, model, *on, task, k = key
        row = {"run": run, "model": model, **({"trained on": on[0]} if on else {}), "task": task, "round": int(k)}
        if (run, model, task) in base.index:
            b = base.loc[[(run, model, task)]].iloc[0]
            row["prompting (round 0)"] = fmt_ci(b["value"], b["ci_low"], b["ci_high"], b["n"])
        for _, r in g.iterrows():
            row[r["method"]] = fmt_ci(r["value"], r["ci_low"], r["ci_high"], r["n"])
        rows.append(row)
    return pd.DataFrame(rows)


def seed_table(main: pd.DataFrame, gains: pd.DataFrame) -> pd.DataFrame:
    """Where the same model x method x round x task ran with several seeds: seed SD vs sampling SE."""
    rows = []
    main, gains = fill_lineage(main), fill_lineage(gains)
    for key, g in main.groupby(["model", "method", "round", "task", *lineage_cols(main)]):
        model, method, k, task, *on = key
        if g["seed"].nunique() < 2:
            continue
        gg = gains[(gains["model"] == model) & (gains["method"] == method) & (gains["round"] == k) &
                   (gains["task"] == task)] if not gains.empty else gains
        if on and LINEAGE in gg.columns:
            gg = gg[gg[LINEAGE] == on[0]]
        se = ((g["ci_high"] - g["ci_low"]) / (2 * Z)).mean()
        rows.append({"model": model, "method": method, "round": int(k), "task": task,
                     **({"trained on": on[0]} if on else {}), "seeds": g["seed"].nunique(),
                     "mean across seeds": f"{g['value'].mean():.3f}", "SD across seeds": f"{g['value'].std(ddof=1):.3f}",
                     "mean sampling SE": f"{se:.3f}", "n per seed": "/".join(str(int(n)) for n in g["n"]),
                     "gain mean ± SD": (f"{gg['gain'].mean():+.3f} ± {gg['gain'].std(ddof=1):.3f}"
                                        if len(gg) > 1 else "n/a")})
    return pd.DataFrame(rows)


def wide_results(df: pd.DataFrame) -> pd.DataFrame:
    """One row per (run, model, family, method, round, task); per metric: value, ci_low, ci_high, n."""
    idx = ["run", "seed", "model", "family", "method", "round", "task"]
    if df.empty:
        return pd.DataFrame(columns=idx + ["partial"])
    df = df.assign(seed=df["seed"].fillna("").astype(str))
    long = df.melt(id_vars=idx + ["metric"], value_vars=["value", "ci_low", "ci_high", "n"], var_name="stat",
                   value_name="v")
    long["col"] = [m if s == "value" else f"{m}_{s}" for m, s in zip(long["metric"], long["stat"])]
    wide = long.pivot_table(index=idx, columns="col", values="v", aggfunc="first", dropna=False).reset_index()
    wide.columns.name = None
    partial = df.groupby(idx)["partial"].any().rename("partial").reset_index()
    wide = partial.merge(wide, on=idx, how="left")
    order = [f"{m}{suf}" for m in dict.fromkeys(df["metric"]) for suf in ("", "_ci_low", "_ci_high", "_n")]
    wide = wide[idx + ["partial"] + [c for c in order if c in wide.columns]]
    return wide.dropna(axis=1, how="all").sort_values(["model", "method", "round", "task"]).reset_index(drop=True)
