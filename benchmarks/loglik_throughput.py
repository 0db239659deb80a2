"""ARC-Challenge log-likelihood scoring: mipo-bench's HFBackend.loglikelihood against lm-eval's HFLM.

The requests are the `scorer: loglik` ones (per item: "Question: ...\\nAnswer:" + " <choice>" for every
choice, then "Answer:" + " <choice>" for acc_mutual_info). mipo-bench encodes each distinct context
once (groundfloor/backends/shared_context.py); `--flat` also times its one-sequence-per-request path.
Prints requests/s, the speedup, the largest score difference and the share of items whose acc pick
agrees; the last line is `speedup_vs_lm_eval: X.XX identical_picks: Y.YY`.

    python benchmarks/loglik_throughput.py --n 100 --model smollm2-135m-instruct --flat
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from groundfloor.backends.hf import HFBackend  # noqa: E402
from groundfloor.devices import resolve_dtype  # noqa: E402
from groundfloor.models.resolve import resolve_model  # noqa: E402
from tasks.arc import ArcChallenge  # noqa: E402
from tasks.loglik import argmax  # noqa: E402

DTYPE_NAMES = {torch.float32: "float32", torch.bfloat16: "bfloat16", torch.float16: "float16"}


def arc_requests(n: int, seed: int = 1234) -> list[list[tuple[str, str]]]:
    task = ArcChallenge({"scorer": "loglik"})
    items = list(task.load(offline=True).eval_items)
    random.Random(seed).shuffle(items)
    return [task.loglik_requests(it, None) for it in items[:n]]


def timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def time_vllm(path: str, dtype, args, flat, ours, ours_s) -> None:
    """vLLM's prompt_logprobs on the same requests (eager engine; start-up not timed)."""
    from groundfloor.backends import engine_pool
    from groundfloor.backends.vllm_backend import VLLMBackend, start_engine

    llm = start_engine(path, dtype, args.device)
    v = VLLMBackend(llm, path)
    v.loglikelihood(flat[:2])  # warm-up
    v_s, vals = timed(lambda: v.loglikelihood(flat))
    print(f"  mipo-bench vLLM prompt logprobs: {v_s:8.2f} s  {len(flat) / v_s:7.1f} requests/s  "
          f"(hf shared contexts is {v_s / ours_s:.2f}x faster; max |diff| {max(abs(a - b) for a, b in zip(ours, vals)):.2e})")
    engine_pool.shutdown(llm)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="smollm2-135m-instruct")
    p.add_argument("--n", type=int, default=100, help="ARC items")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--dtype", default="float32")
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--flat", action="store_true", help="also time mipo-bench without context sharing")
    p.add_argument("--vllm", action="store_true", help="also time vLLM's prompt log-probs (VLLMBackend.loglikelihood)")
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    path = resolve_model(args.model).path
    dtype = resolve_dtype(args.dtype, args.device)
    per_item = arc_requests(args.n)
    flat = [r for reqs in per_item for r in reqs]
    print(f"== {args.model} dtype={DTYPE_NAMES[dtype]} items={len(per_item)} requests={len(flat)} "
          f"distinct contexts={len({c for c, _ in flat})} batch={args.batch_size} threads={torch.get_num_threads()}")

    backend = HFBackend.load(path, device=args.device, dtype=dtype)
    backend.loglikelihood(flat[:2], batch_size=2)  # warm-up
    ours_s, ours = timed(lambda: backend.loglikelihood(flat, batch_size=args.batch_size))
    print(f"  mipo-bench shared contexts : {ours_s:8.2f} s  {len(flat) / ours_s:7.1f} requests/s")
    if args.flat:
        batcher, backend.batcher = backend.batcher, None
        flat_s, flat_vals = timed(lambda: backend.loglikelihood(flat, batch_size=args.batch_size))
        backend.batcher = batcher
        print(f"  mipo-bench flat            : {flat_s:8.2f} s  {len(flat) / flat_s:7.1f} requests/s  "
              f"(sharing: {flat_s / ours_s:.2f}x, max |diff| {max(abs(a - b) for a, b in zip(ours, flat_vals)):.2e})")
    backend.close()
    if args.vllm:
        time_vllm(path, dtype, args, flat, ours, ours_s)

    from lm_eval.api.instance import Instance
    from lm_eval.models.huggingface import HFLM

    lm = HFLM(pretrained=path, dtype=DTYPE_NAMES[dtype], batch_size=args.batch_size, device=args.device)
    lm.loglikelihood([Instance("loglikelihood", {}, (c, x), 0) for c, x in flat[:2]], disable_tqdm=True)
    reqs = [Instance("loglikelihood", {}, (c, x), i) for i, (c, x) in enumerate(flat)]
    lm_s, lm_out = timed(lambda: lm.loglikelihood(reqs, disable_tqdm=True))
    theirs = [v for v, _ in lm_out]
    print(f"  lm-eval HFLM               : {lm_s:8.2f} s  {len(flat) / lm_s:7.1f} requests/s")
    pos, same = 0, 0
    for reqs_i in per_item:
        k = len(reqs_i) // 2
        same += argmax(ours[pos:pos + k]) == argmax(theirs[pos:pos + k])
        pos += len(reqs_i)
    diff = max(abs(a - b) for a, b in zip(ours, theirs))
    print(f"  speedup {lm_s / ours_s:.2f}x  max |score diff| {diff:.2e}  same acc pick {same}/{len(per_item)}")
    print(f"speedup_vs_lm_eval: {lm_s / ours_s:.2f} identical_picks: {same / len(per_item):.2f}")


if __name__ == "__main__":
    main()
