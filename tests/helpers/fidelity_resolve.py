"""The effective settings of a suite, as flat `key.path -> value`, for docs/fidelity.md's test.

Each value is what a run of the suite would use, computed by the project's own code: tasks are planned
with harness.evaluation.plan.plan_task (data replaced by a synthetic pool, so no download), training arguments
come from mipo.train. A task the suite does not list is resolved as if the suite listed `- id: <task>`.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from types import SimpleNamespace
from unittest import mock
from typing import Any

import yaml

import harness.evaluation.plan
from harness.config import SuiteConfig, TaskSpec
from mipo.batching import world_size
from mipo.train import common_args, default_learning_rate
from tasks.base import DataSource, DataSplit, Item
from tasks.registry import TaskRegistry

ROOT = Path(__file__).resolve().parents[2]
POOL = 5000  # synthetic evaluation pool: a limit equal to it means "the whole split"
BLOCK = re.compile(r"```yaml fidelity\n(.*?)```", re.DOTALL)


def table_entries(doc: Path) -> dict[str, dict]:
    """Every `key: {paper: ..., ...}` of the doc's ```yaml fidelity blocks (a key twice is an error)."""
    entries: dict[str, dict] = {}
    for block in BLOCK.findall(doc.read_text(encoding="utf-8")):
        for key, entry in (yaml.safe_load(block) or {}).items():
            if key in entries:
                raise ValueError(f"{doc.name}: key {key} is in the table twice")
            if not isinstance(entry, dict) or "paper" not in entry:
                raise ValueError(f"{doc.name}: {key} needs a mapping with a 'paper' value")
            entries[key] = entry
    return entries


def _synthetic_split(task_id: str) -> DataSplit:
    def items(prefix: str, n: int) -> list[Item]:
        return [Item(id=f"{prefix}-{i}", question=f"{task_id} {prefix} question {i}?", target="1",
                     choices=("a", "b", "c", "d"), context=f"preference {i}", meta={"chosen": 0})
                for i in range(n)]

    src = DataSource("generated", "fidelity test", "synthetic")
    return DataSplit(items("eval", POOL), items("train", 64), src, src)


def _gen(params) -> dict[str, Any]:
    return {k: params.to_dict()[k] for k in ("max_new_tokens", "temperature", "top_p", "greedy")}


def task_settings(cfg: SuiteConfig, task_id: str, registry: TaskRegistry) -> dict[str, Any]:
    """tasks.<id>.*: evaluation and train-time sampling, sample size and seed, negative, options, judge."""
    spec = next((t for t in cfg.tasks if t.id == task_id), TaskSpec(id=task_id))
    task = registry.get(task_id, spec.options)
    fake = SimpleNamespace(split=_synthetic_split(task_id), provenance={"source": "synthetic"})
    with mock.patch.object(harness.evaluation.plan, "load_data", lambda *a, **k: fake):  # plan_task's only data access
        plan = harness.evaluation.plan.plan_task(task, spec, cfg, offline=True, limit=None)
    out: dict[str, Any] = {}
    for stage, params in (("eval", plan.gen), ("train", plan.train_gen)):
        out.update({f"{stage}.{k}": v for k, v in _gen(params).items()})
    out["eval.limit"] = "all" if len(plan.eval_items) == POOL else len(plan.eval_items)
    out["eval.seed"] = spec.seed if spec.seed is not None else task.default_seed
    out["negative"] = plan.negative
    out.update({f"options.{k}": v for k, v in task.options.model_dump().items()})
    if hasattr(task, "set_judge_config"):
        out["judge.model"] = task.options.judge_model
        out["judge.max_new_tokens"] = task.options.judge_max_new_tokens
    return {f"tasks.{task_id}.{k}": v for k, v in out.items()}


