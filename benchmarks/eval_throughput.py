"""GSM8K evaluation throughput: mipo-bench's HFBackend.generate against lm-eval's `hf` backend (HFLM).

Both run in this process on the same converted safetensors folder, the same dtype, batch size,
chat-templated prompts (rendered once, fed to lm-eval as generate_until contexts with until=[]),
greedy decoding and max new tokens. Prints items/s, new tokens/s, the speedup and the share of
items whose outputs are identical; the last line is
`speedup_vs_lm_eval: X.XX identical_outputs: Y.YY` (pooled over the models run).

    python benchmarks/eval_throughput.py                       # 100 items, both models, 512 tokens
    python benchmarks/eval_throughput.py --n 16 --models smollm2-135m-instruct --max-new-tokens 128
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from harness.backends.base import GenParams  # noqa: E402
from harness.backends.hf import HFBackend  # noqa: E402
from harness.devices import resolve_dtype  # noqa: E402
from harness.models.resolve import resolve_model  # noqa: E402
from tasks.gsm8k import Gsm8k  # noqa: E402

DTYPE_NAMES = {torch.float32: "float32", torch.bfloat16: "bfloat16", torch.float16: "float16"}


def gsm8k_items(n: int, fewshot: int = 8, seed: int = 1234):
    """The first n evaluation items of the offline GSM8K split, in a fixed shuffled order."""
    import random

    task = Gsm8k({"greedy": True, "fewshot": fewshot})
    items = list(task.load(offline=True).eval_items)
    random.Random(seed).shuffle(items)
    return task, items[:n]


def run_mipo(path: str, dtype, messages, params: GenParams, device: str):
    """Time HFBackend.generate (model load excluded); returns (seconds, texts, new token counts)."""
    backend = HFBackend.load(path, device=device, dtype=dtype)
    backend.generate(messages[:1], GenParams(max_new_tokens=4, batch_size=1))  # warm-up
    t0 = time.perf_counter()
    gens = backend.generate(messages, params)
    seconds = time.perf_counter() - t0
    backend.close()
    return seconds, [g.text for g in gens], [g.n_new_tokens for g in gens]


def run_lm_eval(path: str, dtype, rendered: list[str], batch_size: int, max_new: int, device: str):
    """Time lm_eval's HFLM.generate_until on the rendered prompts; returns (seconds, texts, lm)."""
    from lm_eval.api.instance import Instance
    from lm_eval.models.huggingface import HFLM

    lm = HFLM(pretrained=path, dtype=DTYPE_NAMES[dtype], batch_size=batch_size, device=device,
              max_length=32768)

    def reqs(prompts, toks):
        return [Instance(request_type="generate_until", doc={}, idx=i,
                         arguments=(p, {"until": [], "max_gen_toks": toks, "do_sample": False,
                                        "temperature": 0.0}))
                for i, p in enumerate(prompts)]

    lm.generate_until(reqs(rendered[:1], 4), disable_tqdm=True)  # warm-up
    t0 = time.perf_counter()
    texts = lm.generate_until(reqs(rendered, max_new), disable_tqdm=True)
    return time.perf_counter() - t0, texts, lm


