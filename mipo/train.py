"""One training step of a round with TRL: DPO on MIPO pairs, or SFT on the model's own positives.

The trained weights are fp32 on every device (bf16 only as autocast; see mipo/precision.py), checkpoints
are saved in fp32, and every round records how far it moved the weights (mipo/weight_change.py).

The policy is (base model folder, optional LoRA adapter). LoRA rounds keep training one adapter
over the initial model. The reference goes through TRL's public route (see `_reference_model`): the
adapter switched off or TRL's frozen "ref" copy of the adapter where that is the reference asked for,
an explicit `ref_model` otherwise. Full fine-tuning saves a whole checkpoint per round.
"""

from __future__ import annotations

import gc
import json
import math
import os
import shutil
import time
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, PrinterCallback, TrainerCallback

from groundfloor.devices import cpu_has_fast_bf16
from groundfloor.policy import Policy
from groundfloor.progress_hooks import trainer_callback
from groundfloor.records import Pair, TrainSummary
from groundfloor.seal import seal_folder
from mipo import fast_head
from mipo.batching import accumulation_steps
from mipo.config import TrainingConfig
from mipo.precision import check_trainable, weights_dtype
from mipo.trackers import trl_report_to
from mipo.weight_change import full_change, lora_change


class StepLogger(TrainerCallback):
    """Writes every logged step (loss, rewards, margins, log-probs) to a JSONL file; stops on NaN/inf loss."""

    def __init__(self, path: Path):
        self.path = path
        self.nonfinite = False
        if _is_main_process():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("")

    def on_log(self, args, state, control, logs=None, **kwargs):
        logs = dict(logs or {})
        watched = [logs.get(k) for k in ("loss", "grad_norm")]  # the Trainer's own NaN filter is off (see common_args)
        if any(v is not None and not math.isfinite(float(v)) for v in watched):
            self.nonfinite = True
            control.should_training_stop = True
        if state.is_world_process_zero:
            with open(self.path, "a") as f:
                f.write(json.dumps({"step": state.global_step, **logs}) + "\n")
        return control


def _is_main_process() -> bool:
    """True outside distributed runs and on rank 0 under `accelerate launch`."""
    return int(os.environ.get("RANK", "0")) == 0


def _place(model, device: str):
    """Move to the CPU/GPU of this process; under `accelerate launch` the Trainer places the model itself."""
    if device == "cuda" and "LOCAL_RANK" in os.environ:
        return model
    return model.to(device)


def default_learning_rate(cfg: TrainingConfig, lora: bool) -> float:
    """The paper's 5e-7 for full fine-tuning; 2e-4 for LoRA (a zero-initialised adapter and a handful of
    CPU steps: at 5e-5 the quick suite's reward margins stayed within +-0.06 of zero)."""
    if cfg.learning_rate is not None:
        return cfg.learning_rate
    return 2e-4 if lora else 5e-7


def run_name(out_dir: Path) -> str:
    """The tracker run name of a round's training: model/method/round_k[/task], from its folder in the run."""
    parts = list(out_dir.parts)
    inside = parts[len(parts) - parts[::-1].index("models"):] if "models" in parts else parts[-4:]
    return "/".join(p for p in inside if p not in ("lineages", "train"))


