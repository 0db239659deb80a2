"""suites/paper.yaml is the paper's protocol: its tasks, models, seeds, methods and judge, and an offline dry run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.config import load_suite, parse_suite
from groundfloor.errors import UserError
from tests.helpers.reliability_helpers import run_cli
from tasks.judge import AUTHORS_JUDGE

ROOT = Path(__file__).resolve().parents[2]
SUITE = ROOT / "suites" / "paper.yaml"
TASKS = {"gsm8k", "svamp", "arc_challenge", "arc_easy", "prism", "multibench"}
MODELS = {"meta-llama/Llama-3.2-1B-Instruct", "meta-llama/Llama-3.2-3B-Instruct", "Qwen/Qwen2.5-1.5B-Instruct",
          "Qwen/Qwen2.5-3B-Instruct", "Qwen/Qwen2.5-7B-Instruct"}
METHODS = {"prompting", "mipo", "sft_self", "rlvr", "rlaif"}


def test_paper_suite_lists_the_paper():
    cfg = load_suite(SUITE)
    assert {t.id for t in cfg.tasks} == TASKS and {m.id for m in cfg.models} == MODELS
    assert METHODS <= set(cfg.methods) and len(cfg.seeds) == 3 and 42 in cfg.seeds
    assert cfg.judge is not None and cfg.judge.model == AUTHORS_JUDGE
    budgets = {t.id: t.generation.max_new_tokens for t in cfg.tasks if t.generation}
    assert budgets["svamp"] == 1024 and budgets["gsm8k"] == 5012


def test_seeds_are_distinct():
    with pytest.raises(UserError, match="seed 43 is listed twice"):
        parse_suite({"models": ["m"], "tasks": ["gsm8k"], "seeds": [42, 43, 43]})


def test_dry_run_offline_without_a_gpu_lists_everything(tmp_path, monkeypatch, capsys):
    """Exit 0 offline and without CUDA: hub-only data is reported as not fetched, the missing GPU as a warning."""
    monkeypatch.setenv("MIPO_BENCH_OFFLINE", "1")
    code, out, err = run_cli(["run", str(SUITE), "--dry-run", "--out", str(tmp_path / "paper")], monkeypatch, capsys)
    assert code == 0, err
    plan = json.loads(out)
    assert set(plan["models"]) == MODELS and set(plan["tasks"]) == TASKS and METHODS <= set(plan["methods"])
    assert plan["seeds"] == load_suite(SUITE).seeds
    assert set(plan["seed_run_folders"].values()) == {str(tmp_path / "paper" / f"seed-{s}") for s in plan["seeds"]}
    assert set(plan["data_not_fetched"]) == {"svamp", "prism", "multibench"}
    assert plan["tasks"]["multibench"]["eval_items"] == "not fetched"
    assert plan["tasks"]["gsm8k"]["eval_items"] == 200
    import torch

    if not torch.cuda.is_available():
        assert "no CUDA device" in err and plan["device"] == "cuda" and plan["warnings"]
    steps = "\n".join(plan["steps"])
    for model in MODELS:
        assert f"evaluate {model} prompting round 0: {', '.join(t.id for t in load_suite(SUITE).tasks)}" in steps
        for method in METHODS - {"prompting"}:
            for task in TASKS:
                assert f"train {model} {method} {task} round 1 on {task} from" in steps
    gpu = plan["estimate_one_gpu"]["per_step"]
    assert len(gpu) == sum(s.startswith(("train ", "evaluate ")) for s in plan["steps"])
    assert not (tmp_path / "paper").exists()  # a plan writes nothing


def test_gpu_estimate_flags_the_7b_full_fine_tuning():
    """Arithmetic of harness/run/gpu_plan.py: 16 bytes a parameter + a bf16 reference cannot fit 7B on 80 GB."""
    from harness.config import TaskSpec
    from groundfloor.records import RoundKey
    from harness.run.dry_run import unfetched_plan
    from harness.run.gpu_plan import billions, step_estimate
    from harness.run.steps import Evaluate, Train
    from tasks.base import Item
    from tasks.registry import TaskRegistry

    assert (billions("Qwen/Qwen2.5-1.5B-Instruct"), billions("meta-llama/Llama-3.2-3B-Instruct"),
            billions("Qwen/Qwen2.5-7B-Instruct"), billions("my-model")) == (1.5, 3.0, 7.0, None)
    cfg = parse_suite({"models": ["m"], "tasks": ["gsm8k", "multibench"], "judge": {"model": AUTHORS_JUDGE}})
    reg = TaskRegistry(use_entry_points=False)
    plans = {t: unfetched_plan(reg.get(t), TaskSpec(id=t), cfg, "test") for t in ("gsm8k", "multibench")}
    items = [Item(id=str(i), question=f"q{i}", target="1") for i in range(40)]
    for pl in plans.values():
        pl.eval_items, pl.train_pool, pl.data = items, items, {"used": "test"}

    def train(model, tasks=("gsm8k",)):
        step = Train(RoundKey(model, "mipo", 1, tasks[0]), RoundKey(model, "prompting", 0), tasks)
        return step_estimate(step, plans, cfg, "vllm", lora=False)

    small, big = train("Qwen/Qwen2.5-1.5B-Instruct"), train("Qwen/Qwen2.5-7B-Instruct")
    assert small["fits_80gb"] and not big["fits_80gb"] and big["minutes"] > small["minutes"] > 0
    plain = step_estimate(Evaluate(RoundKey("Qwen/Qwen2.5-1.5B-Instruct", "prompting", 0), ("gsm8k",)),
                          plans, cfg, "hf", lora=False)
    judged = step_estimate(Evaluate(RoundKey("Qwen/Qwen2.5-1.5B-Instruct", "prompting", 0), ("multibench",)),
                           plans, cfg, "hf", lora=False)
    assert judged["memory_gib"] >= plain["memory_gib"] + 2 * 14  # the 14B judge beside the policy
    assert step_estimate(Evaluate(RoundKey("local-model", "prompting", 0), ("gsm8k",)), plans, cfg, "hf",
                         lora=False)["minutes"] is None
