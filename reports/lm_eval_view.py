"""lm-eval tasks in the report: the paired gain of every round and lineage over round 0, and the wall time of
each evaluation, summarised as the time an lm-eval task adds to every round.

A task `lm_eval/<name>` is evaluated at round 0 and after every round of every lineage (its own folder per
lineage with scope per_task). Its metrics.json records `seconds`: the wall time of building the task (its data
loaded), running `lm_eval.simple_evaluate` on the round's backend and writing the files.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd

from groundfloor.methods import BASELINE
from reports.html import Section
from reports.load import Run
from reports.tables import fmt_ci, fmt_discordant, fmt_gain, fmt_p

PREFIX = "lm_eval/"
NOTE = ("lm-eval's tasks (task `lm_eval/<name>`, main metric: the task's first listed metric) at round 0 and after "
        "every round of every lineage ('trained on': the tasks whose pairs trained that policy). Gain = that round − "
        "round 0 on the same lm-eval doc_ids, paired as in the headline (CI, p, improved / broken items). 'seconds': "
        "wall time of the evaluation (task built, data loaded, lm_eval.simple_evaluate on the round's own backend, "
        "files written), from its metrics.json.")
TIME_NOTE = ("Added time per round per lm-eval task: mean wall time of its evaluations after round 0 (every method, "
             "lineage and round), 95% percentile-bootstrap CI over those evaluations (n = evaluations; "
             "'CI n/a' with one), and per item; round 0 for reference. Measured on the run's own device while the "
             "run went on, so it carries that machine's load.")


def wall_seconds(run: Run, model: str, method: str, round_k: int, task: str, trained_on: str = "") -> float:
    """`seconds` of an evaluation's metrics.json (nan where not recorded)."""
    path = run.samples_path(model, method, round_k, task, trained_on).with_name("metrics.json")
    try:
        value = json.loads(path.read_text()).get("seconds")
        return float(value) if value is not None else math.nan
    except (OSError, ValueError, TypeError):
        return math.nan


def _fmt_s(s: float) -> str:
    return f"{s:.1f}" if math.isfinite(s) else "n/a"


def _fmt_item(secs: float, n: int) -> str:
    return f"{secs / n:.3f}" if n and math.isfinite(secs) else "n/a"


def rounds_table(main: pd.DataFrame, gains: pd.DataFrame, runs: list[Run]) -> pd.DataFrame:
    """One row per lm-eval task evaluation: round 0, then every round x method x lineage with its paired gain."""
    by_label = {r.label: r for r in runs}
    lm = main[main["task"].astype(str).str.startswith(PREFIX)]
    rows = []
    for r in lm[lm["round"] == 0].itertuples(index=False):
        secs = wall_seconds(by_label[r.run], r.model, BASELINE, 0, r.task)
        rows.append({"run": r.run, "model": r.model, "method": r.method, "trained on": "", "task": r.task,
                     "metric": r.metric, "round": 0, "value [95% CI]": fmt_ci(r.value, r.ci_low, r.ci_high, r.n),
                     "gain vs round 0 [95% CI]": "", "improved / broken": "", "p": "", "n paired": "",
                     "seconds": _fmt_s(secs), "s / item": _fmt_item(secs, r.n), "_seconds": secs,
                     "_per_item": secs / r.n if r.n else math.nan})
    g = gains[gains["task"].astype(str).str.startswith(PREFIX)] if not gains.empty else gains
    for r in g.itertuples(index=False):
        on = getattr(r, "trained_on", "")
        secs = wall_seconds(by_label[r.run], r.model, r.method, int(r.round), r.task, on)
        rows.append({"run": r.run, "model": r.model, "method": r.method, "trained on": on, "task": r.task,
                     "metric": r.metric, "round": int(r.round),
                     "value [95% CI]": fmt_ci(r.value, r.value_lo, r.value_hi, r.value_n),
                     "gain vs round 0 [95% CI]": fmt_gain(r.gain, r.ci_low, r.ci_high),
                     "improved / broken": fmt_discordant(r.improved, r.broken), "p": fmt_p(r.p_value),
                     "n paired": int(r.n), "seconds": _fmt_s(secs), "s / item": _fmt_item(secs, r.value_n),
                     "_seconds": secs, "_per_item": secs / r.value_n if r.value_n else math.nan})
    if not rows:
        return pd.DataFrame()
    df = pd.DataFrame(rows).sort_values(["run", "model", "task", "round", "method", "trained on"], kind="stable")
    return df.reset_index(drop=True)


def _mean_ci(values: list[float], unit: str, digits: int, draws: int = 2000) -> str:
    """Mean of wall times with a 95 % percentile bootstrap CI over the evaluations ('CI n/a' below 2)."""
    x = np.asarray([v for v in values if math.isfinite(v)], dtype=float)
    if x.size == 0:
        return "n/a"
    ci = "[CI n/a]"
    if x.size >= 2:
        boot = np.random.default_rng(0).choice(x, (draws, x.size)).mean(1)
        lo, hi = np.quantile(boot, [0.025, 0.975])
        ci = f"[{lo:.{digits}f}, {hi:.{digits}f}]"
    return f"{x.mean():.{digits}f} {unit} {ci} (n={x.size} evaluations)"


def time_table(rounds: pd.DataFrame) -> pd.DataFrame:
    """Per run, model and lm-eval task: round 0's time and the mean added time per later round, with CI and n."""
    if rounds.empty:
        return pd.DataFrame()
    rows = []
    for (run, model, task), g in rounds.groupby(["run", "model", "task"], sort=True):
        secs = g["_seconds"].astype(float)
        per_item = g["_per_item"].astype(float)
        later = (g["round"] > 0) & secs.notna()
        base = secs[(g["round"] == 0)].dropna()
        rows.append({"run": run, "model": model, "task": task,
                     "round 0 seconds": _fmt_s(float(base.iloc[0])) if len(base) else "n/a",
                     "added seconds per round [95% CI]": _mean_ci(list(secs[later]), "s", 1) if later.any()
                     else "n/a",
                     "seconds per item [95% CI]": _mean_ci(list(per_item[later]), "s", 3) if later.any()
                     else "n/a"})
    return pd.DataFrame(rows)


def lm_eval_sections(main: pd.DataFrame, gains: pd.DataFrame, runs: list[Run]) -> list[Section]:
    """The report's lm-eval sections (none when the runs evaluated no lm-eval task)."""
    if main.empty:
        return []
    rounds = rounds_table(main, gains, runs)
    if rounds.empty:
        return []
    return [Section("lm-eval tasks: paired gain per round and lineage", NOTE, rounds),
            Section("lm-eval time per round per task", TIME_NOTE, time_table(rounds))]
