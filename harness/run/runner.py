"""Running a suite: the plan's steps (harness/run/steps.py), executed in order, each skipped when done.

Per model: resolve it, evaluate round 0, then for each method and lineage train round k, record it in the
manifest and evaluate it. A re-run resumes: a step whose files exist is not run again.
"""

from __future__ import annotations

import errno
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console

from groundfloor.backends.base import Backend
from groundfloor.backends.select import engine_label, load_backend, resolve_engine
from groundfloor.devices import resolve_device, resolve_dtype
from groundfloor.errors import RunFailure, UserError
from groundfloor.methods import BASELINE, trained
from groundfloor.models import ResolvedModel, resolve_model
from groundfloor.models.resolve import check_model_id
from groundfloor.outpaths import DEEPEST_IN_RUN, check_out_dir
from groundfloor.policy import Policy, finished_policy, run_relative_policy
from groundfloor.progress import RunUI
from groundfloor.records import RoundHeader, RoundKey
from groundfloor.results import write_results
from groundfloor.rundir import RunDir, RunLock, clean_stale_tmp, staged_folder
from harness.config import SuiteConfig
from harness.evaluation.plan import link_eval_prompts, plan_task
from harness.run import dry_run as plan_summary
from harness.run.evaluate_round import RoundEval, evaluate_round, lm_eval_setup
from harness.run.manifest import check_resume, read_manifest, suite_dump, write_manifest
from harness.run.steps import Evaluate, Finish, Record, Resolve, Step, Train, build_plan
from mipo.batching import batch_problem, planned_world_size
from mipo.precision import precision_problem
from mipo.rounds import RoundInputs, run_round
from mipo.trackers import TensorBoardTracker, check_installed
from tasks.hub import HubUnavailable
from tasks.loader import hub_status
from tasks.loader import describe_source
from tasks.plan import TaskPlan
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
                hub_why: str = "", unfetched: dict[str, str] | None = None) -> list[TaskPlan]:
    """Plan every task (data by the suite's `data:` mode); each plan knows every prompt the run evaluates.
    `unfetched` (dry runs): a task whose hub data cannot be had is planned without items and named there."""
    registry = TaskRegistry(cfg.include_paths())
    plans = []
    for spec in cfg.tasks:
        task = registry.get(spec.id, spec.options)
        try:
            plans.append(plan_task(task, spec, cfg, offline, limit, log=log, hub_why=hub_why))
        except HubUnavailable as e:
            if unfetched is None:
                raise
            unfetched[spec.id] = str(e)
            plans.append(plan_summary.unfetched_plan(task, spec, cfg, str(e)))
    return link_eval_prompts(plans)


@dataclass
class Session:
    """What the steps of one execution share: the manifest being written, the plans, the resolved models
    (with their dtype) and the policies trained or verified so far."""

    cfg_dump: dict
    cfg_hash: str
    extra: dict
    plans: dict[str, TaskPlan]
    recorded: dict
    models: dict[str, tuple[ResolvedModel, object]] = field(default_factory=dict)
    policies: dict[RoundKey, Policy] = field(default_factory=dict)


