"""The study's paired 0/1 gains with Newcombe's method-10 interval, rebuilt from the published figures.

The study's run folders (per-item samples) were not kept, so its paired tables cannot be recomputed from
samples. For a paired 0/1 comparison of n items the published figures still fix the paired 2x2 table
(both right, improved 0 → 1, broken 1 → 0, neither) in two cases:

(a) the old bootstrap interval has zero width: every paired difference was the same, so with gain 0 no item
    was discordant (improved = broken = 0);
(b) gain ≠ 0: improved − broken = gain·n, and improved + broken is the one feasible value whose exact
    two-sided McNemar p-value equals the published p (every feasible value is tried; if several fit, the
    cell is not recoverable).

The other two cells follow from the marginals: both = base·n − broken, neither = n − base·n − improved.
Items with that table go through the project's own `groundfloor.stats.paired_interval`, which must give back
the published gain and p-value. A cell with gain 0 and an interval of non-zero width, or with several
tables that fit, is "not recoverable: samples not kept" and keeps its old interval, marked as such.

Inputs (this folder): report/gains.csv (gains over round 0, full precision); readme_paired_published.csv
(the README's MIPO − SFT-self rows for ARC and GSM8K and its last-number GSM8K table, transcribed as printed
at commit 8fd9606, 3 decimals, so p matches within 5e-4); results.csv (the values the marginals come from).
Outputs: report/gains_reinterval.csv, report/readme_paired_reinterval.csv, and Markdown on stdout.

results.csv also holds evaluation means with a zero-width interval: profile_prefs' per-preference rates
(honoured_<kind>) at 0 or 1, whose users-resampling bootstrap collapsed. Those items are generated data, so
the task's own code regenerates them (`plan_exports`: the suite's seed and limit); `groundfloor.stats.mean_interval`
on the n equal values, clustered by those items' users, gives the interval the harness writes now
(bootstrap+wilson-floor): report/means_reinterval.csv. results.csv itself is left as published.

    python docs/measurements/study_mipo_vs_sft/reinterval.py
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
import yaml

from groundfloor.stats import mcnemar_exact, mean_interval, paired_interval

HERE = Path(__file__).resolve().parent
NOT_KEPT = "not recoverable: samples not kept"
P_TOL_FULL = 1e-9  # p-values stored at full precision (gains.csv)
P_TOL_PRINTED = 5e-4 + 1e-9  # p-values printed with 3 decimals (README)


def count(share: float, n: int) -> int:
    """share·n as an integer count (a 0/1 mean of n items); ValueError when it is not one."""
    k = round(share * n)
    if abs(share * n - k) > 1e-6 * max(1, n) or not 0 <= k <= n:
        raise ValueError(f"{share} of {n} items is not a count")
    return k


def items(both: int, improved: int, broken: int, neither: int) -> tuple[list[int], list[int]]:
    """Paired 0/1 scores (base, new) of items with the given 2x2 table."""
    base = [1] * both + [0] * improved + [1] * broken + [0] * neither
    new = [1] * both + [1] * improved + [0] * broken + [0] * neither
    return base, new


def mcnemar_p(improved: int, broken: int) -> float:
    """Exact McNemar p of a table with these discordant counts (concordant items do not enter it)."""
    return mcnemar_exact(*items(0, improved, broken, 0))


def tables(n: int, k_base: int, d: int) -> list[tuple[int, int, int, int]]:
    """Every feasible 2x2 table (both, improved, broken, neither) with improved − broken = d."""
    out = []
    for s in range(abs(d), n + 1, 2):
        improved, broken = (s + d) // 2, (s - d) // 2
        both, neither = k_base - broken, n - k_base - improved
        if both >= 0 and neither >= 0:
            out.append((both, improved, broken, neither))
    return out


def recover(n: int, base: float, value: float, gain: float, old_lo: float, old_hi: float, p: float,
            p_tol: float = P_TOL_FULL) -> tuple[tuple[int, int, int, int] | None, str]:
    """The paired 2x2 table the published figures fix, or None, with a note on how (or why not)."""
    k_base, k_value = count(base, n), count(value, n)
    d = k_value - k_base
    if abs(gain * n - d) > 0.5:
        return None, f"{NOT_KEPT} (gain {gain:+.3f} does not match the values {base:.3f} → {value:.3f})"
    if not old_hi - old_lo > 1e-12:
        if d != 0:
            return None, f"{NOT_KEPT} (zero-width interval with gain ≠ 0)"
        return (k_base, 0, 0, n - k_base), "old interval of zero width: no discordant item"
    if d == 0:
        return None, f"{NOT_KEPT} (gain 0 with discordant items; their number is not published)"
    fits = [t for t in tables(n, k_base, d) if abs(mcnemar_p(t[1], t[2]) - p) <= p_tol]
    if len(fits) == 1:
        return fits[0], f"improved − broken = {d} and the only improved + broken giving p = {p:.3g}"
    sums = [t[1] + t[2] for t in fits]
    shown = ", ".join(map(str, sums[:4])) + (", …" if len(sums) > 4 else "")
    why = f"improved + broken ∈ {{{shown}}} all give p = {p:.3g}" if fits else f"no table gives p = {p:.3g}"
    return None, f"{NOT_KEPT} ({why})"


def reinterval(n: int, base: float, value: float, gain: float, old_lo: float, old_hi: float, p: float,
               p_tol: float = P_TOL_FULL) -> dict:
    """New interval fields of one paired 0/1 cell: Newcombe's where the table is recoverable, else the old
    bootstrap interval kept and marked."""
    table, note = recover(n, base, value, gain, old_lo, old_hi, p, p_tol)
    old = {"old_ci_low": old_lo, "old_ci_high": old_hi, "old_ci_method": "bootstrap", "note": note}
    if table is None:
        return {**old, "ci_low": old_lo, "ci_high": old_hi, "ci_method": "bootstrap (old, samples not kept)",
                "improved": None, "broken": None, "recoverable": "no"}
    res = paired_interval(*items(*table))
    if abs(res["gain"] - gain) > 5e-4 + 1e-9 or abs(res["p_value"] - p) > p_tol:
        raise AssertionError(f"table {table} gives gain {res['gain']}, p {res['p_value']}; published {gain}, {p}")
    return {**old, "ci_low": res["ci_low"], "ci_high": res["ci_high"], "ci_method": res["ci_method"],
            "improved": res["improved"], "broken": res["broken"], "recoverable": "yes"}


def gains_reinterval(gains: pd.DataFrame) -> pd.DataFrame:
    """gains.csv with the new interval columns; graded (bootstrap) rows keep their published interval."""
    rows = []
    for r in gains.to_dict("records"):
        if r["test"] == "McNemar exact":
            new = reinterval(int(r["n"]), r["base"], r["value"], r["gain"], r["ci_low"], r["ci_high"], r["p_value"])
        else:
            new = {"old_ci_low": r["ci_low"], "old_ci_high": r["ci_high"], "old_ci_method": "bootstrap",
                   "ci_low": r["ci_low"], "ci_high": r["ci_high"], "ci_method": "bootstrap", "improved": None,
                   "broken": None, "recoverable": "n/a",
                   "note": "graded score (user clusters): paired bootstrap as published, not of zero width"}
        rows.append({**r, **new})
    return pd.DataFrame(rows)


def eval_value(results: pd.DataFrame, run: str, model: str, method: str, rnd: int, task: str, metric: str) -> float:
    """One evaluation's value from results.csv (round 0 is the prompting baseline)."""
    sel = results[(results["kind"] == "eval") & (results["run"] == run) & (results["model"] == model)
                  & (results["method"] == method) & (results["round"] == rnd) & (results["task"] == task)
                  & (results["metric"] == metric)]
    if len(sel) != 1:
        raise ValueError(f"results.csv has {len(sel)} rows for {run}/{model}/{method}/{rnd}/{task}/{metric}")
    return float(sel["value"].iloc[0])


