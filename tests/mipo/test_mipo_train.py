"""TRL training on the tiny model: which model the DPO reference really is, full FT, learning, logs."""

import json

import pytest
import torch

from harness.config import TrainingConfig
from mipo.train import build_dpo_trainer, train_dpo, train_sft
from groundfloor.policy import Policy

PAIRS = [
    {"prompt_messages": [{"role": "user", "content": q}], "chosen": c, "rejected": r}
    for q, c, r in [
        ("What is 2 + 3?", "The answer is 5. #### 5", "pasta with tomatoes"),
        ("I am vegetarian. What should I cook?", "pasta with tomatoes", "#### 42"),
        ("Question: How many apples are left?", "12 - 4 = 8 #### 8", "The answer is: B"),
        ("Which option? A or B", "The answer is: B", "12 - 4 = 8"),
    ]
]


def _cfg(**kw) -> TrainingConfig:
    base = dict(per_device_batch_size=2, gradient_accumulation_steps=1, max_length=128, seed=0, bf16=False)  # exact fp32 comparisons
    return TrainingConfig(**{**base, **kw})


def _summed_logps(model, batch) -> torch.Tensor:
    """Independent summed completion log-probs of a collated DPO batch ([chosen; rejected] rows)."""
    ids, mask, comp = batch["input_ids"], batch["attention_mask"], batch["completion_mask"]
    with torch.no_grad():
        logits = model(input_ids=ids, attention_mask=mask).logits[:, :-1].float()
    lp = logits.log_softmax(-1).gather(-1, ids[:, 1:, None]).squeeze(-1)
    return (lp * comp[:, 1:]).sum(1)


def _batch(trainer):
    rows = [trainer.train_dataset[i] for i in range(len(trainer.train_dataset))]
    return trainer.data_collator(rows)


