"""Per-round diagnostics on held-out train-pool prompts: PMI (summed and per response token), response length,
diversity.

The prompts x and their counterfactuals x' are the same every round (the plan sets them aside once, x' is
drawn with the suite's seed); the answers y are the round's own. `measure_prompts` also returns one record
per prompt (its id, PMI, response tokens, PMI per token), written to diagnostics.json, so reports pair a
round with round 0 prompt by prompt (`reports.pmi`).
"""

from __future__ import annotations

import random

import numpy as np

from groundfloor.backends.base import Backend, GenParams
from groundfloor.records import MetricCI, metric_dicts
from groundfloor.stats import wilson_floor
from tasks.base import Item, Task
from tasks.negatives import NEGATIVES


def distinct_n(texts: list[str], n: int = 2) -> float:
    """Unique n-grams / all n-grams over a set of responses (1.0 = no repetition)."""
    grams = [tuple(t.split()[i:i + n]) for t in texts for i in range(max(0, len(t.split()) - n + 1))]
    return len(set(grams)) / len(grams) if grams else 0.0


def _distinct_ci(texts: list[str], seed: int, n_boot: int = 500) -> tuple[float, float, float, str]:
    """distinct_2 of `texts`, its bootstrap CI (responses resampled) and the CI's method."""
    rng = np.random.default_rng(seed)
    boots = [distinct_n([texts[i] for i in rng.integers(0, len(texts), len(texts))]) for _ in range(n_boot)]
    lo, hi = (float(v) for v in np.quantile(boots, [0.025, 0.975]))
    value = distinct_n(texts)
    if not hi - lo > 1e-12:  # every resample alike (e.g. one response): a Wilson bound, never a zero width
        return (value, *wilson_floor(value, len(texts), (0.0, 1.0)), "bootstrap+wilson-floor")
    return value, lo, hi, "bootstrap"


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
    """The metrics of `measure_prompts` (without the per-prompt records)."""
    return measure_prompts(backend, task, items, outputs, seed, negative)[0]


def _records(items: list[Item], outputs: list[str], pmi: list[float], tokens: list[int]) -> list[dict]:
    """One record per prompt: id, summed PMI (nats), response tokens, PMI per token (None for an empty answer),
    and the response itself (so the round's PMI can be re-scored later)."""
    return [{"id": str(it.id), "pmi": v, "response_tokens": t, "pmi_per_token": v / t if t else None,
             "response": y} for it, y, v, t in zip(items, outputs, pmi, tokens)]


def measure_prompts(backend: Backend, task: Task, items: list[Item], outputs: list[str], seed: int,
                    negative: str | None = None) -> tuple[dict[str, dict], list[dict]]:
    """(metrics, per-prompt records). PMI = mean over prompts of log pi(y|x) - log pi(y|x'), in nats summed
    over y's tokens, with y the model's answer to x; pmi_per_token = mean over prompts of that PMI / y's tokens.

    x' follows `negative` (the plan's strategy; default: the task's), see `counterfactuals`.
    Log-probs are computed by `backend.loglikelihood`; the caller puts the model in fp32 first.
    """
    if len(items) < 2:
        return {}, []
    counter = counterfactuals(task, items, negative or task.default_negative, seed)
    keep = [i for i, c in enumerate(counter) if c is not None]
    items, outputs = [items[i] for i in keep], [outputs[i] for i in keep]
    prompts = [task.train_messages(it) for it in items]
    others = [counter[i] for i in keep]
    if not items:
        return {}, []
    ctx = [backend.render(p) for p in prompts]
    ctx_other = [backend.render(p) for p in others]
    lp = backend.loglikelihood(list(zip(ctx, outputs)))
    lp_other = backend.loglikelihood(list(zip(ctx_other, outputs)))
    pmi = [a - b for a, b in zip(lp, lp_other)]
    tokens = backend.count_tokens(outputs)
    per_token = [v / t for v, t in zip(pmi, tokens) if t]
    lengths = [len(o.split()) for o in outputs]
    out = {name: MetricCI.of(vals, seed=seed) for name, vals in
           (("pmi", pmi), ("pmi_per_token", per_token), ("response_tokens", tokens), ("response_words", lengths),
            ("logp_response", lp)) if vals}
    value, lo, hi, method = _distinct_ci(outputs, seed)
    out["distinct_2"] = MetricCI(value, lo, hi, n=len(outputs), ci_method=method)
    return metric_dicts(out), _records(items, outputs, pmi, tokens)
