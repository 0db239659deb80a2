"""A deterministic fake backend for fast unit tests (never used to demonstrate a feature)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from groundfloor.backends.base import Generation, GenParams


class FakeBackend:
    """Answers with `responder(prompt_text)`; log-likelihood is a hash-derived number."""

    name = "fake"

    def __init__(self, responder: Callable[[str], str] | None = None):
        self.responder = responder or (lambda text: "The answer is: A\n#### 0")
        self.calls = 0

    def render(self, messages: list[dict[str, str]]) -> str:
        return "".join(f"<{m['role']}>{m['content']}</{m['role']}>" for m in messages) + "<assistant>"

    def generate(self, prompts, params: GenParams, on_done=None) -> list[Generation]:
        return self.generate_text([self.render(m) for m in prompts], params, on_done)

    def generate_text(self, texts: list[str], params: GenParams, on_done=None) -> list[Generation]:
        """`generate` for prompts that are already text: the responder sees the text itself."""
        out = []
        for i, text in enumerate(texts):
            self.calls += 1
            reply = self.responder(text)
            gen = Generation(text=reply, n_prompt_tokens=len(text.split()), n_new_tokens=len(reply.split()),
                             seconds=0.0, engine="fake")
            out.append(gen)
            if on_done:
                on_done(i, gen)
        return out

    def loglikelihood(self, requests: list[tuple[str, str]], batch_size: int = 8) -> list[float]:
        vals = []
        for ctx, cont in requests:
            h = int(hashlib.sha256((ctx + "\x00" + cont).encode()).hexdigest()[:8], 16)
            vals.append(-(len(cont.split()) + (h % 1000) / 1000.0))
        return vals

    def count_tokens(self, texts: list[str]) -> list[int]:
        return [len(t.split()) for t in texts]

    def close(self) -> None:
        pass
