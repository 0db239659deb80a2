"""The plan of a run: the list of steps that `run --dry-run` prints and the runner executes as

    for step in plan:
        if not step.done(run):
            step.run(runner)

A step names its round (`RoundKey`) and knows the files that say it is done; the work itself is the
runner's (`SuiteRunner.resolve / evaluate / train / record / finish`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, Union

from groundfloor.methods import BASELINE, trained
from groundfloor.records import RoundKey
from groundfloor.rundir import RunDir
from harness.config import SuiteConfig
from mipo.rounds import lineages
from tasks.plan import TaskPlan


class Runner(Protocol):
    """What executes the steps (harness.run.runner.SuiteRunner)."""

    def resolve(self, step: Resolve) -> None: ...
    def evaluate(self, step: Evaluate) -> None: ...
    def train(self, step: Train) -> None: ...
    def record(self, step: Record) -> None: ...
    def finish(self, step: Finish) -> None: ...


@dataclass(frozen=True)
class Resolve:
    """Find (or fetch) a model's weights and record them in the manifest; every run does it (cheap once cached)."""

    model: str
    progress: str | None = None
    resumed: str | None = None

    def done(self, run: RunDir) -> bool:
        return False

    def run(self, runner: Runner) -> None:
        runner.resolve(self)

    def __str__(self) -> str:
        return f"resolve {self.model}"


@dataclass(frozen=True)
class Evaluate:
    """Evaluate `tasks` with the round's policy; `diagnosed` tasks also get the PMI diagnostics.
    A transfer evaluation scores a lineage's policy on the tasks it did not train on. `lm_eval`: the suite's
    lm-eval tasks, in the lineage's own folder (`lm_folder`), so that every lineage of a round has its own."""

    key: RoundKey
    tasks: tuple[str, ...]
    diagnosed: tuple[str, ...] = ()
    transfer: bool = False
    progress: str | None = None
    lm_eval: tuple[str, ...] = ()

    def folder(self, run: RunDir):
        return self.key.transfer_dir(run) if self.transfer else self.key.round_dir(run)

    def pending(self, run: RunDir) -> tuple[list[str], list[str]]:
        """(tasks not yet evaluated, tasks whose diagnostics are not yet measured)."""
        folder = self.folder(run)
        return ([t for t in self.tasks if not (folder / "tasks" / t / "metrics.json").exists()],
                [t for t in self.diagnosed if not (folder / "diagnostics" / t / "diagnostics.json").exists()])

    def lm_folder(self, run: RunDir):
        """Where the lm-eval tasks' folders go: the round's (round 0, joint) or the lineage's own."""
        return self.key.train_dir(run)

    def lm_pending(self, run: RunDir) -> list[str]:
        """lm-eval tasks not yet evaluated."""
        return [t for t in self.lm_eval
                if not (self.lm_folder(run) / "tasks" / "lm_eval" / t / "metrics.json").exists()]

    def done(self, run: RunDir) -> bool:
        return not any(self.pending(run)) and not self.lm_pending(run)

    @property
    def resumed(self) -> str:
        return f"{self.key.model} {self.key.method} round {self.key.round}: already evaluated"

    def run(self, runner: Runner) -> None:
        runner.evaluate(self)

    def __str__(self) -> str:
        what = "transfer-evaluate" if self.transfer else "evaluate"
        diag = f" (+ diagnostics: {', '.join(self.diagnosed)})" if self.diagnosed else ""
        lm = f" (+ lm-eval: {', '.join(self.lm_eval)})" if self.lm_eval else ""
        return f"{what} {self.key}: {', '.join(self.tasks)}{diag}{lm}"


@dataclass(frozen=True)
class Train:
    """Round k of a lineage: the parent policy answers the lineage's train prompts, pairs are built, TRL trains."""

    key: RoundKey
    parent: RoundKey
    tasks: tuple[str, ...]
    progress: str | None = None

    def done(self, run: RunDir) -> bool:
        return (self.key.train_dir(run) / "train_summary.json").exists()

    @property
    def resumed(self) -> str:
        return f"round {self.key.round} ({self.key.method}): already trained, reusing its checkpoint"

    def run(self, runner: Runner) -> None:
        runner.train(self)

    def __str__(self) -> str:
        return f"train {self.key} on {'+'.join(self.tasks)} from {self.parent}"


@dataclass(frozen=True)
class Record:
    """Add the trained round to the manifest's lineage (its checkpoint verified); every run does it."""

    key: RoundKey
    parent: RoundKey
    tasks: tuple[str, ...]
    progress: str | None = None
    resumed: str | None = None

    def done(self, run: RunDir) -> bool:
        return False

    def run(self, runner: Runner) -> None:
        runner.record(self)

    def __str__(self) -> str:
        return f"record {self.key} in the manifest"


@dataclass(frozen=True)
class Finish:
    """Rebuild results.csv and the report from every metrics file."""

    progress: str | None = None
    resumed: str | None = None

    def done(self, run: RunDir) -> bool:
        return False

    def run(self, runner: Runner) -> None:
        runner.finish(self)

    def __str__(self) -> str:
        return "write results.csv and the report"


Step = Union[Resolve, Evaluate, Train, Record, Finish]


def _ids(plans: list[TaskPlan]) -> tuple[str, ...]:
    return tuple(p.task.id for p in plans)


def lm_eval_tasks(cfg: SuiteConfig) -> tuple[str, ...]:
    """The suite's lm-eval task names (evaluated at round 0 and after every round of every lineage)."""
    return tuple(cfg.lm_eval.tasks) if cfg.lm_eval else ()


def lineage_steps(cfg: SuiteConfig, model: str, method: str, name: str, group: list[TaskPlan],
                  plans: list[TaskPlan]) -> list[Step]:
    """Rounds 1..R of one lineage: train, record, evaluate its tasks (and, with transfer, the others)."""
    steps: list[Step] = []
    lineage = None if cfg.training.scope == "joint" else name
    parent = RoundKey(model, BASELINE, 0)
    others = [p for p in plans if p not in group] if cfg.training.transfer else []
    lm = lm_eval_tasks(cfg)
    for k in range(1, cfg.rounds + 1):
        key = RoundKey(model, method, k, lineage)
        label = f"{model} {method} {name} round {k}"
        steps += [Train(key, parent, _ids(group)), Record(key, parent, _ids(group), progress=f"{label} trained"),
                  Evaluate(key, _ids(group), _ids([p for p in group if p.diag_items]),
                           progress=None if others else f"{label} evaluated", lm_eval=lm)]
        if others:
            steps.append(Evaluate(key, _ids(others), transfer=True, progress=f"{label} evaluated"))
        parent = key
    return steps


def build_plan(cfg: SuiteConfig, plans: list[TaskPlan]) -> list[Step]:
    """Every step of the run, in order: per model, resolve, round 0, then each method's lineages; then finish."""
    steps: list[Step] = []
    for spec in cfg.models:
        model = spec.name or spec.id
        steps += [Resolve(model), Evaluate(RoundKey(model, BASELINE, 0), _ids(plans),
                                           _ids([p for p in plans if p.diag_items]),
                                           progress=f"{model} round 0 evaluated", lm_eval=lm_eval_tasks(cfg))]
        for method in trained(cfg.methods):
            for name, group in lineages(plans, cfg.training.scope):
                steps += lineage_steps(cfg, model, method.name, name, group, plans)
    return steps + [Finish()]
