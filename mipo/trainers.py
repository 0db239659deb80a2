"""The trainer of each objective (`groundfloor.methods.Method.objective`): the one map from objective to trainer.

The round (mipo/rounds.py, mipo/grpo_round.py), the `accelerate launch` process (mipo/launch.py) and the dry
run's cost model (harness/run/gpu_plan.py) all read it. Every trainer has one signature,

    train(policy, initial, examples, cfg, out_dir, device, lora, rollouts=None) -> (new policy, TrainSummary)

- dpo: DPO on preference pairs, against `initial` or the previous policy (`training.reference`; mipo/train.py);
- sft: SFT on the pairs' chosen answers (`initial` unused);
- grpo: GRPO on the round's prompts: TRL samples rollouts and scores them with `rollouts.reward` (mipo/grpo.py).
  It builds no pairs and trains in the runner's process (its reward needs the task objects).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from groundfloor.backends.base import GenParams
from groundfloor.methods import METHODS
from groundfloor.policy import Policy
from groundfloor.records import Pair, TrainSummary
from mipo.config import TrainingConfig
from mipo.grpo import NUM_GENERATIONS, train_grpo
from mipo.rewards import Reward
from mipo.train import train_dpo, train_sft


@dataclass(frozen=True)
class Rollouts:
    """What GRPO samples and scores its rollouts with: the method's reward and the task's train sampling."""

    reward: Reward
    sampling: GenParams


class Train(Protocol):
    def __call__(self, policy: Policy, initial: Policy, examples: list[Pair] | list[dict], cfg: TrainingConfig,
                 out_dir: Path, device: str, lora: bool,
                 rollouts: Rollouts | None = None) -> tuple[Policy, TrainSummary]: ...


@dataclass(frozen=True)
class Trainer:
    """One objective's trainer and what the GPU plan's cost model needs to know about it."""

    train: Train
    sequences: int  # sequences trained per example: SFT's chosen answer, DPO's chosen and rejected, GRPO's group
    flops_per_token: int  # training FLOPs per parameter and trained token (harness/run/gpu_plan.py)
    rollouts: bool = False  # trains on prompts, sampling its own completions (no pairs, no accelerate launch)


def _dpo(policy: Policy, initial: Policy, examples: list[Pair], cfg: TrainingConfig, out_dir: Path, device: str,
         lora: bool, rollouts: Rollouts | None = None) -> tuple[Policy, TrainSummary]:
    return train_dpo(policy, initial, examples, cfg, out_dir, device, lora)


def _sft(policy: Policy, initial: Policy, examples: list[Pair], cfg: TrainingConfig, out_dir: Path, device: str,
         lora: bool, rollouts: Rollouts | None = None) -> tuple[Policy, TrainSummary]:
    return train_sft(policy, examples, cfg, out_dir, device, lora)


def _grpo(policy: Policy, initial: Policy, examples: list[dict], cfg: TrainingConfig, out_dir: Path, device: str,
          lora: bool, rollouts: Rollouts | None = None) -> tuple[Policy, TrainSummary]:
    if rollouts is None:
        raise ValueError("GRPO trains on rollouts: pass the round's reward and sampling")
    return train_grpo(policy, examples, rollouts.reward, cfg, rollouts.sampling, out_dir, device, lora)


TRAINERS: dict[str, Trainer] = {
    "dpo": Trainer(_dpo, sequences=2, flops_per_token=10),  # forward, backward, recompute, reference forward
    "sft": Trainer(_sft, sequences=1, flops_per_token=8),
    "grpo": Trainer(_grpo, sequences=NUM_GENERATIONS, flops_per_token=8, rollouts=True),
}


def trainer_of(method: str) -> Trainer:
    """The trainer of a method that trains (`groundfloor.methods.METHODS`)."""
    return TRAINERS[METHODS[method].objective]