def readme_reinterval(published: pd.DataFrame, results: pd.DataFrame) -> pd.DataFrame:
    """The README-only paired comparisons (3-decimal figures) with the new interval columns."""
    rows = []
    for r in published.to_dict("records"):
        rnd = int(r["round"])
        sides = [("prompting", 0), (r["method"], rnd)] if r["comparison"] == "vs round 0" \
            else [("sft_self", rnd), ("mipo", rnd)]
        base, value = (eval_value(results, r["run"], r["model"], meth, k, r["task"], r["metric"]) for meth, k in sides)
        new = reinterval(int(r["n"]), base, value, r["gain"], r["ci_low"], r["ci_high"], r["p_value"], P_TOL_PRINTED)
        rows.append({**r, "base": base, "value": value, **new})
    return pd.DataFrame(rows)


def kind_users(folder: Path) -> dict[tuple[str, str], list[str]]:
    """(run, preference kind) -> the users of the run's profile_prefs evaluation items that state that kind,
    regenerated by the task's own code with each suite's seed and limit."""
    from harness.evaluation.export.common import plan_exports

    out = {}
    for suite in sorted(folder.glob("suite_*.yaml")):
        cfg = yaml.safe_load(suite.read_text(encoding="utf-8"))
        limit = next((t.get("limit") for t in cfg["tasks"] if t["id"] == "profile_prefs"), None)
        if limit is None:
            continue
        for it in plan_exports(["profile_prefs"], [], limit, offline=True)[0].items:
            for kind in it.meta["kinds"]:
                out.setdefault((cfg["name"], kind), []).append(it.meta["user"])
    return out


