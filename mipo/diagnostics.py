"""Per-round diagnostics on held-out train-pool prompts: PMI, response length, diversity."""

from __future__ import annotations

import random

import numpy as np

from harness.backends.base import Backend, GenParams
from harness.records import MetricCI, metric_dicts
from tasks.base import Item, Task
from tasks.negatives import NEGATIVES


def distinct_n(texts: list[str], n: int = 2) -> float:
    """Unique n-grams / all n-grams over a set of responses (1.0 = no repetition)."""
    grams = [tuple(t.split()[i:i + n]) for t in texts for i in range(max(0, len(t.split()) - n + 1))]
    return len(set(grams)) / len(grams) if grams else 0.0


def _distinct_ci(texts: list[str], seed: int, n_boot: int = 500) -> tuple[float, float, float]:
    rng = np.random.default_rng(seed)
    boots = [distinct_n([texts[i] for i in rng.integers(0, len(texts), len(texts))]) for _ in range(n_boot)]
    lo, hi = np.quantile(boots, [0.025, 0.975])
    return distinct_n(texts), float(lo), float(hi)


def responses(backend: Backend, task: Task, items: list[Item], params: GenParams) -> list[str]:
    """The model's answers y to the held-out prompts x (generated at the evaluation dtype)."""
    return [g.text for g in backend.generate([task.train_messages(it) for it in items], params)]


def counterfactuals(task: Task, items: list[Item], negative: str, seed: int) -> list[list[dict] | None]:
    """x' for each prompt, as the plan's negative strategy builds the rejected side (None: none exists).

    context_drop: the query without the user's profile; partial_prompt: the question with part cut
    (the task's rule); derangement / resample: another prompt (see `tasks.negatives`).
    """
    return NEGATIVES[negative].counterfactuals(task, items, random.Random(seed))


def measure(backend: Backend, task: Task, items: list[Item], outputs: list[str], seed: int,
            negative: str | None = None) -> dict[str, dict]:
    """PMI = mean over prompts of log pi(y|x) - log pi(y|x'), with y the model's answer to x.

    x' follows `negative` (the plan's strategy; default: the task's), see `counterfactuals`.
    Log-probs are computed by `backend.loglikelihood`; the caller puts the model in fp32 first.
    """
    if len(items) < 2:
        return {}
    counter = counterfactuals(task, items, negative or task.default_negative, seed)
    keep = [i for i, c in enumerate(counter) if c is not None]
    items, outputs = [items[i] for i in keep], [outputs[i] for i in keep]
    prompts = [task.train_messages(it) for it in items]
    others = [counter[i] for i in keep]
    if not items:
        return {}
    ctx = [backend.render(p) for p in prompts]
    ctx_other = [backend.render(p) for p in others]
    lp = backend.loglikelihood(list(zip(ctx, outputs)))
    lp_other = backend.loglikelihood(list(zip(ctx_other, outputs)))
    pmi = [a - b for a, b in zip(lp, lp_other)]
    lengths = [len(o.split()) for o in outputs]
    out = {name: MetricCI.of(vals, seed=seed) for name, vals in
           (("pmi", pmi), ("response_words", lengths), ("logp_response", lp))}
    out["distinct_2"] = MetricCI(*_distinct_ci(outputs, seed), n=len(outputs))
    return metric_dicts(out)
