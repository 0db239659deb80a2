"""One MIPO (or SFT-self) round of one lineage: the policy answers train prompts, pairs are built, TRL trains.

A lineage is the chain of policies one set of tasks trains: with `training.scope: per_task` (the paper)
every task has its own lineage, trained on its own pairs only; with `joint` one lineage trains on every
task's pairs. Its files for round k live in (`RoundKey.train_dir`, groundfloor/records.py)

    models/<model>/<method>/round_<k>/                     joint
    models/<model>/<method>/round_<k>/lineages/<task>/     per_task

Every stage writes there before the next starts: positives.jsonl (appended per answer) -> pairs.jsonl ->
train/train_log.jsonl -> train/checkpoint/ -> train_summary.json. A finished round (train_summary.json
present) is never retrained; a round whose weights did not change fails (RunFailure) and is retrained
on the next run.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from groundfloor.backends.base import Backend
from groundfloor.errors import RunFailure
from groundfloor.methods import METHODS
from groundfloor.policy import Policy, finished_policy, run_relative_policy
from groundfloor.records import MetricCI, Pair, RoundHeader, TrainSummary, metric_dicts
from groundfloor.rundir import append_jsonl, atomic_write_json, read_jsonl, write_jsonl
from mipo import verified
from mipo.config import RoundSettings
from mipo.pairs import NEGATIVE_SEED_OFFSET, build_pairs, check_provenance
from mipo.prompts import round_prompts
from mipo.trackers import set_wandb_group
from mipo.trainers import trainer_of
from tasks.disjoint import round_check
from tasks.negatives import NEGATIVES
from tasks.plan import TaskPlan


@dataclass
class RoundInputs:
    """Everything a round needs besides the policy."""

    cfg: RoundSettings
    plans: list[TaskPlan]
    header: RoundHeader  # the round's identity, written into train_summary.json
    device: str
    dtype: object
    lora: bool
    load_backend: Callable[[Policy], Backend]
    log: Callable[[str], None] = print
    run_root: Path | None = None  # checkpoint paths are stored relative to it (a moved run folder resumes)


def lineages(plans: list[TaskPlan], scope: str) -> list[tuple[str, list[TaskPlan]]]:
    """(name, tasks it trains on): one per task for per_task, one named "joint" for joint."""
    return [("joint", plans)] if scope == "joint" else [(p.task.id, [p]) for p in plans]


def prompts_per_task(cfg: RoundSettings, plan: TaskPlan) -> int:
    """The round's train prompts for one task: the task's own budget, else `mipo.train_prompts_per_round`
    (per task), capped by (or, for 'all', equal to) its train pool."""
    n = plan.spec.train_prompts_per_round or cfg.mipo.train_prompts_per_round
    return len(plan.train_pool) if n == "all" else min(n, len(plan.train_pool))


def round_sampling(plan: TaskPlan, round_k: int):
    """The train-generation settings of round k (the task's paper defaults, seed offset by the round)."""
    return plan.train_gen.__class__(**{**plan.train_gen.to_dict(), "seed": plan.train_gen.seed + round_k})


def _positives(backend: Backend, plan: TaskPlan, items, path: Path, params) -> list[str]:
    """The policy's answers to `items`, resumed from positives.jsonl."""
    done = {(r["task"], r["prompt_id"]): r["text"] for r in read_jsonl(path)}
    todo = [it for it in items if (plan.task.id, it.id) not in done]
    prompts = [plan.task.train_messages(it) for it in todo]

    def keep(i, gen):
        append_jsonl(path, {"task": plan.task.id, "prompt_id": todo[i].id, "text": gen.text,
                            "engine": gen.engine or None})
        done[(plan.task.id, todo[i].id)] = gen.text

    if todo:
        backend.generate(prompts, params, on_done=keep)
    return [done[(plan.task.id, it.id)] for it in items]


def _negative_pairs(backend: Backend, plan: TaskPlan, items, inp: RoundInputs, round_dir: Path,
                    round_k: int) -> tuple[list[Pair], dict]:
    """MIPO's pairs (and sft_self's): the policy's answers against the task's (or method's) negatives."""
    inp.log(f"round {round_k}: {plan.task.id}: answering {len(items)} train prompts")
    sampling = round_sampling(plan, round_k)
    positives = _positives(backend, plan, items, round_dir / "positives.jsonl", sampling)
    strategy = METHODS[inp.header.method].negative or plan.negative  # a method may fix its negative
    task_pairs, st = build_pairs(plan.task, items, positives, strategy, backend, sampling,
                                 seed=inp.cfg.seed + round_k, round_k=round_k)
    return task_pairs, {"prompts": len(items), "pairs": st.built, "dropped_identical": st.dropped_identical,
                        "dropped_no_negative": st.dropped_no_negative, "strategy": strategy,
                        "pair_seed": inp.cfg.seed + round_k, "sampling": sampling.to_dict(),
                        "negative_seed": sampling.seed + NEGATIVE_SEED_OFFSET
                        if NEGATIVES[strategy].generates else None,
                        "prompt_ids": [it.id for it in items]}


def _verified_pairs(backend: Backend, plan: TaskPlan, items, inp: RoundInputs, round_dir: Path,
                    round_k: int) -> tuple[list[Pair], dict]:
    """verified_dpo's pairs: k scored samples per prompt, best against worst (mipo/verified.py)."""
    k = inp.cfg.verified_dpo.samples_per_prompt
    base = verified.verified_sampling(plan.train_gen, inp.cfg.verified_dpo.sampling)
    sampling = base.__class__(**{**base.to_dict(), "seed": base.seed + round_k})  # as round_sampling
    inp.log(f"round {round_k}: {plan.task.id}: sampling {k} answers to each of {len(items)} train prompts")
    task_pairs, entry = verified.task_pairs(backend, plan.task, items, k, sampling, round_dir, round_k)
    inp.log(f"round {round_k}: {plan.task.id}: {entry['pairs']} verified pairs; no pair for {entry['no_pair']} "
            f"prompts ({entry['no_pair_all_pass']} all passed, {entry['no_pair_all_fail']} all failed, "
            f"{entry['no_pair_tied']} tied, {entry['no_pair_unscored']} unscored)")
    return task_pairs, entry


def build_round_pairs(policy: Policy, inp: RoundInputs, round_dir: Path, round_k: int) -> tuple[list[Pair], dict]:
    """Generate positives and negatives with the current policy and write pairs.jsonl."""
    pairs_path = round_dir / "pairs.jsonl"
    stats_path = round_dir / "pairs_stats.json"
    if stats_path.exists():
        return read_jsonl(pairs_path), json.loads(stats_path.read_text())
    backend = inp.load_backend(policy)
    pairs: list[Pair] = []
    stats: dict = {"per_task": {}}
    try:
        for plan in inp.plans:
            items = round_prompts(plan, prompts_per_task(inp.cfg, plan), round_k, inp.cfg.mipo.fresh_prompts)
            if len(items) < 2:
                inp.log(f"{plan.task.id}: fewer than 2 train prompts, no pairs this round")
                continue
            build = _verified_pairs if METHODS[inp.header.method].pairs == "verified" else _negative_pairs
            task_pairs, stats["per_task"][plan.task.id] = build(backend, plan, items, inp, round_dir, round_k)
            pairs += task_pairs
    finally:
        backend.close()
    problems = check_provenance(pairs)
    if problems:
        raise RunFailure(f"pair provenance check failed: {problems[0]}")
    stats["eval_overlap"] = round_check(pairs, inp.plans)  # no evaluated prompt may be trained on
    if not stats["eval_overlap"]["ok"]:
        raise RunFailure(f"round {round_k}: train/eval separation check failed: {stats['eval_overlap']['problem']}")
    stats["total_pairs"] = len(pairs)
    stats["dropped_identical"] = sum(s["dropped_identical"] for s in stats["per_task"].values())
    if any("no_pair" in s for s in stats["per_task"].values()):  # verified_dpo: prompts that gave no pair
        stats["no_pair"] = sum(s.get("no_pair", 0) for s in stats["per_task"].values())
    write_jsonl(pairs_path, pairs)
    atomic_write_json(stats_path, stats)
    return pairs, stats


def run_round(policy: Policy, initial: Policy, inp: RoundInputs, round_dir: Path, round_k: int) -> Policy:
    """Run round k for one method and return the policy it produced (resumes a finished round)."""
    done = finished_policy(round_dir, inp.run_root)
    if done is not None:
        inp.log(f"round {round_k} ({inp.header.method}): already trained, reusing its checkpoint")
        return done
    set_wandb_group(inp.cfg.training, round_dir / "train")  # W&B: one group per lineage (mipo/trackers.py)
    trainer = trainer_of(inp.header.method)
    if trainer.rollouts:  # rlvr / rlaif: no pairs, TRL samples rollouts
        from mipo.grpo_round import run_grpo_round

        return run_grpo_round(policy, initial, inp, round_dir, round_k)
    pairs, stats = build_round_pairs(policy, inp, round_dir, round_k)
    if len(pairs) < 1 and "no_pair" in stats:
        raise RunFailure(f"round {round_k}: no verified pairs: every prompt's answers scored alike (counts in "
                         "pairs_stats.json); more train prompts, verified_dpo.samples_per_prompt or a higher "
                         "verified_dpo.sampling.temperature")
    if len(pairs) < 1:
        raise RunFailure(f"round {round_k}: no training pairs were built (every chosen response equalled its rejected one); "
                         "use sampling (mipo.sampling.greedy: false) or more train prompts")
    inp.log(f"round {round_k} ({inp.header.method}): training on {len(pairs)} pairs")
    train_dir = round_dir / "train"
    if inp.cfg.training.launcher == "accelerate":
        from mipo import launch

        launch.write_request(train_dir, inp.header.method, policy, initial, round_dir / "pairs.jsonl",
                             inp.cfg.training, inp.device, inp.lora)
        new_policy, summary = launch.launch(train_dir, inp.cfg.training.accelerate_config)
    else:
        new_policy, summary = trainer.train(policy, initial, pairs, inp.cfg.training, train_dir, inp.device,
                                            inp.lora)
    if summary["nonfinite_loss"]:
        inp.log(f"round {round_k}: loss became NaN/inf; stopped the round and kept the previous checkpoint")
    else:
        check_changed(summary, inp, train_dir, round_k)
    metrics = _metrics(summary, stats)
    atomic_write_json(round_dir / "train_summary.json", {
        **inp.header.head("train", "_train"), "metrics": metrics, "pairs_stats": stats, **summary,
        "method": inp.header.method,  # the trainer names its objective's first method (verified_dpo trains DPO)
        "policy": run_relative_policy(new_policy, inp.run_root),
    })
    return new_policy


def check_changed(summary: TrainSummary, inp: RoundInputs, train_dir: Path, round_k: int) -> None:
    """A trained round must have moved the weights; else RunFailure (the folder stays, the round is redone)."""
    rel = summary.get("relative_weight_change")
    if rel is not None and rel > 0:
        inp.log(f"round {round_k} ({inp.header.method}, trained on {inp.header.trained_on}): "
                f"relative weight change {rel:.3g} over {summary['weight_elements_compared']} weights")
        return
    atomic_write_json(train_dir / "unchanged_weights.json", summary)
    why = "; every step ran at learning rate 0 (the warm-up of a 1-step round): more pairs, or " \
        "training.warmup_ratio: 0" if summary.get("max_learning_rate") == 0 else \
        "; check training.learning_rate and training.weights_dtype"
    raise RunFailure(f"round {round_k} ({inp.header.method}): training changed no weights "
                     f"(relative_weight_change {rel}, {summary.get('steps')} steps); see {train_dir}{why}")


def _metrics(summary: TrainSummary, stats: dict) -> dict:
    """The round's `_train` rows: mean training logs (n = logged steps), pairs, NaN flag, weight change."""
    metrics = {k.removeprefix("mean_"): MetricCI.point(v, summary["steps"])
               for k, v in summary.items() if k.startswith("mean_")}
    metrics["pairs"] = MetricCI.point(stats["total_pairs"], stats["total_pairs"])
    if "no_pair" in stats:  # verified_dpo: train prompts whose k answers all scored alike (n = the round's prompts)
        prompts = sum(s["prompts"] for s in stats["per_task"].values())
        metrics["no_pair_prompts"] = MetricCI.point(stats["no_pair"], prompts)
    metrics["nonfinite_loss"] = MetricCI.point(float(summary["nonfinite_loss"]), summary["steps"])
    if summary.get("relative_weight_change") is not None:  # n = weights compared, no CI (one deterministic figure)
        metrics["relative_weight_change"] = MetricCI.point(summary["relative_weight_change"],
                                                           summary["weight_elements_compared"])
    return metric_dicts(metrics)
