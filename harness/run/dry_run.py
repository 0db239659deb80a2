"""What `run --dry-run` prints: the resolved plan (models, tasks, training, the steps) and a time estimate."""

from __future__ import annotations

from groundfloor.backends.base import GenParams
from groundfloor.methods import trained
from groundfloor.models.resolve import check_model_id
from harness.config import SuiteConfig, TaskSpec
from harness.run.gpu_plan import gpu_estimate
from harness.run.steps import Step
from mipo.rounds import lineages, prompts_per_task
from tasks.base import DataSource, DataSplit, Task
from tasks.loader import describe_source
from tasks.plan import TaskPlan, merge_generation


def unfetched_plan(task: Task, spec: TaskSpec, cfg: SuiteConfig, why: str) -> TaskPlan:
    """A task whose hub data is not at hand (offline dry run): planned without items, its data 'not fetched'."""
    labels = [label for src in task.data_sources() if src.kind == "hub" for label in src.eval.labels()]
    where = DataSource("hub", " + ".join(labels) or task.id, "not fetched")
    prov = {"mode": cfg.data, "used": "not fetched", "reason": why, "fallback_from": [], "eval_pool": None,
            "train_pool": None, "source": {"eval": labels, "train": [], "split": "once fetched"}}
    gen = merge_generation(task.generation, cfg.generation, spec.generation, seed=cfg.seed)
    train_gen = merge_generation(task.train_generation, cfg.mipo.sampling, seed=cfg.seed)
    return TaskPlan(task=task, spec=spec, eval_items=[], train_pool=[], diag_items=[],
                    negative=spec.negative or task.default_negative, gen=gen,
                    train_gen=GenParams(**{**train_gen.to_dict(), "batch_size": gen.batch_size}), partial=False,
                    split=DataSplit([], [], where, where), data=prov)


def estimate_seconds(plans: list[TaskPlan], cfg: SuiteConfig, n_models: int) -> float:
    """A rough CPU estimate: ~40 new tokens/s for generation, ~3 s per DPO step of 2 pairs; a scorer's model
    stage (GSM8K's extraction turn) as a quarter of its budget per item."""
    eval_tokens = sum(len(p.eval_items) * p.gen.max_new_tokens * 0.5 for p in plans)
    eval_tokens += sum(len(p.eval_items) * p.task.scorer.stage.generation.max_new_tokens * 0.25
                       for p in plans if p.task.scorer.stage is not None)
    train_methods = trained(cfg.methods)
    prompts = sum(prompts_per_task(cfg, p) for p in plans)  # per round, over all lineages
    per_round_gen = prompts * 300 * 1.5
    per_round_train = prompts * 1.5
    total = eval_tokens / 40 * (1 + cfg.rounds * len(train_methods))
    total += cfg.rounds * len(train_methods) * (per_round_gen / 40 + per_round_train)
    return total * n_models


def model_source(model_id: str, source: str = "auto") -> str:
    """Where a model would come from, checked without downloading or loading it."""
    kind = check_model_id(model_id)
    if kind == "alias":
        from groundfloor.models.online import describe

        return f"built-in alias: {describe(model_id, source)}"
    return {"local": "local folder", "hub": "hub id"}[kind]


def training_plan(cfg: SuiteConfig, plans: list[TaskPlan], lora: bool) -> dict:
    """What the rounds train: scope, lineages (name -> tasks whose pairs train it), mode, precision, lr."""
    from mipo.train import default_learning_rate

    t = cfg.training
    return {"scope": t.scope, "lineages": {name: [p.task.id for p in group] for name, group in
                                           lineages(plans, t.scope)},
            "transfer": t.transfer, "mode": "lora" if lora else "full", "weights_dtype": t.weights_dtype,
            "learning_rate": default_learning_rate(t, lora), "launcher": t.launcher}


def task_summary(cfg: SuiteConfig, p: TaskPlan) -> dict:
    if p.data.get("used") == "not fetched":
        return {"eval_items": "not fetched", "train_pool": "not fetched", "negative": p.negative,
                "max_new_tokens": p.gen.max_new_tokens, "data": f"not fetched: {p.data['reason']}"}
    return {"eval_items": len(p.eval_items), "train_pool": len(p.train_pool),
            "train_prompts_per_round": prompts_per_task(cfg, p), "negative": p.negative,
            "max_new_tokens": p.gen.max_new_tokens, "data": describe_source(p.data)}


def plan_json(cfg: SuiteConfig, sources: dict[str, str], plans: list[TaskPlan], steps: list[Step], lora: bool,
            **facts) -> dict:
    """The dry run's JSON: `facts` (device, engine, folders, ...) with the tasks, training, steps and estimate."""
    return {
        "models": [m.id for m in cfg.models], "model_sources": sources,
        "methods": cfg.methods, "rounds": cfg.rounds, **facts,
        "tasks": {p.task.id: task_summary(cfg, p) for p in plans},
        "training": training_plan(cfg, plans, lora),
        "steps": [str(s) for s in steps],
        "estimated_minutes_cpu": round(estimate_seconds(plans, cfg, len(cfg.models)) / 60, 1),
        "estimate_one_gpu": gpu_estimate(steps, plans, cfg, facts.get("engine", "hf"), lora),
    }
