"""Iterative rounds end to end on the tiny model: methods mipo + sft_self, two rounds, resume, launcher."""

import json
from pathlib import Path

import pandas as pd
import pytest
import torch

from harness.config import TrainingConfig, parse_suite
from harness.runner import RunOptions, SuiteRunner
from mipo.pairs import NEGATIVE_SEED_OFFSET, check_provenance
from mipo.train import Policy


def _suite(tiny_model_dir, **over):
    return parse_suite({
        "name": "tiny", "models": [str(tiny_model_dir)], "methods": ["mipo", "sft_self"], "rounds": 2,
        "tasks": [{"id": "gsm8k", "limit": 3, "options": {"fewshot": 0}}, {"id": "arc_challenge", "limit": 3},
                  {"id": "profile_prefs", "limit": 3}],
        "generation": {"max_new_tokens": 8, "greedy": True},
        "mipo": {"train_prompts_per_round": 6, "diagnostics_prompts": 2, "sampling": {"max_new_tokens": 8}},
        "training": {"per_device_batch_size": 2, "gradient_accumulation_steps": 1, "max_length": 256},
        "device": "cpu", **over,
    })


@pytest.fixture(scope="module")
def tiny_run(tiny_model_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("rounds") / "run"
    SuiteRunner(_suite(tiny_model_dir), RunOptions(out=out, report=False)).execute()
    return out


def _model_dir(run: Path) -> Path:
    return next((run / "models").iterdir())


def test_two_rounds_for_both_methods(tiny_run):
    df = pd.read_csv(tiny_run / "results.csv")
    ev = df[df["kind"] == "eval"]
    assert set(ev[ev["method"] == "prompting"]["round"]) == {0}
    for method in ("mipo", "sft_self"):
        assert set(ev[ev["method"] == method]["round"]) == {1, 2}
        diag = df[(df["kind"] == "diagnostic") & (df["method"] == method)]
        assert set(diag["metric"]) >= {"pmi", "distinct_2", "response_words"} and set(diag["round"]) == {1, 2}
    train = df[(df["kind"] == "train") & (df["method"] == "mipo")]
    assert {"rewards_margins", "loss", "chosen_tokens", "rejected_tokens"} <= set(train["metric"])
    for method in ("mipo", "sft_self"):
        for k in (1, 2):
            rd = _model_dir(tiny_run) / method / f"round_{k}"
            pairs = [json.loads(line) for line in (rd / "pairs.jsonl").read_text().splitlines()]
            assert pairs and check_provenance(pairs) == []
            # sft_self uses only the chosen side, so its negatives are the free derangement
            want = {"derangement", "context_drop"} if method == "mipo" else {"derangement"}
            assert {p["negative_strategy"] for p in pairs} == want
            stats = json.loads((rd / "pairs_stats.json").read_text())
            assert stats["per_task"]["gsm8k"]["pair_seed"] == 42 + k
            assert stats["per_task"]["gsm8k"]["sampling"]["temperature"] == 0.1
            assert stats["per_task"]["gsm8k"]["negative_seed"] is None  # derangement: nothing sampled
            if method == "mipo":  # context_drop negatives are sampled with their own recorded seed
                prof = stats["per_task"]["profile_prefs"]
                assert prof["negative_seed"] == prof["sampling"]["seed"] + NEGATIVE_SEED_OFFSET
            assert (rd / "train" / "checkpoint" / "adapter_config.json").exists()


def test_rounds_use_fresh_prompts_and_lineage(tiny_run):
    md = _model_dir(tiny_run)
    ids = [set(json.loads((md / "mipo" / f"round_{k}" / "pairs_stats.json").read_text())
               ["per_task"]["gsm8k"]["prompt_ids"]) for k in (1, 2)]
    assert ids[0] and not ids[0] & ids[1]
    lineage = json.loads((tiny_run / "manifest.json").read_text())["lineage"]
    chain = next(iter(lineage.values()))["mipo"]
    assert [c["round"] for c in chain] == [1, 2]
    assert chain[1]["parent"] == chain[0]["policy"] and chain[1]["policy"]["adapter"].endswith("round_2/train/checkpoint")


def test_rerun_resumes_without_training(tiny_model_dir, tiny_run, monkeypatch):
    def boom(*a, **k):
        raise AssertionError("a finished round was retrained")

    monkeypatch.setattr("mipo.rounds.train_dpo", boom)
    monkeypatch.setattr("mipo.rounds.train_sft", boom)
    before = (tiny_run / "results.csv").read_text()
    SuiteRunner(_suite(tiny_model_dir), RunOptions(out=tiny_run, report=False)).execute()
    assert (tiny_run / "results.csv").read_text() == before


def test_round_prompts_fresh_or_fixed(tiny_run, tiny_model_dir):
    from harness.plan import round_prompts
    from harness.runner import build_plans

    plan = build_plans(_suite(tiny_model_dir), None, offline=True)[0]
    r1, r2 = round_prompts(plan, 2, 1, True), round_prompts(plan, 2, 2, True)
    assert not {i.id for i in r1} & {i.id for i in r2}
    assert round_prompts(plan, 2, 1, False) == round_prompts(plan, 2, 2, False)
    assert not {i.id for i in plan.diag_items} & {i.id for i in plan.train_pool}
    over = build_plans(_suite(tiny_model_dir, tasks=[{"id": "gsm8k", "negative": "resample",
                                                       "options": {"fewshot": 0}}, "profile_prefs"]), None, True)
    assert [p.negative for p in over] == ["resample", "context_drop"]


def test_accelerate_launcher_trains_a_round(tiny_model_dir, tmp_path):
    from mipo import launch

    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text("".join(json.dumps({"prompt_messages": [{"role": "user", "content": q}], "chosen": c,
                                         "rejected": r}) + "\n" for q, c, r in
                             [("What is 2 + 3?", "5", "pasta"), ("I am vegetarian.", "pasta", "#### 42")]))
    cfg = TrainingConfig(per_device_batch_size=2, gradient_accumulation_steps=1, max_length=64,
                         launcher="accelerate", accelerate_config="configs/accelerate_cpu.yaml")
    initial = Policy(base=str(tiny_model_dir))
    train_dir = tmp_path / "train"
    launch.write_request(train_dir, "mipo", initial, initial, pairs, cfg, "cpu", torch.float32, lora=True)
    policy, summary = launch.launch(train_dir, cfg.accelerate_config)
    assert policy.adapter == str(train_dir / "checkpoint") and summary["steps"] == 1
    assert summary["world_size"] == 1 and (train_dir / "train_log.jsonl").read_text()
