"""inspect-ai logs of a run folder, derived from its samples.jsonl and pairs.jsonl files.

The run folder stays the source of truth: `write_run_logs(root)` turns every evaluation's samples.jsonl
(each model, method, round and task, transfer evaluations included) and every round's pairs.jsonl into one
inspect `.eval` log under `<root>/inspect/`, with inspect's own log API (`EvalLog`, `write_eval_log`), so
`inspect view` browses a run and `inspect_ai.analysis.samples_df` reads it into pandas. A log is rewritten
only when its source's sha256 changed (kept in `inspect/index.json`), so calling it after a step, at the end
of a run or before `mipo-bench view` costs little and picks up a resumed run's new samples.
"""

from __future__ import annotations

import hashlib
import json
import os
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from groundfloor.errors import UserError
from groundfloor.rundir import RunDir, atomic_write_json, read_jsonl
from groundfloor.seal import file_sha256

LOG_DIR = "inspect"
INDEX = "index.json"
LOG_FORMAT = 1  # bump when the log's contents change, so older logs are rewritten
VALIDITY = ("truncated", "repeating", "no_answer", "accuracy_answered", "chance", "truncated_output")
CORE = {"id", "prompt", "target", "output", "extracted", "score", "n_prompt_tokens", "n_new_tokens"}


def _json_safe(value: Any) -> Any:
    """`value` when it is a JSON scalar, else its JSON text (inspect metadata and targets must serialise)."""
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return json.dumps(value, ensure_ascii=False, default=str)


def _text(value: Any) -> str:
    return "" if value is None else value if isinstance(value, str) else json.dumps(value, ensure_ascii=False,
                                                                                    default=str)


def _created(path: Path) -> str:
    return datetime.fromtimestamp(path.stat().st_mtime, tz=timezone.utc).isoformat()


def log_path(root: Path, source: Path) -> Path:
    """Where the log of `source` goes: its path under models/ without 'tasks', pairs under '<round>/pairs/'."""
    parts = list(source.relative_to(root / "models").parts)
    if parts[-1] == "pairs.jsonl":
        parts = [p if p != "lineages" else "pairs" for p in parts[:-1]]
        name = parts.pop() if "pairs" in parts else "pairs"
    else:
        parts = [p for p in parts[:-1] if p != "tasks"]
        name = parts.pop()
    return root / LOG_DIR / Path(*parts) / f"{name}.eval"


def _model_names(root: Path) -> dict[str, str]:
    """Model folder -> model name, from the manifest (the folder itself when the manifest lacks it)."""
    try:
        models = json.loads((root / "manifest.json").read_text()).get("models") or {}
    except (OSError, ValueError):
        models = {}
    run = RunDir(root)
    return {run.model_folder(name): name for name in models}


def _where(root: Path, source: Path, names: dict[str, str]) -> dict[str, Any]:
    """model, method, round (and lineage / transfer policy) of a source file, from its path."""
    parts = source.relative_to(root / "models").parts
    k = next(i for i, p in enumerate(parts) if p.startswith("round_"))
    out: dict[str, Any] = {"model": names.get(parts[0], parts[0]), "method": parts[1] if k == 2 else "prompting",
                           "round": int(parts[k][len("round_"):]), "source": source.relative_to(root).as_posix()}
    rest = parts[k + 1:]
    if "transfer" in rest:
        out["policy_trained_on"] = rest[rest.index("transfer") + 1]
    if "lineages" in rest:
        out["lineage"] = rest[rest.index("lineages") + 1]
    return out


