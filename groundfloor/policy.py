"""A round's policy (where its model lives) and the policy a finished round left in the run folder."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from groundfloor.errors import RunFailure
from groundfloor.rundir import from_run_relative, run_relative
from groundfloor.seal import sealed_problem


@dataclass(frozen=True)
class Policy:
    """Where a round's model lives: a full model folder plus, for LoRA, an adapter folder."""

    base: str
    adapter: str | None = None

    def to_dict(self) -> dict:
        return {"base": self.base, "adapter": self.adapter}


def finished_policy(round_dir: Path, run_root: Path | None = None) -> Policy | None:
    """The policy a finished round produced (its checkpoint verified), or None if the round has not finished.

    A checkpoint that is missing or no longer matches the sha256 recorded when it was written is a
    RunFailure: evaluating it would mix its results with the round's recorded ones.
    """
    path = round_dir / "train_summary.json"
    if not path.exists():
        return None
    summary = json.loads(path.read_text())
    pol = summary["policy"]
    root = run_root or round_dir
    policy = Policy(base=from_run_relative(pol["base"], root), adapter=from_run_relative(pol.get("adapter"), root))
    if summary.get("nonfinite_loss"):
        return policy  # the round kept its parent's checkpoint
    ckpt = policy.adapter or policy.base
    recorded = summary.get("checkpoint_sha256")
    problem = sealed_problem(ckpt, recorded, root) if recorded else \
        (None if Path(ckpt).is_dir() else f"{run_relative(ckpt, root)} is missing")
    if problem:  # paths inside the run are shown relative to it
        raise RunFailure(f"the finished round's checkpoint cannot be used ({problem}); "
                         f"delete {run_relative(path, root)} to train the round again")
    return policy


def run_relative_policy(policy: Policy, run_root: Path | None) -> dict:
    """The policy's paths as train_summary.json keeps them: relative to the run root where inside it."""
    if run_root is None:
        return policy.to_dict()
    return {"base": run_relative(policy.base, run_root), "adapter": run_relative(policy.adapter, run_root)}
