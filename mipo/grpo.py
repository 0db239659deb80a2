"""GRPO training for `rlvr` and `rlaif` with TRL's GRPOTrainer (the authors trained these baselines with PPO in
OpenRLHF; GRPO is TRL's maintained route, a named deviation in docs/fidelity.md).

The settings are the DPO/SFT rounds' (mipo/train.py `common_args`: learning rate, Adam, schedule, global batch,
one epoch, LoRA on CPU, fp32 master weights, seed) plus GRPO's own, set here from the task's train sampling:
`num_generations` 4 completions per prompt, sampled at temperature 1.0 and top-p 1.0 (TRL's and OpenRLHF's
rollout defaults) with the model's top-k (50 when unset, as the run's engines), up to the task's train
`max_new_tokens`. Not the task's train sampling: at the tasks' T 0.1 a prompt's 4 completions mostly score alike,
every group-normalised advantage is 0 and the step learns nothing (measured on SmolLM2 / profile_prefs: 11 of
12 steps with zero reward spread, docs/measurements/grpo_short). TRL counts its batch in completions: the global batch of 4 is one prompt's 4 completions per
optimizer step. Anything else goes through `training.grpo_args`, checked against GRPOConfig before any work
(a key the training section sets is refused there; the sampling defaults above may be overridden).
Generation inside GRPO is TRL's own: transformers `generate` on the policy being trained (vLLM with
`grpo_args: {use_vllm: true}` on GPU), seeded by `training.seed` through the Trainer.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

from groundfloor.backends.base import GenParams
from groundfloor.policy import Policy
from groundfloor.progress_hooks import trainer_callback
from groundfloor.records import TrainSummary
from mipo.config import TrainingConfig
from mipo.train import StepLogger, checked_passthrough, common_args, finish, free, load_trainable

NUM_GENERATIONS = 4  # completions per prompt (GRPO's group); divides the default global batch of 4
ROLLOUT_TEMPERATURE = 1.0  # rollouts must differ within a group, or every advantage is 0 (module docstring)
LOGGED = ("reward", "reward_std", "frac_reward_zero_std", "kl", "entropy", "completions/mean_length",
          "completions/clipped_ratio")


def _fields() -> set[str]:
    from trl import GRPOConfig

    return {f.name for f in dataclasses.fields(GRPOConfig)}


def grpo_args(cfg: TrainingConfig) -> dict:
    """`training.grpo_args`: further GRPOConfig fields; unknown keys and keys the training section sets are refused."""
    known = _fields()
    owned = set(common_args(cfg, Path("."), "cpu", False)) & known
    return checked_passthrough(cfg.grpo_args, known, owned, "training.grpo_args", "GRPOConfig")


def _top_k(base: str) -> int:
    """The model's generation_config top-k, 50 when unset (what the run's engines sample with)."""
    try:
        from transformers import GenerationConfig

        top_k = GenerationConfig.from_pretrained(base).top_k
    except OSError:
        top_k = None
    return 50 if top_k is None else int(top_k)


def grpo_config(cfg: TrainingConfig, out_dir: Path, device: str, lora: bool, sampling: GenParams, base: str):
    """The GRPOConfig of a round: the shared training settings, GRPO's sampling defaults, then `grpo_args`."""
    from trl import GRPOConfig

    known = _fields()
    common = {k: v for k, v in common_args(cfg, out_dir, device, lora).items() if k in known}  # max_length is DPO's
    defaults = dict(num_generations=NUM_GENERATIONS, max_completion_length=sampling.max_new_tokens,
                    temperature=ROLLOUT_TEMPERATURE, top_p=1.0, top_k=_top_k(base))
    return GRPOConfig(**common, **{**defaults, **grpo_args(cfg)})


def train_grpo(policy: Policy, prompts: list[dict], reward, cfg: TrainingConfig, sampling: GenParams, out_dir: Path,
               device: str, lora: bool) -> tuple[Policy, TrainSummary]:
    """GRPO on `prompts` ({prompt: messages, prompt_id, task}) with one reward function; the new policy and a summary."""
    from datasets import Dataset
    from transformers import AutoTokenizer, PrinterCallback
    from trl import GRPOTrainer

    started = time.perf_counter()
    tokenizer = AutoTokenizer.from_pretrained(policy.base)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    data = Dataset.from_list([{"prompt": p["prompt_messages"], "prompt_id": p["prompt_id"], "task": p["task"]}
                              for p in prompts])
    model, peft_config = load_trainable(policy, device, lora, cfg)
    args = grpo_config(cfg, out_dir, device, lora, sampling, policy.base)
    logger = StepLogger(out_dir / "train_log.jsonl")
    trainer = GRPOTrainer(model=model, reward_funcs=[reward], args=args, train_dataset=data,
                          processing_class=tokenizer, peft_config=peft_config,
                          callbacks=[logger, trainer_callback("GRPO training")])
    trainer.remove_callback(PrinterCallback)
    trainer.train()
    extra = {"objective": "grpo", "reward": reward.kind, "prompts": len(prompts), "lora": lora,
             "learning_rate": args.learning_rate, "num_generations": args.num_generations,
             "grpo_beta": args.beta, "temperature": args.temperature, "top_p": args.top_p, "top_k": args.top_k,
             "max_completion_length": args.max_completion_length, "use_vllm": bool(args.use_vllm),
             "reward_counts": dict(reward.counts)}
    new_policy, summary = finish(trainer, logger, out_dir, lora, policy, tokenizer, started, extra)
    summary.update(reward_curve(out_dir / "train_log.jsonl"))
    free(trainer)
    return new_policy, summary


def reward_curve(log: Path) -> dict:
    """mean_/first_/last_ of GRPO's logged figures (reward, its spread, KL, completion length) over the steps."""
    import json

    steps = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
    out = {}
    for key in LOGGED:
        vals = [float(s[key]) for s in steps if key in s]
        if vals:
            name = key.replace("/", "_")
            out.update({f"mean_{name}": sum(vals) / len(vals), f"first_{name}": vals[0], f"last_{name}": vals[-1]})
    return out
