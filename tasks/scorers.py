"""Scorers: how a task's outputs become scores, and the metrics each one declares.

A task composes its data, its prompt, a scorer and its negative (as inspect_ai's Task(dataset,
solver, scorer) does). The scorer is chosen once, when the task is built: the task's `scorer`, or
the one its options name among `Task.scorer_choices()` (`scorer: loglik` for multiple choice,
`scorer: judge|loglik` for personalization). Three kinds:

- `Generative`: generate, then `extract` an answer from the output and `compare` it with the item's
  target; or the task's own `rule(output, item) -> Score` when it scores with several extractors.
- `Loglik`: nothing is generated; the log-likelihoods of the item's (context, continuation) pairs
  (`ask`) become a Score (`pick`). A saved text output is scored by its `text` scorer.
- `Judged`: generate, then an LLM judge rates the output (`rule`); `about()` describes the judge.

Each declares its main metric (the mean of the samples' `score` column) and the sample columns
summarised beside it (`metrics`; `by` adds one `<metric>_<value>` column per value of a sample
field, MMLU's subjects). The evaluation summarises these columns and no others.

A scorer may declare a model stage (`ModelStage`): a second chat turn, answered by the model under
test, for the outputs its first reading could not score (the authors' GSM8K/SVAMP extraction call).
`follow_up(output, item)` gives that turn's messages (None: the first reading suffices), and
`score_reply(output, item, reply)` the final score once it is answered. The evaluation asks every
pending follow-up of a task in one batched generation (harness/evaluation/evaluate.py); where no model
is at hand (`mipo-bench score` without --model, the exports) `score(output, item)` is the whole
reading and says which outputs still needed the model stage.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, ClassVar

from groundfloor.errors import UserError
from tasks.base import GenerationSettings, Item, Score

Pairs = list[tuple[str, str]]
Messages = list[dict[str, str]]


@dataclass(frozen=True, kw_only=True)
class ModelStage:
    """A follow-up turn the model under test answers for outputs whose first reading failed.

    `name` prefixes the sample columns the evaluation saves (`<name>_prompt`, `<name>_reply`,
    `<name>_seed`, `<name>_n_new_tokens`, `<name>_truncated`); `ask(output, item)` gives the turn's
    messages, or None when the output needs none; `generation` is its decoding (sampled with the run's
    seed, one seed per request as every other sample).
    """

    name: str
    ask: Callable[[str, Item], Messages | None]
    generation: GenerationSettings
    about: str = ""


@dataclass(frozen=True, kw_only=True)
class Scorer(ABC):
    """What every scorer declares: its main metric and the sample columns summarised beside it."""

    name: ClassVar[str] = ""
    metric: str = "accuracy"
    metrics: tuple[str, ...] = ()
    by: str | None = None
    protocol: str = ""
    stage: ModelStage | None = None  # a follow-up model turn for the outputs the first reading cannot score

    def columns(self, rows: Iterable[dict]) -> set[str]:
        """The declared sample columns (with one `<metric>_<value>` per value of the rows' `by` field)."""
        groups = {f"{self.metric}_{r[self.by]}" for r in rows if r.get(self.by)} if self.by else set()
        return set(self.metrics) | groups

    def requests(self, item: Item, backend: Any) -> Pairs | None:
        """(context, continuation) pairs to score by log-likelihood; None: generate."""
        return None

    @abstractmethod
    def score(self, output: str, item: Item) -> Score:
        """Score one generated output against the item (without the model stage, where there is one)."""

    def follow_up(self, output: str, item: Item) -> Messages | None:
        """The model stage's messages for this output; None when there is no stage or the output needs none."""
        return self.stage.ask(output, item) if self.stage is not None else None

    def score_reply(self, output: str, item: Item, reply: str) -> Score:
        """Score an output whose follow-up (`follow_up`) the model answered with `reply`."""
        raise UserError(f"the {self.name} scorer has no model stage")

    def score_loglik(self, item: Item, logliks: list[float]) -> Score:
        """Score an item from the log-likelihoods of its `requests`."""
        raise UserError(f"the {self.name} scorer has no log-likelihood rule")

    def describe(self) -> dict[str, Any]:
        """What `tasks show` prints about the scorer."""
        about = {"metrics": [self.metric, *self.metrics], "protocol": self.protocol}
        if self.stage is not None:
            about["model_stage"] = {"name": self.stage.name, "about": self.stage.about,
                                    "generation": self.stage.generation.__dict__}
        return {k: v for k, v in about.items() if v}


@dataclass(frozen=True, kw_only=True)
class Generative(Scorer):
    """Generate; `extract(output)` compared with the target by `compare` scores 1.0 or 0.0, or `rule` scores.

    With a model `stage`, `rule(output, item)` is the reading without it and `rule(output, item, reply=r)`
    the reading once the stage's follow-up was answered with `r`.
    """

    name: ClassVar[str] = "generative"
    extract: Callable[[str], Any] | None = None
    compare: Callable[[Any, Any], bool] | None = None
    rule: Callable[[str, Item], Score] | None = None

    def __post_init__(self) -> None:
        if (self.rule is None) == (self.extract is None or self.compare is None):
            raise TypeError("Generative needs extract and compare, or a rule")
        if self.stage is not None and self.rule is None:
            raise TypeError("a Generative model stage needs a rule that takes the reply")

    def score(self, output: str, item: Item) -> Score:
        if self.rule is not None:
            return self.rule(output, item)
        got = self.extract(output)  # type: ignore[misc]
        return Score(extracted=got, score=float(self.compare(got, item.target)))  # type: ignore[misc]

    def score_reply(self, output: str, item: Item, reply: str) -> Score:
        if self.stage is None:
            return super().score_reply(output, item, reply)
        return self.rule(output, item, reply=reply)  # type: ignore[misc,call-arg]


@dataclass(frozen=True, kw_only=True)
class Loglik(Scorer):
    """No generation: `ask(item, backend)` gives the pairs, `pick(item, logliks)` the Score."""

    name: ClassVar[str] = "loglik"
    ask: Callable[[Item, Any], Pairs]
    pick: Callable[[Item, list[float]], Score]
    text: Scorer  # scores saved text outputs (`mipo-bench score`, exports, `tasks validate`)

    def requests(self, item: Item, backend: Any) -> Pairs | None:
        return self.ask(item, backend)

    def score_loglik(self, item: Item, logliks: list[float]) -> Score:
        return self.pick(item, logliks)

    def score(self, output: str, item: Item) -> Score:
        return self.text.score(output, item)


@dataclass(frozen=True, kw_only=True)
class Judged(Scorer):
    """Generate; an LLM judge rates the output (`rule`). `about()`: the judge, for `tasks show`."""

    name: ClassVar[str] = "judge"
    rule: Callable[[str, Item], Score]
    about: Callable[[], dict[str, Any]] = dict

    def score(self, output: str, item: Item) -> Score:
        return self.rule(output, item)

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "judge": self.about()}