def common_args(cfg: TrainingConfig, out_dir: Path, device: str, lora: bool) -> dict:
    """The TRL config fields every objective shares (DPO, SFT, GRPO: mipo/grpo.py)."""
    bf16 = cfg.bf16 if cfg.bf16 is not None else (device == "cuda" or cpu_has_fast_bf16())
    return dict(
        output_dir=str(out_dir / "trainer"), learning_rate=default_learning_rate(cfg, lora),
        adam_beta1=cfg.adam_beta1, adam_beta2=cfg.adam_beta2, weight_decay=cfg.weight_decay,
        lr_scheduler_type=cfg.lr_scheduler_type, warmup_steps=float(min(cfg.warmup_ratio, 0.999)),
        per_device_train_batch_size=cfg.per_device_batch_size,
        gradient_accumulation_steps=accumulation_steps(cfg), num_train_epochs=cfg.epochs,
        max_length=cfg.max_length, logging_steps=1, save_strategy="no", report_to=trl_report_to(cfg),
        run_name=run_name(out_dir),
        bf16=bf16, use_cpu=device == "cpu", gradient_checkpointing=device == "cuda" and not lora,
        seed=cfg.seed, data_seed=cfg.seed, disable_tqdm=True, dataloader_num_workers=0,
        logging_nan_inf_filter=False,  # else a NaN/inf loss is logged as the previous mean and goes unnoticed
        # the authors' cosine decays to 0.1x the peak learning rate
        lr_scheduler_kwargs={"min_lr_rate": 0.1} if cfg.lr_scheduler_type == "cosine_with_min_lr" else {},
    )


def load_trainable(policy: Policy, device: str, lora: bool, cfg: TrainingConfig):
    """The model to train: base weights, plus the previous adapter (trainable) when there is one."""
    # fp32 master weights under bf16 autocast on every device (CPU: 59 s vs 77 s with bf16 weights, 105 s fp32)
    model = AutoModelForCausalLM.from_pretrained(policy.base, dtype=weights_dtype(cfg))
    peft_config = None
    if lora:
        from peft import LoraConfig, PeftModel

        if policy.adapter:
            model = PeftModel.from_pretrained(model, policy.adapter, is_trainable=True)
        else:
            peft_config = LoraConfig(r=cfg.lora_r, lora_alpha=cfg.lora_alpha, lora_dropout=cfg.lora_dropout,
                                     target_modules="all-linear", task_type="CAUSAL_LM")
    return _place(model, device), peft_config


def weight_change(new: Policy, parent: Policy, lora: bool) -> dict:
    """relative_weight_change of a trained policy against its parent (see mipo/weight_change.py)."""
    if lora:
        return lora_change(new.adapter, parent.adapter, parent.base)
    return full_change(new.base, parent.base)


def finish(trainer, logger: StepLogger, out_dir: Path, lora: bool, policy: Policy, tokenizer,
           started: float, extra: dict) -> tuple[Policy, TrainSummary]:
    """Save the new checkpoint (unless the loss went non-finite), measure its weight change, summarise the logs."""
    steps = [json.loads(line) for line in logger.path.read_text().splitlines() if line.strip()]
    sealed: dict[str, str] = {}
    ckpt = out_dir / "checkpoint"
    tmp = out_dir / "checkpoint.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    if logger.nonfinite:
        new_policy = policy  # keep the previous checkpoint
    else:
        trainer.save_model(str(tmp))  # main process only; gathers ZeRO/FSDP shards
        if trainer.is_world_process_zero():
            if not lora:
                tokenizer.save_pretrained(str(tmp))
            shutil.rmtree(ckpt, ignore_errors=True)
            tmp.rename(ckpt)
            sealed = seal_folder(ckpt)  # fsynced, hashed: a resume verifies the checkpoint against these
        trainer.accelerator.wait_for_everyone()
        new_policy = Policy(base=policy.base, adapter=str(ckpt)) if lora else Policy(base=str(ckpt))
    summary: TrainSummary = {
        "steps": len([s for s in steps if "loss" in s]), "seconds": round(time.perf_counter() - started, 2),
        "nonfinite_loss": logger.nonfinite, "policy": new_policy.to_dict(), **extra,
        "trained_dtype": _dtypes(trainer.model, trainable=True), "autocast_bf16": bool(trainer.args.bf16),
        "checkpoint_sha256": sealed, "training_route": getattr(trainer, "mipo_route", "trl"),
        "frozen_dtype": _dtypes(trainer.model, trainable=False) or None}
    if not logger.nonfinite and trainer.is_world_process_zero():
        summary.update(weight_change(new_policy, policy, lora))
    summary["max_learning_rate"] = max([float(s["learning_rate"]) for s in steps if "learning_rate" in s], default=0.0)
    for key in ("loss", "rewards/accuracies", "rewards/margins", "rewards/chosen", "rewards/rejected",
                "logps/chosen", "logps/rejected"):
        vals = [float(s[key]) for s in steps if key in s]
        if vals:
            summary[f"mean_{key.replace('/', '_')}"] = sum(vals) / len(vals)
            summary[f"last_{key.replace('/', '_')}"] = vals[-1]
    summary.update(_lengths(trainer))
    return new_policy, summary


