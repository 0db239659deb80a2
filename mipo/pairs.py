"""Preference pairs for MIPO: chosen = the model's answer to x; rejected = an answer not conditioned on x.

How the rejected side is written is the pair's negative strategy (`tasks.negatives.NEGATIVES`); each
pair records its strategy and the prompt its rejected response answered, checked by `check_provenance`.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace

from groundfloor.backends.base import Backend, GenParams
from groundfloor.records import Pair
from tasks.base import Item, Task
from tasks.negatives import NEGATIVES, derangement, drop_period_piece, drop_sentence, partial_question

__all__ = ["NEGATIVE_SEED_OFFSET", "PairStats", "build_pairs", "check_provenance", "derangement",
           "drop_period_piece", "drop_sentence", "partial_question"]

# negatives sample with seed + this offset: a resampled answer to prompt j must not repeat j's positive
# (the transformers backend seeds each request from the seed and the prompt)
NEGATIVE_SEED_OFFSET = 7919


@dataclass
class PairStats:
    built: int = 0
    dropped_identical: int = 0
    dropped_no_negative: int = 0  # no other prompt in its pair group, or no sentence to drop


def build_pairs(task: Task, items: list[Item], positives: list[str], strategy: str, backend: Backend,
                params: GenParams, seed: int, round_k: int) -> tuple[list[Pair], PairStats]:
    """One pair per item (minus identical pairs and items without a negative), with strategy and provenance."""
    if strategy not in NEGATIVES:
        raise ValueError(f"unknown negative strategy {strategy}")
    negative = NEGATIVES[strategy]
    negative.check(task, items)
    rng = random.Random(seed)
    params = replace(params, seed=params.seed + NEGATIVE_SEED_OFFSET)
    prompts = [task.train_messages(it, with_context=True) for it in items]
    rejected, sources, rejected_prompts = negative.rejected(task, items, positives, backend, params, rng)
    pairs: list[Pair] = []
    stats = PairStats()
    for i, it in enumerate(items):
        if rejected[i] is None:
            stats.dropped_no_negative += 1
            continue
        if positives[i].strip() == rejected[i].strip():
            stats.dropped_identical += 1
            continue
        pairs.append(Pair(
            prompt_id=it.id, task=task.id, round=round_k,
            prompt=prompts[i][-1]["content"], prompt_messages=prompts[i],
            chosen=positives[i], rejected=rejected[i],
            negative_strategy=strategy, rejected_from=sources[i],
            rejected_prompt=rejected_prompts[i][-1]["content"] if rejected_prompts[i] else None,
        ))
    stats.built = len(pairs)
    return pairs, stats


def check_provenance(pairs: list[Pair]) -> list[str]:
    """Problems found: a derangement/resample negative from its own prompt, or a context_drop from another."""
    return [problem for p in pairs if p["negative_strategy"] in NEGATIVES
            for problem in NEGATIVES[p["negative_strategy"]].provenance_problems(p)]
