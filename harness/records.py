"""The run's nouns as types: where a round lives (`RoundKey`), a metric with its CI (`MetricCI`), a preference
pair (`Pair`), what training reports (`TrainSummary`) and what an evaluation returns (`EvalResult`).

Files keep their JSON shape: a `MetricCI` is written as {"value", "ci_low", "ci_high", "n"}; a pair and a
train summary are JSON objects whose keys the TypedDicts name.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypedDict

from harness.rundir import RunDir
from harness.stats import mean_interval


@dataclass(frozen=True)
class MetricCI:
    """A metric: its value, the 95% CI (None: one deterministic figure), n, and what produced the CI
    (`harness.stats.mean_interval`'s method: wilson, bootstrap, bootstrap+wilson-floor; None: not recorded)."""

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


class Pair(TypedDict):
    """One preference pair (a line of pairs.jsonl)."""

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


class TrainSummary(TypedDict, total=False):
    """What a trainer reports (train_summary.json adds the round's header, metrics and pair statistics)."""

    steps: int
    nonfinite_loss: bool
    relative_weight_change: float | None
    weight_elements_compared: int
    max_learning_rate: float
    checkpoint_sha256: dict[str, str]
    policy: dict[str, str | None]


@dataclass
class EvalResult:
    """One task's evaluation: the metrics file's record and the answers to the prompts that rode along.

    `result["metrics"]` and the other keys read the record (`result["also"]`: the ride-along answers).
    """

    record: dict[str, Any]
    also: list[str] | None = None

    def __getitem__(self, key: str) -> Any:
        return self.also if key == "also" else self.record[key]

    def get(self, key: str, default: Any = None) -> Any:
        return self.also if key == "also" else self.record.get(key, default)
