"""The run's nouns as types: where a round lives (`RoundKey`), which round a file belongs to (`RoundHeader`),
a metric with its CI (`MetricCI`), a preference pair (`Pair`), what training reports (`TrainSummary`) and what
an evaluation returns (`EvalResult`).

Files keep their JSON shape: a `MetricCI` is written as {"value", "ci_low", "ci_high", "n"}; a header as the
identity fields every metrics.json, diagnostics.json and train_summary.json opens with; a pair and a train
summary are JSON objects whose keys the TypedDicts name.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NotRequired, TypedDict

from groundfloor.rundir import RunDir
from groundfloor.stats import mean_interval


@dataclass(frozen=True)
class MetricCI:
    """A metric: its value, the 95% CI (None: one deterministic figure), n, and what produced the CI
    (`groundfloor.stats.mean_interval`'s method: wilson, bootstrap, bootstrap+wilson-floor; None: not recorded)."""

    value: float | None
    ci_low: float | None = None
    ci_high: float | None = None
    n: int | None = None
    ci_method: str | None = None

    @classmethod
    def of(cls, values: Sequence[float], seed: int = 0, clusters: list | None = None) -> MetricCI:
        """The mean of `values` with its CI (clustered when `clusters` is given; see `mean_interval`)."""
        mean, lo, hi, method = mean_interval(list(values), seed=seed, clusters=clusters)
        return cls(mean, lo, hi, len(values), method or None)

    @classmethod
    def point(cls, value: float | None, n: int | None) -> MetricCI:
        """A figure without a CI (a count, a rate computed once)."""
        return cls(value, None, None, n)

    def to_dict(self) -> dict[str, Any]:
        out = {"value": self.value, "ci_low": self.ci_low, "ci_high": self.ci_high, "n": self.n}
        return {**out, "ci_method": self.ci_method} if self.ci_method else out


def metric_dicts(metrics: dict[str, MetricCI]) -> dict[str, dict[str, Any]]:
    """The `metrics` block of a metrics file."""
    return {name: m.to_dict() for name, m in metrics.items()}


@dataclass(frozen=True)
class RoundKey:
    """One round of one model: round 0 (the untrained model, shared by every method) or round k of a method's
    lineage (`lineage` None: the joint lineage, whose files are the round folder itself)."""

    model: str
    method: str
    round: int
    lineage: str | None = None

    @property
    def lineage_name(self) -> str:
        return self.lineage or "joint"

    def round_dir(self, run: RunDir) -> Path:
        """models/<model>/round_0 or models/<model>/<method>/round_<k> (evaluations live here)."""
        return run.round_dir(self.model, self.method, self.round)

    def train_dir(self, run: RunDir) -> Path:
        """Where the lineage's round-k training files live (positives, pairs, train/, train_summary.json)."""
        rd = self.round_dir(run)
        return rd if self.lineage is None else rd / "lineages" / self.lineage

    def transfer_dir(self, run: RunDir) -> Path:
        """Where the policy's evaluations of the tasks it did not train on live."""
        return self.round_dir(run) / "transfer" / self.lineage_name

    def __str__(self) -> str:
        lineage = f" {self.lineage}" if self.lineage else ""
        return f"{self.model} {self.method}{lineage} round {self.round}"


@dataclass(frozen=True)
class RoundHeader:
    """Which round a metrics.json, diagnostics.json or train_summary.json belongs to: the round's key (`lineage` is
    not written: the file's folder says it), the model's family, and for a trained round its training scope and the
    tasks it trained on ("+"-joined); `transfer` marks a lineage's evaluation of tasks it did not train on and
    `partial` (evaluations only) a run cut short by --limit.

    `fields()` is the one writer of these fields (and `head()` of the `kind` and `task` that follow them);
    `from_json` reads them back and `columns()` gives results.csv's identity columns (groundfloor/results.py).
    """

    model: str
    family: str
    method: str
    round: int
    scope: str | None = None  # per_task | joint; None: round 0 (not trained)
    trained_on: str | None = None
    transfer: bool = False
    partial: bool | None = None  # None: not an evaluation (diagnostics, training)
    lineage: str | None = None

    @property
    def key(self) -> RoundKey:
        return RoundKey(self.model, self.method, self.round, self.lineage)

    def fields(self) -> dict[str, Any]:
        """The header as written: model, family, method, round, then scope and trained_on (trained rounds),
        transfer (only when true) and partial (evaluations)."""
        out: dict[str, Any] = {"model": self.model, "family": self.family, "method": self.method, "round": self.round}
        if self.scope is not None:
            out.update(scope=self.scope, trained_on=self.trained_on)
        if self.transfer:
            out["transfer"] = True
        if self.partial is not None:
            out["partial"] = self.partial
        return out

    def head(self, kind: str, task: str) -> dict[str, Any]:
        """What every file of a round opens with: the header, its kind (eval, diagnostic, train) and task."""
        return {**self.fields(), "kind": kind, "task": task}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RoundHeader:
        """The header a file was written with; files written before `scope` existed read as joint (trained rounds)."""
        k = int(data["round"])
        return cls(model=data["model"], family=data["family"], method=data["method"], round=k,
                   scope=data.get("scope", "joint" if k >= 1 else None), trained_on=data.get("trained_on", ""),
                   transfer=bool(data.get("transfer")), partial=bool(data.get("partial", False)))

    def columns(self) -> dict[str, Any]:
        """results.csv's identity columns of this header's rows: its written fields but `transfer` (the rows' kind
        says it), empty where absent."""
        row = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name not in ("transfer", "lineage")}
        return {**row, "scope": self.scope or "", "trained_on": self.trained_on or "", "partial": bool(self.partial)}


class Pair(TypedDict):
    """One preference pair (a line of pairs.jsonl); verified pairs (mipo/verified.py) add the scores they were
    picked by."""

    prompt_id: str
    task: str
    round: int
    prompt: str
    prompt_messages: list[dict[str, str]]
    chosen: str
    rejected: str
    negative_strategy: str
    rejected_from: str | None
    rejected_prompt: str | None
    chosen_score: NotRequired[float]
    rejected_score: NotRequired[float]
    chosen_sample: NotRequired[int]
    rejected_sample: NotRequired[int]
    scores: NotRequired[list[float | None]]


class TrainSummary(TypedDict, total=False):
    """What a trainer reports, the keys every trainer writes (train_summary.json adds the round's header, metrics
    and pair statistics); mean_<figure> / last_<figure> of the logged figures and the objective's own settings
    ride along under their own names."""

    steps: int
    seconds: float
    nonfinite_loss: bool
    policy: dict[str, str | None]
    lora: bool
    learning_rate: float
    trained_dtype: str
    autocast_bf16: bool
    checkpoint_sha256: dict[str, str]
    training_route: str
    frozen_dtype: str | None
    relative_weight_change: float | None
    weight_elements_compared: int
    max_learning_rate: float


@dataclass
class EvalResult:
    """One task's evaluation: the metrics file's record and the answers to the prompts that rode along
    (None: none asked, or the caller generates them itself)."""

    record: dict[str, Any]
    also: list[str] | None = None

    @property
    def metrics(self) -> dict[str, Any]:
        """The record's per-metric figures."""
        return self.record["metrics"]
