"""Which train prompts a round uses."""

from __future__ import annotations

from tasks.base import Item
from tasks.plan import TaskPlan


def round_prompts(plan: TaskPlan, per_task: int, round_k: int, fresh: bool) -> list[Item]:
    """The train prompts for round k: consecutive fresh slices of the shuffled pool, or the same slice."""
    pool = plan.train_pool
    if not pool:
        return []
    per_task = min(per_task, len(pool))
    start = ((round_k - 1) * per_task) % len(pool) if fresh else 0
    picked = [pool[(start + i) % len(pool)] for i in range(per_task)]
    return picked
