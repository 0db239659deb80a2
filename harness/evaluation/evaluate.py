"""Evaluation of one task: generate -> extract -> score, appended as it goes, resumable by item id.

A scorer with a model stage (tasks/scorers.py ModelStage: the authors' GSM8K/SVAMP extraction turn) has
its follow-ups asked after the task's generation, all in one batched call to the same backend with the
run's seed; each answered row is then rescored and samples.jsonl rewritten in one atomic step. A row whose
follow-up is still pending (a run stopped in between) has no `<stage>_reply` and is asked on resume.

Tasks whose scorer asks for log-likelihoods (`tasks.scorers.Loglik`: multiple choice with `scorer: loglik`,
the judge-free personalization measure) are scored with `backend.loglikelihood` instead of generation.
The summary has the task's main metric, the sample columns its scorers declare and the validity rates.
"""

from __future__ import annotations

import json
import time
import zlib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from groundfloor.backends.base import Backend, Generation, GenParams
from groundfloor.records import EvalResult, MetricCI, RoundHeader
from groundfloor.rundir import append_jsonl, atomic_write_json, atomic_write_text, read_jsonl
from tasks.base import Item, Task

MAX_OUTPUT_CHARS = 20_000  # an enormous output is truncated before scoring and storage
LOOP_TAIL_CHARS = 600  # the tail of an output that `repeats_itself` inspects
LOOP_MAX_RATIO = 0.2  # zlib size / size of that tail below which the output is looping


def repeats_itself(text: str) -> bool:
    """True when the output ends in a loop: its last 600 characters compress to under 20 % of their size.

    Measured on both built-in models' outputs (suites/measure_budgets.yaml): answers that ended by
    themselves compressed to 0.34-0.60; outputs cut off while repeating a line or phrase to 0.05-0.19.
    A looping output is cut by any token budget, so it is reported apart from outputs the budget cut short.
    """
    tail = text[-LOOP_TAIL_CHARS:].encode()
    return len(tail) >= LOOP_TAIL_CHARS and len(zlib.compress(tail, 9)) < LOOP_MAX_RATIO * len(tail)


def validity(task: Task, item: Item, extracted, score: float, truncated: bool | None,
             output: str | None = None) -> dict:
    """Per-sample fields that say whether a score measures knowledge, format or length.

    `no_answer`: the task's main extractor found nothing (math and multiple choice only; None elsewhere);
    `accuracy_answered`: the score when an answer was found, else None (so its mean is over answered items);
    `truncated`: generation hit max_new_tokens without a stop token; `repeating`: the output ends in a loop
    (generated outputs only); `chance`: 1 / number of choices.
    """
    row: dict = {"truncated": truncated}
    if output is not None:
        row["repeating"] = repeats_itself(output)
    if task.family in ("math", "mcq"):
        answered = extracted is not None
        row.update(no_answer=float(not answered), accuracy_answered=score if answered else None)
    if item.choices:
        row["chance"] = 1.0 / len(item.choices)
    return row


def scored_fields(task: Task, item: Item, output: str, truncated: bool | None, reply: str | None = None) -> dict:
    """The score and validity fields of a sample: `Task.score`, or `Task.score_reply` once the scorer's model
    stage answered `reply`."""
    sc = task.score(output, item) if reply is None else task.score_reply(output, item, reply)
    return {"extracted": sc.extracted, "score": sc.score, **sc.extra, **sc.details,
            **validity(task, item, sc.extracted, sc.score, truncated, output)}


def sample_row(task: Task, item: Item, prompt: str, gen: Generation) -> dict:
    """One samples.jsonl line."""
    output = gen.text[:MAX_OUTPUT_CHARS]
    return {
        "id": item.id, "prompt": prompt, "target": item.target, "output": output,
        **scored_fields(task, item, output, bool(gen.truncated)),
        "n_prompt_tokens": gen.n_prompt_tokens, "n_new_tokens": gen.n_new_tokens,
        "seconds": round(gen.seconds, 4), "truncated_output": len(gen.text) > MAX_OUTPUT_CHARS,
        "engine": gen.engine or None,
        "user": item.meta.get("user"),
    }


def stage_params(task: Task, params: GenParams) -> GenParams | None:
    """The decoding of the task's model stage: its own settings, the evaluation's batch size and seed."""
    stage = task.scorer.stage
    if stage is None:
        return None
    g = stage.generation
    return GenParams(max_new_tokens=g.max_new_tokens, temperature=g.temperature, top_p=g.top_p, greedy=g.greedy,
                     batch_size=params.batch_size, seed=params.seed)