def _dtypes(model, trainable: bool) -> str:
    """The dtypes of the model's trained (or frozen) parameters, "/"-joined."""
    return "/".join(sorted({str(p.dtype).removeprefix("torch.") for p in model.parameters()
                            if p.requires_grad == trainable}))


def _lengths(trainer) -> dict:
    """Mean token lengths of the tokenized training data (chosen/rejected, or SFT completions)."""
    cols = trainer.train_dataset.column_names
    out = {}
    for key, col in (("chosen", "chosen_ids"), ("rejected", "rejected_ids"), ("completion", "labels")):
        if col in cols:
            lens = [sum(t != -100 for t in x) if col == "labels" else len(x) for x in trainer.train_dataset[col]]
            out[f"mean_{key}_tokens"] = sum(lens) / max(1, len(lens))
    return out


def free(*objs) -> None:
    """Drop a trainer and give its memory back (the CUDA cache too)."""
    del objs
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def _reference_model(policy: Policy, initial: Policy, cfg: TrainingConfig, device: str, lora: bool):
    """The `ref_model` handed to TRL's DPOTrainer, or None where TRL's own reference is the right one.

    TRL's public behaviour covers the rest: with a `peft_config` (round 1 of LoRA) the reference is the
    adapter switched off (= the initial model); with a trained adapter and no `ref_model`, TRL freezes a
    copy of it as the "ref" adapter (= the previous policy). LoRA with reference=initial in a later round,
    and full fine-tuning, get the reference model loaded here.
    """
    if lora:
        if not (policy.adapter and cfg.reference == "initial"):
            return None
        ref_path = initial.base
    else:
        ref_path = initial.base if cfg.reference == "initial" else policy.base
        if cfg.precompute_ref_log_probs and cfg.reference == "previous":
            return None  # TRL precomputes with the policy itself before the first step
    return _place(AutoModelForCausalLM.from_pretrained(ref_path, dtype=weights_dtype(cfg)), device)


def trl_args(cfg: TrainingConfig, kind: str) -> dict:
    """`training.dpo_args` / `training.sft_args`: further TRL config fields; unknown or owned-here keys are refused."""
    import dataclasses

    extra = cfg.dpo_args if kind == "dpo" else cfg.sft_args
    if not extra:
        return {}
    if kind == "dpo":
        from trl import DPOConfig as config_cls
    else:
        from trl import SFTConfig as config_cls
    known = {f.name for f in dataclasses.fields(config_cls)}
    owned = set(common_args(cfg, Path("."), "cpu", False)) | {"beta", "loss_type", "precompute_ref_log_probs"}
    return checked_passthrough(extra, known, owned, f"training.{kind}_args", config_cls.__name__)


