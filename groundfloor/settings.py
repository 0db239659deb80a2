"""Config blocks every floor shares: the strict pydantic base and the decoding settings.

`Strict` rejects unknown keys, infinite or NaN numbers and true/false given as a number; `GenerationConfig`
is a suite's (or a task's, or a round's sampling) decoding block. The suite config (harness/config.py) is
built from these, from tasks/spec.py's `TaskSpec` and from mipo/config.py's training blocks.
"""

from __future__ import annotations

from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, field_validator

from groundfloor.limits import MAX_BATCH, MAX_SEED
from groundfloor.vllm_args import RELOADS, check_vllm_args

MAX_NEW_TOKENS = 32768  # the longest context of the supported model families; more is a typo, not a setting


def _takes_bool(annotation: Any) -> bool:
    return annotation in (bool, Any) or bool in get_args(annotation)


class Strict(BaseModel):
    """Base for every config block: unknown keys, infinite or NaN numbers and true/false as a number are errors."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    @field_validator("*", mode="before")
    @classmethod
    def _no_bool_number(cls, v: Any, info: Any) -> Any:
        if isinstance(v, bool) and not _takes_bool(cls.model_fields[info.field_name].annotation):
            raise ValueError(f"got {str(v).lower()}, but this is not a yes/no setting")
        return v


class GenerationConfig(Strict):
    """Decoding settings. `None` means: use the task's default (the paper's)."""

    max_new_tokens: int | None = Field(default=None, gt=0, le=MAX_NEW_TOKENS)
    temperature: float | None = Field(default=None, ge=0)
    top_p: float | None = Field(default=None, gt=0, le=1)
    greedy: bool | None = None
    batch_size: int = Field(default=8, gt=0, le=MAX_BATCH)
    seed: int | None = Field(default=None, ge=0, le=MAX_SEED)
    # suite level only: what generates (vllm wherever installed under auto; log-likelihood stays with hf)
    engine: Literal["auto", "vllm", "hf"] | None = None
    # suite level only: vLLM engine arguments and how a round's policy reaches the engine (groundfloor/vllm_args.py);
    # left out of the recorded config at their defaults, so runs started before they existed still resume
    vllm_args: dict[str, Any] = Field(default_factory=dict, exclude_if=lambda v: not v)
    vllm_reload: Literal[RELOADS] = Field(default="auto", exclude_if=lambda v: v == "auto")  # type: ignore[valid-type]

    @field_validator("vllm_args")
    @classmethod
    def _vllm_args(cls, v: dict[str, Any]) -> dict[str, Any]:
        return check_vllm_args(v)  # unknown keys (closest one named) and keys the harness sets are refused