def means_reinterval(results: pd.DataFrame, users: dict[tuple[str, str], list[str]]) -> pd.DataFrame:
    """results.csv's evaluation means with a zero-width CI at n > 0, with the interval the harness gives now
    where their items' users are known (per-preference rates of profile_prefs), else marked."""
    ev = results[(results["kind"] == "eval") & (results["n"] > 0) & results["ci_low"].notna()]
    rows = []
    for r in ev[~(ev["ci_high"] - ev["ci_low"] > 1e-12)].to_dict("records"):
        kind = r["metric"].removeprefix("honoured_")
        us = users.get((r["run"], kind)) if r["task"] == "profile_prefs" else None
        base = {k: r[k] for k in ("run", "model", "method", "round", "task", "metric", "value", "n")}
        if us is None or len(us) != int(r["n"]):
            rows.append({**base, "users": None, "old_ci_low": r["ci_low"], "old_ci_high": r["ci_high"],
                         "ci_low": r["ci_low"], "ci_high": r["ci_high"], "ci_method": "bootstrap (old)",
                         "recoverable": "no"})
            continue
        _, lo, hi, method = mean_interval([r["value"]] * len(us), clusters=us)
        rows.append({**base, "users": len(set(us)), "old_ci_low": r["ci_low"], "old_ci_high": r["ci_high"],
                     "ci_low": lo, "ci_high": hi, "ci_method": method, "recoverable": "yes"})
    return pd.DataFrame(rows)


def ci_text(gain: float, lo: float, hi: float) -> str:
    return f"{gain:+.3f} [{lo:+.3f}, {hi:+.3f}]"


def markdown(df: pd.DataFrame, label: str) -> list[str]:
    """Markdown rows of the paired 0/1 cells of one output table: old and new interval side by side."""
    head = ["model", "task", "metric", label, "round", "n", "old gain [95 % CI] (bootstrap)",
            "new gain [95 % CI]", "improved / broken", "p", "CI method"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in df[df["recoverable"] != "n/a"].to_dict("records"):
        counts = f"{int(r['improved'])} / {int(r['broken'])}" if r["recoverable"] == "yes" else NOT_KEPT
        what = r[label] if r.get("comparison", "") != "vs round 0" else f"{r['method']} vs round 0"
        cells = [r["model"], r["task"], r["metric"], str(what), str(r["round"]), str(int(r["n"])),
                 ci_text(r["gain"], r["old_ci_low"], r["old_ci_high"]), ci_text(r["gain"], r["ci_low"], r["ci_high"])
                 if r["recoverable"] == "yes" else "(old kept)", counts, f"{r['p_value']:.3f}", r["ci_method"]]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def main(folder: Path = HERE) -> None:
    """Write the two output tables under report/ and print them as Markdown."""
    gains = gains_reinterval(pd.read_csv(folder / "report" / "gains.csv"))
    readme = readme_reinterval(pd.read_csv(folder / "readme_paired_published.csv"), pd.read_csv(folder / "results.csv"))
    gains.to_csv(folder / "report" / "gains_reinterval.csv", index=False)
    readme.to_csv(folder / "report" / "readme_paired_reinterval.csv", index=False)
    means = means_reinterval(pd.read_csv(folder / "results.csv"), kind_users(folder))
    means.to_csv(folder / "report" / "means_reinterval.csv", index=False)
    for name, df, label in (("gains over round 0 (report/gains.csv)", gains, "method"),
                            ("README comparisons (readme_paired_published.csv)", readme, "comparison")):
        binary = df[df["recoverable"] != "n/a"]
        done = int((binary["recoverable"] == "yes").sum())
        print(f"## Paired 0/1 {name}: {done} of {len(binary)} recomputed, {len(binary) - done} not recoverable\n")
        print("\n".join(markdown(df, label)) + "\n")
    print(f"## results.csv means with a zero-width interval: {int((means['recoverable'] == 'yes').sum())} of "
          f"{len(means)} recomputed\n\n| run | model | method | round | metric | n (users) | old | new | CI method |\n"
          "|---|---|---|---|---|---|---|---|---|")
    for r in means.to_dict("records"):
        print(f"| {r['run']} | {r['model']} | {r['method']} | {r['round']} | {r['metric']} | {r['n']} ({r['users']}) "
              f"| {r['value']:.3f} [{r['old_ci_low']:.3f}, {r['old_ci_high']:.3f}] "
              f"| {r['value']:.3f} [{r['ci_low']:.3f}, {r['ci_high']:.3f}] | {r['ci_method']} |")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else HERE)
