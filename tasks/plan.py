"""One task of a run, fully resolved (`TaskPlan`), and how its decoding settings are merged."""

from __future__ import annotations

from dataclasses import dataclass, field

from groundfloor.backends.base import GenParams
from groundfloor.settings import GenerationConfig
from tasks.base import DataSplit, GenerationSettings, Item, Task
from tasks.disjoint import EvalPrompts
from tasks.spec import TaskSpec


@dataclass
class TaskPlan:
    """One task of a run, fully resolved."""

    task: Task
    spec: TaskSpec
    eval_items: list[Item]
    train_pool: list[Item]
    diag_items: list[Item]
    negative: str
    gen: GenParams
    train_gen: GenParams
    partial: bool
    split: DataSplit
    disjoint: dict = field(default_factory=dict)
    data: dict = field(default_factory=dict)  # which source was used and why (tasks/loader.py)
    code_version: dict = field(default_factory=dict)  # harness/evaluation/provenance.py code_version
    eval_prompts: EvalPrompts | None = None  # this task's evaluation pool, indexed once (tasks/disjoint.py)
    run_eval_prompts: EvalPrompts | None = None  # every prompt the run evaluates (all tasks; link_eval_prompts)

    def manifest(self) -> dict:
        return {
            "task": self.task.id, "family": self.task.family, "n_eval": len(self.eval_items),
            "eval_pool": len(self.split.eval_items), "train_pool": len(self.train_pool),
            "diagnostic_prompts": len(self.diag_items), "negative_strategy": self.negative,
            "partial": self.partial, "eval_source": self.split.eval_source.__dict__,
            "train_source": self.split.train_source.__dict__, "generation": self.gen.to_dict(),
            "train_generation": self.train_gen.to_dict(), "options": self.task.options.model_dump(),
            "disjointness": self.disjoint, "data": self.data, "code_version": self.code_version,
            "label_leak": self.task.label_leak,
        }


def merge_generation(task_default: GenerationSettings, *overrides: GenerationConfig | None,
                     seed: int) -> GenParams:
    """Task default, then suite-wide, then per-task overrides (later wins)."""
    values = dict(max_new_tokens=task_default.max_new_tokens, temperature=task_default.temperature,
                  top_p=task_default.top_p, greedy=task_default.greedy, batch_size=8, seed=seed)
    for ov in overrides:
        if ov is None:
            continue
        for key, val in ov.model_dump(exclude={"engine"}).items():  # the engine is not a decoding setting
            if val is not None:
                values[key] = val
    return GenParams(**values)
