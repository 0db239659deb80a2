"""An LLM judge for personalization, with the MIPO authors' judge prompt.

One call per stated preference; the judge answers 1 (the response is general) to 5 (it sufficiently
addresses the preference). Prompt as in the authors' scripts (prism.py:54-55, ca.py:97-98): their
system line, then the user turn "User: <prompt>\\n\\nAssistant: <response>\\n\\nUser's preference:
<preference>". A reply is read as the first integer in it (the authors' `re.search(r'\\d+')`,
prism.py:243, ca.py:131); a reply with no integer, or one outside 1-5, is *unparsed* and counted.
Calls are greedy (the authors sample at T 0.1, top-p 0.9; greedy keeps reruns identical).

The judge model is a suite key (`judge: {model: ..., provider: ...}`) or the task options
`judge_model` / `judge_provider`. The authors' judge: Qwen/Qwen2.5-14B-Instruct (`--use_qwen`,
prism.py:24-25, ca.py:75-76), the judge their reference scores are named after (prism.py:105-106 writes
only `prism500_qwen14b_scored.jsonl`; mb.py:80-82 picks Qwen for any result file named "qwen"); their
argparse default without `--use_qwen` is meta-llama/Meta-Llama-3-8B-Instruct (prism.py:26-27, ca.py:78-79).
A judge is a transformers model (alias, local folder or hub id, run with groundfloor/backends/hf.py) or,
with provider `inspect`, an inspect-ai model name ("openai/gpt-4o", "hf/...").
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from groundfloor.backends.base import GenParams, Generation
from groundfloor.errors import UserError

JUDGE_SYSTEM = (
    "You are a helpful assistant, that evaluates another assistant's response based on how well the "
    "response is personalized to this user based on their stated preference. Give a score between 1 and 5, "
    "1 if the response is general, and 5 if the response sufficiently addresses the user's preference. "
    "Only respond with a number between 1 and 5 and do not provide an explanation."
)
JUDGE_USER = "User: {question}\n\nAssistant: {response}\n\nUser's preference: {preference}"
AUTHORS_JUDGE = "Qwen/Qwen2.5-14B-Instruct"  # --use_qwen; their reference scores carry its name
AUTHORS_JUDGE_ALT = "meta-llama/Meta-Llama-3-8B-Instruct"  # their argparse default
_INT = re.compile(r"\d+")


def parse_score(reply: str) -> float | None:
    """The first integer in the reply if it is 1-5; None (unparsed) otherwise."""
    m = _INT.search(reply or "")
    if not m:
        return None
    value = int(m.group())
    return float(value) if 1 <= value <= 5 else None


def _template_error() -> tuple[type[BaseException], ...]:
    try:
        from jinja2.exceptions import TemplateError
    except ImportError:  # jinja2 comes with transformers; without it no template can fail this way
        return ()
    return (TemplateError,)


@dataclass
class Judge:
    """Wraps any backend with `generate(prompts, params)` (HFBackend, FakeBackend, InspectModel)."""

    backend: Any
    max_new_tokens: int = 16
    _system_ok: bool | None = field(default=None, init=False, repr=False)

    def messages(self, user: str) -> list[dict[str, str]]:
        """System + user turn; the system line moves into the user turn if the chat template has no system role."""
        msgs = [{"role": "system", "content": JUDGE_SYSTEM}, {"role": "user", "content": user}]
        if self._system_ok is None:
            self._system_ok = True
            render = getattr(self.backend, "render", None)
            if render is not None:
                try:
                    render(msgs)
                except _template_error():
                    self._system_ok = False
        return msgs if self._system_ok else [{"role": "user", "content": f"{JUDGE_SYSTEM}\n\n{user}"}]

    def ask(self, users: list[str]) -> list[str]:
        """The judge's replies (greedy) to user turns, each after the authors' system line."""
        params = GenParams(max_new_tokens=self.max_new_tokens, temperature=0.0, greedy=True)
        return [g.text for g in self.backend.generate([self.messages(u) for u in users], params)]

    def rate(self, question: str, response: str, preferences: list[str]) -> dict:
        """{"score": mean of the parsed scores (None if none), "unparsed": count, "calls": [...]}."""
        users = [JUDGE_USER.format(question=question, response=response, preference=p) for p in preferences]
        calls = [{"preference": pref, "prompt": user, "reply": reply, "score": parse_score(reply)}
                 for pref, user, reply in zip(preferences, users, self.ask(users))]
        parsed = [c["score"] for c in calls if c["score"] is not None]
        return {"score": sum(parsed) / len(parsed) if parsed else None,
                "unparsed": len(calls) - len(parsed), "calls": calls}


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

        from inspect_ai.model import ChatMessageSystem, ChatMessageUser

        kinds = {"system": ChatMessageSystem, "user": ChatMessageUser}
        out = []
        for i, msgs in enumerate(prompts):
            t0 = time.perf_counter()
            chat = [kinds[m["role"]](content=m["content"]) for m in msgs]
            res = asyncio.run(self.model.generate(chat))
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

    from groundfloor.backends.hf import HFBackend
    from groundfloor.models.resolve import resolve_model

    device = "cuda" if torch.cuda.is_available() else "cpu"
    dtype = torch.bfloat16 if device == "cuda" else torch.float32
    return Judge(HFBackend.load(resolve_model(model).path, device=device, dtype=dtype, name=f"judge:{model}"),
                 max_new_tokens)
