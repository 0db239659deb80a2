"""One evaluation step's work: a round's tasks with one model load, then the PMI diagnostics in fp32."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import torch

from groundfloor.backends.base import Backend, GenParams
from groundfloor.backends.hf import HFBackend
from groundfloor.backends.select import fp32_scorer
from groundfloor.policy import Policy
from groundfloor.progress import RunUI
from groundfloor.records import RoundHeader
from groundfloor.rundir import atomic_write_json
from harness.config import SuiteConfig
from harness.evaluation import diagnostics
from harness.evaluation.evaluate import evaluate_task
from harness.evaluation.lmeval.run import LmEvalSetup, evaluate_lm_task
from tasks.plan import TaskPlan


@dataclass
class RoundEval:
    """What to evaluate: the plans of the pending tasks and diagnostics, where, and under which header;
    the pending lm-eval tasks and their folder (`lm_folder`/tasks/lm_eval/<name>)."""

    header: RoundHeader
    folder: Path
    pending: list[TaskPlan]
    diag_pending: list[TaskPlan]
    seed: int
    device: str
    lm_pending: list[str] = field(default_factory=list)
    lm_folder: Path | None = None
    lm_setup: LmEvalSetup | None = None


def _answers(backend: Backend, ev: RoundEval, ui: RunUI) -> dict[str, list[str]]:
    """Evaluate the pending tasks; returns the diagnostic answers generated in the evaluation's batches."""
    h = ev.header
    diag_ids = {p.task.id for p in ev.diag_pending}
    outputs: dict[str, list[str]] = {}
    for plan in ev.pending:
        with ui.stage(f"{h.model} r{h.round} {h.method} {plan.task.id}: evaluating",
                      total=len(plan.eval_items)) as stage:
            also = [plan.task.train_messages(it) for it in plan.diag_items] if plan.task.id in diag_ids else None
            got = evaluate_task(backend, plan.task, plan.eval_items, plan.gen, ev.folder / "tasks" / plan.task.id,
                                replace(h, partial=plan.partial), on_item=stage.advance, also=also, log=ui.log)
        if got.also is not None:
            outputs[plan.task.id] = got.also
    return outputs


def lm_eval_setup(cfg: SuiteConfig, limit: int | None, offline: bool, why: str) -> LmEvalSetup | None:
    """The suite's `lm_eval:` block for this execution (the command line's --limit wins), checked: an unknown
    task, or one whose data cannot be reached, is a one-line error before any work."""
    if cfg.lm_eval is None:
        return None
    block = cfg.lm_eval
    setup = LmEvalSetup(tuple(block.tasks), limit=limit or block.limit, num_fewshot=block.num_fewshot,
                        apply_chat_template=block.apply_chat_template, offline=offline, why=why,
                        batch_size=cfg.generation.batch_size, partial=limit is not None,
                        include_path=[str(p if p.is_absolute() else (cfg._base_dir or Path(".")) / p)
                                      for p in (Path(i).expanduser() for i in block.include_path)],
                        include_defaults=block.include_defaults)
    setup.sources = setup.check()
    return setup


def _lm_eval(backend: Backend, ev: RoundEval, ui: RunUI) -> None:
    """The pending lm-eval tasks on the same backend (the round's policy: no second model load)."""
    h = ev.header
    for name in ev.lm_pending if ev.lm_setup is not None and ev.lm_folder is not None else []:
        with ui.stage(f"{h.model} r{h.round} {h.method} lm_eval/{name}: evaluating"):
            rec = evaluate_lm_task(backend, ev.lm_setup, name,
                                   GenParams(batch_size=ev.lm_setup.batch_size, seed=ev.seed),
                                   ev.lm_folder / "tasks" / "lm_eval" / name,
                                   replace(h, partial=ev.lm_setup.partial).fields())
        ui.log(f"{h.model} r{h.round} lm_eval/{name}: {rec['main_metric']} = "
               f"{rec['metrics'].get(rec['main_metric'], {}).get('value')} (n={rec['n']}, {rec['seconds']} s)")


def evaluate_round(load: Callable[[Policy], Backend], policy: Policy, ev: RoundEval, ui: RunUI,
                   log: Callable[[str], None]) -> None:
    """Evaluate with one model load; the diagnostics' answers ride along in the evaluation's batches where
    they can, and their log-probabilities are scored in fp32."""
    h = ev.header
    backend = load(policy)
    try:
        outputs = _answers(backend, ev, ui)
        _lm_eval(backend, ev, ui)
        for plan in ev.diag_pending:
            log(f"{h.model} r{h.round}: diagnostics on {len(plan.diag_items)} held-out {plan.task.id} "
                "train prompts")
            if plan.task.id not in outputs:
                outputs[plan.task.id] = diagnostics.responses(backend, plan.task, plan.diag_items, plan.gen)
        if ev.diag_pending:
            backend = fp32_scorer(backend, lambda: HFBackend.load(  # score log-probs in fp32
                policy.base, device=ev.device, dtype=torch.float32, adapter=policy.adapter, name=h.model))
        for plan in ev.diag_pending:
            metrics, per_prompt = diagnostics.measure_prompts(backend, plan.task, plan.diag_items,
                                                              outputs[plan.task.id], seed=ev.seed,
                                                              negative=plan.negative)
            atomic_write_json(ev.folder / "diagnostics" / plan.task.id / "diagnostics.json",
                              {**h.head("diagnostic", plan.task.id), "metrics": metrics, "per_prompt": per_prompt})
    finally:
        backend.close()
