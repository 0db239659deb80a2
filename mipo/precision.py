"""Training precision: fp32 master weights everywhere, bf16 only as autocast (mixed precision).

At the paper's lr 5e-7 an AdamW step changes a weight by ~5e-7, far below bf16's resolution (~0.4 % of the
weight), so a plain optimizer over bf16 weights leaves the model unchanged. Training therefore loads the
trained weights in `training.weights_dtype` (float32 by default) and uses bf16 only through autocast
(`training.bf16`). bf16/fp16 trained weights are allowed only under DeepSpeed, whose optimizer keeps an
fp32 master copy; anything else is refused before any work (`precision_problem`) and again on the loaded
model (`check_trainable`).
"""

from __future__ import annotations

import torch

from groundfloor.errors import UserError
from mipo.config import TrainingConfig

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
LOW = (torch.bfloat16, torch.float16)


def weights_dtype(cfg: TrainingConfig) -> torch.dtype:
    """The dtype the trained (and reference) model is loaded in."""
    return DTYPES[cfg.weights_dtype]


def uses_deepspeed(cfg: TrainingConfig) -> bool:
    """True when rounds train under `accelerate launch` with a DeepSpeed config (fp32 master copy)."""
    if cfg.launcher != "accelerate":
        return False
    import yaml

    from mipo.launch import resolve_config

    data = yaml.safe_load(resolve_config(cfg.accelerate_config).read_text()) or {}
    return str(data.get("distributed_type", "")).upper() == "DEEPSPEED"


def precision_problem(cfg: TrainingConfig, lora: bool) -> str | None:
    """One line naming the setting and the fix when full fine-tuning would update bf16/fp16 weights directly.

    LoRA is fine in any weights dtype: the trained adapter is created in fp32 (PEFT's autocast_adapter_dtype).
    """
    if cfg.weights_dtype == "float32" or lora or uses_deepspeed(cfg):
        return None
    return (f"training.weights_dtype: {cfg.weights_dtype} would train {cfg.weights_dtype} weights with a plain "
            "AdamW (steps at lr 5e-7 round to zero); set training.weights_dtype: float32 (bf16 stays on as "
            "autocast via training.bf16) or train under DeepSpeed (training.launcher: accelerate)")


def check_trainable(model, deepspeed: bool) -> None:
    """Refuse a loaded model whose trainable parameters are bf16/fp16 outside DeepSpeed."""
    low = sorted({str(p.dtype).removeprefix("torch.") for p in model.parameters() if p.requires_grad and
                  p.dtype in LOW})
    if low and not deepspeed:
        raise UserError(f"training would update {'/'.join(low)} parameters with a plain optimizer (steps at lr 5e-7 "
                        "round to zero); set training.weights_dtype: float32")
