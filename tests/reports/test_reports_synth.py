"""The synthetic run folders of tests.helpers.synthetic_runs are in the real layout."""

from __future__ import annotations

from tests.helpers.synthetic_runs import make_run


def test_synthetic_layout(tmp_path):
    root = make_run(tmp_path / "r")
    assert (root / "results.csv").exists() and (root / "manifest.json").exists()
    assert (root / "models" / "alpha-1b" / "round_0" / "tasks" / "mcq_task" / "samples.jsonl").exists()
    assert (root / "models" / "alpha-1b" / "mipo" / "round_2" / "tasks" / "pref_task" / "samples.jsonl").exists()
