"""Running a suite: for each model, round 0 evaluation, then rounds of each method, each evaluated."""

from __future__ import annotations

import errno
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from rich.console import Console

from harness.backends.base import Backend
from harness.backends.hf import HFBackend
from harness.backends.select import engine_label, fp32_scorer, load_backend, resolve_engine
from harness.config import SuiteConfig
from harness.devices import resolve_device, resolve_dtype
from harness.errors import RunFailure, UserError
from harness.evaluation.evaluate import evaluate_task
from harness.run.manifest import check_resume, read_manifest, suite_dump, write_manifest
from harness.models import ResolvedModel, resolve_model
from harness.models.resolve import check_model_id
from harness.evaluation.plan import TaskPlan, link_eval_prompts, plan_task
from harness.results import write_results
from harness.outpaths import DEEPEST_IN_RUN, check_out_dir
from harness.progress import RunUI
from harness.rundir import RunDir, RunLock, atomic_write_json, clean_stale_tmp
from mipo import diagnostics
from mipo.precision import precision_problem
from mipo.rounds import RoundInputs, lineage_dir, lineages, prompts_per_task, run_relative_policy, run_round
from mipo.train import Policy
from tasks.loader import hub_status
from tasks.loader import summary as data_summary
from tasks.registry import TaskRegistry


@dataclass
class RunOptions:
    out: Path
    limit: int | None = None
    device: str | None = None
    dry_run: bool = False
    report: bool = True
    verbosity: int = 0  # -1 quiet (-q), 0, 1 verbose (-v)
    overrides: tuple[str, ...] = ()  # the command line's --seed / --set, as given (recorded in the manifest)


def build_plans(cfg: SuiteConfig, limit: int | None, offline: bool, log: Callable[[str], None] | None = None,
                hub_why: str = "") -> list[TaskPlan]:
    """Plan every task (data by the suite's `data:` mode); each plan knows every prompt the run evaluates."""
    registry = TaskRegistry(cfg.include_paths())
    return link_eval_prompts([plan_task(registry.get(spec.id, spec.options), spec, cfg, offline, limit, log=log,
                                        hub_why=hub_why) for spec in cfg.tasks])


def estimate_seconds(plans: list[TaskPlan], cfg: SuiteConfig, n_models: int) -> float:
    """A rough CPU estimate: ~40 new tokens/s for generation, ~3 s per DPO step of 2 pairs."""
    eval_tokens = sum(len(p.eval_items) * p.gen.max_new_tokens * 0.5 for p in plans)
    train_methods = [m for m in cfg.methods if m != "prompting"]
    prompts = sum(prompts_per_task(cfg, p) for p in plans)  # per round, over all lineages
    per_round_gen = prompts * 300 * 1.5
    per_round_train = prompts * 1.5
    total = eval_tokens / 40 * (1 + cfg.rounds * len(train_methods))
    total += cfg.rounds * len(train_methods) * (per_round_gen / 40 + per_round_train)
    return total * n_models


def _model_source(model_id: str, source: str = "auto") -> str:
    """Where a model would come from, checked without downloading or loading it."""
    kind = check_model_id(model_id)
    if kind == "alias":
        from harness.models.online import describe

        return f"built-in alias: {describe(model_id, source)}"
    return {"local": "local folder", "hub": "hub id"}[kind]


