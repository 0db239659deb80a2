"""Per-round diagnostics on held-out train-pool prompts: PMI, response length, diversity."""

from __future__ import annotations

import random

import numpy as np

from harness.backends.base import Backend, GenParams
from harness.stats import mean_ci
from mipo.pairs import derangement
from tasks.base import Item, Task


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


def measure(backend: Backend, task: Task, items: list[Item], outputs: list[str], seed: int) -> dict[str, dict]:
    """PMI = mean over prompts of log pi(y|x) - log pi(y|x'), with y the model's answer to x.

    x' is the same query without the user's profile for context-drop tasks, else another prompt.
    Log-probs are computed by `backend.loglikelihood`; the caller puts the model in fp32 first.
    """
    if len(items) < 2:
        return {}
    prompts = [task.train_messages(it) for it in items]
    if task.default_negative == "context_drop":
        others = [task.train_messages(it, with_context=False) for it in items]
    else:
        perm = derangement(len(items), random.Random(seed))
        others = [prompts[p] for p in perm]
    ctx = [backend.render(p) for p in prompts]
    ctx_other = [backend.render(p) for p in others]
    lp = backend.loglikelihood(list(zip(ctx, outputs)))
    lp_other = backend.loglikelihood(list(zip(ctx_other, outputs)))
    pmi = [a - b for a, b in zip(lp, lp_other)]
    lengths = [len(o.split()) for o in outputs]
    out = {}
    for name, vals in (("pmi", pmi), ("response_words", lengths), ("logp_response", lp)):
        mean, lo, hi = mean_ci(vals, seed=seed)
        out[name] = {"value": mean, "ci_low": lo, "ci_high": hi, "n": len(vals)}
    mean, lo, hi = _distinct_ci(outputs, seed)
    out["distinct_2"] = {"value": mean, "ci_low": lo, "ci_high": hi, "n": len(outputs)}
    return out
