"""What a task is: data sources, items, prompts, a scorer (tasks/scorers.py), MIPO train pool and negative."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel, ConfigDict

from tasks.budgets import measured_truncation

if TYPE_CHECKING:
    from tasks.scorers import Scorer


@dataclass(frozen=True)
class Item:
    """One evaluation or training item.

    `question` is the query without user context; `context` (personalization) is the user's
    profile, which the `context_drop` negative removes.
    """

    id: str
    question: str
    target: Any = None
    choices: tuple[str, ...] = ()
    context: str | None = None
    meta: dict = field(default_factory=dict, hash=False, compare=False)


@dataclass(frozen=True)
class Score:
    """A scored output: what was extracted, the main score in [0, 1], and extra per-item metrics.

    `score` is None only when the scorer's reading needs its model stage and that stage did not run
    (`mipo-bench score` without a model): no number, rather than a zero that was never measured.
    """

    extracted: Any
    score: float | None
    extra: dict[str, float] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)  # non-metric fields kept in samples (judge replies)


@dataclass(frozen=True)
class GenerationSettings:
    """A task's default decoding (the paper's protocol)."""

    max_new_tokens: int = 512
    temperature: float = 0.0
    top_p: float = 1.0
    greedy: bool = True


@dataclass(frozen=True)
class DataSource:
    """Where a split comes from: kind is 'hub', 'pypi' or 'local' (or 'generated')."""

    kind: str
    name: str
    split: str
    note: str = ""


@dataclass
class DataSplit:
    """A loaded task: the evaluation pool, the MIPO train pool and where each came from."""

    eval_items: list[Item]
    train_items: list[Item]
    eval_source: DataSource
    train_source: DataSource


class NoOptions(BaseModel):
    """Task options model for tasks that take none."""

    model_config = ConfigDict(extra="forbid")


def prompt_hash(text: str) -> str:
    """Hash of a normalised prompt, used to check train/eval disjointness."""
    norm = " ".join(text.lower().split())
    return hashlib.sha256(norm.encode()).hexdigest()[:16]


class Task(ABC):
    """Base class. Subclasses set the class attributes (a `scorer` among them) and implement `messages`.

    The scorer is chosen once, when the task is built: the class's `scorer`, or the entry of
    `scorer_choices()` that the option `scorer` names (the first by default). A task that defines
    `score(output, item)` itself and no scorer is scored by that method.
    """

    id: ClassVar[str]
    family: ClassVar[str]  # "math" | "mcq" | "personalization"
    description: ClassVar[str] = ""
    default_negative: ClassVar[str] = "derangement"  # a key of tasks/negatives.py NEGATIVES
    partial_rule: ClassVar[str] = "sentence"  # how partial_prompt negatives cut a question (negatives.PARTIAL_RULES)
    default_limit: ClassVar[int | None] = 200
    default_seed: ClassVar[int] = 42
    generation: ClassVar[GenerationSettings] = GenerationSettings()
    train_generation: ClassVar[GenerationSettings] = GenerationSettings(temperature=0.1, top_p=0.9, greedy=False)
    scorer: Scorer = None  # type: ignore[assignment]  # a fixed scorer; tasks offering several: `scorer_choices`
    Options: ClassVar[type[BaseModel]] = NoOptions
    # why the task's prompt or scoring sees (part of) the answer it is scored against; None when it does not.
    # Shown by `tasks show`, recorded in the manifest and flagged in reports; such tasks stay out of default suites.
    label_leak: ClassVar[str | None] = None

    def __init__(self, options: dict | None = None):
        self.options = self.Options.model_validate(options or {})
        if getattr(self.options, "greedy", False):  # tasks whose options offer `greedy` switch to argmax decoding
            self.generation = GenerationSettings(max_new_tokens=self.generation.max_new_tokens, temperature=0.0,
                                                 top_p=1.0, greedy=True)
        self.offered: dict[str, Scorer] = self.scorer_choices()
        self.scorer = self.offered[getattr(self.options, "scorer", None) or next(iter(self.offered))]

    # --- data -------------------------------------------------------------------------------
    def data_sources(self) -> list[Any]:
        """The task's declarative data sources (`tasks.sources.Source`), hub first; see tasks/loader.py."""
        return []

    def load(self, offline: bool) -> DataSplit:
        """The evaluation pool and the disjoint MIPO train pool (offline: never touch the hub).

        Tasks with `data_sources()` leave this alone (the shared loader does the work); a task may
        instead override it and read its data itself.
        """
        from tasks.loader import load_data

        return load_data(self, "pypi" if offline else "auto", hub_ok=not offline).split

    # --- prompting --------------------------------------------------------------------------
    @abstractmethod
    def messages(self, item: Item, with_context: bool = True) -> list[dict[str, str]]:
        """Chat messages for an item; `with_context=False` drops the user's profile."""

    def train_messages(self, item: Item, with_context: bool = True) -> list[dict[str, str]]:
        """Messages used for MIPO pairs; defaults to the evaluation prompt."""
        return self.messages(item, with_context)

    # --- scoring: the chosen scorer ---------------------------------------------------------
    def scorer_choices(self) -> dict[str, Scorer]:
        """The scorers this task offers by name, the default first (the option `scorer` picks one)."""
        from tasks.scorers import Generative

        chosen: Scorer | None = type(self).scorer
        if chosen is None and type(self).score is not Task.score:  # a task with its own score method
            chosen = Generative(rule=self.score)
        if chosen is None:
            raise TypeError(f"task {getattr(self, 'id', type(self).__name__)}: set `scorer` or define score()")
        return {chosen.name: chosen}

    @property
    def metric(self) -> str:
        """The main metric: the chosen scorer's."""
        return self.scorer.metric

    def score(self, output: str, item: Item) -> Score:
        """Score one model output against the item (with the chosen scorer; its model stage not run)."""
        return self.scorer.score(output, item)

    def follow_up(self, output: str, item: Item) -> list[dict[str, str]] | None:
        """The chosen scorer's model-stage messages for this output (tasks/scorers.py ModelStage); None: none."""
        return self.scorer.follow_up(output, item)

    def score_reply(self, output: str, item: Item, reply: str) -> Score:
        """Score an output whose follow-up the model answered with `reply`."""
        return self.scorer.score_reply(output, item, reply)

    def gold_output(self, item: Item) -> str:
        """A reference output that must score as correct (used by `tasks validate`); the target by default."""
        return str(item.target)

    def loglik_requests(self, item: Item, backend: Any) -> list[tuple[str, str]] | None:
        """(context, continuation) pairs to score with `backend.loglikelihood`; None means generate."""
        return self.scorer.requests(item, backend)

    def score_loglik(self, item: Item, logliks: list[float]) -> Score:
        """Score an item from the log-likelihoods of its `loglik_requests` (tasks that return any)."""
        return self.scorer.score_loglik(item, logliks)

    def scorers(self) -> list[dict[str, Any]]:
        """The scorers this task offers; `active` marks the chosen one."""
        return [{"name": name, "active": s is self.scorer, **s.describe()} for name, s in self.offered.items()]

    def summary_columns(self, rows: list[dict]) -> set[str]:
        """The sample columns summarised beside `score`: those declared by any of the task's scorers."""
        return set().union(*(s.columns(rows) for s in self.offered.values()))

    def aggregate(self, rows: list[dict], seed: int = 0) -> dict[str, dict]:
        """Extra summary metrics computed over all sample rows (e.g. weighted averages); none by default."""
        return {}

    def describe(self) -> dict[str, Any]:
        """Everything `tasks show` prints."""
        return {
            "id": self.id,
            "family": self.family,
            "description": self.description,
            "sources": [s.describe() for s in self.data_sources()],
            "negative_strategy": self.default_negative,
            "eval_limit": self.default_limit,
            "eval_seed": self.default_seed,
            "generation": self.generation.__dict__,
            "train_generation": self.train_generation.__dict__,
            "metric": self.metric,
            "extra_metrics": list(self.scorer.metrics),
            "scorers": self.scorers(),
            "options": self.options.model_dump(),
            "measured_truncation": measured_truncation(self.id),
            "label_leak": self.label_leak,
        }
