"""Scoring logic: \\boxed{} extraction, MMLU weighting, log-likelihood scorer, evaluate's loglik path."""

from __future__ import annotations

import json

import pytest

from groundfloor.backends.base import GenParams
from groundfloor.backends.fake import FakeBackend
from harness.evaluation.evaluate import evaluate_task
from tasks.base import Item
from tasks.loglik import mc_picks, mc_requests
from tasks.math500 import equivalent, last_boxed
from tasks.mcq import McTask
from tasks.mmlu import Mmlu, weighted_subject_mean


def test_last_boxed_nested_and_equivalence():
    assert last_boxed(r"a \boxed{1} then \boxed{\frac{\sqrt{2}}{2}} end") == r"\frac{\sqrt{2}}{2}"
    assert last_boxed("no box") is None and last_boxed(r"\boxed{unclosed") is None
    assert equivalent("0.5", r"\frac{1}{2}") and equivalent(r"\frac12", r"\frac{1}{2}")
    assert not equivalent("3", "4") and not equivalent(None, "4")


def test_mmlu_aggregate_weighted_by_subject_size():
    rows = [{"subject": "a", "subject_size": 300, "score": 1.0}, {"subject": "a", "subject_size": 300, "score": 0.0},
            {"subject": "b", "subject_size": 100, "score": 1.0}]
    weighted, macro, per = weighted_subject_mean(rows)
    assert per == {"a": 0.5, "b": 1.0}
    assert weighted == pytest.approx((0.5 * 300 + 1.0 * 100) / 400)
    assert macro == pytest.approx(0.75)
    agg = Mmlu().aggregate(rows)
    assert agg["accuracy_subject_weighted"]["value"] == pytest.approx(0.625)
    assert agg["accuracy_subject_macro"]["value"] == pytest.approx(0.75)


def test_mc_picks_rules():
    choices = ("a", "bbbbbbbb")
    # cond: a=-2, b=-4 ; per-char: a=-2, b=-0.5 ; uncond: a=-0.5, b=-5 -> MI: a=-1.5, b=+1
    picks = mc_picks(choices, [-2.0, -4.0, -0.5, -5.0])
    assert picks == {"acc": 0, "acc_norm": 1, "acc_mutual_info": 1}
    reqs = mc_requests("Q?", choices)
    assert reqs[0] == ("Question: Q?\nAnswer:", " a") and reqs[2] == ("Answer:", " a")


class _Mc(McTask):
    id = "toy_mc"
    description = "toy"

    def load(self, offline):
        raise AssertionError


ITEMS = [Item(id=f"q{i}", question=f"What is {i} plus one?", target="B", choices=("zero", str(i + 1), "ten"))
         for i in range(4)]


def test_loglik_path_on_tiny_model(tmp_path, tiny_model_dir):
    from groundfloor.backends.hf import HFBackend

    backend = HFBackend.load(str(tiny_model_dir))
    task = _Mc({"scorer": "loglik"})
    metrics = evaluate_task(backend, task, ITEMS, GenParams(batch_size=4), tmp_path, header={}).record
    m = metrics["metrics"]
    for name in ("accuracy", "acc_norm", "acc_mutual_info"):
        assert 0.0 <= m[name]["value"] <= 1.0 and m[name]["n"] == len(ITEMS)
    rows = [json.loads(line) for line in (tmp_path / "samples.jsonl").read_text().splitlines()]
    assert {"id", "prompt", "target", "output", "extracted", "score", "acc_norm", "acc_mutual_info"} <= set(rows[0])
    assert rows[0]["output"] in "ABC" and len(rows[0]["logliks"]) == 6
    # mutual information is really computed from the two contexts
    lls = backend.loglikelihood(mc_requests(ITEMS[0].question, ITEMS[0].choices))
    mi = [c - u for c, u in zip(lls[:3], lls[3:])]
    assert rows[0]["picks"]["acc_mutual_info"] == "ABC"[max(range(3), key=mi.__getitem__)]
    assert metrics["scoring"] == "loglik"


def test_generative_path_unchanged(tmp_path):
    task = _Mc()
    backend = FakeBackend(lambda text: "The answer is: B")
    metrics = evaluate_task(backend, task, ITEMS, GenParams(), tmp_path, header={}).record
    assert metrics["metrics"]["accuracy"]["value"] == 1.0 and backend.calls == len(ITEMS)
    assert "acc_norm" not in metrics["metrics"]


def test_diagnostic_prompts_ride_along_with_the_evaluation(tmp_path, tiny_model_dir):
    """Extra prompts generated in the evaluation's call: same texts as a separate call, samples.jsonl untouched."""
    from groundfloor.backends.hf import HFBackend
    from harness.evaluation.diagnostics import responses

    backend = HFBackend.load(str(tiny_model_dir))
    task = _Mc()
    held_out = [Item(id=f"t{i}", question=f"Which is {i} times two?", target="A", choices=(str(2 * i), "one"))
                for i in range(3)]
    params = GenParams(batch_size=4, max_new_tokens=12)
    got = evaluate_task(backend, task, ITEMS, params, tmp_path, header={},
                        also=[task.train_messages(it) for it in held_out])
    assert got.also == responses(backend, task, held_out, params)
    rows = [json.loads(line) for line in (tmp_path / "samples.jsonl").read_text().splitlines()]
    assert sorted(r["id"] for r in rows) == [it.id for it in ITEMS]
    # nothing left to evaluate (resumed): the caller generates the diagnostics itself
    again = evaluate_task(backend, task, ITEMS, params, tmp_path, header={}, also=[task.train_messages(held_out[0])])
    assert again.also is None
    loglik = evaluate_task(backend, _Mc({"scorer": "loglik"}), ITEMS, params, tmp_path / "ll", header={},
                           also=[task.train_messages(held_out[0])])
    assert loglik.also is None