def _eval_sample(row: dict, model: str, uuid: str, stage: str | None, metric: str):
    from inspect_ai.log import EvalSample
    from inspect_ai.model import ChatMessageAssistant, ChatMessageUser, ModelOutput, ModelUsage
    from inspect_ai.scorer import Score

    output = _text(row.get("output"))
    messages = [ChatMessageUser(content=_text(row.get("prompt"))), ChatMessageAssistant(content=output, model=model)]
    if stage and row.get(f"{stage}_reply") is not None:  # the scorer's model stage: a second turn
        messages += [ChatMessageUser(content=_text(row.get(f"{stage}_prompt"))),
                     ChatMessageAssistant(content=_text(row[f"{stage}_reply"]), model=model)]
    out = ModelOutput.from_content(model, output, stop_reason="max_tokens" if row.get("truncated") else "stop")
    pt, nt = row.get("n_prompt_tokens"), row.get("n_new_tokens")
    if isinstance(pt, int) and isinstance(nt, int):
        out.usage = ModelUsage(input_tokens=pt, output_tokens=nt, total_tokens=pt + nt)
    flags = {k: row[k] for k in VALIDITY if k in row}
    scores = None
    if row.get("score") is not None:
        scores = {metric: Score(value=float(row["score"]), answer=_text(row.get("extracted")) or None,
                                      metadata=flags)}
    meta = {k: _json_safe(v) for k, v in row.items() if k not in CORE}
    return EvalSample(id=str(row["id"]), epoch=1, input=_text(row.get("prompt")), target=_text(row.get("target")),
                      messages=messages, output=out, scores=scores, metadata=meta, uuid=uuid)


def _spec(task: str, where: dict, n: int, created: str, gen: dict | None, eval_id: str, kind: str):
    from inspect_ai.log import EvalConfig, EvalDataset, EvalSpec
    from inspect_ai.model import GenerateConfig

    config = GenerateConfig()
    if gen:
        config = GenerateConfig(max_tokens=gen.get("max_new_tokens"), seed=gen.get("seed"),
                                temperature=0.0 if gen.get("greedy") else gen.get("temperature"),
                                top_p=None if gen.get("greedy") else gen.get("top_p"))
    label = f"{task} · {where['model']} · {where['method']} round {where['round']}"
    return EvalSpec(eval_id=eval_id, run_id=eval_id, created=created, task=task, task_display_name=label,
                    dataset=EvalDataset(name=task, samples=n), model=where["model"], model_generate_config=config,
                    config=EvalConfig(), tags=[f"round {where['round']}", where["method"], kind],
                    metadata={**where, "kind": kind})


def _results(rows: list[dict], summary: dict | None):
    """The task's main metric (and validity rates) as metrics.json records them, else a plain mean."""
    from inspect_ai.log import EvalMetric, EvalResults, EvalScore

    scored = [float(r["score"]) for r in rows if r.get("score") is not None]
    metrics = (summary or {}).get("metrics", {})
    main = (summary or {}).get("main_metric", "score")
    rec = metrics.get(main) or ({"value": sum(scored) / len(scored), "n": len(scored)} if scored else {})
    shown = {"value": "mean", "ci_low": "ci_low", "ci_high": "ci_high", "n": "n"}
    vals = {shown[k]: EvalMetric(name=shown[k], value=float(rec[k])) for k in shown if rec.get(k) is not None}
    rates = {k: EvalMetric(name=k, value=float(metrics[k]["value"])) for k in
             ("no_answer_rate", "truncated_rate", "repeating_rate") if k in metrics}
    scores = [EvalScore(name=main, scorer="mipo_bench", metrics=vals, scored_samples=len(scored),
                        unscored_samples=len(rows) - len(scored))]
    if rates:
        scores.append(EvalScore(name="validity", scorer="mipo_bench", metrics=rates))
    return EvalResults(total_samples=len(rows), completed_samples=len(scored), scores=scores)


def _stats(created: str, model: str, samples: list):
    """When the source was last written, and the tokens of every sample (prompt and generated)."""
    from inspect_ai.log import EvalStats
    from inspect_ai.model import ModelUsage

    usage = ModelUsage()
    for s in samples:
        if s.output.usage is not None:
            usage = usage + s.output.usage
    return EvalStats(started_at=created, completed_at=created, model_usage={model: usage})


def eval_log(root: Path, source: Path, names: dict[str, str]):
    """The inspect log of one evaluation's samples.jsonl (metrics.json beside it gives the metric and decoding)."""
    from inspect_ai.log import EvalLog

    where, rows = _where(root, source, names), read_jsonl(source, repair=False)
    summary_path = source.with_name("metrics.json")
    summary = json.loads(summary_path.read_text()) if summary_path.exists() else None
    task, eval_id = source.parent.name, hashlib.sha256(where["source"].encode()).hexdigest()[:22]
    where["model"] = (summary or {}).get("model", where["model"])
    stage = ((summary or {}).get("model_stage") or {}).get("name")
    metric = (summary or {}).get("main_metric", "score")
    samples = [_eval_sample(r, where["model"], f"{eval_id}-{i}", stage, metric)
               for i, r in enumerate(rows) if "id" in r]
    spec = _spec(task, where, len(samples), _created(source), (summary or {}).get("generation"), eval_id, "eval")
    return EvalLog(eval=spec, status="success", results=_results(rows, summary), samples=samples,
                   stats=_stats(spec.created, where["model"], samples))


