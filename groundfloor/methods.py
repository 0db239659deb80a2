"""The registry of methods a suite compares; the config's `methods:` values are its keys.

A method says whether it trains, with which objective (mipo/trainers.py maps each objective to its trainer),
how its round's training data is built (`pairs`: MIPO's negatives or
`verified` pairs ranked by the task's scorer; grpo methods build no pairs, TRL samples rollouts),
its GRPO reward (`reward`: the task's scorer against the gold, or the authors' 1-5 judge rubric) and,
where it overrides the task's, which negative strategy builds its pairs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class Method:
    """One method: `trains` False for the untrained prompting baseline (round 0 only)."""

    name: str
    trains: bool
    objective: Literal["dpo", "sft", "grpo"] | None = None
    negative: str | None = None  # the pairs' negative strategy when the method fixes it (else the task's)
    pairs: Literal["negatives", "verified"] = "negatives"  # dpo/sft: how the round's pairs are built
    reward: Literal["gold", "judge"] | None = None  # grpo: the reward function (mipo/rewards.py)
    description: str = ""


METHODS: dict[str, Method] = {m.name: m for m in (
    Method("prompting", trains=False, description="the model as it is (round 0)"),
    Method("mipo", trains=True, objective="dpo", description="DPO on (answer to x, answer not conditioned on x)"),
    # trains on the chosen side only: the cheapest negative (no generation) fills the pairs' other side
    Method("sft_self", trains=True, objective="sft", negative="derangement",
           description="SFT on the model's own answers"),
    # the positive control: uses the gold label MIPO does not (mipo/verified.py)
    Method("verified_dpo", trains=True, objective="dpo", pairs="verified",
           description="DPO on (an answer the task's scorer passes, one it fails) to the same prompt"),
    Method("rlvr", trains=True, objective="grpo", reward="gold",
           description="GRPO, reward = the task's scorer against the gold answer"),
    Method("rlaif", trains=True, objective="grpo", reward="judge",
           description="GRPO, reward = the authors' 1-5 rubric judged by the initial model"),
)}
DEFAULT_METHOD = "mipo"  # a suite without `methods:` runs this one
BASELINE = next(m.name for m in METHODS.values() if not m.trains)  # the method round 0 is recorded under


def trained(names: list[str]) -> list[Method]:
    """The methods among `names` that train, in order."""
    return [METHODS[n] for n in names if METHODS[n].trains]