@pytest.fixture(scope="module")
def round1_adapter(tiny_model_dir, tmp_path_factory):
    """A non-trivial LoRA adapter standing in for the round-1 policy (random, not zero-initialised)."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(1)
    model = AutoModelForCausalLM.from_pretrained(str(tiny_model_dir), dtype=torch.float32)
    peft = get_peft_model(model, LoraConfig(r=4, lora_alpha=64, target_modules="all-linear",
                                            init_lora_weights=False, task_type="CAUSAL_LM"))
    out = tmp_path_factory.mktemp("round1") / "adapter"
    peft.save_pretrained(str(out))
    return str(out)


def _models(tiny_model_dir, adapter):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    base = AutoModelForCausalLM.from_pretrained(str(tiny_model_dir), dtype=torch.float32).eval()
    r1 = AutoModelForCausalLM.from_pretrained(str(tiny_model_dir), dtype=torch.float32)
    r1 = PeftModel.from_pretrained(r1, adapter).merge_and_unload().eval()
    return base, r1


@pytest.mark.parametrize("reference", ["initial", "previous"])
def test_lora_round2_reference_log_probs(tiny_model_dir, round1_adapter, tmp_path, reference):
    initial = Policy(base=str(tiny_model_dir))
    policy = Policy(base=str(tiny_model_dir), adapter=round1_adapter)
    trainer, _ = build_dpo_trainer(policy, initial, PAIRS, _cfg(reference=reference), tmp_path, "cpu", lora=True)
    batch = _batch(trainer)
    # as TRL computes the reference: its ref_model where one was given, else the policy's adapter context
    chosen, rejected = trainer.compute_ref_log_probs(trainer.ref_model or trainer.model, batch)
    got = torch.cat([chosen, rejected]).float()
    base, r1 = _models(tiny_model_dir, round1_adapter)
    want_base, want_r1 = _summed_logps(base, batch), _summed_logps(r1, batch)
    assert not torch.allclose(want_base, want_r1, atol=1e-2)  # the adapter really changes the model
    want = want_base if reference == "initial" else want_r1
    torch.testing.assert_close(got, want, atol=1e-3, rtol=1e-4)
    assert ("ref" in trainer.model.peft_config) == (reference == "previous")
    assert trainer.model.active_adapter == "default"
    assert any(p.requires_grad for n, p in trainer.model.named_parameters() if ".default." in n)


def test_lora_round2_precomputed_reference_is_initial(tiny_model_dir, round1_adapter, tmp_path):
    initial = Policy(base=str(tiny_model_dir))
    policy = Policy(base=str(tiny_model_dir), adapter=round1_adapter)
    trainer, _ = build_dpo_trainer(policy, initial, PAIRS, _cfg(precompute_ref_log_probs=True), tmp_path, "cpu",
                                   lora=True)
    batch = _batch(trainer)
    got = torch.cat([torch.as_tensor(trainer.train_dataset["ref_chosen_logps"]),
                     torch.as_tensor(trainer.train_dataset["ref_rejected_logps"])]).float()
    base, _ = _models(tiny_model_dir, round1_adapter)
    torch.testing.assert_close(got, _summed_logps(base, batch), atol=1e-3, rtol=1e-4)


@pytest.mark.parametrize("precompute", [False, True])
def test_full_finetuning_round(tiny_model_dir, tmp_path, precompute):
    initial = Policy(base=str(tiny_model_dir))
    cfg = _cfg(mode="full", learning_rate=1e-3, precompute_ref_log_probs=precompute, reference="previous")
    trainer, _ = build_dpo_trainer(initial, initial, PAIRS, cfg, tmp_path / "probe", "cpu", lora=False)
    assert (trainer.ref_model is None) == precompute  # previous + precompute: the policy itself, before training
    new, summary = train_dpo(initial, initial, PAIRS, cfg, tmp_path / "train", "cpu", lora=False)
    assert new.adapter is None and (tmp_path / "train" / "checkpoint" / "config.json").exists()
    assert (tmp_path / "train" / "checkpoint" / "tokenizer_config.json").exists()
    assert summary["steps"] == 2 and summary["precompute_ref_log_probs"] == precompute
    assert summary["mean_chosen_tokens"] > 0 and summary["mean_rejected_tokens"] > 0


def test_paper_defaults_on_gpu():
    from mipo.train import common_args as _common_args

    cfg = TrainingConfig()
    args = _common_args(cfg, __import__("pathlib").Path("/tmp/x"), "cuda", lora=False)
    assert args["learning_rate"] == 5e-7 and cfg.beta == 0.1
    assert (args["adam_beta1"], args["adam_beta2"]) == (0.9, 0.95) and args["lr_scheduler_type"] == "cosine_with_min_lr"
    assert args["lr_scheduler_kwargs"] == {"min_lr_rate": 0.1} and args["max_length"] == 2048
    assert args["warmup_steps"] == 0.03 and args["num_train_epochs"] == 1.0 and args["bf16"] is True
    assert args["per_device_train_batch_size"] * args["gradient_accumulation_steps"] == 4
    assert _common_args(cfg, __import__("pathlib").Path("/tmp/x"), "cpu", lora=True)["learning_rate"] == 2e-4
    assert _common_args(TrainingConfig(report_to=["wandb"]), __import__("pathlib").Path("/tmp/x"), "cpu",
                        True)["report_to"] == ["wandb"]
    plain = _common_args(TrainingConfig(lr_scheduler_type="cosine"), __import__("pathlib").Path("/x"), "cuda", False)
    assert plain["lr_scheduler_kwargs"] == {}


def test_lora_default_lr_moves_the_policy(tiny_model_dir, tmp_path):
    """LoRA at the default 2e-4 over a few epochs: logged loss falls below log 2, margins turn positive."""
    initial = Policy(base=str(tiny_model_dir))
    new, summary = train_dpo(initial, initial, PAIRS, _cfg(epochs=8, warmup_ratio=0.0), tmp_path, "cpu", lora=True)
    steps = [json.loads(line) for line in (tmp_path / "train_log.jsonl").read_text().splitlines()]
    logged = [s for s in steps if "rewards/margins" in s]
    assert len(logged) == 16 and all("logps/chosen" in s and "rewards/accuracies" in s for s in logged)
    assert logged[-1]["rewards/margins"] > 0 and logged[-1]["loss"] < 0.6931
    assert summary["last_rewards_margins"] > 0 and new.adapter


def test_sft_self_round(tiny_model_dir, tmp_path):
    initial = Policy(base=str(tiny_model_dir))
    new, summary = train_sft(initial, PAIRS, _cfg(), tmp_path, "cpu", lora=True)
    assert new.adapter and summary["method"] == "sft_self" and summary["mean_completion_tokens"] > 0


def _tensors(folder) -> dict:
    from safetensors.torch import load_file

    return {k: v for f in sorted(__import__("pathlib").Path(folder).glob("*.safetensors")) for k, v in load_file(f).items()}


def test_one_step_at_paper_lr_under_bf16_autocast_changes_the_saved_weights(tiny_model_dir, tmp_path):
    """The paper's lr 5e-7, bf16 mixed precision on CPU (use_cpu + bf16): fp32 master weights keep the step."""
    initial = Policy(base=str(tiny_model_dir))
    cfg = _cfg(mode="full", learning_rate=5e-7, bf16=True, per_device_batch_size=4, warmup_ratio=0.0)
    new, summary = train_dpo(initial, initial, PAIRS, cfg, tmp_path, "cpu", lora=False)
    assert summary["steps"] == 1 and summary["autocast_bf16"] is True and summary["trained_dtype"] == "float32"
    before, after = _tensors(tiny_model_dir), _tensors(new.base)
    assert all(t.dtype == torch.float32 for t in after.values())
    changed = [k for k in after if not torch.equal(after[k], before[k])]
    assert len(changed) > len(after) // 2
    diff = sum(float((after[k] - before[k]).double().pow(2).sum()) for k in after) ** 0.5
    norm = sum(float(before[k].double().pow(2).sum()) for k in after) ** 0.5
    assert summary["relative_weight_change"] == pytest.approx(diff / norm, rel=1e-6) and 0 < diff / norm < 1e-4
    assert summary["weight_elements_changed"] == sum(int((after[k] != before[k]).sum()) for k in after)
    # the same update applied to bf16 weights rounds away: why bf16 master weights are refused
    kept = sum(int((before[k].bfloat16() + (after[k] - before[k]).bfloat16() != before[k].bfloat16()).sum())
               for k in changed)
    assert kept < summary["weight_elements_changed"] / 20


