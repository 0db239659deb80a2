"""The in-memory suite of `mipo-bench eval` (round 0 only), with `--seed` and `--set` applied as `run` applies them."""

from __future__ import annotations

from pathlib import Path

from groundfloor.methods import BASELINE
from groundfloor.rundir import slug
from harness.config import SuiteConfig, parse_suite
from harness.overrides import apply_overrides


def default_eval_out(model: str) -> Path:
    """`runs/eval/<model slug>`: one folder per model, so evaluating another model starts its own run."""
    return Path("runs") / "eval" / slug(model)


def _ids(text: str) -> list[str]:
    return [t.strip() for t in text.split(",") if t.strip()]


def eval_suite(model: str, tasks: str, lm_eval_tasks: str, num_fewshot: int | None, apply_chat_template: bool,
               data: str, include: list[Path], sets: list[str], seed: int | None) -> tuple[SuiteConfig, list[str]]:
    """The eval suite, validated, then with the overrides applied and validated again; (config, overrides)."""
    lm = _ids(lm_eval_tasks)
    lm_block = {"lm_eval": {"tasks": lm, "num_fewshot": num_fewshot,
                            "apply_chat_template": apply_chat_template}} if lm else {}
    data_map = {"name": "eval", "models": [model], "tasks": _ids(tasks), "methods": [BASELINE], "rounds": 0,
                "mipo": {"diagnostics_prompts": 0}, "data": data, "include": [str(p) for p in include], **lm_block}
    cfg = parse_suite(data_map, "eval")  # the options' own errors are reported as such
    if not sets and seed is None:
        return cfg, []
    merged, applied = apply_overrides(data_map, sets, seed)
    shown = " ".join(([f"--seed {seed}"] if seed is not None else []) + [f"--set {s}" for s in sets])
    return parse_suite(merged, f"eval with {shown}"), applied
