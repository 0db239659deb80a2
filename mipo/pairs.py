"""Preference pairs for MIPO: chosen = the model's answer to x; rejected = an answer not conditioned on x.

Strategies:
- derangement: the answer the model wrote for another prompt (a permutation with no fixed point);
- resample: a fresh sample for a random other prompt;
- context_drop: the answer to the same query with the user's profile removed;
- partial_prompt: the answer to x with one sentence of the problem removed (an ablation).
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, replace

from harness.backends.base import Backend, GenParams
from tasks.base import Item, Task

STRATEGIES = ("derangement", "resample", "context_drop", "partial_prompt")
# negatives sample with seed + this offset: a resampled answer to prompt j must not repeat j's positive
# (the transformers backend seeds each request from the seed and the prompt)
NEGATIVE_SEED_OFFSET = 7919


def derangement(n: int, rng: random.Random) -> list[int]:
    """A uniformly random permutation of range(n) with no fixed point (n >= 2)."""
    if n < 2:
        raise ValueError("a derangement needs at least two prompts")
    while True:
        perm = list(range(n))
        rng.shuffle(perm)
        if all(i != p for i, p in enumerate(perm)):
            return perm


def other_index(i: int, n: int, rng: random.Random) -> int:
    """A random index in range(n) other than i."""
    j = rng.randrange(n - 1)
    return j if j < i else j + 1


def drop_sentence(text: str, rng: random.Random) -> str:
    """The text with one of its non-final sentences removed (the final one is usually the question)."""
    sentences = [s for s in re.split(r"(?<=[.!?])\s+", text.strip()) if s]
    if len(sentences) < 2:
        return text
    k = rng.randrange(len(sentences) - 1)
    return " ".join(s for i, s in enumerate(sentences) if i != k)


@dataclass
class PairStats:
    built: int = 0
    dropped_identical: int = 0


def build_pairs(task: Task, items: list[Item], positives: list[str], strategy: str, backend: Backend,
                params: GenParams, seed: int, round_k: int) -> tuple[list[dict], PairStats]:
    """One pair per item (minus identical pairs), each with its strategy and provenance."""
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown negative strategy {strategy}")
    if strategy == "context_drop" and not any(it.context for it in items):
        raise ValueError(f"task {task.id} has no user context to drop; use derangement")
    rng = random.Random(seed)
    params = replace(params, seed=params.seed + NEGATIVE_SEED_OFFSET)
    n = len(items)
    prompts = [task.train_messages(it, with_context=True) for it in items]
    rejected_prompts: list[list[dict] | None] = [None] * n
    if strategy == "derangement":
        perm = derangement(n, rng)
        rejected = [positives[p] for p in perm]
        sources = [items[p].id for p in perm]
    elif strategy == "resample":
        others = [other_index(i, n, rng) for i in range(n)]
        rejected_prompts = [prompts[j] for j in others]
        rejected = [g.text for g in backend.generate(rejected_prompts, params)]
        sources = [items[j].id for j in others]
    elif strategy == "context_drop":
        rejected_prompts = [task.train_messages(it, with_context=False) for it in items]
        rejected = [g.text for g in backend.generate(rejected_prompts, params)]
        sources = [it.id for it in items]
    else:  # partial_prompt
        cut = [Item(id=it.id, question=drop_sentence(it.question, rng), target=it.target, choices=it.choices,
                    context=it.context, meta=it.meta) for it in items]
        rejected_prompts = [task.train_messages(it, with_context=True) for it in cut]
        rejected = [g.text for g in backend.generate(rejected_prompts, params)]
        sources = [it.id for it in items]
    pairs, stats = [], PairStats()
    for i, it in enumerate(items):
        if positives[i].strip() == rejected[i].strip():
            stats.dropped_identical += 1
            continue
        pairs.append({
            "prompt_id": it.id, "task": task.id, "round": round_k,
            "prompt": prompts[i][-1]["content"], "prompt_messages": prompts[i],
            "chosen": positives[i], "rejected": rejected[i],
            "negative_strategy": strategy, "rejected_from": sources[i],
            "rejected_prompt": rejected_prompts[i][-1]["content"] if rejected_prompts[i] else None,
        })
    stats.built = len(pairs)
    return pairs, stats


def check_provenance(pairs: list[dict]) -> list[str]:
    """Problems found: a derangement/resample negative from its own prompt, or a context_drop from another."""
    problems = []
    for p in pairs:
        own = p["rejected_from"] == p["prompt_id"]
        if p["negative_strategy"] in ("derangement", "resample") and own:
            problems.append(f"{p['prompt_id']}: rejected response written for its own prompt")
        if p["negative_strategy"] in ("context_drop", "partial_prompt") and not own:
            problems.append(f"{p['prompt_id']}: {p['negative_strategy']} negative from another query")
        if p["negative_strategy"] == "context_drop" and p.get("rejected_prompt") and \
                not _is_subsequence(_WORDS.findall(p["rejected_prompt"]), _WORDS.findall(p["prompt"])):
            problems.append(f"{p['prompt_id']}: context_drop negative asked a different question")
    return problems


_WORDS = re.compile(r"\w+")


def _is_subsequence(short: list[str], long: list[str]) -> bool:
    """Every word of `short`, in order, occurs in `long`: a context-dropped prompt is the full one minus words."""
    it = iter(long)
    return all(w in it for w in short)
