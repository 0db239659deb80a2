"""Choosing the generation backend for a suite (`backend: transformers | vllm`)."""

from __future__ import annotations

from collections.abc import Callable

import torch

from harness.backends.base import Backend
from harness.backends.hf import HFBackend
from harness.errors import UserError

BACKENDS = ("transformers", "vllm")


def load_backend(kind: str, base: str, adapter: str | None, device: str, dtype, name: str) -> Backend:
    """A loaded backend for (base model, optional LoRA adapter)."""
    if kind == "transformers":
        return HFBackend.load(base, device=device, dtype=dtype, adapter=adapter, name=name)
    if kind == "vllm":
        if device != "cuda":
            raise UserError("backend: vllm needs --device cuda")
        try:
            from harness.backends.vllm_backend import VLLMBackend

            return VLLMBackend.load(base, dtype=dtype, adapter=adapter, name=name)
        except ImportError as e:
            raise UserError(f"backend: vllm needs the optional extra: pip install 'mipo-bench[vllm]' ({e})") from None
    raise UserError(f"unknown backend '{kind}' (choose from {', '.join(BACKENDS)})")


def fp32_scorer(backend: Backend, reload_hf: Callable[[], HFBackend]) -> Backend:
    """A backend that scores log-probs in fp32: the transformers model cast in place, else a fresh fp32 load.

    The caller closes what is returned; a replaced (vLLM) backend is closed here.
    """
    if isinstance(backend, HFBackend):
        backend.model.float()
        return backend
    backend.close()
    scorer = reload_hf()
    scorer.model.to(torch.float32)
    return scorer