def test_loaded_bf16_weights_are_refused_by_the_trainer_too(tiny_model_dir, tmp_path):
    """The runner refuses the setting up front; the trainer checks the loaded parameters again."""
    from groundfloor.errors import UserError
    from mipo.precision import precision_problem

    initial = Policy(base=str(tiny_model_dir))
    cfg = _cfg(mode="full", learning_rate=5e-7, weights_dtype="bfloat16")
    assert "training.weights_dtype: bfloat16" in precision_problem(cfg, lora=False)
    assert precision_problem(cfg, lora=True) is None and precision_problem(_cfg(mode="full"), lora=False) is None
    with pytest.raises(UserError, match="bfloat16 parameters with a plain optimizer"):
        train_dpo(initial, initial, PAIRS, cfg, tmp_path, "cpu", lora=False)
    assert not (tmp_path / "checkpoint").exists()


def test_lora_weight_change_is_the_change_of_the_merged_weights(tiny_model_dir, round1_adapter, tmp_path):
    """LoRA: ||W_new - W_parent|| / ||W_parent|| over the adapted modules' effective (merged) weights."""
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    initial = Policy(base=str(tiny_model_dir))
    parent = Policy(base=str(tiny_model_dir), adapter=round1_adapter)
    new, summary = train_dpo(parent, initial, PAIRS, _cfg(learning_rate=1e-3), tmp_path, "cpu", lora=True)

    def merged(adapter):
        model = AutoModelForCausalLM.from_pretrained(str(tiny_model_dir), dtype=torch.float32)
        return dict(PeftModel.from_pretrained(model, adapter).merge_and_unload().named_parameters())

    a, b = merged(new.adapter), merged(round1_adapter)
    adapted = [k for k in a if k.endswith("proj.weight")]
    diff = sum(float((a[k] - b[k]).double().pow(2).sum()) for k in adapted) ** 0.5
    norm = sum(float(b[k].double().pow(2).sum()) for k in adapted) ** 0.5
    assert summary["relative_weight_change"] == pytest.approx(diff / norm, rel=1e-3) and diff > 0
    assert summary["weight_tensors_compared"] == len(adapted) and "LoRA" in summary["weight_change_over"]


def test_a_one_step_round_runs_at_warmup_lr_0_and_is_reported_as_unchanged(tiny_model_dir, tmp_path):
    """HF warm-up starts at lr 0: a 1-step round changes nothing, and the round says why."""
    from types import SimpleNamespace

    from groundfloor.errors import RunFailure
    from groundfloor.records import RoundHeader
    from mipo.rounds import check_changed

    initial = Policy(base=str(tiny_model_dir))
    _, summary = train_dpo(initial, initial, PAIRS[:2], _cfg(mode="full", learning_rate=1e-3), tmp_path, "cpu",
                           lora=False)
    assert summary["steps"] == 1 and summary["relative_weight_change"] == 0.0 and summary["max_learning_rate"] == 0
    inp = SimpleNamespace(header=RoundHeader("m", "f", "mipo", 1, scope="per_task", trained_on="gsm8k"), log=print)
    with pytest.raises(RunFailure, match="training changed no weights.*learning rate 0"):
        check_changed(summary, inp, tmp_path, 1)
    assert (tmp_path / "unchanged_weights.json").exists()


def test_trl_pass_through_names_and_callbacks(tiny_model_dir, tmp_path):
    """training.dpo_args reaches DPOConfig; unknown or owned fields are refused; progress replaces TRL's printer."""
    from transformers import PrinterCallback

    from groundfloor.errors import UserError

    initial = Policy(base=str(tiny_model_dir))
    out = tmp_path / "run" / "models" / "m" / "mipo" / "round_2" / "lineages" / "gsm8k" / "train"
    trainer, _ = build_dpo_trainer(initial, initial, PAIRS, _cfg(dpo_args={"label_smoothing": 0.1}), out, "cpu",
                                   lora=True)
    assert trainer.args.label_smoothing == 0.1 and trainer.args.run_name == "m/mipo/round_2/gsm8k"
    kinds = {type(cb).__name__ for cb in trainer.callback_handler.callbacks}
    assert "_Progress" in kinds and "StepLogger" in kinds
    assert not any(isinstance(cb, PrinterCallback) for cb in trainer.callback_handler.callbacks)
    with pytest.raises(UserError, match="'label_smothing' is not a field of TRL's DPOConfig "
                                        ".did you mean 'label_smoothing'"):
        build_dpo_trainer(initial, initial, PAIRS, _cfg(dpo_args={"label_smothing": 0.1}), out, "cpu", lora=True)
    with pytest.raises(UserError, match="'beta' is set from the training section"):
        build_dpo_trainer(initial, initial, PAIRS, _cfg(dpo_args={"beta": 0.5}), out, "cpu", lora=True)