def _zero_stage(cfg: SuiteConfig) -> int | None:
    """The DeepSpeed ZeRO stage of the accelerate launcher's config; None when training in-process."""
    if cfg.training.launcher != "accelerate":
        return None
    acc = yaml.safe_load((ROOT / cfg.training.accelerate_config).read_text())
    ds_file = (acc.get("deepspeed_config") or {}).get("deepspeed_config_file")
    if acc.get("distributed_type") != "DEEPSPEED" or not ds_file:
        return None
    return json.loads((ROOT / ds_file).read_text())["zero_optimization"]["stage"]


def training_settings(cfg: SuiteConfig) -> dict[str, Any]:
    """training.*: what TRL is given on the suite's device (auto counts as a GPU: the paper's setting)."""
    t, device = cfg.training, "cpu" if cfg.device == "cpu" else "cuda"
    lora = t.mode == "lora" or (t.mode == "auto" and device == "cpu")  # as harness/run/runner.py decides
    args = common_args(t, Path("/nonexistent"), device, lora)
    warmup = args.get("warmup_ratio", args.get("warmup_steps"))
    return {
        "training.mode": "lora" if lora else "full",
        "training.learning_rate": default_learning_rate(t, lora),
        "training.beta": t.beta, "training.reference": t.reference,
        "training.adam_beta1": args["adam_beta1"], "training.adam_beta2": args["adam_beta2"],
        "training.weight_decay": args["weight_decay"], "training.lr_scheduler": args["lr_scheduler_type"],
        "training.min_lr_rate": (args.get("lr_scheduler_kwargs") or {}).get("min_lr_rate", 0.0),
        "training.warmup_ratio": warmup, "training.micro_batch": args["per_device_train_batch_size"],
        "training.global_batch": args["per_device_train_batch_size"] * args["gradient_accumulation_steps"]
        * world_size(),
        "training.epochs": args["num_train_epochs"], "training.bf16_autocast": bool(args["bf16"]),
        "training.weights_dtype": t.weights_dtype, "training.zero_stage": _zero_stage(cfg),
        "training.scope": t.scope, "training.seed": args["seed"],
    }


def effective(cfg: SuiteConfig, task_ids: list[str]) -> dict[str, Any]:
    """All resolvable keys for the suite and the given tasks."""
    registry = TaskRegistry(cfg.include_paths(), use_entry_points=False)
    out: dict[str, Any] = {
        "suite.seed": cfg.seed, "suite.rounds": cfg.rounds, "suite.tasks": sorted(t.id for t in cfg.tasks),
        "suite.models": sorted(m.id for m in cfg.models),
        "mipo.train_prompts_per_round": cfg.mipo.train_prompts_per_round,
        "mipo.diagnostics_prompts": cfg.mipo.diagnostics_prompts,
        **training_settings(cfg),
    }
    for tid in task_ids:
        out.update(task_settings(cfg, tid, registry))
    return out


def same(a: Any, b: Any) -> bool:
    """Equality that treats numbers by value (5e-7 == 5.0e-07, 1 == 1.0) and lists as sets."""
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return abs(a - b) <= 1e-12 * max(1.0, abs(a), abs(b))
    if isinstance(a, list) and isinstance(b, list):
        return sorted(map(str, a)) == sorted(map(str, b))
    return a == b


def mismatches(cfg: SuiteConfig, entries: dict[str, dict]) -> list[str]:
    """One line per key whose effective value is neither the paper's nor the deviation the table records."""
    task_ids = sorted({k.split(".")[1] for k in entries if k.startswith("tasks.")})
    values = effective(cfg, task_ids)
    problems = []
    for key, entry in entries.items():
        if key not in values:
            raise KeyError(f"docs/fidelity.md names {key}, which the fidelity test cannot resolve")
        expected = entry.get("suite", entry["paper"])
        if "suite" in entry and same(entry["suite"], entry["paper"]):
            problems.append(f"{key}: records a deviation ({entry['suite']!r}) equal to the paper's value")
        elif not same(values[key], expected):
            what = "the recorded deviation" if "suite" in entry else "the paper"
            problems.append(f"{key}: suite gives {values[key]!r}, {what} says {expected!r}")
    return problems
