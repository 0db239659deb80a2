"""One MIPO (or SFT-self) round: the current policy answers fresh train prompts, pairs are built, TRL trains.

Every stage writes to the round folder before the next starts:
positives.jsonl (appended per answer) -> pairs.jsonl -> train_log.jsonl -> checkpoint/ -> train_summary.json.
A finished round (train_summary.json present) is never retrained.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from harness.backends.base import Backend
from harness.config import SuiteConfig
from harness.errors import RunFailure
from harness.plan import TaskPlan, round_prompts
from harness.provenance import round_check
from harness.rundir import append_jsonl, atomic_write_json, read_jsonl, write_jsonl
from mipo.pairs import NEGATIVE_SEED_OFFSET, build_pairs, check_provenance
from mipo.train import Policy, train_dpo, train_sft


@dataclass
class RoundInputs:
    """Everything a round needs besides the policy."""

    cfg: SuiteConfig
    plans: list[TaskPlan]
    header: dict  # model, family, method, round
    device: str
    dtype: object
    lora: bool
    load_backend: Callable[[Policy], Backend]
    log: Callable[[str], None] = print


def finished_policy(round_dir: Path) -> Policy | None:
    """The policy a finished round produced, or None if the round has not finished."""
    path = round_dir / "train_summary.json"
    if not path.exists():
        return None
    pol = json.loads(path.read_text())["policy"]
    return Policy(base=pol["base"], adapter=pol.get("adapter"))


def round_sampling(plan: TaskPlan, round_k: int):
    """The train-generation settings of round k (the task's paper defaults, seed offset by the round)."""
    return plan.train_gen.__class__(**{**plan.train_gen.to_dict(), "seed": plan.train_gen.seed + round_k})


def _positives(backend: Backend, plan: TaskPlan, items, path: Path, params) -> list[str]:
    """The policy's answers to `items`, resumed from positives.jsonl."""
    done = {(r["task"], r["prompt_id"]): r["text"] for r in read_jsonl(path)}
    todo = [it for it in items if (plan.task.id, it.id) not in done]
    prompts = [plan.task.train_messages(it) for it in todo]

    def keep(i, gen):
        append_jsonl(path, {"task": plan.task.id, "prompt_id": todo[i].id, "text": gen.text})
        done[(plan.task.id, todo[i].id)] = gen.text

    if todo:
        backend.generate(prompts, params, on_done=keep)
    return [done[(plan.task.id, it.id)] for it in items]


def build_round_pairs(policy: Policy, inp: RoundInputs, round_dir: Path, round_k: int) -> tuple[list[dict], dict]:
    """Generate positives and negatives with the current policy and write pairs.jsonl."""
    pairs_path = round_dir / "pairs.jsonl"
    stats_path = round_dir / "pairs_stats.json"
    if stats_path.exists():
        return read_jsonl(pairs_path), json.loads(stats_path.read_text())
    n_tasks = len(inp.plans)
    per_task = max(2, inp.cfg.mipo.train_prompts_per_round // n_tasks)
    backend = inp.load_backend(policy)
    pairs, stats = [], {"per_task": {}}
    try:
        for plan in inp.plans:
            items = round_prompts(plan, per_task, round_k, inp.cfg.mipo.fresh_prompts)
            if len(items) < 2:
                inp.log(f"{plan.task.id}: fewer than 2 train prompts, no pairs this round")
                continue
            inp.log(f"round {round_k}: {plan.task.id}: answering {len(items)} train prompts")
            sampling = round_sampling(plan, round_k)
            positives = _positives(backend, plan, items, round_dir / "positives.jsonl", sampling)
            # sft_self trains on the chosen side only: its negatives cost no generation
            strategy = "derangement" if inp.header["method"] == "sft_self" else plan.negative
            task_pairs, st = build_pairs(plan.task, items, positives, strategy, backend, sampling,
                                         seed=inp.cfg.seed + round_k, round_k=round_k)
            pairs += task_pairs
            stats["per_task"][plan.task.id] = {"prompts": len(items), "pairs": st.built,
                                               "dropped_identical": st.dropped_identical,
                                               "strategy": strategy, "pair_seed": inp.cfg.seed + round_k,
                                               "sampling": sampling.to_dict(),
                                               "negative_seed": None if strategy == "derangement" else
                                               sampling.seed + NEGATIVE_SEED_OFFSET,
                                               "prompt_ids": [it.id for it in items]}
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
    write_jsonl(pairs_path, pairs)
    atomic_write_json(stats_path, stats)
    return pairs, stats


def run_round(policy: Policy, initial: Policy, inp: RoundInputs, round_dir: Path, round_k: int) -> Policy:
    """Run round k for one method and return the policy it produced (resumes a finished round)."""
    done = finished_policy(round_dir)
    if done is not None:
        inp.log(f"round {round_k} ({inp.header['method']}): already trained, reusing its checkpoint")
        return done
    pairs, stats = build_round_pairs(policy, inp, round_dir, round_k)
    if len(pairs) < 1:
        raise RunFailure(f"round {round_k}: no training pairs were built (every chosen response equalled its rejected one); "
                         "use sampling (mipo.sampling.greedy: false) or more train prompts")
    inp.log(f"round {round_k} ({inp.header['method']}): training on {len(pairs)} pairs")
    train_dir = round_dir / "train"
    if inp.cfg.training.launcher == "accelerate":
        from mipo import launch

        launch.write_request(train_dir, inp.header["method"], policy, initial, round_dir / "pairs.jsonl",
                             inp.cfg.training, inp.device, inp.dtype, inp.lora)
        new_policy, summary = launch.launch(train_dir, inp.cfg.training.accelerate_config)
    elif inp.header["method"] == "sft_self":
        new_policy, summary = train_sft(policy, pairs, inp.cfg.training, train_dir, inp.device, inp.dtype, inp.lora)
    else:
        new_policy, summary = train_dpo(policy, initial, pairs, inp.cfg.training, train_dir, inp.device,
                                        inp.dtype, inp.lora)
    if summary["nonfinite_loss"]:
        inp.log(f"round {round_k}: loss became NaN/inf; stopped the round and kept the previous checkpoint")
    metrics = {k.removeprefix("mean_"): {"value": v, "ci_low": None, "ci_high": None, "n": summary["steps"]}
               for k, v in summary.items() if k.startswith("mean_")}
    metrics["pairs"] = {"value": stats["total_pairs"], "ci_low": None, "ci_high": None, "n": stats["total_pairs"]}
    metrics["nonfinite_loss"] = {"value": float(summary["nonfinite_loss"]), "ci_low": None, "ci_high": None,
                                 "n": summary["steps"]}
    atomic_write_json(round_dir / "train_summary.json", {
        **inp.header, "kind": "train", "task": "_train", "metrics": metrics, "pairs_stats": stats, **summary,
    })
    return new_policy
