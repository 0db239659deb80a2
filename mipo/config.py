"""The training blocks of a suite: TRL settings, how a round builds its pairs, the baselines' settings.

harness/config.py composes them into the suite config; `RoundSettings` is the part of it a round reads.
"""

from __future__ import annotations

from typing import Any, Literal, Protocol

from pydantic import Field, field_validator

from groundfloor.limits import MAX_BATCH, MAX_ITEMS, MAX_ROUNDS, MAX_SEED
from groundfloor.settings import MAX_NEW_TOKENS, GenerationConfig, Strict
from tasks.spec import pair_budget

TRACKERS = ("tensorboard", "wandb")  # training.report_to (mipo/trackers.py)


class TrainingConfig(Strict):
    """TRL training settings. Defaults follow the paper on GPU; LoRA with a larger lr on CPU."""

    mode: Literal["auto", "lora", "full"] = "auto"
    beta: float = Field(default=0.1, gt=0)
    learning_rate: float | None = Field(default=None, gt=0)
    adam_beta1: float = 0.9
    adam_beta2: float = 0.95
    weight_decay: float = 0.0
    lr_scheduler_type: str = "cosine_with_min_lr"  # the authors': cosine to a floor of 0.1x the peak
    warmup_ratio: float = Field(default=0.03, ge=0, le=1)
    per_device_batch_size: int = Field(default=1, gt=0, le=MAX_BATCH)
    # pairs per optimizer step over all devices; None: 4 (the paper's), or per_device x accumulation x devices
    # when gradient_accumulation_steps is set. Accumulation is derived from it (mipo/batching.py)
    global_batch_size: int | None = Field(default=None, gt=0, le=MAX_BATCH)
    gradient_accumulation_steps: int | None = Field(default=None, gt=0, le=MAX_BATCH)  # None: derived from the global batch
    epochs: float = Field(default=1.0, gt=0, le=MAX_ROUNDS)
    max_length: int = Field(default=2048, gt=0, le=MAX_NEW_TOKENS * 32)  # prompt + response; the 8-shot GSM8K prompt alone is ~900 tokens
    lora_r: int = Field(default=16, gt=0, le=MAX_BATCH)
    lora_alpha: int = Field(default=32, gt=0, le=MAX_BATCH)
    lora_dropout: float = Field(default=0.0, ge=0, lt=1)
    reference: Literal["initial", "previous"] = "initial"
    precompute_ref_log_probs: bool = False
    # fast: TRL's trainers with the LM head projected only at scored (completion) tokens and a log-prob-only
    # reference forward (mipo/fast_head.py; same loss); trl: TRL's own CPU path (every position); auto = fast
    route: Literal["auto", "fast", "trl"] = "auto"
    bf16: bool | None = None  # bf16 autocast (mixed precision) over the weights below; None = CUDA or fast-bf16 CPU
    # dtype of the trained (master) weights; bf16/fp16 with a plain optimizer is refused (lr 5e-7 steps round to 0)
    weights_dtype: Literal["float32", "bfloat16", "float16"] = "float32"
    # per_task: one lineage per task, trained on its pairs only, evaluated on it (the paper); joint: one model
    scope: Literal["per_task", "joint"] = "per_task"
    transfer: bool = False  # per_task: also evaluate each task's policy on every other task
    report_to: list[str] = Field(default_factory=list)
    # further DPOConfig / SFTConfig fields, passed through (checked against TRL's config; the settings above win)
    dpo_args: dict[str, Any] = Field(default_factory=dict)
    sft_args: dict[str, Any] = Field(default_factory=dict)
    grpo_args: dict[str, Any] = Field(default_factory=dict)  # GRPOConfig fields for rlvr / rlaif (mipo/grpo.py)
    seed: int = Field(default=42, ge=0, le=MAX_SEED)
    launcher: Literal["inprocess", "accelerate"] = "inprocess"  # accelerate: multi-GPU via `accelerate launch`
    accelerate_config: str = "configs/accelerate_zero2.yaml"

    @field_validator("report_to", mode="before")
    @classmethod
    def _trackers(cls, v: Any) -> Any:
        """tensorboard and/or wandb (one name or a list); mipo/trackers.py groups them per lineage."""
        v = [v] if isinstance(v, str) else v
        for name in v if isinstance(v, list) else []:
            if name not in TRACKERS:
                raise ValueError(f"'{name}' is not a tracker; choose from {', '.join(TRACKERS)} (none: [])")
            if v.count(name) > 1:
                raise ValueError(f"'{name}' is listed twice")
        return v


class MipoConfig(Strict):
    """How each round builds its training pairs."""

    train_prompts_per_round: int | Literal["all"] = 64  # per task; all = the task's whole train pool
    fresh_prompts: bool = True
    # held-out prompts of the PMI diagnostic, the same every round (paired round k vs round 0); 0 = off
    diagnostics_prompts: int = Field(default=16, ge=0, le=MAX_ITEMS)
    sampling: GenerationConfig | None = None

    @field_validator("train_prompts_per_round", mode="before")
    @classmethod
    def _budget(cls, v: Any) -> Any:
        return pair_budget(v)


class VerifiedConfig(Strict):
    """The positive control `verified_dpo`: k sampled answers per train prompt, ranked by the task's scorer."""

    samples_per_prompt: int = Field(default=4, ge=2, le=MAX_BATCH)
    sampling: GenerationConfig | None = None  # over the task's train sampling (e.g. a higher temperature)


class RlaifConfig(Strict):
    """The `rlaif` judge: the initial model, frozen, answering the authors' 1-5 rubric."""

    judge_max_new_tokens: int = Field(default=16, gt=0, le=MAX_NEW_TOKENS)
    # None: the initial model judges (the authors'); an alias, hub id or folder: that model judges instead, a named
    # deviation (docs/fidelity.md) for policies too small to answer the rubric (docs/measurements/rlaif_judge_probe)
    judge_model: str | None = Field(default=None, min_length=1)


class RoundSettings(Protocol):
    """What a round reads of the suite config (harness/config.py `SuiteConfig` has it)."""

    seed: int
    training: TrainingConfig
    mipo: MipoConfig
    verified_dpo: VerifiedConfig
    rlaif: RlaifConfig
