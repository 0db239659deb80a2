"""Decoding against the memory-bandwidth bound (batch 1, greedy).

Each decoded token streams every weight once, so tokens/s can be at most
copy_bandwidth / parameter_bytes. Prints the measured copy bandwidth (large torch tensor
copy, read + write bytes per second), the decode rate, the bytes streamed per token
(parameters x dtype size), the achieved GB/s and its fraction of the copy bandwidth.

    python benchmarks/decode_bandwidth.py --model smollm2-135m-instruct --tokens 64 --threads 1
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from harness.backends.base import GenParams  # noqa: E402
from harness.backends.hf import HFBackend  # noqa: E402
from harness.devices import resolve_dtype  # noqa: E402
from harness.models.resolve import resolve_model  # noqa: E402


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


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="smollm2-135m-instruct")
    p.add_argument("--dtype", default="float32", help="float32, bfloat16 or auto")
    p.add_argument("--device", default="cpu")
    p.add_argument("--tokens", type=int, default=128, help="new tokens to decode (EOS is not a stop here)")
    p.add_argument("--copy-mb", type=int, default=512)
    p.add_argument("--threads", type=int, default=None)
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    dtype = resolve_dtype(args.dtype, args.device)
    bw = copy_bandwidth(args.copy_mb)
    backend = HFBackend.load(resolve_model(args.model).path, device=args.device, dtype=dtype)
    backend.stop_ids = []  # decode exactly --tokens tokens
    n_params = sum(p.numel() for p in backend.model.parameters())
    tied = getattr(backend.model.config, "tie_word_embeddings", False)
    elt = torch.tensor([], dtype=dtype).element_size()
    # the embedding table is only gathered (one row per token), so it streams nothing unless tied to the lm-head
    emb = backend.model.get_input_embeddings().weight.numel()
    streamed = (n_params if tied else n_params - emb) * elt
    msgs = [[{"role": "user", "content": "Write a long story about a lighthouse keeper."}]]
    prompt_gen = backend.generate(msgs, GenParams(max_new_tokens=1, batch_size=1))[0]
    t_prefill = prompt_gen.seconds
    gen = backend.generate(msgs, GenParams(max_new_tokens=args.tokens, batch_size=1))[0]
    decode_s = max(1e-9, gen.seconds - t_prefill)
    tps = (gen.n_new_tokens - 1) / decode_s
    achieved = streamed * tps / 1e9
    print(f"model={args.model} dtype={str(dtype).removeprefix('torch.')} threads={torch.get_num_threads()} "
          f"params={n_params / 1e6:.1f}M tied_embeddings={tied}")
    print(f"copy bandwidth (torch, {args.copy_mb} MiB, read+write): {bw:.1f} GB/s")
    print(f"bytes streamed per decoded token: {streamed / 1e6:.1f} MB")
    print(f"decode: {gen.n_new_tokens} tokens, {tps:.1f} tok/s (prefill of {prompt_gen.n_prompt_tokens} "
          f"tokens {t_prefill:.3f} s excluded)")
    print(f"bound: {bw * 1e9 / streamed:.1f} tok/s; achieved {achieved:.2f} GB/s")
    print(f"bandwidth_fraction: {achieved / bw:.3f}")


if __name__ == "__main__":
    main()
