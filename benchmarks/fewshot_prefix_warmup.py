"""Few-shot prompts on vLLM: one call with and without the shared-prefix warm-up (harness/backends/vllm_backend.py).

The same n GSM8K items (the authors' 8-shot prompt, the task's own generation settings: temperature 0.1,
seeded per request, 512 new tokens) are answered twice by one live engine, the prefix cache emptied before
each pass: first with the warm-up switched off (every prompt prefilled whole, as before it existed), then
on. Prints both wall times, the prompt tokens each pass prefilled, the ratio, and the share of identical
outputs (the warm-up only adds cache entries; answers may still differ where cached and in-batch float
sums round apart). The peer is the same engine without the warm-up.

    python benchmarks/fewshot_prefix_warmup.py                      # qwen2.5-coder-0.5b-instruct, n = 100
    python benchmarks/fewshot_prefix_warmup.py --model smollm2-135m-instruct --n 40
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def one_pass(backend, messages, params, warm: bool) -> tuple[float, list]:
    """Wall seconds and generations of one call, prefix cache emptied first."""
    from harness.backends import vllm_backend

    backend.llm.reset_prefix_cache()
    saved = vllm_backend.WARM_PREFIX_TOKENS
    vllm_backend.WARM_PREFIX_TOKENS = saved if warm else 10**9
    try:
        start = time.perf_counter()
        gens = backend.generate(messages, params)
        return time.perf_counter() - start, gens
    finally:
        vllm_backend.WARM_PREFIX_TOKENS = saved


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="qwen2.5-coder-0.5b-instruct")
    p.add_argument("--n", type=int, default=100)
    args = p.parse_args()
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    from harness.backends import engine_pool
    from harness.backends.base import GenParams
    from harness.backends.vllm_backend import common_prefix_len
    from harness.models.resolve import resolve_model
    from tasks.gsm8k import Gsm8k

    path = str(resolve_model(args.model, log=lambda m: print(f"  {m}", flush=True)).path)
    task = Gsm8k()
    items = list(task.load(offline=True).eval_items)[:args.n]
    messages = [task.messages(it) for it in items]
    g = task.generation
    params = GenParams(max_new_tokens=g.max_new_tokens, temperature=g.temperature, top_p=g.top_p,
                       greedy=g.greedy, seed=42)
    backend = engine_pool.acquire(path, None, "cpu", None, args.model)
    encoded = [backend._encode(backend.render(m)) for m in messages]
    shared, total = common_prefix_len(encoded), sum(map(len, encoded))
    print(f"== {args.model}, n = {len(items)} GSM8K 8-shot prompts: {total} prompt tokens, {shared} shared by all",
          flush=True)
    cold_s, cold = one_pass(backend, messages, params, warm=False)
    print(f"without warm-up: {cold_s:.1f} s (prefills ~{total} prompt tokens)", flush=True)
    warm_s, warm = one_pass(backend, messages, params, warm=True)
    print(f"with warm-up:    {warm_s:.1f} s (prefills ~{shared + total - len(items) * shared} prompt tokens)",
          flush=True)
    same = sum(a.text == b.text for a, b in zip(cold, warm)) / len(items)
    print(f"ratio without/with: {cold_s / warm_s:.2f}x; identical outputs {same:.2f}; new tokens "
          f"{sum(x.n_new_tokens for x in cold)} / {sum(x.n_new_tokens for x in warm)}")
    engine_pool.release()


if __name__ == "__main__":
    main()
