"""Verified pairs for the positive control `verified_dpo`: the task's own scorer ranks k sampled answers.

For every train prompt the current policy samples k answers (`verified_dpo.samples_per_prompt`, default 4)
with the task's train sampling (`verified_dpo.sampling` over it); each request has its own seed, derived
from the round's seed, the prompt and the sample's index among the prompt's k copies
(groundfloor/backends/sampling.py), so sample 0 is the answer `mipo` takes as its positive in the same round.
Each answer is scored against the gold answer by the task's scorer (profile_prefs: the share of its checks
honoured). The pair is (a best-scored answer, a worst-scored answer) of the same prompt, the first by sample
index among ties; for a 1/0 scorer that is a passing answer against a failing one. A prompt whose k scores
are all equal gives no pair and is counted: all passing (score 1), all failing (0), or tied in between
(graded scorers). An answer the scorer could not score without its model stage (score None) is left out of
the ranking and counted as unscored.

Samples are appended to verified_samples.jsonl as they finish; a resumed round keeps every prompt whose k
samples are all saved and samples the others again (all k, so each keeps its seed).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from groundfloor.backends.base import Backend, GenParams
from groundfloor.records import Pair
from groundfloor.rundir import append_jsonl, read_jsonl
from tasks.base import Item, Task
from tasks.plan import merge_generation

STRATEGY = "verified"  # the pairs' negative_strategy: the rejected side is a failing answer to the same prompt
SAMPLES_FILE = "verified_samples.jsonl"


@dataclass
class VerifiedStats:
    """What became of a task's prompts: a pair, or why none."""

    prompts: int = 0
    pairs: int = 0
    no_pair_all_pass: int = 0
    no_pair_all_fail: int = 0
    no_pair_tied: int = 0  # every score equal, strictly between 0 and 1 (graded scorers)
    no_pair_unscored: int = 0  # fewer than two answers the scorer could score
    unscored_samples: int = 0

    @property
    def no_pair(self) -> int:
        return self.no_pair_all_pass + self.no_pair_all_fail + self.no_pair_tied + self.no_pair_unscored


def verified_sampling(train_gen: GenParams, override) -> GenParams:
    """The task's round sampling with `verified_dpo.sampling` laid over it (seed and batch size kept)."""
    if override is None:
        return train_gen
    merged = merge_generation(train_gen, override, seed=train_gen.seed)
    return replace(merged, batch_size=override.batch_size if "batch_size" in override.model_fields_set
                   else train_gen.batch_size)


def sample_answers(backend: Backend, task: Task, items: list[Item], k: int, params: GenParams,
                   path: Path) -> dict[str, list[dict]]:
    """k scored samples per item (resumed from `path`): item id -> [{sample, text, score, ...}] by sample index."""
    saved: dict[str, dict[int, dict]] = {}
    for r in read_jsonl(path):
        if r["task"] == task.id:
            saved.setdefault(r["prompt_id"], {})[r["sample"]] = r
    todo = [it for it in items if len(saved.get(it.id, {})) < k]
    if todo:
        prompts = [task.train_messages(it) for it in todo for _ in range(k)]  # copies j = 0..k-1, in order

        def keep(i: int, gen) -> None:
            it, j = todo[i // k], i % k
            sc = task.score(gen.text, it)
            row = {"task": task.id, "prompt_id": it.id, "sample": j, "text": gen.text, "score": sc.score,
                   "truncated": bool(gen.truncated), "engine": gen.engine or None}
            append_jsonl(path, row)
            saved.setdefault(it.id, {})[j] = row

        backend.generate(prompts, params, on_done=keep)
    return {it.id: [saved[it.id][j] for j in range(k)] for it in items}


def pick_pair(samples: list[dict]) -> tuple[dict | None, dict | None, str | None]:
    """(chosen, rejected, None), or (None, None, why) with why in all_pass / all_fail / tied / unscored."""
    scored = [s for s in samples if s["score"] is not None]
    if len(scored) < 2:
        return None, None, "unscored"
    hi = max(s["score"] for s in scored)
    lo = min(s["score"] for s in scored)
    if hi == lo:
        return None, None, "all_pass" if hi >= 1 else "all_fail" if hi <= 0 else "tied"
    chosen = next(s for s in scored if s["score"] == hi)
    rejected = next(s for s in scored if s["score"] == lo)
    return chosen, rejected, None


def verified_pairs(task: Task, items: list[Item], samples: dict[str, list[dict]],
                   round_k: int) -> tuple[list[Pair], VerifiedStats]:
    """One pair per item whose k answers score unequally, with the MIPO pair contract's fields and the scores."""
    pairs: list[Pair] = []
    st = VerifiedStats(prompts=len(items))
    for it in items:
        group = samples[it.id]
        st.unscored_samples += sum(s["score"] is None for s in group)
        chosen, rejected, why = pick_pair(group)
        if chosen is None:
            setattr(st, f"no_pair_{why}", getattr(st, f"no_pair_{why}") + 1)
            continue
        messages = task.train_messages(it, with_context=True)
        pairs.append(Pair(
            prompt_id=it.id, task=task.id, round=round_k,
            prompt=messages[-1]["content"], prompt_messages=messages,
            chosen=chosen["text"], rejected=rejected["text"],
            negative_strategy=STRATEGY, rejected_from=it.id, rejected_prompt=messages[-1]["content"],
            chosen_score=chosen["score"], rejected_score=rejected["score"],
            chosen_sample=chosen["sample"], rejected_sample=rejected["sample"],
            scores=[s["score"] for s in group],
        ))
    st.pairs = len(pairs)
    return pairs, st


def provenance_problems(pairs: list[Pair]) -> list[str]:
    """A verified pair must reject an answer to its own prompt that scored strictly lower than the chosen one."""
    out = []
    for p in pairs:
        if p.get("negative_strategy") != STRATEGY:
            continue
        if p["rejected_from"] != p["prompt_id"]:
            out.append(f"{p['task']}:{p['prompt_id']}: verified pair rejects an answer to {p['rejected_from']}")
        elif not p["chosen_score"] > p["rejected_score"]:
            out.append(f"{p['task']}:{p['prompt_id']}: chosen scored {p['chosen_score']}, "
                       f"rejected {p['rejected_score']}")
    return out


def task_pairs(backend: Backend, task: Task, items: list[Item], k: int, params: GenParams, round_dir: Path,
               round_k: int) -> tuple[list[Pair], dict]:
    """A task's verified pairs for round k and its pairs_stats.json entry."""
    samples = sample_answers(backend, task, items, k, params, round_dir / SAMPLES_FILE)
    pairs, st = verified_pairs(task, items, samples, round_k)
    problems = provenance_problems(pairs)
    if problems:
        from groundfloor.errors import RunFailure

        raise RunFailure(f"verified pair check failed: {problems[0]}")
    scores = [s["score"] for g in samples.values() for s in g if s["score"] is not None]
    entry = {"prompts": st.prompts, "pairs": st.pairs, "dropped_identical": 0, "dropped_no_negative": st.no_pair,
             "no_pair": st.no_pair, "no_pair_all_pass": st.no_pair_all_pass,
             "no_pair_all_fail": st.no_pair_all_fail, "no_pair_tied": st.no_pair_tied,
             "no_pair_unscored": st.no_pair_unscored, "unscored_samples": st.unscored_samples,
             "samples_per_prompt": k, "mean_sample_score": sum(scores) / len(scores) if scores else None,
             "strategy": STRATEGY, "sampling": params.to_dict(), "prompt_ids": [it.id for it in items]}
    return pairs, entry