def follow_ups(backend: Backend, task: Task, entries: list[tuple[Item, str]], params: GenParams) -> dict[int, dict]:
    """Ask the scorer's model stage about every (item, output) that needs it, in one generation call.

    Returns entry index -> the saved stage columns (`<name>_prompt`, `<name>_reply`, `<name>_seed`,
    `<name>_n_new_tokens`, `<name>_truncated`); entries that need no follow-up are absent. The call uses the
    evaluation's seed: each request's sample is seeded from it and its own prompt (groundfloor/backends/sampling.py),
    so a reply does not depend on which other outputs needed one.
    """
    fparams = stage_params(task, params)
    asks = [(i, msgs) for i, (item, output) in enumerate(entries)
            if fparams is not None and (msgs := task.follow_up(output, item)) is not None]
    if not asks:
        return {}
    name = task.scorer.stage.name  # type: ignore[union-attr]
    gens = backend.generate([msgs for _, msgs in asks], fparams)
    return {i: {f"{name}_prompt": backend.render(msgs), f"{name}_reply": gen.text[:MAX_OUTPUT_CHARS],
                f"{name}_seed": fparams.seed, f"{name}_n_new_tokens": gen.n_new_tokens,
                f"{name}_truncated": bool(gen.truncated)}
            for (i, msgs), gen in zip(asks, gens)}


def answer_follow_ups(backend: Backend, task: Task, items: list[Item], done: dict[str, dict], params: GenParams,
                      samples: Path, log: Callable[[str], None] | None = None) -> int:
    """Run the pending model-stage follow-ups of the rows in `done` (one call), rescore those rows and rewrite
    samples.jsonl atomically; returns how many were asked."""
    stage = task.scorer.stage
    if stage is None:
        return 0
    pending = [it for it in items if it.id in done and f"{stage.name}_reply" not in done[it.id]]
    entries = [(it, done[it.id]["output"]) for it in pending]
    if log and (n := sum(task.follow_up(output, it) is not None for it, output in entries)):
        log(f"{task.id}: {stage.name} stage: asking the model about {n} of {len(items)} outputs (one batched call)")
    answered = follow_ups(backend, task, entries, params)
    for i, cols in answered.items():
        item, output = entries[i]
        row = done[item.id]
        row.update(scored_fields(task, item, output, row.get("truncated"), cols[f"{stage.name}_reply"]))
        row.update(cols)
    if answered:
        atomic_write_text(samples, "".join(json.dumps(r, ensure_ascii=False, default=str) + "\n"
                                           for r in done.values()))
    return len(answered)


# summary metric name -> samples.jsonl column (rates over samples; chance for multiple choice)
VALIDITY_METRICS = {"no_answer_rate": "no_answer", "truncated_rate": "truncated", "repeating_rate": "repeating",
                    "chance": "chance"}
VALIDITY_COLUMNS = ("accuracy_answered",)  # validity columns summarised under their own name


def sample_metrics(task: Task, rows: list[dict], seed: int = 0) -> dict[str, dict]:
    """Per-metric mean, bootstrap 95% CI and n (clustered by user where users repeat).

    The main metric is left out when some row has no score (its scorer's model stage did not run): a mean
    over the rest would be another metric under the same name.
    """
    unscored = any(r.get("score") is None for r in rows)
    users = [r.get("user") for r in rows]
    clusters = users if any(users) and len(set(users)) < len(users) else None
    names = {task.metric: "score"}
    declared = task.summary_columns(rows) | set(VALIDITY_COLUMNS)
    for r in rows:
        for k in r:
            if k in declared and k not in names.values():
                names[k] = k
    names.update(VALIDITY_METRICS)
    out = {}
    for metric, column in names.items():
        vals = [float(r[column]) for r in rows if r.get(column) is not None]
        if (not vals and metric in VALIDITY_METRICS) or (column == "score" and unscored):
            continue
        cl = [r.get("user") for r in rows if r.get(column) is not None] if clusters else None
        out[metric] = MetricCI.of(vals, seed=seed, clusters=cl).to_dict()
    toks = [float(r["n_new_tokens"]) for r in rows if r.get("n_new_tokens") is not None]
    out["response_tokens"] = MetricCI.of(toks, seed=seed).to_dict()
    out.update(task.aggregate(rows, seed=seed))
    return out