def bench_model(alias: str, args) -> dict:
    """Both backends on one model; returns the figures."""
    path = resolve_model(alias, log=lambda m: print(f"  {m}", flush=True)).path
    dtype = resolve_dtype(args.dtype, args.device)
    task, items = gsm8k_items(args.n, args.fewshot)
    messages = [task.messages(it) for it in items]
    params = GenParams(max_new_tokens=args.max_new_tokens, greedy=True, temperature=0.0,
                       batch_size=args.batch_size)
    print(f"== {alias}  dtype={DTYPE_NAMES[dtype]} n={len(items)} batch={args.batch_size} "
          f"max_new_tokens={args.max_new_tokens} fewshot={args.fewshot} threads={torch.get_num_threads()}", flush=True)

    backends = ["mipo", "lm_eval"] if not args.lm_eval_first else ["lm_eval", "mipo"]
    res: dict = {}
    tok = None
    rendered = None
    for which in backends:
        if which == "mipo":
            res["mipo"] = run_mipo(path, dtype, messages, params, args.device)
        else:
            if rendered is None:
                from transformers import AutoTokenizer

                tok = AutoTokenizer.from_pretrained(path)
                rendered = [tok.apply_chat_template(m, tokenize=False, add_generation_prompt=True)
                            for m in messages]
            secs, texts, lm = run_lm_eval(path, dtype, rendered, args.batch_size, args.max_new_tokens,
                                          args.device)
            lm_rendered = [lm.apply_chat_template(m) for m in messages]
            same_prompt = sum(a == b for a, b in zip(lm_rendered, rendered))
            same_ids = sum(lm.tok_encode(r) == tok(r, add_special_tokens=False)["input_ids"] for r in rendered)
            res["lm_eval"] = (secs, texts, [len(tok(t, add_special_tokens=False)["input_ids"]) for t in texts])
            del lm
    m_secs, m_texts, m_toks = res["mipo"]
    l_secs, l_texts, l_toks = res["lm_eval"]
    identical = sum(a.strip() == b.strip() for a, b in zip(m_texts, l_texts))
    n = len(items)
    out = {"model": alias, "n": n, "mipo_s": m_secs, "lm_eval_s": l_secs, "identical": identical,
           "mipo_tok": sum(m_toks), "lm_eval_tok": sum(l_toks)}
    print(f"  prompts: lm-eval apply_chat_template == ours for {same_prompt}/{n}; "
          f"token ids equal for {same_ids}/{n}")
    print(f"  mipo-bench HFBackend : {m_secs:8.2f} s  {n / m_secs:6.3f} items/s  "
          f"{sum(m_toks) / m_secs:7.1f} new tok/s  ({sum(m_toks)} new tokens)")
    print(f"  lm-eval HFLM         : {l_secs:8.2f} s  {n / l_secs:6.3f} items/s  "
          f"{sum(l_toks) / l_secs:7.1f} new tok/s  ({sum(l_toks)} new tokens, re-tokenized text)")
    print(f"  speedup (items/s ratio): {l_secs / m_secs:.2f}x   identical outputs: {identical}/{n}", flush=True)
    if args.show_diffs:
        for i, (a, b) in enumerate(zip(m_texts, l_texts)):
            if a.strip() != b.strip():
                print(f"  --- item {i} differs\n  mipo: {a[:300]!r}\n  lmev: {b[:300]!r}")
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", nargs="+", default=["qwen2.5-coder-0.5b-instruct", "smollm2-135m-instruct"])
    p.add_argument("--n", type=int, default=100, help="GSM8K items per model")
    p.add_argument("--max-new-tokens", type=int, default=512)
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--fewshot", type=int, default=8, help="GSM8K worked examples in the prompt (protocol: 8)")
    p.add_argument("--dtype", default="float32", help="float32, bfloat16, float16 or auto (bf16 on fast-bf16 CPUs)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=None, help="torch intra-op threads (default: torch's choice)")
    p.add_argument("--lm-eval-first", action="store_true", help="run lm-eval before mipo-bench")
    p.add_argument("--show-diffs", action="store_true")
    args = p.parse_args()
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    if args.threads:
        torch.set_num_threads(args.threads)
    rows = [bench_model(m, args) for m in args.models]
    m_s = sum(r["mipo_s"] for r in rows)
    l_s = sum(r["lm_eval_s"] for r in rows)
    ident = sum(r["identical"] for r in rows) / max(1, sum(r["n"] for r in rows))
    print(f"speedup_vs_lm_eval: {l_s / m_s:.2f} identical_outputs: {ident:.2f}")


if __name__ == "__main__":
    main()
