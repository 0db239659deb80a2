"""One training step of a round with TRL: DPO on MIPO pairs, or SFT on the model's own positives.

The policy is (base model folder, optional LoRA adapter). LoRA rounds keep training one adapter
over the initial model, so "reference = initial" is the adapter switched off and
"reference = previous" is a frozen copy of the adapter at the start of the round. Full
fine-tuning saves a whole checkpoint per round and loads the reference explicitly.
"""

from __future__ import annotations

import json
import math
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from transformers import TrainerCallback

from harness.config import TrainingConfig


@dataclass(frozen=True)
class Policy:
    """Where a round's model lives: a full model folder plus, for LoRA, an adapter folder."""

    base: str
    adapter: str | None = None

    def to_dict(self) -> dict:
        return {"base": self.base, "adapter": self.adapter}


class StepLogger(TrainerCallback):
    """Writes every logged step (loss, rewards, margins, log-probs) to a JSONL file; stops on NaN/inf loss."""

    def __init__(self, path: Path):
        self.path = path
        self.nonfinite = False
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("")

    def on_log(self, args, state, control, logs=None, **kwargs):
        logs = dict(logs or {})
        loss = logs.get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            self.nonfinite = True
            control.should_training_stop = True
        with open(self.path, "a") as f:
            f.write(json.dumps({"step": state.global_step, **logs}) + "\n")
        return control


def default_learning_rate(cfg: TrainingConfig, lora: bool) -> float:
    """The paper's 5e-7 for full fine-tuning; 5e-5 for LoRA, which otherwise barely moves a short run."""
    if cfg.learning_rate is not None:
        return cfg.learning_rate
    return 5e-5 if lora else 5e-7


def _common_args(cfg: TrainingConfig, out_dir: Path, device: str, lora: bool) -> dict:
    bf16 = cfg.bf16 if cfg.bf16 is not None else device == "cuda"
    return dict(
        output_dir=str(out_dir / "trainer"), learning_rate=default_learning_rate(cfg, lora),
        adam_beta1=cfg.adam_beta1, adam_beta2=cfg.adam_beta2, weight_decay=cfg.weight_decay,
        lr_scheduler_type=cfg.lr_scheduler_type, warmup_steps=float(min(cfg.warmup_ratio, 0.999)),
        per_device_train_batch_size=cfg.per_device_batch_size,
        gradient_accumulation_steps=cfg.gradient_accumulation_steps, num_train_epochs=cfg.epochs,
        max_length=cfg.max_length, logging_steps=1, save_strategy="no", report_to=cfg.report_to or "none",
        bf16=bf16, use_cpu=device == "cpu", gradient_checkpointing=device == "cuda" and not lora,
        seed=cfg.seed, data_seed=cfg.seed, disable_tqdm=True, dataloader_num_workers=0,
    )


def _load_trainable(policy: Policy, dtype, device: str, lora: bool, cfg: TrainingConfig):
    """The model to train: base weights, plus the previous adapter (trainable) when there is one."""
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(policy.base, dtype=dtype)
    peft_config = None
    if lora:
        from peft import LoraConfig, PeftModel

        if policy.adapter:
            model = PeftModel.from_pretrained(model, policy.adapter, is_trainable=True)
        else:
            peft_config = LoraConfig(r=cfg.lora_r, lora_alpha=cfg.lora_alpha, lora_dropout=cfg.lora_dropout,
                                     target_modules="all-linear", task_type="CAUSAL_LM")
    return model.to(device), peft_config