def loglik_row(task: Task, item: Item, prompt: str, pairs: list[tuple[str, str]], logliks: list[float],
               seconds: float) -> dict:
    """One samples.jsonl line for an item scored by log-likelihood (output = the chosen option)."""
    sc = task.score_loglik(item, logliks)
    return {
        "id": item.id, "prompt": prompt, "target": item.target, "output": sc.extracted,
        "extracted": sc.extracted, "score": sc.score, **sc.extra, **sc.details,
        **validity(task, item, sc.extracted, sc.score, None),
        "logliks": [round(v, 4) for v in logliks], "n_requests": len(pairs),
        "seconds": round(seconds, 4), "user": item.meta.get("user"),
    }


def _evaluate_loglik(backend: Backend, task: Task, todo: list[Item], requests: list[list[tuple[str, str]]],
                     params: GenParams, keep: Callable[[dict], None], chunk: int = 32) -> None:
    """Score items in chunks (so progress is saved as it goes) with one loglikelihood call per chunk."""
    for start in range(0, len(todo), chunk):
        batch = list(range(start, min(start + chunk, len(todo))))
        flat = [pair for i in batch for pair in requests[i]]
        t0 = time.perf_counter()
        values = backend.loglikelihood(flat, batch_size=params.batch_size)
        per_item = (time.perf_counter() - t0) / max(1, len(batch))
        pos = 0
        for i in batch:
            n = len(requests[i])
            keep(loglik_row(task, todo[i], requests[i][0][0] if n else "", requests[i],
                            list(values[pos:pos + n]), per_item))
            pos += n


def evaluate_task(backend: Backend, task: Task, items: list[Item], params: GenParams, out_dir: Path,
                  header: RoundHeader | Mapping[str, Any] | None = None, on_item: Callable[[], None] | None = None,
                  also: list[list[dict[str, str]]] | None = None,
                  log: Callable[[str], None] | None = None) -> EvalResult:
    """Evaluate `items`, skipping ids already in samples.jsonl; writes samples.jsonl and metrics.json, which opens
    with the round's `header` (a plain mapping, as tests and benchmarks pass, is written as given).

    `also`: extra prompts (the round's diagnostics) answered in the same generation call, so they fill the
    evaluation's batches; their texts are returned as `also` (None when the task is scored by
    log-likelihood or nothing was left to evaluate: the caller generates them itself). The scorer's model stage,
    if any, is asked after the generation (`answer_follow_ups`; `log` announces it).
    """
    samples = out_dir / "samples.jsonl"
    metrics_path = out_dir / "metrics.json"
    done = {r["id"]: r for r in read_jsonl(samples)}
    todo = [it for it in items if it.id not in done]
    if on_item:
        for _ in range(len(items) - len(todo)):
            on_item()
    requests = [task.loglik_requests(it, backend) for it in todo]

    def store(row: dict) -> None:
        append_jsonl(samples, row)
        done[row["id"]] = row
        if on_item:
            on_item()

    t0 = time.perf_counter()
    also_texts = None
    if todo and all(r is not None for r in requests):
        _evaluate_loglik(backend, task, todo, requests, params, store)  # type: ignore[arg-type]
    elif todo:
        prompts = [task.messages(it) for it in todo]
        rendered = [backend.render(p) for p in prompts]
        extra = also or []

        def finished(i: int, gen) -> None:
            if i < len(todo):
                store(sample_row(task, todo[i], rendered[i], gen))

        gens = backend.generate(prompts + extra, params, on_done=finished)
        also_texts = [g.text for g in gens[len(todo):]] if also else None
    answer_follow_ups(backend, task, items, done, params, samples, log)
    rows = [done[it.id] for it in items]
    metrics = metrics_record(task, header, rows, params, round(time.perf_counter() - t0, 2))
    atomic_write_json(metrics_path, metrics)
    return EvalResult(metrics, also_texts)


def metrics_record(task: Task, header: RoundHeader | Mapping[str, Any] | None, rows: list[dict], params: GenParams,
                   seconds: float) -> dict:
    """metrics.json: the round's header, the task, its decoding and scoring, and the summary of `rows`."""
    head = header.head("eval", task.id) if isinstance(header, RoundHeader) else \
        {**(header or {}), "kind": "eval", "task": task.id}
    metrics = {
        **head, "family_task": task.family, "n": len(rows),
        "generation": params.to_dict(), "scoring": task.scorer.name, "main_metric": task.metric,
        "seconds": seconds, "metrics": sample_metrics(task, rows, seed=params.seed),
    }
    fparams = stage_params(task, params)
    if fparams is not None:
        name = task.scorer.stage.name  # type: ignore[union-attr]
        metrics["model_stage"] = {"name": name, "generation": fparams.to_dict(),
                                  "asked": sum(1 for r in rows if f"{name}_reply" in r)}
    return metrics
