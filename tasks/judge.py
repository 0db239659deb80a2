"""An LLM judge for personalization: rates 1-5 how well a response honours each stated preference.

One call per preference (greedy), scores averaged; the prompt, raw reply and parsed score of every
call are kept. The judge model is a transformers model (alias, local folder or hub id, run with
harness/backends/hf.py) or an inspect-ai model name ("openai/gpt-4o", "hf/...") with provider
`inspect`. Tasks get it from their options (`judge_model`, `judge_provider`) or the suite's `judge:`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from harness.backends.base import GenParams, Generation
from harness.errors import UserError

JUDGE_TEMPLATE = (
    "You are evaluating how well an AI assistant's response honours one stated preference of the user.\n\n"
    "User's question:\n{question}\n\nThe user's stated preference:\n{preference}\n\n"
    "Assistant's response:\n{response}\n\n"
    "Rate from 1 (ignores or contradicts the preference) to 5 (fully honours it). "
    "Reply with a single digit from 1 to 5."
)
_DIGIT = re.compile(r"(?<!\d)(?<!\d\.)([1-5])(?!\d)(?!\.\d)")


def parse_score(reply: str) -> float | None:
    """The first standalone digit 1-5 in the judge's reply; None when there is none."""
    m = _DIGIT.search(reply or "")
    return float(m.group(1)) if m else None


@dataclass
class Judge:
    """Wraps any backend with `generate(prompts, params)` (HFBackend, FakeBackend, InspectModel)."""

    backend: Any
    max_new_tokens: int = 16

    def rate(self, question: str, response: str, preferences: list[str]) -> dict:
        """{"score": mean of the parsed scores (None if none parsed), "calls": [...]}."""
        prompts = [JUDGE_TEMPLATE.format(question=question, preference=p, response=response) for p in preferences]
        params = GenParams(max_new_tokens=self.max_new_tokens, temperature=0.0, greedy=True)
        gens = self.backend.generate([[{"role": "user", "content": p}] for p in prompts], params)
        calls = [{"preference": pref, "prompt": prompt, "reply": g.text, "score": parse_score(g.text)}
                 for pref, prompt, g in zip(preferences, prompts, gens)]
        parsed = [c["score"] for c in calls if c["score"] is not None]
        return {"score": sum(parsed) / len(parsed) if parsed else None, "calls": calls}


class InspectModel:
    """A minimal generate() over an inspect-ai model provider (greedy, one prompt at a time)."""

    def __init__(self, name: str, max_new_tokens: int):
        try:
            from inspect_ai.model import GenerateConfig, get_model
        except ImportError:
            raise UserError("judge provider 'inspect' needs inspect-ai (pip install inspect-ai)") from None
        self.model = get_model(name, config=GenerateConfig(max_tokens=max_new_tokens, temperature=0.0))
        self.name = name

    def generate(self, prompts, params: GenParams, on_done=None) -> list[Generation]:
        import asyncio
        import time

        out = []
        for i, msgs in enumerate(prompts):
            t0 = time.perf_counter()
            res = asyncio.run(self.model.generate(msgs[-1]["content"]))
            gen = Generation(res.completion, 0, 0, time.perf_counter() - t0)
            out.append(gen)
            if on_done:
                on_done(i, gen)
        return out


def load_judge(model: str, provider: str = "transformers", max_new_tokens: int = 16) -> Judge:
    """Build a judge from a model id and provider (`transformers` or `inspect`)."""
    if provider == "inspect":
        return Judge(InspectModel(model, max_new_tokens), max_new_tokens)
    if provider != "transformers":
        raise UserError(f"unknown judge provider '{provider}' (use transformers or inspect)")
    import torch

    from harness.backends.hf import HFBackend
    from harness.models.resolve import resolve_model

    device = "cuda" if torch.cuda.is_available() else "cpu"
    dtype = torch.bfloat16 if device == "cuda" else torch.float32
    return Judge(HFBackend.load(resolve_model(model).path, device=device, dtype=dtype, name=f"judge:{model}"),
                 max_new_tokens)
