"""Per-step time and memory on one GPU for `run --dry-run`: arithmetic from stated assumptions, never measured.

The model's size comes from its id ("1.5B" -> 1.5e9 parameters); a model whose id names no size gets no figure.
Assumptions (printed with the figures; none of them was measured by this project on a GPU):
- generation: a batched vLLM engine decodes DECODE_RATE / P new tokens/s (P in billions), the transformers
  engine a tenth of that; outputs fill half their token budget on average;
- training: 40 % of an H100's dense bf16 rate (989 TFLOP/s); DPO costs 10 P FLOPs per token (forward, backward
  and recompute under gradient checkpointing, plus the reference forward) over chosen and rejected; SFT 8 P;
  GRPO samples 4 completions per prompt on the transformers engine, then 8 P per completion token;
- memory: bf16 weights 2 bytes per parameter; full fine-tuning with fp32 master weights and AdamW 16 bytes per
  parameter, plus a bf16 reference (2) and ~10 % for activations; LoRA: the bf16 model twice plus 10 %; vLLM
  reserves MIPO_BENCH_VLLM_GPU_UTIL (0.85) of the card whatever the model; the judge (transformers, bf16) is
  loaded beside the policy while judged tasks are scored.
"""

from __future__ import annotations

import os
import re

from harness.config import SuiteConfig
from harness.run.steps import Evaluate, Step, Train
from mipo.rounds import prompts_per_task
from mipo.trainers import trainer_of
from tasks.plan import TaskPlan

DECODE_RATE = 20000.0  # new tokens/s x billions of parameters, batched vLLM on one H100-class GPU (assumed)
TRAIN_FLOPS = 0.4 * 989e12  # FLOP/s: 40 % of an H100's dense bf16 rate (assumed)
PROMPT_TOKENS = {"math": 900, "mcq": 250, "personalization": 400}  # rough prompt lengths (8-shot GSM8K ~900)
JUDGE_CALL_S = 0.2  # seconds per judge call of a 14B judge on transformers (assumed)
CARD_GIB = 80.0
_SIZE = re.compile(r"(\d+(?:\.\d+)?)\s*[bB](?![a-zA-Z])")


def billions(model_id: str) -> float | None:
    """Parameters in billions as the id names them (the last "<n>B"), else None."""
    found = _SIZE.findall(model_id.replace("_", "-"))
    return float(found[-1]) if found else None


def _gen_seconds(tokens: float, p: float, engine: str) -> float:
    rate = DECODE_RATE / max(p, 0.1) / (1 if engine == "vllm" else 10)
    return tokens / rate


def _judged(plan: TaskPlan) -> bool:
    return hasattr(plan.task, "set_judge_config") and getattr(plan.task.options, "scorer", "judge") == "judge"


def _judge_calls(plan: TaskPlan) -> int:
    """Judge calls to score one evaluation of the task: the output and its reference, per preference (about 3,
    assumed) or once (Multi-Bench)."""
    return 2 * (1 if plan.task.id == "multibench" else 3) * len(plan.eval_items) if _judged(plan) else 0


def _evaluate(step: Evaluate, plans: dict[str, TaskPlan], p: float, cfg: SuiteConfig, engine: str,
              judge_b: float | None) -> tuple[float, float]:
    sel = [plans[t] for t in step.tasks]
    tokens = sum(len(pl.eval_items) * pl.gen.max_new_tokens * 0.5 for pl in sel)
    calls = sum(_judge_calls(pl) for pl in sel)
    seconds = _gen_seconds(tokens, p, engine) + calls * JUDGE_CALL_S
    share = float(os.environ.get("MIPO_BENCH_VLLM_GPU_UTIL", "0.85"))  # as groundfloor/backends/vllm_backend.py
    memory = CARD_GIB * share if engine == "vllm" else 2 * p * 1.2
    if judge_b and any(_judged(pl) for pl in sel):
        memory += 2 * judge_b
    return seconds, memory


def _train(step: Train, plans: dict[str, TaskPlan], p: float, cfg: SuiteConfig, engine: str,
           lora: bool) -> tuple[float, float]:
    trainer = trainer_of(step.key.method)  # its sequences per example and FLOPs per token (mipo/trainers.py)
    seconds, memory = 0.0, (4 * p if lora else 18 * p) * 1.1
    for t in step.tasks:
        pl = plans[t]
        n = prompts_per_task(cfg, pl)
        prompt, answer = PROMPT_TOKENS.get(pl.task.family, 400), pl.train_gen.max_new_tokens * 0.5
        k, f = trainer.sequences, trainer.flops_per_token
        if trainer.rollouts:  # GRPO: k completions per prompt on the transformers engine
            seconds += _gen_seconds(k * n * answer, p, "hf") + f * p * 1e9 * k * n * (prompt + answer) / TRAIN_FLOPS
            continue
        # answers per prompt: a context_drop negative is a second answer where the rejected side is trained (DPO)
        generated = 2 if pl.negative == "context_drop" and k == 2 else 1
        seconds += _gen_seconds(n * answer * generated, p, engine)
        seconds += f * p * 1e9 * n * k * (prompt + answer) / TRAIN_FLOPS
    return seconds, memory


def step_estimate(step: Step, plans: dict[str, TaskPlan], cfg: SuiteConfig, engine: str, lora: bool) -> dict | None:
    """{"step", "minutes", "memory_gib", "fits_80gb"} for an Evaluate or Train step; None for bookkeeping steps."""
    if not isinstance(step, (Evaluate, Train)):
        return None
    p = billions(step.key.model)
    row: dict = {"step": str(step)}
    missing = [t for t in step.tasks if plans[t].data.get("used") == "not fetched"]
    if p is None:
        return {**row, "minutes": None, "memory_gib": None, "note": "model size not in its id"}
    judge_b = billions(cfg.judge.model) if cfg.judge else None
    seconds, memory = (_evaluate(step, plans, p, cfg, engine, judge_b) if isinstance(step, Evaluate)
                       else _train(step, plans, p, cfg, engine, lora))
    row.update(minutes=round(seconds / 60, 1), memory_gib=round(memory, 1), fits_80gb=memory <= CARD_GIB)
    if missing:
        row["note"] = f"without {', '.join(missing)} (data not fetched)"
    return row


def gpu_estimate(steps: list[Step], plans: list[TaskPlan], cfg: SuiteConfig, engine: str, lora: bool) -> dict:
    """Per-step figures, the total, and the assumptions behind them."""
    by_id = {pl.task.id: pl for pl in plans}
    rows = [r for r in (step_estimate(s, by_id, cfg, engine, lora) for s in steps) if r]
    known = [r["minutes"] for r in rows if r.get("minutes") is not None]
    return {"engine": engine, "per_step": rows, "total_hours": round(sum(known) / 60, 1),
            "steps_over_80gb": sum(r.get("fits_80gb") is False for r in rows),
            "assumptions": "arithmetic, not measured: see harness/run/gpu_plan.py (vLLM decoding "
                           f"{DECODE_RATE:.0f}/P new tokens/s, 40 % of H100 bf16 for training, 16 bytes a "
                           "parameter for full fine-tuning with fp32 master weights, vLLM holds 0.85 of the card)"}
