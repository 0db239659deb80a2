"""The vLLM backend (optional extra `[vllm]`): fast batched generation and prompt log-probs on GPU.

Prompts are rendered with the tokenizer's chat template and sent as token ids (no extra BOS), exactly
as the transformers backend encodes them. A LoRA policy is served through a `LoRARequest` on the
base model, so adapters are never merged to disk.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

from harness.backends.base import GenParams, Generation
from harness.backends.hf import stop_token_ids

LORA_RANKS = (8, 16, 32, 64, 128, 256, 320, 512)  # the max_lora_rank values vLLM accepts


def lora_rank(adapter: str) -> int:
    """The smallest rank vLLM supports that fits the adapter's `r`."""
    r = int(json.loads((Path(adapter) / "adapter_config.json").read_text())["r"])
    return next((k for k in LORA_RANKS if k >= r), r)


def _dtype_name(dtype) -> str:
    """A torch dtype (or name) as the string vLLM takes."""
    return str(dtype).removeprefix("torch.") if dtype is not None else "auto"


class VLLMBackend:
    """A `vllm.LLM` wrapped in the Backend protocol."""

    def __init__(self, llm, tokenizer, name: str = "vllm", lora_request=None):
        self.llm = llm
        self.tokenizer = tokenizer
        self.name = name
        self.lora_request = lora_request
        self.stop_ids = stop_token_ids(tokenizer)

    @classmethod
    def load(cls, path: str, dtype=None, adapter: str | None = None, name: str | None = None,
             gpu_memory_utilization: float = 0.85, seed: int = 0, max_model_len: int | None = None) -> "VLLMBackend":
        """Start vLLM on a model folder; with `adapter`, LoRA is enabled and every request uses it."""
        from vllm import LLM

        kwargs = dict(model=path, tokenizer=path, dtype=_dtype_name(dtype), seed=seed,
                      gpu_memory_utilization=gpu_memory_utilization)
        if max_model_len:
            kwargs["max_model_len"] = max_model_len
        lora_request = None
        if adapter:
            from vllm.lora.request import LoRARequest

            kwargs.update(enable_lora=True, max_lora_rank=lora_rank(adapter), max_loras=1)
            lora_request = LoRARequest("policy", 1, str(adapter))
        llm = LLM(**kwargs)
        return cls(llm, llm.get_tokenizer(), name or path, lora_request)

    def render(self, messages: list[dict[str, str]]) -> str:
        return self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)

    def _encode(self, text: str) -> list[int]:
        return list(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def _sampling(self, params: GenParams, i: int):
        from vllm import SamplingParams

        greedy = params.greedy or params.temperature <= 0
        return SamplingParams(max_tokens=params.max_new_tokens, temperature=0.0 if greedy else params.temperature,
                              top_p=1.0 if greedy else params.top_p, seed=params.seed + i,
                              stop_token_ids=self.stop_ids, skip_special_tokens=True)

    def generate(self, prompts, params: GenParams,
                 on_done: Callable[[int, Generation], None] | None = None) -> list[Generation]:
        """All prompts in one vLLM call (it schedules its own batches); per-request seeds."""
        encoded = [self._encode(self.render(p)) for p in prompts]
        if not encoded:
            return []
        t0 = time.perf_counter()
        outs = self.llm.generate([{"prompt_token_ids": ids} for ids in encoded],
                                 [self._sampling(params, i) for i in range(len(encoded))],
                                 lora_request=self.lora_request, use_tqdm=False)
        elapsed = (time.perf_counter() - t0) / len(encoded)
        results = []
        for i, out in enumerate(outs):
            comp = out.outputs[0]
            gen = Generation(text=comp.text.strip(), n_prompt_tokens=len(encoded[i]),
                             n_new_tokens=len(comp.token_ids), seconds=elapsed)
            results.append(gen)
            if on_done:
                on_done(i, gen)
        return results

    def loglikelihood(self, requests: list[tuple[str, str]], batch_size: int = 8) -> list[float]:
        """Sum of log p(continuation | context) from vLLM's `prompt_logprobs` over context + continuation."""
        from vllm import SamplingParams

        seqs, starts = [], []
        for ctx, cont in requests:
            ctx_ids = self._encode(ctx)
            seqs.append(ctx_ids + self._encode(cont))
            starts.append(len(ctx_ids))
        if not seqs:
            return []
        sp = SamplingParams(max_tokens=1, temperature=0.0, prompt_logprobs=1)
        outs = self.llm.generate([{"prompt_token_ids": s} for s in seqs], sp, lora_request=self.lora_request,
                                 use_tqdm=False)
        values = []
        for seq, start, out in zip(seqs, starts, outs):
            lps = out.prompt_logprobs
            values.append(float(sum(lps[k][seq[k]].logprob for k in range(max(start, 1), len(seq)))))
        return values

    def close(self) -> None:
        """Shut the engine down and free GPU memory for training."""
        import gc

        self.llm = None
        try:
            from vllm.distributed.parallel_state import destroy_distributed_environment, destroy_model_parallel

            destroy_model_parallel()
            destroy_distributed_environment()
        except Exception:  # older/newer vLLM layouts: freeing memory is best effort
            pass
        gc.collect()
        try:
            import torch

            if torch.cuda.is_available():
                torch.cuda.empty_cache()
        except ImportError:
            pass