def pairs_log(root: Path, source: Path, names: dict[str, str]):
    """The inspect log of one round's pairs.jsonl: prompt, chosen as the output, rejected and its origin."""
    from inspect_ai.log import EvalLog, EvalResults, EvalSample
    from inspect_ai.model import ChatMessageAssistant, ChatMessageUser, ModelOutput

    where, rows = _where(root, source, names), read_jsonl(source, repair=False)
    eval_id = hashlib.sha256(where["source"].encode()).hexdigest()[:22]
    samples, seen = [], set()
    for i, r in enumerate(rows):
        sid = str(r.get("prompt_id", i))
        sid = sid if sid not in seen else f"{sid}#{i}"
        seen.add(sid)
        chosen = _text(r.get("chosen"))
        meta = {k: _json_safe(r.get(k)) for k in ("task", "round", "negative_strategy", "rejected", "rejected_from",
                                                  "rejected_prompt")}
        samples.append(EvalSample(
            id=sid, epoch=1, input=_text(r.get("prompt")), target=chosen, metadata=meta, uuid=f"{eval_id}-{i}",
            messages=[ChatMessageUser(content=_text(r.get("prompt"))),
                      ChatMessageAssistant(content=chosen, model=where["model"])],
            output=ModelOutput.from_content(where["model"], chosen)))
    task = where.get("lineage") or "pairs"
    spec = _spec(f"pairs_{task}", where, len(samples), _created(source), None, eval_id, "pairs")
    return EvalLog(eval=spec, status="success", samples=samples,
                   results=EvalResults(total_samples=len(samples), completed_samples=len(samples)))


def sources(root: Path) -> list[Path]:
    """Every evaluation's samples.jsonl and every round's pairs.jsonl of a run folder."""
    models = root / "models"
    if not models.is_dir():
        return []
    return sorted([*models.rglob("samples.jsonl"), *models.rglob("pairs.jsonl")])


def write_run_logs(root: str | Path) -> list[Path]:
    """Write (or refresh) the inspect logs of a run folder; returns every log path. Unchanged sources are skipped;
    logs of sources that disappeared are removed."""
    try:
        from inspect_ai.log import write_eval_log
    except ImportError:
        raise UserError("inspect-ai is not installed: pip install 'inspect-ai==0.3.285'") from None
    root = Path(root)
    out_dir = root / LOG_DIR
    index_path = out_dir / INDEX
    try:
        index = json.loads(index_path.read_text()) if index_path.exists() else {}
    except ValueError:
        index = {}
    names, new_index, paths = _model_names(root), {}, []
    for source in sources(root):
        path = log_path(root, source)
        rel = path.relative_to(out_dir).as_posix()
        key = {"source": source.relative_to(root).as_posix(), "sha256": file_sha256(source), "format": LOG_FORMAT}
        if index.get(rel) != key or not path.exists():
            make = pairs_log if source.name == "pairs.jsonl" else eval_log
            tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
            tmp.parent.mkdir(parents=True, exist_ok=True)
            write_eval_log(make(root, source, names), tmp, format="eval")
            os.replace(tmp, path)
        new_index[rel] = key
        paths.append(path)
    for rel in set(index) - set(new_index):
        (out_dir / rel).unlink(missing_ok=True)
    if new_index or index:
        atomic_write_json(index_path, new_index)
    return paths


def view_command(log_dir: Path, host: str, port: int, python: str) -> list[str]:
    """The `inspect view` command line for a run's logs (recursive: they sit in per-model, per-round folders)."""
    return [python, "-m", "inspect_ai", "view", "start", "--log-dir", str(log_dir), "--recursive", "--host", host,
            "--port", str(port)]