class SuiteRunner:
    """Runs one suite into one run folder; safe to re-run (resumes)."""

    def __init__(self, cfg: SuiteConfig, opts: RunOptions, console: Console | None = None):
        self.cfg = cfg
        self.opts = opts
        self.run = RunDir(opts.out)
        self.console = console or Console(stderr=True)
        self.ui = RunUI(self.console, opts.verbosity)  # console lines, the live display and run.log
        self.device = resolve_device(opts.device or cfg.device)
        self.engine = resolve_engine(cfg.generation_engine(), self.device)  # vllm or hf (select.py)

    def log(self, msg: str) -> None:
        self.ui.log(msg)

    def _steps(self, plans: list[TaskPlan]) -> int:
        """The run's steps for the progress display: per model, round 0's evaluation, then per method,
        lineage and round a training and an evaluation."""
        methods = [m for m in self.cfg.methods if m != "prompting"]
        per_model = 1 + len(methods) * len(lineages(plans, self.cfg.training.scope)) * self.cfg.rounds * 2
        return len(self.cfg.models) * per_model

    def _plans(self, cfg_dump: dict, cfg_hash: str, quiet: bool = False) -> tuple[list[TaskPlan], bool]:
        """Probe the hub (never with data: pypi), plan the tasks, say where each task's data came from, and
        refuse a resume whose data source, task code or harness version changed. Returns (plans, offline)."""
        hub_ok, why = hub_status(self.cfg.data)
        log = (lambda msg: None) if quiet else self.log
        log(f"data: {self.cfg.data}; hub: {why}; device {self.device}")
        plans = build_plans(self.cfg, self.opts.limit, not hub_ok, log=log, hub_why=why)
        for p in plans:
            log(f"{p.task.id} data: {data_summary(p.data)}")
        check_resume(self.run, cfg_dump, cfg_hash, {p.task.id: p.manifest() for p in plans})
        return plans, not hub_ok

    def dry_run(self) -> dict:
        """The resolved plan (models, tasks, item counts, rounds, a time estimate); loads and downloads no model."""
        folders = self._check_folder()
        self._check_training()
        RunLock(self.run.root).check_free()  # a folder another live process holds is refused by the real run too
        sources = {m.id: _model_source(m.id, m.source) for m in self.cfg.models}
        cfg_dump, cfg_hash = suite_dump(self.cfg, self.opts.limit)
        check_resume(self.run, cfg_dump, cfg_hash)  # a changed config would be refused by the real run too
        plans, offline = self._plans(cfg_dump, cfg_hash, quiet=True)  # the plan below says where data came from
        return {
            "models": [m.id for m in self.cfg.models], "model_sources": sources, "methods": self.cfg.methods,
            "rounds": self.cfg.rounds, "device": self.device, "engine": self.engine, "offline": offline,
            "run_folder": str(self.run.root), "resumes": self.run.manifest.exists(), "model_folders": folders,
            "tasks": {p.task.id: {"eval_items": len(p.eval_items), "train_pool": len(p.train_pool),
                                  "train_prompts_per_round": prompts_per_task(self.cfg, p),
                                  "negative": p.negative, "max_new_tokens": p.gen.max_new_tokens,
                                  "data": data_summary(p.data)} for p in plans},
            "training": self._training_plan(plans),
            "estimated_minutes_cpu": round(estimate_seconds(plans, self.cfg, len(self.cfg.models)) / 60, 1),
        }

    def _lora(self) -> bool:
        """`training.mode: auto` is LoRA on CPU and full fine-tuning on CUDA."""
        return self.cfg.training.mode == "lora" or (self.cfg.training.mode == "auto" and self.device == "cpu")

    def _training_plan(self, plans: list[TaskPlan]) -> dict:
        """What the rounds train: scope, lineages (name -> tasks whose pairs train it), mode, precision, lr."""
        from mipo.train import default_learning_rate

        t, lora = self.cfg.training, self._lora()
        return {"scope": t.scope, "lineages": {name: [p.task.id for p in group] for name, group in
                                               lineages(plans, t.scope)},
                "transfer": t.transfer, "mode": "lora" if lora else "full", "weights_dtype": t.weights_dtype,
                "learning_rate": default_learning_rate(t, lora), "launcher": t.launcher}

    def _check_training(self) -> None:
        """Refuse, before any work, bf16/fp16 weights under a plain optimizer and unknown TRL pass-through fields."""
        trains = self.cfg.rounds > 0 and any(m != "prompting" for m in self.cfg.methods)
        problem = precision_problem(self.cfg.training, self._lora()) if trains else None
        if problem:
            raise UserError(problem)
        if trains and (self.cfg.training.dpo_args or self.cfg.training.sft_args):
            from mipo.train import trl_args

            trl_args(self.cfg.training, "dpo")
            trl_args(self.cfg.training, "sft")

    def _check_folder(self) -> dict[str, str]:
        """The run folder's path and the folder of each model and task, checked before any work."""
        check_out_dir(self.run.root, room=DEEPEST_IN_RUN)
        return self.run.check_names([m.name or m.id for m in self.cfg.models], [t.id for t in self.cfg.tasks])

    def execute(self) -> Path:
        """Run (or resume) the suite; a full disk is a RunFailure and everything written so far is kept."""
        try:
            return self._execute()
        except OSError as e:
            if e.errno in (errno.ENOSPC, errno.EDQUOT):
                raise RunFailure(f"disk full ({e.filename or self.run.root}); free space and re-run the same "
                                 "command to resume") from None
            raise

    def _execute(self) -> Path:
        cfg_dump, cfg_hash = suite_dump(self.cfg, self.opts.limit)
        folders = self._check_folder()
        self._check_training()
        for spec in self.cfg.models:
            check_model_id(spec.id)  # fail before any work on a typo in the second model
        with RunLock(self.run.root), self.ui.session(self.run.root / "run.log"):
            check_resume(self.run, cfg_dump, cfg_hash)
            clean_stale_tmp(self.run.root)  # temp files of killed writers (only we write here now)
            plans, offline = self._plans(cfg_dump, cfg_hash)
            self.ui.plan(self._steps(plans))
            recorded = (read_manifest(self.run) or {}).get("models") or {}  # a resume keeps each model's weights
            extra = {"device": self.device, "offline": offline, "seed": self.cfg.seed, "layout": self.run.layout,
                     "model_folders": folders, "engine": engine_label(self.engine, self.device),
                     "tasks": {p.task.id: p.manifest() for p in plans}, "models": {},
                     "cli_overrides": list(self.opts.overrides)}
            write_manifest(self.run, cfg_dump, cfg_hash, extra)
            for spec in self.cfg.models:
                resolved = resolve_model(spec.id, log=self.log, revision=spec.revision, source=spec.source,
                                         recorded=recorded.get(spec.name or spec.id))
                extra["models"][spec.name or spec.id] = resolved.to_dict()
                write_manifest(self.run, cfg_dump, cfg_hash, extra)
                self._run_model(spec.name or spec.id, spec.dtype, resolved, plans, extra, cfg_dump, cfg_hash)
            write_results(self.run)
            if self.opts.report:
                from reports.build import build_report

                build_report([self.run.root], self.run.report)
        return self.run.report

    def _run_model(self, name: str, dtype_name: str | None, model: ResolvedModel, plans: list[TaskPlan],
                   extra: dict, cfg_dump: dict, cfg_hash: str) -> None:
        dtype = resolve_dtype(dtype_name or self.cfg.dtype, self.device)
        initial = Policy(base=model.path)
        lora = self._lora()

        def load(policy: Policy) -> Backend:
            return load_backend(self.cfg.generation_engine(), policy.base, policy.adapter, self.device, dtype, name)

        base_header = {"model": name, "family": model.family}
        self._evaluate_round(load, initial, plans, {**base_header, "method": "prompting", "round": 0})
        self.ui.step_done(f"{name} round 0 evaluated")
        lineage = extra.setdefault("lineage", {}).setdefault(name, {})  # method -> lineage -> rounds

        def save_manifest() -> None:
            write_manifest(self.run, cfg_dump, cfg_hash, extra)

        for method in [m for m in self.cfg.methods if m != "prompting"]:
            lineage[method] = {}
            for lname, group in lineages(plans, self.cfg.training.scope):
                inp = RoundInputs(cfg=self.cfg, plans=group, header={**base_header, "method": method},
                                  device=self.device, dtype=dtype, lora=lora, load_backend=load, log=self.log,
                                  run_root=self.run.root)
                lineage[method][lname] = []
                self._run_lineage(inp, initial, lname, lineage[method][lname], plans, save_manifest)

    def _run_lineage(self, inp: RoundInputs, initial: Policy, lname: str, chain: list, plans: list[TaskPlan],
                     save_manifest: Callable[[], None]) -> None:
        """Rounds 1..R of one lineage: train on its tasks' pairs, evaluate its tasks (and, with transfer, the rest)."""
        scope = self.cfg.training.scope
        trained_on = "+".join(p.task.id for p in inp.plans)
        policy = initial
        for k in range(1, self.cfg.rounds + 1):
            inp.header = {**inp.header, "round": k, "scope": scope, "trained_on": trained_on}
            round_dir = self.run.round_dir(inp.header["model"], inp.header["method"], k)
            folder = lineage_dir(round_dir, scope, lname)
            previous = policy
            policy = run_round(policy, initial, inp, folder, k)
            self.ui.step_done(f"{inp.header['model']} {inp.header['method']} {lname} round {k} trained")
            chain.append({"round": k, "policy": run_relative_policy(policy, self.run.root),
                          "parent": run_relative_policy(previous, self.run.root), "scope": scope,
                          "trained_on": [p.task.id for p in inp.plans], "reference": self.cfg.training.reference,
                          "folder": str(folder.relative_to(self.run.root))})
            save_manifest()
            self._evaluate_round(inp.load_backend, policy, inp.plans, inp.header)
            others = [p for p in plans if p not in inp.plans]
            if self.cfg.training.transfer and others:
                self._evaluate_round(inp.load_backend, policy, others, {**inp.header, "transfer": True},
                                     folder=round_dir / "transfer" / lname, diagnose=False)
            write_results(self.run)
            self.ui.step_done(f"{inp.header['model']} {inp.header['method']} {lname} round {k} evaluated")

    def _evaluate_round(self, load: Callable[[Policy], Backend], policy: Policy, plans: list[TaskPlan],
                        header: dict, folder: Path | None = None, diagnose: bool = True) -> None:
        """Evaluate the tasks with one model load, then the PMI diagnostics in fp32 (into `folder`, default
        the round folder; transfer evaluations go elsewhere and skip the diagnostics)."""
        round_dir = folder or self.run.round_dir(header["model"], header["method"], header["round"])
        pending = [p for p in plans if not (round_dir / "tasks" / p.task.id / "metrics.json").exists()]
        diag_pending = [p for p in plans if diagnose and p.diag_items and not (round_dir / "diagnostics" / p.task.id /
                                                                                 "diagnostics.json").exists()]
        if not pending and not diag_pending:
            self.log(f"{header['model']} {header['method']} round {header['round']}: already evaluated")
            return
        backend = load(policy)
        outputs: dict[str, list[str]] = {}  # diagnostic responses, generated with the evaluation where possible
        diag_ids = {p.task.id for p in diag_pending}
        try:
            for plan in pending:
                label = f"{header['model']} r{header['round']} {header['method']} {plan.task.id}: evaluating"
                with self.ui.stage(label, total=len(plan.eval_items)) as stage:
                    out_dir = round_dir / "tasks" / plan.task.id
                    also = [plan.task.train_messages(it) for it in plan.diag_items] \
                        if plan.task.id in diag_ids else None
                    got = evaluate_task(backend, plan.task, plan.eval_items, plan.gen, out_dir,
                                        {**header, "partial": plan.partial}, on_item=stage.advance, also=also)
                if got.get("also") is not None:
                    outputs[plan.task.id] = got["also"]
            if diag_pending:
                for plan in diag_pending:
                    self.log(f"{header['model']} r{header['round']}: diagnostics on {len(plan.diag_items)} "
                             f"held-out {plan.task.id} train prompts")
                    if plan.task.id not in outputs:
                        outputs[plan.task.id] = diagnostics.responses(backend, plan.task, plan.diag_items, plan.gen)
                backend = fp32_scorer(backend, lambda: HFBackend.load(  # score log-probs in fp32
                    policy.base, device=self.device, dtype=torch.float32, adapter=policy.adapter, name=header["model"]))
                for plan in diag_pending:
                    metrics = diagnostics.measure(backend, plan.task, plan.diag_items, outputs[plan.task.id],
                                                  seed=self.cfg.seed, negative=plan.negative)
                    atomic_write_json(round_dir / "diagnostics" / plan.task.id / "diagnostics.json",
                                      {**header, "kind": "diagnostic", "task": plan.task.id, "metrics": metrics})
        finally:
            backend.close()
        write_results(self.run)