def _finish(trainer, logger: StepLogger, out_dir: Path, lora: bool, policy: Policy, tokenizer,
            started: float, extra: dict) -> tuple[Policy, dict]:
    """Save the new checkpoint (unless the loss went non-finite) and summarise the training logs."""
    steps = [json.loads(line) for line in logger.path.read_text().splitlines() if line.strip()]
    ckpt = out_dir / "checkpoint"
    tmp = out_dir / "checkpoint.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    if logger.nonfinite:
        new_policy = policy  # keep the previous checkpoint
    else:
        trainer.model.save_pretrained(str(tmp))
        if not lora:
            tokenizer.save_pretrained(str(tmp))
        shutil.rmtree(ckpt, ignore_errors=True)
        tmp.rename(ckpt)
        new_policy = Policy(base=policy.base, adapter=str(ckpt)) if lora else Policy(base=str(ckpt))
    summary = {"steps": len([s for s in steps if "loss" in s]), "seconds": round(time.perf_counter() - started, 2),
               "nonfinite_loss": logger.nonfinite, "policy": new_policy.to_dict(), **extra}
    for key in ("loss", "rewards/accuracies", "rewards/margins", "rewards/chosen", "rewards/rejected",
                "logps/chosen", "logps/rejected"):
        vals = [float(s[key]) for s in steps if key in s]
        if vals:
            summary[f"mean_{key.replace('/', '_')}"] = sum(vals) / len(vals)
            summary[f"last_{key.replace('/', '_')}"] = vals[-1]
    return new_policy, summary


def _free(*objs) -> None:
    import gc

    del objs
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def train_dpo(policy: Policy, initial: Policy, pairs: list[dict], cfg: TrainingConfig, out_dir: Path,
              device: str, dtype, lora: bool) -> tuple[Policy, dict]:
    """DPO (sigmoid loss) on conversational pairs; returns the new policy and a summary."""
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import DPOConfig, DPOTrainer

    started = time.perf_counter()
    tokenizer = AutoTokenizer.from_pretrained(policy.base)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    data = Dataset.from_list([{
        "prompt": p["prompt_messages"],
        "chosen": [{"role": "assistant", "content": p["chosen"]}],
        "rejected": [{"role": "assistant", "content": p["rejected"]}],
    } for p in pairs])
    model, peft_config = _load_trainable(policy, dtype, device, lora, cfg)
    ref_model = None
    if not lora:
        ref_path = initial.base if cfg.reference == "initial" else policy.base
        if not (cfg.precompute_ref_log_probs and cfg.reference == "previous"):
            ref_model = AutoModelForCausalLM.from_pretrained(ref_path, dtype=dtype).to(device)
    args = DPOConfig(beta=cfg.beta, loss_type=["sigmoid"], precompute_ref_log_probs=cfg.precompute_ref_log_probs,
                     **_common_args(cfg, out_dir, device, lora))
    logger = StepLogger(out_dir / "train_log.jsonl")
    trainer = DPOTrainer(model=model, ref_model=ref_model, args=args, train_dataset=data,
                         processing_class=tokenizer, peft_config=peft_config, callbacks=[logger])
    if lora and policy.adapter and cfg.reference == "initial" and "ref" in trainer.model.peft_config:
        trainer.model.delete_adapter("ref")  # reference = adapter switched off = the initial model
        trainer.model.set_adapter("default")
    trainer.train()
    result = _finish(trainer, logger, out_dir, lora, policy, tokenizer, started,
                     {"method": "mipo", "pairs": len(pairs), "reference": cfg.reference, "lora": lora,
                      "learning_rate": args.learning_rate, "beta": cfg.beta})
    _free(trainer, model, ref_model)
    return result


def train_sft(policy: Policy, pairs: list[dict], cfg: TrainingConfig, out_dir: Path, device: str, dtype,
              lora: bool) -> tuple[Policy, dict]:
    """The `sft_self` baseline: supervised fine-tuning on the chosen responses of the same prompts."""
    from datasets import Dataset
    from transformers import AutoTokenizer
    from trl import SFTConfig, SFTTrainer

    started = time.perf_counter()
    tokenizer = AutoTokenizer.from_pretrained(policy.base)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    data = Dataset.from_list([{
        "prompt": p["prompt_messages"], "completion": [{"role": "assistant", "content": p["chosen"]}],
    } for p in pairs])
    model, peft_config = _load_trainable(policy, dtype, device, lora, cfg)
    args = SFTConfig(**_common_args(cfg, out_dir, device, lora))
    logger = StepLogger(out_dir / "train_log.jsonl")
    trainer = SFTTrainer(model=model, args=args, train_dataset=data, processing_class=tokenizer,
                         peft_config=peft_config, callbacks=[logger])
    trainer.train()
    result = _finish(trainer, logger, out_dir, lora, policy, tokenizer, started,
                     {"method": "sft_self", "pairs": len(pairs), "lora": lora, "learning_rate": args.learning_rate})
    _free(trainer, model)
    return result
