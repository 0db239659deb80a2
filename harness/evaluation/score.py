"""Re-scoring saved outputs (`mipo-bench score`), without a model or with one for a scorer's model stage.

Input lines are `{"id": <task item id>, "output": "<text>"}`; each is scored with the task's own
`Task.score` (after the same truncation a run applies), so a score here equals the score a run gives.

A scorer with a model stage (the authors' GSM8K/SVAMP extraction turn, tasks/scorers.py ModelStage)
needs the model under test for the outputs its first reading cannot score. Without `--model` those
lines say so (`extraction: not_run`, a `note`, score null) and the main metric is not computed (no
partial mean, no silent zero); with `--model M` the follow-ups are asked in one batched call, seeded
with `--seed`, and saved per line as a run saves them.

Error policy: validate first. Every line is parsed and every id looked up before anything is scored
or written, so a malformed line or an unknown id leaves no half-written output behind; scoring
itself is cheap, so nothing computed is lost by stopping early.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from groundfloor.backends.base import Backend, GenParams
from groundfloor.errors import UserError
from groundfloor.records import MetricCI
from groundfloor.rundir import atomic_write_text
from harness.evaluation.evaluate import MAX_OUTPUT_CHARS, follow_ups, sample_metrics
from tasks.base import Item, Score, Task


def parse_prediction(line: str, path: Path | str, lineno: int) -> dict[str, Any]:
    """One predictions line as a dict with a string `id` and `output`; a UserError naming file:line otherwise."""
    where = f"{path}:{lineno}"
    try:
        row = json.loads(line)
    except (ValueError, RecursionError) as e:
        msg = e.msg if isinstance(e, json.JSONDecodeError) else type(e).__name__
        raise UserError(f"{where}: malformed JSON ({msg})") from None
    if not isinstance(row, dict):
        raise UserError(f"{where}: expected a JSON object with 'id' and 'output', got {type(row).__name__}")
    if "id" not in row or "output" not in row:
        missing = [k for k in ("id", "output") if k not in row]
        raise UserError(f"{where}: missing key {', '.join(repr(k) for k in missing)}")
    item_id = row["id"]
    if isinstance(item_id, bool) or not isinstance(item_id, (str, int)):
        raise UserError(f"{where}: 'id' must be a string or an integer, got {type(item_id).__name__}")
    if not isinstance(row["output"], str):
        raise UserError(f"{where}: 'output' must be a string, got {type(row['output']).__name__}")
    return {**row, "id": str(item_id)}


def read_predictions(path: Path) -> list[dict[str, Any]]:
    """Every non-blank line of a predictions JSONL file, validated (see `parse_prediction`).

    An id repeated with the same output is kept once; repeated with a different output it is a
    UserError naming both lines (which one to score is the user's call, not ours).
    """
    if path.is_dir():
        raise UserError(f"predictions {path} is a folder, not a file")
    if not path.is_file():
        raise UserError(f"predictions file not found: {path}")
    rows, first_line = [], {}
    with open(path, "rb") as f:
        for lineno, raw in enumerate(f, 1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError:
                raise UserError(f"{path}:{lineno}: not UTF-8 text") from None
            if not line.strip():
                continue
            row = parse_prediction(line, path, lineno)
            if row["id"] in first_line:
                seen_at, seen = first_line[row["id"]]
                if seen["output"] != row["output"]:
                    raise UserError(f"{path}:{lineno}: id {row['id']!r} already appeared on line {seen_at} with a "
                                    "different output; keep one of them")
                continue
            first_line[row["id"]] = (lineno, row)
            rows.append(row)
    if not rows:
        raise UserError(f"{path}: no predictions (the file is empty)")
    return rows


def item_index(task: Task, offline: bool) -> dict[str, Item]:
    """Items of the task's evaluation pool and MIPO train pool by id (the evaluation pool wins a clash)."""
    split = task.load(offline)
    index = {it.id: it for it in split.train_items}
    index.update({it.id: it for it in split.eval_items})
    return index


def score_of(task: Task, item: Item, output: str, reply: str | None = None) -> Score:
    """`Task.score` of an output after the truncation a run applies (shared with the exports); with the
    model stage's `reply`, `Task.score_reply`."""
    output = output[:MAX_OUTPUT_CHARS]
    return task.score(output, item) if reply is None else task.score_reply(output, item, reply)


def not_run_note(task: Task) -> str:
    """The per-line note of an output whose scorer's model stage was not run."""
    name = task.scorer.stage.name if task.scorer.stage is not None else "model"
    return (f"the {name} stage (a second turn of the model under test) was not run: no --model was given, so "
            f"{task.metric} is not scored")


def score_output(task: Task, item: Item, output: str, stage: dict | None = None) -> dict[str, Any]:
    """The scored fields of one output: target, extracted, correct, score, extra metrics and details;
    `stage`: the model stage's saved columns when it was asked (harness/evaluation/evaluate.py follow_ups)."""
    name = task.scorer.stage.name if task.scorer.stage is not None else None
    reply = stage.get(f"{name}_reply") if stage and name else None
    sc = score_of(task, item, output, reply)
    row = {"target": item.target, "extracted": sc.extracted, "correct": None if sc.score is None else sc.score == 1.0,
           "score": sc.score, **sc.extra, **sc.details, **(stage or {})}
    if sc.score is None:
        row["note"] = not_run_note(task)
    if item.meta.get("user") is not None:
        row["user"] = item.meta["user"]
    return row


def score_rows(task: Task, predictions: list[dict], index: dict[str, Item], backend: Backend | None = None,
               params: GenParams | None = None) -> list[dict]:
    """Scored fields of each validated prediction; a UserError (before scoring anything) for unknown ids.

    With a `backend`, the scorer's model-stage follow-ups are asked first, in one call with `params`.
    """
    unknown = [p["id"] for p in predictions if p["id"] not in index]
    if unknown:
        shown = ", ".join(repr(u) for u in unknown[:3])
        raise UserError(f"{len(unknown)} of {len(predictions)} predictions have ids unknown to task {task.id} "
                        f"(e.g. {shown}); nothing was written")
    entries = [(index[p["id"]], p["output"][:MAX_OUTPUT_CHARS]) for p in predictions]
    asked = follow_ups(backend, task, entries, params or GenParams()) if backend is not None else {}
    return [score_output(task, item, output, asked.get(i)) for i, (item, output) in enumerate(entries)]


def not_run(scored: list[dict]) -> int:
    """How many scored lines still need their scorer's model stage (score null)."""
    return sum(1 for r in scored if r.get("score") is None)


def load_scoring_model(model_id: str, device: str = "auto", adapter: str | None = None,
                       log=lambda m: None) -> Backend:
    """The model under test for a model stage, chosen as a run chooses it: alias, local folder or hub id (with a
    trained round's LoRA `adapter` on top); the device's engine (vLLM where installed, else transformers) and
    dtype."""
    from groundfloor.backends.select import load_backend, resolve_engine
    from groundfloor.devices import resolve_device, resolve_dtype
    from groundfloor.models import resolve_model

    dev = resolve_device(device)
    resolved = resolve_model(model_id, log=log)
    return load_backend(resolve_engine("auto", dev), resolved.path, adapter, dev, resolve_dtype("auto", dev), model_id)


def rescored_metrics(task: Task, scored: list[dict], seed: int = 0) -> dict[str, dict]:
    """Mean, bootstrap 95% CI and n per metric: the run's summary plus any other numeric extra metric."""
    out = {k: v for k, v in sample_metrics(task, scored, seed=seed).items() if k != "response_tokens"}
    stage = f"{task.scorer.stage.name}_" if task.scorer.stage is not None else None
    numeric = {k for r in scored for k, v in r.items()
               if isinstance(v, (int, float)) and not isinstance(v, bool) and k not in ("score", "user")
               and not (stage and k.startswith(stage))}  # the stage's seed and token count are not metrics
    for k in sorted(numeric - set(out)):
        vals = [float(r[k]) for r in scored if isinstance(r.get(k), (int, float)) and math.isfinite(float(r[k]))]
        out[k] = MetricCI.of(vals, seed=seed).to_dict()
    return out


def write_scored(path: Path, rows: list[dict]) -> None:
    """All scored lines, written atomically."""
    text = "".join(json.dumps(r, ensure_ascii=False, default=str) + "\n" for r in rows)
    atomic_write_text(path, text)


def default_out(predictions: Path) -> Path:
    """`preds.jsonl` -> `preds.scored.jsonl` next to it."""
    return predictions.with_name(predictions.name.removesuffix(".jsonl") + ".scored.jsonl")
