"""One `rlvr` / `rlaif` round of a lineage: the round's train prompts, GRPO with the method's reward, the summary.

The round draws its train prompts as `mipo` does (the same budget, fresh slices of the train pool, the
train/eval separation check) and writes them to prompts.jsonl, with their stats and the check in
pairs_stats.json (where every round's check is collected; `total_pairs` is 0: GRPO trains on rollouts,
not pairs). TRL then samples and scores the rollouts (rollouts.jsonl), trains (train/train_log.jsonl) and
the round writes train_summary.json with the reward curve and `relative_weight_change`. GRPO trains in this
process even under `training.launcher: accelerate` (the reward needs the task objects; said in the log).
"""

from __future__ import annotations

import json
from pathlib import Path

from groundfloor.errors import RunFailure
from groundfloor.methods import METHODS
from groundfloor.policy import Policy, run_relative_policy
from groundfloor.records import MetricCI, TrainSummary, metric_dicts
from groundfloor.rundir import atomic_write_json, read_jsonl, write_jsonl
from mipo.prompts import round_prompts
from mipo.rewards import Reward
from mipo.rounds import RoundInputs, check_changed, prompts_per_task, round_sampling
from mipo.trainers import Rollouts, trainer_of
from tasks.disjoint import round_check


def round_prompt_records(inp: RoundInputs, round_dir: Path, round_k: int) -> tuple[list[dict], dict]:
    """The round's train prompts of every task of the lineage (prompts.jsonl) and their stats (resumed)."""
    path, stats_path = round_dir / "prompts.jsonl", round_dir / "pairs_stats.json"
    if stats_path.exists():
        return read_jsonl(path), json.loads(stats_path.read_text())
    records, stats = [], {"per_task": {}, "kind": "grpo_prompts"}
    for plan in inp.plans:
        items = round_prompts(plan, prompts_per_task(inp.cfg, plan), round_k, inp.cfg.mipo.fresh_prompts)
        for it in items:
            messages = plan.task.train_messages(it, with_context=True)
            records.append({"prompt_id": it.id, "task": plan.task.id, "round": round_k,
                            "prompt": messages[-1]["content"], "prompt_messages": messages})
        stats["per_task"][plan.task.id] = {"prompts": len(items), "sampling": round_sampling(plan, round_k).to_dict(),
                                           "prompt_ids": [it.id for it in items]}
    stats["eval_overlap"] = round_check(records, inp.plans)  # no evaluated prompt may be trained on
    if not stats["eval_overlap"]["ok"]:
        raise RunFailure(f"round {round_k}: train/eval separation check failed: {stats['eval_overlap']['problem']}")
    stats.update(total_pairs=0, total_prompts=len(records), dropped_identical=0)
    round_dir.mkdir(parents=True, exist_ok=True)
    write_jsonl(path, records)
    atomic_write_json(stats_path, stats)
    return records, stats


def _judge(inp: RoundInputs, initial: Policy):
    """The frozen model that judges rlaif's rollouts (transformers engine, the run's device): the initial policy,
    or the model `rlaif.judge_model` names."""
    from groundfloor.backends.hf import HFBackend

    from groundfloor.models.resolve import resolve_model

    named = inp.cfg.rlaif.judge_model
    judge = initial if named is None else Policy(base=resolve_model(named, log=inp.log).path)
    if named is not None:
        inp.log(f"rlaif judge: {named} ({judge.base}), not the initial model (rlaif.judge_model)")
    return HFBackend.load(judge.base, device=inp.device, dtype=inp.dtype, adapter=judge.adapter,
                          name=f"judge:{named or 'initial'}")


def make_reward(inp: RoundInputs, initial: Policy, round_dir: Path) -> Reward:
    """The method's reward over the lineage's train items; rlaif loads its judge."""
    kind = METHODS[inp.header.method].reward
    items = {(p.task.id, it.id): (p.task, it) for p in inp.plans for it in p.train_pool + p.diag_items}
    judge = _judge(inp, initial) if kind == "judge" else None
    return Reward(kind=kind, items=items, rollouts=round_dir / "rollouts.jsonl", judge=judge,
                  judge_max_new_tokens=inp.cfg.rlaif.judge_max_new_tokens)


def run_grpo_round(policy: Policy, initial: Policy, inp: RoundInputs, round_dir: Path, round_k: int) -> Policy:
    """Round k of rlvr / rlaif: GRPO on the round's prompts; returns the new policy."""
    records, stats = round_prompt_records(inp, round_dir, round_k)
    if not records:
        raise RunFailure(f"round {round_k}: no train prompts for {inp.header.method}")
    method = inp.header.method
    if inp.cfg.training.launcher == "accelerate":
        inp.log(f"round {round_k} ({method}): GRPO trains in this process (training.launcher: accelerate is for "
                "DPO/SFT rounds)")
    (round_dir / "rollouts.jsonl").unlink(missing_ok=True)  # an interrupted round's rollouts are redone
    reward = make_reward(inp, initial, round_dir)
    sampling = round_sampling(inp.plans[0], round_k)
    inp.log(f"round {round_k} ({method}): GRPO on {len(records)} prompts, reward {reward.kind}")
    train_dir = round_dir / "train"
    try:
        new_policy, summary = trainer_of(method).train(policy, initial, records, inp.cfg.training, train_dir,
                                                       inp.device, inp.lora, Rollouts(reward, sampling))
    finally:
        if reward.judge is not None:
            reward.judge.close()
    if summary["nonfinite_loss"]:
        inp.log(f"round {round_k}: loss became NaN/inf; stopped the round and kept the previous checkpoint")
    else:
        check_changed(summary, inp, train_dir, round_k)
    atomic_write_json(round_dir / "train_summary.json", {
        **inp.header.head("train", "_train"), "metrics": grpo_metrics(summary, stats),
        "pairs_stats": stats, **summary, "method": method, "policy": run_relative_policy(new_policy, inp.run_root),
        **({"judge": inp.cfg.rlaif.judge_model or "initial"} if reward.kind == "judge" else {}),
    })
    return new_policy


def grpo_metrics(summary: TrainSummary, stats: dict) -> dict:
    """The round's `_train` rows: mean logged figures (n = logged steps), prompts, judge reliability, weight change."""
    metrics = {k.removeprefix("mean_"): MetricCI.point(v, summary["steps"])
               for k, v in summary.items() if k.startswith("mean_")}
    for k in ("first_reward", "last_reward"):
        if k in summary:
            metrics[k] = MetricCI.point(summary[k], 1)
    metrics["prompts"] = MetricCI.point(stats["total_prompts"], stats["total_prompts"])
    metrics["nonfinite_loss"] = MetricCI.point(float(summary["nonfinite_loss"]), summary["steps"])
    counts = summary.get("reward_counts", {})
    if counts.get("judge_calls"):
        metrics["judge_unreadable_rate"] = MetricCI.point(counts["judge_unreadable"] / counts["judge_calls"],
                                                          counts["judge_calls"])
    if summary.get("relative_weight_change") is not None:
        metrics["relative_weight_change"] = MetricCI.point(summary["relative_weight_change"],
                                                           summary["weight_elements_compared"])
    return metric_dicts(metrics)
