"""The backend contract: chat rendering, batched generation, and log-likelihood of continuations."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class GenParams:
    """Resolved decoding settings for one call."""

    max_new_tokens: int = 256
    temperature: float = 0.0
    top_p: float = 1.0
    greedy: bool = True
    batch_size: int = 8
    seed: int = 42

    def to_dict(self) -> dict:
        return dict(self.__dict__)


@dataclass(frozen=True)
class Generation:
    """One generated output."""

    text: str
    n_prompt_tokens: int
    n_new_tokens: int
    seconds: float
    truncated: bool = False  # stopped by max_new_tokens before any stop token (answer may be cut off)
    engine: str = ""  # what produced it: hf, vllm, fake (recorded with each sample)


class Backend(Protocol):
    """What evaluation, pair generation and diagnostics need from a model."""

    name: str

    def render(self, messages: list[dict[str, str]]) -> str:
        """The chat-templated prompt text, ending where the assistant's turn begins."""

    def generate(self, prompts: list[list[dict[str, str]]], params: GenParams,
                 on_done: Callable[[int, Generation], None] | None = None) -> list[Generation]:
        """Generate one response per prompt; `on_done(index, generation)` is called as each finishes."""

    def generate_text(self, texts: list[str], params: GenParams,
                      on_done: Callable[[int, Generation], None] | None = None) -> list[Generation]:
        """`generate` for prompts that are already text (lm-eval's contexts); no chat template is applied."""

    def loglikelihood(self, requests: list[tuple[str, str]], batch_size: int = 8) -> list[float]:
        """Summed log-probability of each continuation given its (already rendered) context."""

    def count_tokens(self, texts: list[str]) -> list[int]:
        """How many tokens each text has as a `loglikelihood` continuation (the terms of its sum)."""

    def close(self) -> None:
        """Free memory held by the model."""
