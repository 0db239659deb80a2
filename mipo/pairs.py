"""Preference pairs for MIPO: chosen = the model's answer to x; rejected = an answer not conditioned on x.

Strategies:
- derangement: the answer the model wrote for another prompt (a permutation with no fixed point);
- resample: a fresh sample for a random other prompt;
- context_drop: the answer to the same query with the user's profile removed;
- partial_prompt: the answer to x with one sentence of the problem removed (an ablation).

Negatives from other prompts (derangement, resample) stay within an item's `meta["pair_group"]`: SVAMP
deranges its own prompts and appends GSM8K pairs built among GSM8K prompts, as the authors do
(../shared/reference/mipo-authors/svamp.py:150-157). The partial prompt is `meta["partial_question"]` when a
task gives one (SVAMP: the question without its body, svamp.py:195), else the task's `partial_rule`:
"period_split" is the authors' GSM8K cut (gsm.py:144-155: split on ".", drop one piece other than the
last; a question without one is skipped), "sentence" drops one non-final sentence.
"""

from __future__ import annotations

import random
import re
from collections import defaultdict
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


def drop_sentence(text: str, rng: random.Random) -> str | None:
    """The text with one of its non-final sentences removed (the final one is usually the question)."""
    sentences = [s for s in re.split(r"(?<=[.!?])\s+", text.strip()) if s]
    if len(sentences) < 2:
        return None
    k = rng.randrange(len(sentences) - 1)
    return " ".join(s for i, s in enumerate(sentences) if i != k)


def drop_period_piece(text: str, rng: random.Random) -> str | None:
    """The authors' GSM8K partial question (gsm.py:144-155): split on ".", drop one piece but the last."""
    pieces = text.split(".")
    head = pieces[:-1]
    if not head:
        return None
    k = rng.randrange(len(head))
    return (".".join(head[:k] + head[k + 1:]) + "." + pieces[-1]).strip()


def partial_question(task: Task, item: Item, rng: random.Random) -> str | None:
    """The question with part of the problem removed (None: the task's rule cannot cut it)."""
    if item.meta.get("partial_question"):
        return item.meta["partial_question"]
    if getattr(task, "partial_rule", "sentence") == "period_split":
        return drop_period_piece(item.question, rng)
    return drop_sentence(item.question, rng)


def grouped_derangement(items: list[Item], rng: random.Random) -> list[int | None]:
    """For each item the index of another item of its pair group (None: the group has a single item)."""
    groups: dict[str, list[int]] = defaultdict(list)
    for i, it in enumerate(items):
        groups[str(it.meta.get("pair_group", ""))].append(i)
    out: list[int | None] = [None] * len(items)
    for members in groups.values():
        if len(members) < 2:
            continue
        for i, p in zip(members, derangement(len(members), rng)):
            out[i] = members[p]
    return out


@dataclass
class PairStats:
    built: int = 0
    dropped_identical: int = 0
    dropped_no_negative: int = 0  # no other prompt in its pair group, or no sentence to drop


def _generate(backend: Backend, prompts: list, params: GenParams) -> list[str | None]:
    """Answers to the prompts that exist (None stays None), in one generation call."""
    idx = [i for i, p in enumerate(prompts) if p is not None]
    texts = [g.text for g in backend.generate([prompts[i] for i in idx], params)] if idx else []
    out: list[str | None] = [None] * len(prompts)
    for i, t in zip(idx, texts):
        out[i] = t
    return out


def _negatives(task: Task, items: list[Item], positives: list[str], strategy: str, backend: Backend,
               params: GenParams, rng: random.Random) -> tuple[list, list, list]:
    """Per item: the rejected response, the id of the prompt it answered, the prompt it answered (or None)."""
    n = len(items)
    if strategy in ("derangement", "resample"):
        other = grouped_derangement(items, rng)
        if strategy == "resample":  # a fresh sample for a random other prompt of the group
            groups = [[j for j in range(n) if items[j].meta.get("pair_group", "") == it.meta.get("pair_group", "")]
                      for it in items]
            other = [g[other_index(g.index(i), len(g), rng)] if len(g) > 1 else None for i, g in enumerate(groups)]
        sources = [items[j].id if j is not None else None for j in other]
        if strategy == "derangement":
            return [positives[j] if j is not None else None for j in other], sources, [None] * n
        prompts = [task.train_messages(items[j], with_context=True) if j is not None else None for j in other]
        return _generate(backend, prompts, params), sources, prompts
    if strategy == "context_drop":
        prompts = [task.train_messages(it, with_context=False) for it in items]
    else:  # partial_prompt
        cuts = [partial_question(task, it, rng) for it in items]
        prompts = [task.train_messages(replace(it, question=q), with_context=True) if q else None
                   for it, q in zip(items, cuts)]
    return _generate(backend, prompts, params), [it.id for it in items], prompts


def build_pairs(task: Task, items: list[Item], positives: list[str], strategy: str, backend: Backend,
                params: GenParams, seed: int, round_k: int) -> tuple[list[dict], PairStats]:
    """One pair per item (minus identical pairs and items without a negative), with strategy and provenance."""
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown negative strategy {strategy}")
    if strategy == "context_drop" and not any(it.context for it in items):
        raise ValueError(f"task {task.id} has no user context to drop; use derangement")
    rng = random.Random(seed)
    params = replace(params, seed=params.seed + NEGATIVE_SEED_OFFSET)
    prompts = [task.train_messages(it, with_context=True) for it in items]
    rejected, sources, rejected_prompts = _negatives(task, items, positives, strategy, backend, params, rng)
    pairs, stats = [], PairStats()
    for i, it in enumerate(items):
        if rejected[i] is None:
            stats.dropped_no_negative += 1
            continue
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
