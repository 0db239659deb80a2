"""Greedy decoding against the memory-bandwidth bound, per engine (hf, vllm) at batch 1 and batch 8.

Each decode step streams every weight once (shared by the whole batch), so a batch of B can decode at
most B x copy_bandwidth / weight_bytes tokens per second. Prints the measured copy bandwidth (a large
torch tensor copy, read + write bytes per second), the bytes streamed per step (parameters x dtype
size; the embedding table counts only when tied to the lm-head), and per engine and batch the decode
rate (prefill timed separately and subtracted) and its fraction of the bound.

    python benchmarks/decode_bandwidth.py --model smollm2-135m-instruct --tokens 64
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from groundfloor.backends.base import GenParams  # noqa: E402
from groundfloor.devices import resolve_dtype  # noqa: E402
from groundfloor.models.resolve import resolve_model  # noqa: E402

TOPICS = ["a lighthouse keeper", "a desert caravan", "a clockmaker", "a lost satellite", "an old library",
          "a mountain village", "a night train", "a coral reef"]


def copy_bandwidth(mb: int = 512, repeats: int = 5) -> float:
    """Best-of-`repeats` GB/s of copying an `mb` MiB float32 tensor (bytes read + bytes written)."""
    src = torch.ones(mb * 2**20 // 4, dtype=torch.float32)
    dst = torch.empty_like(src)
    dst.copy_(src)
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        dst.copy_(src)
        best = min(best, time.perf_counter() - t0)
    return 2 * src.numel() * 4 / best / 1e9


def streamed_bytes(path: str, dtype) -> tuple[float, int]:
    """Bytes read per decode step and the parameter count (from the transformers model)."""
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(path, dtype=dtype)
    n_params = sum(p.numel() for p in model.parameters())
    emb = model.get_input_embeddings().weight.numel()
    tied = getattr(model.config, "tie_word_embeddings", False)
    elt = torch.tensor([], dtype=dtype).element_size()
    return (n_params if tied else n_params - emb) * elt, n_params


def prompts(batch: int) -> list[list[dict[str, str]]]:
    return [[{"role": "user", "content": f"Write a long story about {TOPICS[i % len(TOPICS)]}."}] for i in range(batch)]


def hf_decode(path: str, dtype, args, batch: int) -> float:
    """Decode tokens/s of the hf engine (continuous batcher) at `batch`, prefill excluded."""
    from groundfloor.backends.hf import HFBackend

    backend = HFBackend.load(path, device=args.device, dtype=dtype)
    backend.stop_ids = []  # decode exactly --tokens tokens

    def run(n: int) -> float:
        t0 = time.perf_counter()
        backend.generate(prompts(batch), GenParams(max_new_tokens=n, batch_size=batch))
        return time.perf_counter() - t0

    run(2)  # warm-up
    prefill, full = run(1), run(args.tokens)
    backend.close()
    return batch * (args.tokens - 1) / max(1e-9, full - prefill)


def vllm_decode(llm, args, batch: int) -> float:
    """Decode tokens/s of the vLLM engine at `batch` (EOS ignored), prefill excluded."""
    from vllm import SamplingParams

    tok = llm.get_tokenizer()
    ids = [tok(tok.apply_chat_template(m, tokenize=False, add_generation_prompt=True),
               add_special_tokens=False)["input_ids"] for m in prompts(batch)]

    def run(n: int) -> float:
        llm.reset_prefix_cache()
        t0 = time.perf_counter()
        llm.generate([{"prompt_token_ids": x} for x in ids],
                     SamplingParams(max_tokens=n, temperature=0.0, ignore_eos=True), use_tqdm=False)
        return time.perf_counter() - t0

    run(2)  # warm-up
    prefill, full = run(1), run(args.tokens)
    return batch * (args.tokens - 1) / max(1e-9, full - prefill)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="smollm2-135m-instruct")
    p.add_argument("--engines", nargs="+", default=["hf", "vllm"], choices=["hf", "vllm"])
    p.add_argument("--batches", nargs="+", type=int, default=[1, 8])
    p.add_argument("--dtype", default="float32", help="float32, bfloat16 or auto")
    p.add_argument("--device", default="cpu")
    p.add_argument("--tokens", type=int, default=64, help="new tokens per sequence (EOS is not a stop here)")
    p.add_argument("--copy-mb", type=int, default=512)
    p.add_argument("--compiled", action="store_true", help="vLLM with torch.compile (slow start)")
    p.add_argument("--threads", type=int, default=None)
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    dtype = resolve_dtype(args.dtype, args.device)
    path = resolve_model(args.model).path
    bw = copy_bandwidth(args.copy_mb)
    streamed, n_params = streamed_bytes(path, dtype)
    bound = bw * 1e9 / streamed
    print(f"model={args.model} dtype={str(dtype).removeprefix('torch.')} threads={torch.get_num_threads()} "
          f"params={n_params / 1e6:.1f}M tokens={args.tokens}")
    print(f"copy bandwidth (torch, {args.copy_mb} MiB, read+write): {bw:.1f} GB/s; "
          f"bytes streamed per step: {streamed / 1e6:.1f} MB; bound: {bound:.1f} steps/s", flush=True)
    for engine in args.engines:
        llm = None
        if engine == "vllm":
            from groundfloor.backends.vllm_backend import start_engine

            llm = start_engine(path, dtype, args.device, eager=not args.compiled)
        for batch in args.batches:
            tps = hf_decode(path, dtype, args, batch) if engine == "hf" else vllm_decode(llm, args, batch)
            print(f"  {engine:5s} batch {batch:2d}: {tps:7.1f} tok/s  bound {batch * bound:7.1f} tok/s  "
                  f"bandwidth_fraction {tps / (batch * bound):.3f}", flush=True)
        if llm is not None:
            from groundfloor.backends import engine_pool

            engine_pool.shutdown(llm)


if __name__ == "__main__":
    main()