class SuiteRunner:
    """Runs one suite into one run folder; safe to re-run (resumes)."""

    def __init__(self, cfg: SuiteConfig, opts: RunOptions, console: Console | None = None):
        self.cfg = cfg
        self.opts = opts
        self.run = RunDir(opts.out)
        self.console = console or Console(stderr=True)
        self.ui = RunUI(self.console, opts.verbosity)  # console lines, the live display and run.log
        self.warnings: list[str] = []
        try:
            self.device = resolve_device(opts.device or cfg.device)
        except UserError as e:
            if not (opts.dry_run and (opts.device or cfg.device) == "cuda"):
                raise
            self.device = "cuda"  # a plan needs no GPU: plan for the one asked for, and say so
            self.warnings.append(f"{e}: this is the plan for CUDA; the run itself needs a GPU")
        self.engine = resolve_engine(cfg.generation_engine(), self.device)  # vllm or hf (select.py)
        self.session: Session | None = None
        self.lm_eval = None  # the suite's lm-eval tasks, checked (harness/run/evaluate_round.lm_eval_setup)

    def log(self, msg: str) -> None:
        self.ui.log(msg)

    # --- checks and planning ----------------------------------------------------------------
    def _plans(self, cfg_dump: dict, cfg_hash: str, quiet: bool = False,
               unfetched: dict[str, str] | None = None) -> tuple[list[TaskPlan], bool]:
        """Probe the hub (never with data: pypi), plan the tasks, say where each task's data came from, and
        refuse a resume whose data source, task code or harness version changed. Returns (plans, offline).
        `unfetched` (dry runs): tasks whose hub data cannot be had are planned without items and named there."""
        hub_ok, why = hub_status(self.cfg.data)
        log = (lambda msg: None) if quiet else self.log
        log(f"data: {self.cfg.data}; hub: {why}; device {self.device}")
        plans = build_plans(self.cfg, self.opts.limit, not hub_ok, log=log, hub_why=why, unfetched=unfetched)
        if unfetched:  # nothing to compare with a previous run's data yet
            return plans, not hub_ok
        for p in plans:
            log(f"{p.task.id} data: {describe_source(p.data)}")
            if p.task.label_leak:
                log(f"{p.task.id}: LABEL LEAK: {p.task.label_leak}")
        check_resume(self.run, cfg_dump, cfg_hash, {p.task.id: p.manifest() for p in plans})
        return plans, not hub_ok

    def dry_run(self) -> dict:
        """The resolved plan and its steps (models, tasks, item counts, rounds, a time estimate); loads and
        downloads no model."""
        folders = self._check_folder()
        self._check_training()
        RunLock(self.run.root).check_free()  # a folder another live process holds is refused by the real run too
        sources = {m.id: plan_summary.model_source(m.id, m.source) for m in self.cfg.models}
        cfg_dump, cfg_hash = suite_dump(self.cfg, self.opts.limit)
        check_resume(self.run, cfg_dump, cfg_hash)  # a changed config would be refused by the real run too
        unfetched: dict[str, str] = {}
        plans, offline = self._plans(cfg_dump, cfg_hash, quiet=True, unfetched=unfetched)  # says where data came from
        for msg in self.warnings:
            self.console.print(f"warning: {msg}", markup=False, highlight=False)
        return plan_summary.plan_json(self.cfg, sources, plans, build_plan(self.cfg, plans), self._lora(),
                               device=self.device, engine=self.engine, offline=offline,
                               run_folder=str(self.run.root), resumes=self.run.manifest.exists(),
                               model_folders=folders, data_not_fetched=sorted(unfetched), warnings=self.warnings)

    def _lora(self) -> bool:
        """`training.mode: auto` is LoRA on CPU and full fine-tuning on CUDA."""
        return self.cfg.training.mode == "lora" or (self.cfg.training.mode == "auto" and self.device == "cpu")

    def _check_training(self) -> None:
        """Refuse, before any work, bf16/fp16 weights under a plain optimizer, a global batch the training processes
        cannot split evenly and unknown TRL pass-through fields."""
        trains = self.cfg.rounds > 0 and bool(trained(self.cfg.methods))
        problem = precision_problem(self.cfg.training, self._lora()) if trains else None
        problem = problem or (batch_problem(self.cfg.training, planned_world_size(self.cfg.training)) if trains
                              else None)
        if problem:
            raise UserError(problem)
        check_installed(self.cfg.training)
        if trains and (self.cfg.training.dpo_args or self.cfg.training.sft_args):
            from mipo.train import trl_args

            trl_args(self.cfg.training, "dpo")
            trl_args(self.cfg.training, "sft")
        if trains and self.cfg.training.grpo_args:
            from mipo.grpo import grpo_args

            grpo_args(self.cfg.training)

    def _check_folder(self) -> dict[str, str]:
        """The run folder's path and the folder of each model and task, checked before any work."""
        check_out_dir(self.run.root, room=DEEPEST_IN_RUN)
        return self.run.check_names([m.name or m.id for m in self.cfg.models], [t.id for t in self.cfg.tasks])

    # --- execution --------------------------------------------------------------------------
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
            self.lm_eval = lm_eval_setup(self.cfg, self.opts.limit, offline,
                                         f"data: {self.cfg.data}, hub not used or unreachable")
            plan = build_plan(self.cfg, plans)
            self.ui.plan(sum(1 for step in plan if step.progress))
            extra = {"device": self.device, "offline": offline, "seed": self.cfg.seed, "layout": self.run.layout,
                     "model_folders": folders, "engine": engine_label(self.engine, self.device),
                     "tasks": {p.task.id: p.manifest() for p in plans}, "models": {},
                     "cli_overrides": list(self.opts.overrides)}
            if self.lm_eval is not None:
                extra["lm_eval"] = self.lm_eval.sources
            recorded = (read_manifest(self.run) or {}).get("models") or {}  # a resume keeps each model's weights
            self.session = Session(cfg_dump, cfg_hash, extra, {p.task.id: p for p in plans}, recorded)
            self._save_manifest()
            self._execute_plan(plan)
        return self.run.report

    def _execute_plan(self, plan: list[Step]) -> None:
        """The plan's loop."""
        tracker = TensorBoardTracker(self.run) if "tensorboard" in self.cfg.training.report_to else None
        for step in plan:
            if not step.done(self.run):
                step.run(self)
            elif step.resumed:
                self.log(step.resumed)
            if tracker is not None and isinstance(step, Evaluate) and step.key.round > 0:
                tracker.round_evaluated(step.key, step.tasks, step.transfer, step.lm_eval)
            if step.progress:
                self.ui.step_done(step.progress)

    def _save_manifest(self) -> None:
        s = self.session
        write_manifest(self.run, s.cfg_dump, s.cfg_hash, s.extra)

    # --- the steps' work --------------------------------------------------------------------
    def resolve(self, step: Resolve) -> None:
        s = self.session
        spec = next(m for m in self.cfg.models if (m.name or m.id) == step.model)
        resolved = resolve_model(spec.id, log=self.log, revision=spec.revision, source=spec.source,
                                 recorded=s.recorded.get(step.model))
        s.extra["models"][step.model] = resolved.to_dict()
        self._save_manifest()
        s.models[step.model] = (resolved, resolve_dtype(spec.dtype or self.cfg.dtype, self.device))
        s.policies[RoundKey(step.model, BASELINE, 0)] = Policy(base=resolved.path)

    def _load(self, model: str) -> Callable[[Policy], Backend]:
        dtype = self.session.models[model][1]
        gen = self.cfg.generation  # vllm_args / vllm_reload: the engine pool's settings (groundfloor/vllm_args.py)
        return lambda policy: load_backend(self.cfg.generation_engine(), policy.base, policy.adapter, self.device,
                                           dtype, model, gen.vllm_args, gen.vllm_reload, self.log)

    def policy(self, key: RoundKey) -> Policy:
        """The policy of a round: trained in this execution, else the finished round's (checkpoint verified)."""
        if key not in self.session.policies:
            found = finished_policy(key.train_dir(self.run), self.run.root)
            if found is None:
                raise RunFailure(f"{key} has not been trained")
            self.session.policies[key] = found
        return self.session.policies[key]

    def _trained_on(self, key: RoundKey) -> list[str]:
        return list(self.session.plans) if key.lineage is None else [key.lineage]

    def _header(self, key: RoundKey, transfer: bool = False) -> RoundHeader:
        """The round's identity in every metrics file (and train_summary.json)."""
        family = self.session.models[key.model][0].family
        if key.round == 0:
            return RoundHeader(key.model, family, key.method, key.round, transfer=transfer, lineage=key.lineage)
        return RoundHeader(key.model, family, key.method, key.round, scope=self.cfg.training.scope,
                           trained_on="+".join(self._trained_on(key)), transfer=transfer, lineage=key.lineage)

    def evaluate(self, step: Evaluate) -> None:
        s = self.session
        pending, diag_pending = step.pending(self.run)
        ev = RoundEval(self._header(step.key, step.transfer), step.folder(self.run), [s.plans[t] for t in pending],
                       [s.plans[t] for t in diag_pending], self.cfg.seed, self.device,
                       step.lm_pending(self.run), step.lm_folder(self.run), self.lm_eval)
        evaluate_round(self._load(step.key.model), self.policy(step.key), ev, self.ui, self.log)
        write_results(self.run)

    def train(self, step: Train) -> None:
        key = step.key
        inp = RoundInputs(cfg=self.cfg, plans=[self.session.plans[t] for t in step.tasks], header=self._header(key),
                          device=self.device, dtype=self.session.models[key.model][1], lora=self._lora(),
                          load_backend=self._load(key.model), log=self.log, run_root=self.run.root)
        initial = self.policy(RoundKey(key.model, BASELINE, 0))
        self.session.policies[key] = run_round(self.policy(step.parent), initial, inp, key.train_dir(self.run),
                                               key.round)

    def record(self, step: Record) -> None:
        key, s = step.key, self.session
        chain = s.extra.setdefault("lineage", {}).setdefault(key.model, {}).setdefault(key.method, {})
        chain.setdefault(key.lineage_name, []).append({
            "round": key.round, "policy": run_relative_policy(self.policy(key), self.run.root),
            "parent": run_relative_policy(self.policy(step.parent), self.run.root),
            "scope": self.cfg.training.scope, "trained_on": list(step.tasks),
            "reference": self.cfg.training.reference, "folder": str(key.train_dir(self.run).relative_to(self.run.root))})
        self._save_manifest()

    def finish(self, step: Finish) -> None:
        write_results(self.run)
        if self.opts.report:
            from reports.build import build_report

            with staged_folder(self.run.report) as staged:  # no half-written report folder after a Ctrl-C
                build_report([self.run.root], staged)
