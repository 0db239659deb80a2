"""lm-eval tasks evaluated after every round of every lineage (scope per_task): one paired gain per lineage and
round in gains.csv, the headline, the heatmap, the family view, `compare` and the lm-eval sections (with the
wall time each evaluation added)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from groundfloor.results import write_results
from groundfloor.rundir import RunDir
from groundfloor.stats import mean_interval
from reports.build import build_report
from reports.compare import compare_runs
from reports.figures import heatmap_figure
from reports.load import open_runs
from reports.paired import last_round
from reports.tables import family_table, headline_table

N = 30
LM = "lm_eval/tiny"
LINEAGES = {"task_a": 5, "task_b": -3}  # items gained (lost) on the lm-eval task per round of that lineage


def _write(folder: Path, header: dict, task: str, scores: list[float], seconds: float) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    folder.joinpath("samples.jsonl").write_text("".join(json.dumps({"id": str(i), "score": s}) + "\n"
                                                        for i, s in enumerate(scores)))
    v, lo, hi, how = mean_interval(scores)
    metric = "acc" if task == LM else "accuracy"
    folder.joinpath("metrics.json").write_text(json.dumps(
        {**header, "kind": "eval", "task": task, "n": N, "main_metric": metric, "seconds": seconds,
         "metrics": {metric: {"value": v, "ci_low": lo, "ci_high": hi, "n": N, "ci_method": how}}}))


def make_lineage_run(root: Path, shift: int = 0) -> Path:
    """Two per-task lineages x 2 rounds; the lm-eval task in each lineage's own folder, as a run writes it."""
    run = RunDir(root)
    model = {"model": "alpha-1b", "family": "llama"}
    right = lambda k: [float(i < k) for i in range(N)]  # noqa: E731
    for task in (*LINEAGES, LM):
        _write(run.task_dir("alpha-1b", "prompting", 0, task), {**model, "method": "prompting", "round": 0}, task,
               right(10 + shift), 4.0)
    for on, step in LINEAGES.items():
        for k in (1, 2):
            head = {**model, "method": "mipo", "round": k, "scope": "per_task", "trained_on": on}
            _write(run.task_dir("alpha-1b", "mipo", k, on), head, on, right(12 + k + shift), 3.0)
            _write(run.task_dir("alpha-1b", "mipo", k, LM, lineage=on), head, LM, right(10 + step * k + shift),
                   5.0 + k + (on == "task_b"))
    write_results(run)
    run.manifest.write_text(json.dumps({"seed": shift, "models": {"alpha-1b": {"family": "llama"}}}))
    return root


def test_lm_eval_rows_per_lineage_and_round(tmp_path):
    root = make_lineage_run(tmp_path / "run")
    out = tmp_path / "report"
    md = build_report([root], out).read_text()
    gains = pd.read_csv(out / "gains.csv").fillna("")
    lm = gains[gains["task"] == LM].set_index(["trained_on", "round"])
    assert sorted(lm.index) == [(on, k) for on in sorted(LINEAGES) for k in (1, 2)]
    for (on, k), row in lm.iterrows():  # each lineage's own items, paired with round 0's
        assert row["gain"] == LINEAGES[on] * k / N and row["test"] == "McNemar exact" and row["n"] == N
    last = last_round(gains)
    head = headline_table(last[last["task"] == LM], multi_run=False)
    assert sorted(head["trained on"]) == sorted(LINEAGES) and set(head["last round"]) == {2}
    fig, _ = heatmap_figure(last, multi_run=False)
    ax = fig.axes[0]
    rows = [t.get_text() for t in ax.get_yticklabels()]
    assert rows == ["alpha-1b · mipo · on task_a", "alpha-1b · mipo · on task_b"]
    cells = {t.get_text().rstrip("*") for t in ax.texts}
    assert {f"{10 / N:+.3f}", f"{-6 / N:+.3f}"} <= cells  # the lm-eval task's last-round gain of each lineage
    fam = family_table(gains)
    fam = fam[fam["task"] == LM]
    assert sorted(zip(fam["trained on"], fam["round"])) == [(on, k) for on in sorted(LINEAGES) for k in (1, 2)]
    assert "lm-eval tasks: paired gain per round and lineage" in md and "lm-eval time per round per task" in md
    # added time per round: the mean of the four later evaluations' seconds (6, 7, 7, 8), with n
    assert "7.0 s [" in md and "(n=4 evaluations)" in md
    assert "0.233 s [" in md  # per item: (6 + 7 + 7 + 8) / 4 s over 30 items, not a rounded string's value


def test_compare_pairs_lm_eval_lineage_by_lineage(tmp_path):
    a = make_lineage_run(tmp_path / "a")
    b = make_lineage_run(tmp_path / "b", shift=2)
    assert len(open_runs([a, b])) == 2
    df = compare_runs(a, b)
    lm = df[df["task"] == LM]
    assert sorted(zip(lm["method"], lm["trained on"])) == [("mipo", on) for on in sorted(LINEAGES)] + [
        ("prompting", "")]
    assert set(lm["gain"]) == {2 / N} and set(lm["n"]) == {N}
