"""The fast training route (mipo/fast_head.py) trains the same thing as TRL's own CPU path."""

import json

import pytest
import torch

from harness.config import TrainingConfig
from mipo.train import build_dpo_trainer, train_dpo, train_sft
from groundfloor.policy import Policy

QUESTIONS = ["What is 2 + 3?", "I am vegetarian. What should I cook?", "How many apples are left?",
             "Which option? A or B", "Plan a weekend trip to the mountains.", "What is 12 - 4?"]
ANSWERS = ["The answer is 5. #### 5", "pasta with tomatoes", "12 - 4 = 8 #### 8", "The answer is: B",
           "- first point\n- second point", "el plan es simple y es para usted"]
# 10 pairs of different lengths (padding inside a batch), rejected = another question's answer
PAIRS = [{"prompt_messages": [{"role": "user", "content": QUESTIONS[i % 6] * (1 + i % 3)}],
          "chosen": ANSWERS[i % 6] * (1 + i % 2), "rejected": ANSWERS[(i + 2) % 6]} for i in range(10)]
KEYS = ("loss", "rewards/margins", "rewards/chosen", "logps/chosen", "logps/rejected")


def _run(tiny_model_dir, tmp_path, route: str, **kw):
    cfg = TrainingConfig(per_device_batch_size=1, gradient_accumulation_steps=1, max_length=128, seed=0,
                         learning_rate=1e-3, warmup_ratio=0.0, route=route, **kw)
    initial = Policy(base=str(tiny_model_dir))
    _, summary = train_dpo(initial, initial, PAIRS, cfg, tmp_path / route, "cpu", lora=True)
    steps = [json.loads(x) for x in (tmp_path / route / "train_log.jsonl").read_text().splitlines()]
    return summary, [s for s in steps if "loss" in s]


@pytest.mark.parametrize("bf16", [False, True])
def test_fast_route_matches_trl_over_10_steps(tiny_model_dir, tmp_path, bf16):
    """Same pairs and seed: per-step losses, margins and log-probs agree; weight change of the same size."""
    fast, fast_steps = _run(tiny_model_dir, tmp_path, "fast", bf16=bf16)
    ref, ref_steps = _run(tiny_model_dir, tmp_path, "trl", bf16=bf16)
    assert fast["training_route"] == "fast" and ref["training_route"] == "trl"
    assert len(fast_steps) == len(ref_steps) == 10
    # fp32: summation order only; bf16 autocast: the head's GEMM rounds differently on fewer rows
    tol = 2e-2 if bf16 else 1e-4
    for key in KEYS:
        got = torch.tensor([s[key] for s in fast_steps])
        want = torch.tensor([s[key] for s in ref_steps])
        torch.testing.assert_close(got, want, atol=tol, rtol=tol, msg=key)
    assert ref_steps[-1]["rewards/margins"] != ref_steps[0]["rewards/margins"]  # training moved the policy
    ratio = fast["relative_weight_change"] / ref["relative_weight_change"]
    assert 0.9 < ratio < 1.1 and fast["relative_weight_change"] > 0


def test_fast_route_reference_and_metrics(tiny_model_dir, tmp_path):
    """The reference forward returns log-probs only; the policy forward keeps TRL's metric fields."""
    initial = Policy(base=str(tiny_model_dir))
    cfg = TrainingConfig(per_device_batch_size=2, gradient_accumulation_steps=1, max_length=128, seed=0, bf16=False)
    fast, _ = build_dpo_trainer(initial, initial, PAIRS, cfg, tmp_path / "f", "cpu", lora=True)
    trl, _ = build_dpo_trainer(initial, initial, PAIRS, cfg.model_copy(update={"route": "trl"}), tmp_path / "t",
                               "cpu", lora=True)
    assert fast.mipo_route == "fast" and trl.mipo_route == "trl"
    batch = fast.data_collator([fast.train_dataset[i] for i in range(4)])
    labels = batch["input_ids"].masked_fill(batch["completion_mask"] == 0, -100)
    kw = dict(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], labels=labels, fused_lm_head=True)
    got, want = fast.model(**kw), trl.model(**kw)
    for field in ("log_probs", "entropy", "mean_logits"):
        torch.testing.assert_close(getattr(got, field), getattr(want, field), atol=1e-5, rtol=1e-5)
    assert torch.equal(got.is_top1, want.is_top1)
    with torch.no_grad():
        ref = fast.model(**kw)
    assert ref.entropy is None and torch.allclose(ref.log_probs, want.log_probs.detach(), atol=1e-5)


def test_fast_route_sft_and_cuda_default(tiny_model_dir, tmp_path):
    from mipo.fast_head import training_route

    initial = Policy(base=str(tiny_model_dir))
    cfg = TrainingConfig(per_device_batch_size=2, gradient_accumulation_steps=1, max_length=128, seed=0, bf16=False)
    _, summary = train_sft(initial, PAIRS[:4], cfg, tmp_path, "cpu", lora=True)
    assert summary["training_route"] == "fast" and summary["frozen_dtype"] == "float32"
    assert training_route("auto", "cuda") == "trl" and training_route("auto", "cpu") == "fast"
    assert training_route("trl", "cpu") == "trl" and training_route("fast", "cuda") == "fast"
    with pytest.raises(ValueError):
        TrainingConfig(route="quick")
