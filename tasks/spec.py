"""A task as a suite names it (`tasks:` entries): its id, sample size, seed, negative and overrides."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator

from groundfloor.limits import MAX_ITEMS, MAX_SEED
from groundfloor.settings import GenerationConfig, Strict
from tasks.negatives import NEGATIVES

NegativeStrategy = Literal[tuple(NEGATIVES)]  # type: ignore[valid-type]  # the negative registry's keys


def pair_budget(v: Any) -> Any:
    """A round's train prompts per task: 'all' or a number >= 2."""
    if v == "all":
        return v
    if isinstance(v, bool) or not isinstance(v, int) or not 2 <= v <= MAX_ITEMS:
        raise ValueError(f"must be 'all' or a number of prompts per task from 2 to {MAX_ITEMS:,}, got {v!r}")
    return v


class TaskSpec(Strict):
    """A task in a suite, with optional overrides."""

    id: str
    limit: int | None = Field(default=None, gt=0, le=MAX_ITEMS)
    seed: int | None = Field(default=None, ge=0, le=MAX_SEED)
    negative: NegativeStrategy | None = None
    options: dict[str, Any] = Field(default_factory=dict)
    generation: GenerationConfig | None = None
    # hub datasets of the task: one branch/tag/commit for all, or {dataset path: revision}
    revision: str | dict[str, str] | None = None
    train_prompts_per_round: int | Literal["all"] | None = None  # this task's pair budget (else mipo's)

    @field_validator("train_prompts_per_round", mode="before")
    @classmethod
    def _budget(cls, v: Any) -> Any:
        return v if v is None else pair_budget(v)
