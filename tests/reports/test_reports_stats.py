"""Paired statistics of reports agree with groundfloor.stats; run-vs-run comparison."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from groundfloor.errors import UserError
from groundfloor.stats import mcnemar_exact, newcombe10, paired_bootstrap
from reports.build import build_report
from reports.compare import compare_runs
from reports.load import open_runs, read_samples
from reports.paired import paired_gain
from tests.helpers.synthetic_runs import make_run


def _scores(run: Path, method: str, k: int, task: str):
    path = open_runs([run])[0].samples_path("alpha-1b", method, k, task)
    rows = read_samples(path)
    ids = sorted(rows)
    return ids, [rows[i][0] for i in ids], [rows[i][1] for i in ids]


def test_binary_gain_is_mcnemar_plus_newcombe10(tmp_path):
    run = make_run(tmp_path / "run", rounds=2)
    build_report([run], tmp_path / "out")
    g = pd.read_csv(tmp_path / "out" / "gains.csv")
    row = g[(g.task == "mcq_task") & (g["round"] == 2)].iloc[0]
    ids0, a, _ = _scores(run, "prompting", 0, "mcq_task")
    ids2, b, _ = _scores(run, "mipo", 2, "mcq_task")
    assert ids0 == ids2
    pairs = list(zip(a, b))
    up, down, both = pairs.count((0.0, 1.0)), pairs.count((1.0, 0.0)), pairs.count((1.0, 1.0))
    assert row["gain"] == pytest.approx((up - down) / 40)
    assert (row["ci_low"], row["ci_high"]) == pytest.approx(newcombe10(both, up, down, 40 - both - up - down))
    assert (row["improved"], row["broken"], row["ci_method"]) == (up, down, "newcombe10")
    assert row["p_value"] == pytest.approx(mcnemar_exact(a, b))
    assert row["test"] == "McNemar exact" and row["n"] == 40


def test_graded_gain_clusters_by_user(tmp_path):
    run = make_run(tmp_path / "run", rounds=1, users_per_task=5)
    build_report([run], tmp_path / "out")
    g = pd.read_csv(tmp_path / "out" / "gains.csv")
    row = g[g.task == "pref_task"].iloc[0]
    _, a, users = _scores(run, "prompting", 0, "pref_task")
    _, b, _ = _scores(run, "mipo", 1, "pref_task")
    ref = paired_bootstrap(a, b, clusters=users)
    assert (row["gain"], row["ci_low"], row["ci_high"], row["p_value"]) == pytest.approx(
        (ref["gain"], ref["ci_low"], ref["ci_high"], ref["p_value"]))
    assert "5 user clusters" in row["test"]


def test_paired_gain_uses_shared_ids_only():
    a = {"x": (0.0, None), "y": (1.0, None), "z": (0.0, None)}
    b = {"y": (1.0, None), "z": (1.0, None), "w": (1.0, None)}
    res = paired_gain(a, b)
    assert res["n"] == 2 and res["gain"] == pytest.approx(0.5)
    assert paired_gain(a, {"q": (1.0, None)}) is None


def test_compare_shared_items(tmp_path):
    ra = make_run(tmp_path / "a", rounds=1, seed=1)
    rb = make_run(tmp_path / "b", rounds=2, seed=2)
    df = compare_runs(ra, rb)
    mipo = df[(df.method == "mipo") & (df.task == "mcq_task")].iloc[0]
    assert (mipo["round A"], mipo["round B"]) == (1, 1)
    assert mipo["gain"] == pytest.approx(mipo["B"] - mipo["A"])
    res = subprocess.run([sys.executable, "-m", "harness.cli", "compare", str(ra), str(rb)], capture_output=True,
                         text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert "mcq_task" in res.stdout and "McNemar exact" in res.stdout


def test_compare_one_model_each_matches_across_models(tmp_path):
    ra = make_run(tmp_path / "a", models=(("alpha-1b", "llama"),), rounds=1)
    rb = make_run(tmp_path / "b", models=(("beta-2b", "qwen"),), rounds=1)
    df = compare_runs(ra, rb)
    assert set(df["model"]) == {"alpha-1b → beta-2b"}


def test_compare_refuses_when_nothing_shared(tmp_path):
    ra = make_run(tmp_path / "a", rounds=1, id_prefix="a")
    rb = make_run(tmp_path / "b", rounds=1, id_prefix="b")
    with pytest.raises(UserError, match="nothing to compare"):
        compare_runs(ra, rb)
    rc = make_run(tmp_path / "c", rounds=1, tasks=(("other_task", "binary"),))
    with pytest.raises(UserError):
        compare_runs(ra, rc)
    res = subprocess.run([sys.executable, "-m", "harness.cli", "compare", str(ra), str(rb)], capture_output=True,
                         text=True, timeout=120)
    assert res.returncode == 2
    assert len(res.stderr.strip().splitlines()) == 1 and "nothing to compare" in res.stderr
