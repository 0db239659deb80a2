"""The study's re-intervalling script (docs/measurements/study_mipo_vs_sft/reinterval.py): the paired 2x2
table it rebuilds from published figures (gain, p, interval, marginals) is the true one whenever it rebuilds
one, and it refuses where the figures do not fix the table."""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from groundfloor.stats import mcnemar_exact, paired_bootstrap, paired_interval

STUDY = Path(__file__).resolve().parents[2] / "docs" / "measurements" / "study_mipo_vs_sft"
_spec = importlib.util.spec_from_file_location("study_reinterval", STUDY / "reinterval.py")
reinterval = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(reinterval)


def _sample(both: int, improved: int, broken: int, neither: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Shuffled paired 0/1 scores (base, new) with the given 2x2 table."""
    base = np.array([1] * both + [0] * improved + [1] * broken + [0] * neither)
    new = np.array([1] * both + [1] * improved + [0] * broken + [0] * neither)
    order = np.random.default_rng(seed).permutation(base.size)
    return base[order], new[order]


def _published(base: np.ndarray, new: np.ndarray) -> dict:
    """What the study published for a cell: the two means, gain, exact McNemar p, old bootstrap CI."""
    old = paired_bootstrap(base, new, n_boot=2000)
    return {"n": base.size, "base": base.mean(), "value": new.mean(), "gain": old["gain"],
            "old_lo": old["ci_low"], "old_hi": old["ci_high"], "p": mcnemar_exact(base, new)}


def test_synthetic_sample_gives_back_its_discordant_counts_and_newcombe_interval():
    base, new = _sample(both=20, improved=7, broken=2, neither=31)
    pub = _published(base, new)
    table, _ = reinterval.recover(**pub)
    assert table == (20, 7, 2, 31)
    out = reinterval.reinterval(*pub.values())
    truth = paired_interval(base, new)
    assert (out["improved"], out["broken"], out["ci_method"], out["recoverable"]) == (7, 2, "newcombe10", "yes")
    assert (out["ci_low"], out["ci_high"]) == pytest.approx((truth["ci_low"], truth["ci_high"]))
    assert (out["old_ci_low"], out["old_ci_high"]) == (pub["old_lo"], pub["old_hi"])


def test_hand_computed_case_from_the_study():
    """SFT-self, Qwen-0.5B, ARC round 2: 0.22 → 0.25 of 100, p = 0.25. improved − broken = 3; with
    improved + broken = 3 the exact p is 2·(1/2)³ = 0.25, with 5 it is 2·(1 + 5)/2⁵ = 0.375, and it grows
    from there: so 3 improved, 0 broken, 22 right both times, 75 neither."""
    table, _ = reinterval.recover(n=100, base=0.22, value=0.25, gain=0.03, old_lo=0.0, old_hi=0.07, p=0.25)
    assert table == (22, 3, 0, 75)


def test_zero_width_interval_means_no_discordant_item_and_gets_a_real_interval():
    base, new = _sample(both=13, improved=0, broken=0, neither=37)
    pub = _published(base, new)
    assert pub["old_hi"] == pub["old_lo"]
    out = reinterval.reinterval(*pub.values())
    assert (out["improved"], out["broken"]) == (0, 0)
    assert out["ci_low"] < 0 < out["ci_high"]


def test_ambiguous_or_zero_gain_cells_keep_the_old_interval_marked():
    base, new = _sample(both=10, improved=3, broken=2, neither=35)  # gain 1/50, p = 1: so is 1 vs 0, 2 vs 1, ...
    pub = _published(base, new)
    out = reinterval.reinterval(*pub.values())
    assert out["recoverable"] == "no" and out["improved"] is None
    assert (out["ci_low"], out["ci_high"]) == (pub["old_lo"], pub["old_hi"])
    assert out["note"].startswith(reinterval.NOT_KEPT) and "old" in out["ci_method"]
    zero_gain = reinterval.reinterval(50, 0.2, 0.2, 0.0, -0.04, 0.04, 1.0)
    assert zero_gain["recoverable"] == "no"


def test_whenever_a_table_is_rebuilt_it_is_the_true_one():
    rng = np.random.default_rng(1)
    rebuilt = 0
    for case in range(60):
        counts = rng.multinomial(40, rng.dirichlet([1, 1, 1, 1]))
        base, new = _sample(*map(int, counts), seed=case)
        table, _ = reinterval.recover(**_published(base, new))
        if table is not None:
            rebuilt += 1
            assert table == tuple(int(c) for c in counts)
    assert rebuilt > 10


def test_study_tables_have_no_zero_width_interval(tmp_path):
    for name in ("results.csv", "readme_paired_published.csv", "report/gains.csv"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        shutil.copy(STUDY / name, tmp_path / name)
    reinterval.main(tmp_path)
    for name in ("gains_reinterval.csv", "readme_paired_reinterval.csv"):
        df = pd.read_csv(tmp_path / "report" / name)
        assert (df["ci_high"] - df["ci_low"] > 1e-9).all()
        done = df[df["recoverable"] == "yes"]
        assert (done["ci_method"] == "newcombe10").all() and done["improved"].notna().all()
        assert (df["old_ci_low"].notna()).all()


def test_zero_width_mean_gets_the_harness_wilson_floor_over_its_users():
    """0 of 3 items right, by 2 users: the bootstrap collapses; Wilson's upper bound for 0 of 2 units is
    z²/(2 + z²) = 3.8415/5.8415 = 0.6576, so the mean lies in [0, 0.658]."""
    results = pd.DataFrame([
        {"run": "r", "model": "m", "method": "mipo", "round": 1, "task": "profile_prefs", "metric": "honoured_name",
         "value": 0.0, "ci_low": 0.0, "ci_high": 0.0, "n": 3, "kind": "eval"},
        {"run": "r", "model": "m", "method": "mipo", "round": 1, "task": "profile_prefs", "metric": "honoured_diet",
         "value": 1.0, "ci_low": 1.0, "ci_high": 1.0, "n": 4, "kind": "eval"},
        {"run": "r", "model": "m", "method": "mipo", "round": 1, "task": "profile_prefs", "metric": "honoured",
         "value": 0.5, "ci_low": 0.2, "ci_high": 0.8, "n": 3, "kind": "eval"}])
    out = reinterval.means_reinterval(results, {("r", "name"): ["a", "a", "b"], ("r", "diet"): ["a", "b"]})
    assert len(out) == 2  # the row with a real interval is not touched
    name, diet = out.iloc[0], out.iloc[1]
    assert (name["ci_low"], name["ci_high"], name["users"]) == (0.0, pytest.approx(0.6576, abs=1e-4), 2)
    assert name["ci_method"] == "bootstrap+wilson-floor"
    assert diet["recoverable"] == "no" and diet["ci_high"] == diet["ci_low"]  # 4 items, only 2 users known


def test_regenerated_profile_items_match_the_published_counts():
    """The study's profile_prefs items, regenerated by the task code, carry each preference as often as
    results.csv counts it, in both runs (so their users are the ones the runs clustered by)."""
    users = reinterval.kind_users(STUDY)
    res = pd.read_csv(STUDY / "results.csv")
    rows = res[(res["task"] == "profile_prefs") & res["metric"].str.startswith("honoured_")
               & (res["metric"] != "honoured_vacuous") & (res["kind"] == "eval")]
    assert len(rows) > 40
    for r in rows.itertuples():
        assert len(users[(r.run, r.metric.removeprefix("honoured_"))]) == r.n