def checked_passthrough(extra: dict, known: set[str], owned: set[str], where: str, config_name: str) -> dict:
    """TRL pass-through fields `extra` (at `where`), refusing unknown keys (with the closest field) and keys that
    the training section owns."""
    import difflib

    from groundfloor.errors import UserError

    for key in extra:
        if key not in known:
            close = difflib.get_close_matches(key, sorted(known), n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            raise UserError(f"{where}: '{key}' is not a field of TRL's {config_name}{hint}")
        if key in owned:
            raise UserError(f"{where}: '{key}' is set from the training section; set it there (docs/fidelity.md)")
    return dict(extra)


def build_dpo_trainer(policy: Policy, initial: Policy, pairs: list[Pair], cfg: TrainingConfig, out_dir: Path,
                      device: str, lora: bool):
    """The configured DPO trainer (sigmoid loss, reference per `cfg.reference`) and its step logger."""
    from datasets import Dataset
    from transformers import AutoTokenizer
    from trl import DPOConfig, DPOTrainer

    tokenizer = AutoTokenizer.from_pretrained(policy.base)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    data = Dataset.from_list([{
        "prompt": p["prompt_messages"],
        "chosen": [{"role": "assistant", "content": p["chosen"]}],
        "rejected": [{"role": "assistant", "content": p["rejected"]}],
    } for p in pairs])
    model, peft_config = load_trainable(policy, device, lora, cfg)
    ref_model = _reference_model(policy, initial, cfg, device, lora)
    args = DPOConfig(beta=cfg.beta, loss_type=["sigmoid"], precompute_ref_log_probs=cfg.precompute_ref_log_probs,
                     **common_args(cfg, out_dir, device, lora), **trl_args(cfg, "dpo"))
    logger = StepLogger(out_dir / "train_log.jsonl")
    trainer = DPOTrainer(model=model, ref_model=ref_model, args=args, train_dataset=data, processing_class=tokenizer,
                         peft_config=peft_config, callbacks=[logger, trainer_callback("DPO training")])
    trainer.remove_callback(PrinterCallback)  # the run's display shows the logs (and run.log keeps them)
    trainer.mipo_route = fast_head.apply_route(trainer, cfg.route, device, fast_head.DPO_OUTPUTS)
    _check_ready(trainer, len(pairs), cfg)
    return trainer, logger


def _check_ready(trainer, n_pairs: int, cfg: TrainingConfig) -> None:
    """Precision refused as in mipo/precision.py; a dataset TRL emptied (every pair over max_length) is a RunFailure."""
    from groundfloor.errors import RunFailure

    check_trainable(trainer.model, trainer.is_deepspeed_enabled)
    if len(trainer.train_dataset) == 0:
        raise RunFailure(f"all {n_pairs} training examples are longer than training.max_length "
                         f"({cfg.max_length} tokens); raise it")


def train_dpo(policy: Policy, initial: Policy, pairs: list[Pair], cfg: TrainingConfig, out_dir: Path,
              device: str, lora: bool) -> tuple[Policy, TrainSummary]:
    """DPO (sigmoid loss) on conversational pairs; returns the new policy and a summary."""
    started = time.perf_counter()
    trainer, logger = build_dpo_trainer(policy, initial, pairs, cfg, out_dir, device, lora)
    trainer.train()
    result = finish(trainer, logger, out_dir, lora, policy, trainer.processing_class, started,
                     {"method": "mipo", "pairs": len(pairs), "reference": cfg.reference, "lora": lora,
                      "learning_rate": trainer.args.learning_rate, "beta": cfg.beta,
                      "precompute_ref_log_probs": cfg.precompute_ref_log_probs})
    free(trainer)
    return result


def train_sft(policy: Policy, pairs: list[Pair], cfg: TrainingConfig, out_dir: Path, device: str,
              lora: bool) -> tuple[Policy, TrainSummary]:
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
    model, peft_config = load_trainable(policy, device, lora, cfg)
    args = SFTConfig(**common_args(cfg, out_dir, device, lora), **trl_args(cfg, "sft"))
    logger = StepLogger(out_dir / "train_log.jsonl")
    trainer = SFTTrainer(model=model, args=args, train_dataset=data, processing_class=tokenizer,
                         peft_config=peft_config, callbacks=[logger, trainer_callback("SFT training")])
    trainer.remove_callback(PrinterCallback)
    trainer.mipo_route = fast_head.apply_route(trainer, cfg.route, device, fast_head.SFT_OUTPUTS)
    _check_ready(trainer, len(pairs), cfg)
    trainer.train()
    result = finish(trainer, logger, out_dir, lora, policy, tokenizer, started,
                     {"method": "sft_self", "pairs": len(pairs), "lora": lora, "learning_rate": args.learning_rate})
    free(trainer)
    return result
