"""One MIPO round on GSM8K broken down by stage, per engine: seconds and share of the round.

Stages: load the policy (hf: the transformers model; vllm: the engine's start-up), positives (the
policy answers train prompts with the task's train sampling), negatives (mipo.pairs.build_pairs;
derangement needs no generation), DPO (mipo.train.train_dpo, LoRA, reference = initial; with vllm the
engine stays loaded), load the trained policy (hf: load + merge the adapter; vllm: the merged weights
reloaded into the live engine) and evaluation (greedy on eval items). Each engine goes through
groundfloor/backends/select.load_backend, as a run does. Small defaults so a CPU run takes minutes.

    python benchmarks/round_breakdown.py --model smollm2-135m-instruct --engines hf vllm
    python benchmarks/round_breakdown.py --prompts 64 --eval-n 200 --max-new-tokens 512 --fewshot 8   # paper-sized
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from groundfloor.backends.base import GenParams  # noqa: E402
from groundfloor.backends.select import load_backend  # noqa: E402
from groundfloor.devices import resolve_dtype  # noqa: E402
from groundfloor.models.resolve import resolve_model  # noqa: E402
from groundfloor.policy import Policy
from harness.config import GenerationConfig, MipoConfig, SuiteConfig, TaskSpec, TrainingConfig  # noqa: E402
from harness.evaluation.plan import plan_task, round_prompts  # noqa: E402
from mipo.pairs import build_pairs  # noqa: E402
from mipo.train import train_dpo  # noqa: E402
from tasks.gsm8k import Gsm8k  # noqa: E402


def setup(args):
    """(suite config, task, plan, train items) for a GSM8K round."""
    gen_cfg = GenerationConfig(max_new_tokens=args.max_new_tokens, batch_size=args.batch_size)
    cfg = SuiteConfig(models=[args.model], tasks=[TaskSpec(id="gsm8k", options={"fewshot": args.fewshot})],
                      generation=gen_cfg, mipo=MipoConfig(train_prompts_per_round=args.prompts, sampling=gen_cfg),
                      training=TrainingConfig(gradient_accumulation_steps=args.grad_accum, max_length=args.max_length))
    task = Gsm8k({"fewshot": args.fewshot, "greedy": True})
    plan = plan_task(task, cfg.tasks[0], cfg, offline=True, limit=args.eval_n)
    return cfg, task, plan, round_prompts(plan, args.prompts, 1, fresh=True)


def one_round(engine: str, path: str, dtype, args, cfg, task, plan, items) -> tuple[dict, dict]:
    """Stage seconds of one round on `engine`, and facts about it (pairs, steps)."""
    times: dict[str, float] = {}

    def timed(name, fn):
        t0 = time.perf_counter()
        out = fn()
        times[name] = times.get(name, 0.0) + time.perf_counter() - t0
        return out

    def load(adapter=None):
        return load_backend(engine, path, adapter, args.device, dtype, args.model)

    with tempfile.TemporaryDirectory() as tmp:
        backend = timed("load policy", load)
        prompts = [task.train_messages(it) for it in items]
        positives = [g.text for g in timed("positives", lambda: backend.generate(prompts, plan.train_gen))]
        pairs, stats = timed("negatives", lambda: build_pairs(task, items, positives, args.negative, backend,
                                                            plan.train_gen, seed=cfg.seed + 1, round_k=1))
        backend.close()
        policy = Policy(base=path)
        new_policy, summary = timed("dpo (LoRA)", lambda: train_dpo(policy, policy, pairs, cfg.training,
                                                                   Path(tmp) / "train", args.device, lora=True))
        trained = timed("load trained", lambda: load(new_policy.adapter))
        eval_msgs = [task.messages(it) for it in plan.eval_items]
        greedy = GenParams(**{**plan.gen.to_dict(), "greedy": True, "temperature": 0.0})
        timed("evaluation", lambda: trained.generate(eval_msgs, greedy))
        trained.close()
    return times, {"pairs": len(pairs), "dropped": stats.dropped_identical, "steps": summary["steps"]}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="smollm2-135m-instruct")
    p.add_argument("--engines", nargs="+", default=["hf", "vllm"], choices=["hf", "vllm"])
    p.add_argument("--prompts", type=int, default=16, help="train prompts (pairs) in the round")
    p.add_argument("--eval-n", type=int, default=16)
    p.add_argument("--max-new-tokens", type=int, default=128, help="for positives, negatives and evaluation")
    p.add_argument("--fewshot", type=int, default=0, help="GSM8K worked examples in prompts (protocol: 8)")
    p.add_argument("--negative", default="derangement", choices=["derangement", "resample", "partial_prompt"])
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--grad-accum", type=int, default=4)
    p.add_argument("--max-length", type=int, default=512, help="DPO max tokens per sequence")
    p.add_argument("--dtype", default="float32")
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=None)
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    dtype = resolve_dtype(args.dtype, args.device)
    path = resolve_model(args.model).path
    cfg, task, plan, items = setup(args)
    print(f"model={args.model} dtype={str(dtype).removeprefix('torch.')} threads={torch.get_num_threads()} "
          f"prompts={len(items)} eval_n={len(plan.eval_items)} max_new_tokens={args.max_new_tokens} "
          f"fewshot={args.fewshot} negative={args.negative}", flush=True)
    for engine in args.engines:
        times, facts = one_round(engine, path, dtype, args, cfg, task, plan, items)
        if engine == "vllm":
            from groundfloor.backends import engine_pool

            engine_pool.release()
        total = sum(times.values())
        print(f"[{engine}] pairs={facts['pairs']} (dropped identical {facts['dropped']}) dpo_steps={facts['steps']}")
        for name, secs in times.items():
            print(f"  {name:14s} {secs:8.2f} s  {100 * secs / total:5.1f}%")
        print(f"  {'round total':14s} {total:8.2f} s", flush=True)


if __name__ == "__main__":
    main()
