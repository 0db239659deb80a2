"""What every export shares: the run's sampled items as JSONL docs, a config file, and scoring a doc.

A doc is one JSONL line: `id`, `mipo_task`, `prompt` (the user message text), `target` (as text)
and `item` (the whole Item as JSON, so the scorer needs no dataset download). The generated files
import this module; `mipo_bench_export.json` next to them says where the repo and user tasks are.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from groundfloor.backends.base import GenParams
from groundfloor.errors import UserError
from tasks.base import Item, Score, Task

CONFIG_NAME = "mipo_bench_export.json"
REPO_ROOT = Path(__file__).resolve().parents[2]


@dataclass
class ExportedTask:
    """One task to export: its instance, the sampled evaluation items, decoding and metric names."""

    task: Task
    items: list[Item]
    gen: GenParams
    metrics: list[str]
    seed: int

    @property
    def name(self) -> str:
        """The task's name in the other tool (prefixed so it never shadows that tool's own task)."""
        return "mipo_" + re.sub(r"\W", "_", self.task.id)


def plan_exports(task_ids: list[str], include: list[Path], limit: int | None, offline: bool) -> list[ExportedTask]:
    """The items a run would evaluate (same seed and limit), via `plan_task` with a minimal suite."""
    from harness.config import SuiteConfig, TaskSpec
    from harness.evaluation.plan import plan_task
    from tasks.registry import TaskRegistry

    if not task_ids:
        raise UserError("--tasks is empty; give comma-separated task ids")
    registry = TaskRegistry(include)
    out = []
    for tid in task_ids:
        spec = TaskSpec(id=tid)
        cfg = SuiteConfig(models=["export"], tasks=[spec], include=[str(p) for p in include])
        task = registry.get(tid)
        plan = plan_task(task, spec, cfg, offline, limit)
        seed = spec.seed if spec.seed is not None else task.default_seed
        out.append(ExportedTask(task, plan.eval_items, plan.gen, metric_names(task, plan.eval_items), seed))
    return out


def metric_names(task: Task, items: list[Item]) -> list[str]:
    """The main metric and every extra metric the gold outputs of `items` produce.

    A task whose main metric needs a model stage (tasks/scorers.py ModelStage: GSM8K's and SVAMP's
    extraction turn) exports without it to lm-eval, whose scoring cannot call the model (`doc_metrics`).
    """
    names = [task.metric] if task.scorer.stage is None else []
    for it in items:
        for k in task.score(task.gold_output(it), it).extra:
            if k not in names:
                names.append(k)
    return names


def prompt_text(task: Task, item: Item) -> str:
    """The single user turn of an item's prompt (what lm-eval and inspect-ai send as the user message)."""
    msgs = task.messages(item)
    if len(msgs) != 1 or msgs[0].get("role") != "user":
        raise UserError(f"task {task.id}: only single user-turn prompts can be exported "
                        f"(item {item.id} has roles {[m.get('role') for m in msgs]})")
    return msgs[0]["content"]


def item_to_json(item: Item) -> str:
    return json.dumps({"id": item.id, "question": item.question, "target": item.target,
                       "choices": list(item.choices), "context": item.context, "meta": item.meta},
                      ensure_ascii=False, sort_keys=True)


def item_from_json(text: str) -> Item:
    d = json.loads(text)
    return Item(id=d["id"], question=d["question"], target=d["target"], choices=tuple(d["choices"]),
                context=d["context"], meta=d["meta"])


def to_doc(task: Task, item: Item) -> dict[str, str]:
    """One exported line; refuses items that do not survive the JSON round trip unchanged."""
    try:
        blob = item_to_json(item)
        back = item_from_json(blob)
    except (TypeError, ValueError) as e:
        raise UserError(f"task {task.id}: item {item.id} cannot be exported as JSON ({e})") from None
    if back != item or back.meta != item.meta:
        raise UserError(f"task {task.id}: item {item.id} changes in a JSON round trip (non-JSON target or meta)")
    target = item.target if isinstance(item.target, str) else json.dumps(item.target, ensure_ascii=False)
    return {"id": item.id, "mipo_task": task.id, "prompt": prompt_text(task, item), "target": target,
            "item": blob}


def write_docs(out: Path, ex: ExportedTask) -> Path:
    """`<out>/<task id>.jsonl` with the exported docs, in the run's sampled order."""
    path = out / f"{ex.task.id}.jsonl"
    lines = [json.dumps(to_doc(ex.task, it), ensure_ascii=False) + "\n" for it in ex.items]
    path.write_text("".join(lines), encoding="utf-8")
    return path


def write_config(out: Path, exports: list[ExportedTask], include: list[Path]) -> Path:
    """`mipo_bench_export.json`: repo root, include folders and per-task options, decoding and metrics."""
    data = {
        "repo": str(REPO_ROOT), "include": [str(Path(p).expanduser().resolve()) for p in include],
        "tasks": {ex.task.id: {"name": ex.name, "options": ex.task.options.model_dump(mode="json"),
                               "n": len(ex.items), "seed": ex.seed, "generation": ex.gen.to_dict(),
                               "metrics": ex.metrics} for ex in exports},
    }
    path = out / CONFIG_NAME
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    return path


@lru_cache(maxsize=None)
def _load_task(config_path: str, task_id: str) -> Task:
    from tasks.registry import TaskRegistry

    data = json.loads(Path(config_path).read_text(encoding="utf-8"))
    return TaskRegistry(data["include"]).get(task_id, data["tasks"][task_id]["options"])


def doc_score(config_path: str | Path, doc: dict[str, Any], output: str, reply: str | None = None) -> Score:
    """Score one generation for an exported doc with the task's own `Task.score` (as a run does); with the
    model stage's `reply`, `Task.score_reply`."""
    from harness.evaluation.score import score_of

    task = _load_task(str(Path(config_path).resolve()), doc["mipo_task"])
    return score_of(task, item_from_json(doc["item"]), output, reply)


def doc_follow_up(config_path: str | Path, doc: dict[str, Any], output: str) -> dict[str, Any] | None:
    """The model stage's turn for a doc's generation, as {"messages", "generation"}; None when it needs none."""
    from harness.evaluation.score import MAX_OUTPUT_CHARS

    task = _load_task(str(Path(config_path).resolve()), doc["mipo_task"])
    messages = task.follow_up(output[:MAX_OUTPUT_CHARS], item_from_json(doc["item"]))
    if messages is None:
        return None
    return {"messages": messages, "generation": dict(task.scorer.stage.generation.__dict__)}  # type: ignore[union-attr]


def doc_metrics(config_path: str | Path, doc: dict[str, Any], output: str) -> dict[str, float]:
    """`{main metric: score, **extra metrics}` for one doc (what lm-eval's process_results returns); without the
    main metric when it needs a model stage, which lm-eval's scoring cannot run."""
    task = _load_task(str(Path(config_path).resolve()), doc["mipo_task"])
    sc = doc_score(config_path, doc, output)
    main = {task.metric: float(sc.score)} if task.scorer.stage is None and sc.score is not None else {}
    return {**main, **{k: float(v) for k, v in sc.extra.items()}}
