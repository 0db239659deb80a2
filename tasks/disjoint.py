"""Train/eval separation: one identity for a prompt, one function that clears a train pool, one index per run.

A prompt's identity is the hash of its item's normalised profile + question (`identity`). Each task's plan
indexes its evaluation pool once (`EvalPrompts.of_items`) and keeps only the train items outside it
(`disjoint_train`); the run merges the tasks' indexes (`EvalPrompts.of`), and every round checks its pairs
against that index before training (`check_round_prompts`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tasks.base import Item
from tasks.sources import item_key

CHECK_METHOD = ("sha256 (first 16 hex) of the normalised profile + question of each pair's item, against those of "
                "every item in every task's evaluation pool")


def identity(item: Item) -> str:
    """The one identity rule of train/eval separation: the hash of the item's profile + question."""
    return item_key(item, "context+question")


@dataclass
class EvalPrompts:
    """Every evaluated prompt's identity -> "task:item id" (the first task that evaluates it)."""

    items: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of_items(cls, task_id: str, items: list[Item]) -> "EvalPrompts":
        index = cls()
        for it in items:
            index.items.setdefault(identity(it), f"{task_id}:{it.id}")
        return index

    @classmethod
    def of(cls, plans: list) -> "EvalPrompts":
        """The run's index: the tasks' own indexes merged (built once each, when the task was planned)."""
        index = cls()
        for plan in plans:
            own = getattr(plan, "eval_prompts", None) or cls.of_items(plan.task.id, plan.split.eval_items)
            for key, where in own.items.items():
                index.items.setdefault(key, where)
        return index


def disjoint_train(index: EvalPrompts, train: list[Item]) -> tuple[list[Item], dict[str, Any]]:
    """The train items whose identity no evaluated prompt has, and the record of the check (manifest.json)."""
    kept = [it for it in train if identity(it) not in index.items]
    return kept, {"eval_hashes": len(index.items), "train_hashes": len({identity(it) for it in kept}),
                  "overlap": 0, "ok": True, "method": "sha256 of the normalised prompt text, first 16 hex",
                  "removed_overlapping_train_prompts": len(train) - len(kept)}


def check_disjoint(eval_items: list[Item], train_items: list[Item]) -> dict[str, Any]:
    """Whether two pools share a prompt: `disjoint_train` over them, its removals counted as the overlap."""
    _, record = disjoint_train(EvalPrompts.of_items("eval", eval_items), train_items)
    overlap = record.pop("removed_overlapping_train_prompts")
    return {**record, "overlap": overlap, "ok": overlap == 0}


def check_round_prompts(pairs: list[dict], plans: list, index: EvalPrompts) -> dict[str, Any]:
    """Check that no pair's prompt is an evaluated prompt, and that every pair comes from its task's train pool."""
    pools = {p.task.id: {it.id: it for it in p.train_pool + p.diag_items} for p in plans}
    overlap, unknown = [], []
    for pair in pairs:
        item = pools.get(pair["task"], {}).get(pair["prompt_id"])
        if item is None:
            unknown.append(f"{pair['task']}:{pair['prompt_id']}")
            continue
        hit = index.items.get(identity(item))
        if hit:
            overlap.append(f"{pair['task']}:{pair['prompt_id']} = evaluated {hit}")
    problem = None
    if overlap:
        problem = f"{len(overlap)} train prompt(s) are evaluated prompts (first: {overlap[0]})"
    elif unknown:
        problem = f"{len(unknown)} pair(s) come from outside their task's train pool (first: {unknown[0]})"
    return {"pairs": len(pairs), "prompts": len({(p["task"], p["prompt_id"]) for p in pairs}),
            "eval_prompts": len(index.items), "overlap": len(overlap), "outside_train_pool": len(unknown),
            "examples": (overlap or unknown)[:5], "ok": problem is None, "problem": problem, "method": CHECK_METHOD}


def round_check(pairs: list[dict], plans: list) -> dict[str, Any]:
    """`check_round_prompts` against the run's evaluated prompts (every task's, linked by the runner)."""
    index = next((p.run_eval_prompts for p in plans if getattr(p, "run_eval_prompts", None)), None)
    return check_round_prompts(pairs, plans, index or EvalPrompts.of(plans))
