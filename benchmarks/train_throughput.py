"""Training throughput on this machine: LoRA DPO (and SFT) pair-tokens/s and MFU, fast route vs TRL's own.

Prints, in one run: the measured bf16/fp32 GEMM rate at the models' shapes; then for each model and
pair length (`profile`: profile_prefs-like pairs of ~600 pair-tokens; `gsm8k`: 8-shot GSM8K prompts,
2,200-3,800 pair-tokens; benchmarks/train_pairs.py) LoRA DPO through mipo.train.build_dpo_trainer on
`training.route` fast and trl (today's default before the fast route), each in its own process (peak
RSS is per process): pair-tokens/s over the timed steps after warm-up, MFU, peak RSS, and the logged
losses/margins of both routes side by side. Then LoRA SFT (sft_self) on both routes. GRPO: no GRPO
method exists in mipo-bench yet, so none is timed.

FLOPs (stated again in the output): N = weights of every matmul the model runs per token (the
decoder's linear layers + the LM head; the input embedding is a lookup). LoRA DPO = 6·N per
pair-token (policy forward 2N + backward to the activations 2N; the frozen base has no weight
gradient + reference forward 2N); LoRA SFT = 4·N per token. Attention scores and the adapter's own
FLOPs are left out (this understates MFU slightly). Both routes are charged the same FLOPs, so MFU
is proportional to pair-tokens/s. MFU = achieved FLOP/s / the best measured GEMM rate (bf16 or fp32,
whichever this CPU runs faster; both are printed).

    python benchmarks/train_throughput.py                                 # both models, both lengths
    python benchmarks/train_throughput.py --models qwen2.5-coder-0.5b-instruct --lengths profile --steps 2
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

MODELS = ["smollm2-135m-instruct", "qwen2.5-coder-0.5b-instruct"]
FLOPS_NOTE = ("FLOPs: LoRA DPO 6*N per pair-token (policy fwd 2N + bwd to activations 2N + reference fwd 2N), "
              "LoRA SFT 4*N per token; N = decoder linear weights + LM head (attention scores excluded)")


def gemm_rates(shapes: list[tuple[int, int, int]], seconds: float) -> dict[str, float]:
    """TFLOP/s of torch.matmul per dtype: total FLOPs / total time over `shapes`, each run >= `seconds`."""
    import torch

    out = {}
    for dtype in (torch.float32, torch.bfloat16):
        flops = elapsed = 0.0
        for m, k, n in shapes:
            a, b = torch.randn(m, k, dtype=dtype), torch.randn(k, n, dtype=dtype)
            a @ b
            t0, runs = time.perf_counter(), 0
            while runs == 0 or time.perf_counter() - t0 < seconds:
                a @ b
                runs += 1
            elapsed += time.perf_counter() - t0
            flops += 2.0 * m * k * n * runs
        out[str(dtype).removeprefix("torch.")] = flops / elapsed / 1e12
    return out


def matmul_params(model) -> int:
    """N: weights of the decoder's linear layers plus the LM head."""
    import torch

    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    return sum(m.weight.numel() for name, m in base.named_modules()
               if isinstance(m, torch.nn.Linear) and "lora_" not in name)


def child(spec: dict) -> dict:
    """One timed training run (in its own process): step times, tokens, logged losses, peak RSS."""
    import resource

    from train_pairs import build_pairs, pair_tokens
    from transformers import AutoTokenizer, TrainerCallback

    from groundfloor.models.resolve import resolve_model
    from groundfloor.policy import Policy
    from harness.config import TrainingConfig
    from mipo.train import build_dpo_trainer, train_sft

    path = resolve_model(spec["model"]).path
    n_pairs = spec["pairs_per_step"] * (spec["warmup"] + spec["steps"])
    pairs = build_pairs(spec["length"], n_pairs, AutoTokenizer.from_pretrained(path), seed=spec["seed"])
    cfg = TrainingConfig(per_device_batch_size=spec["pairs_per_step"], gradient_accumulation_steps=1, seed=0,
                         route=spec["route"], max_length=4096, warmup_ratio=0.0)
    times: list[float] = []

    class Clock(TrainerCallback):
        def on_step_begin(self, args, state, control, **kw):
            times.append(time.perf_counter())

        def on_step_end(self, args, state, control, **kw):
            times[-1] = time.perf_counter() - times[-1]

    out = Path(spec["out"])
    policy = Policy(base=path)
    t0 = time.perf_counter()
    if spec["method"] == "dpo":
        trainer, _ = build_dpo_trainer(policy, policy, pairs, cfg, out, "cpu", lora=True)
        tokens = pair_tokens(trainer)
        trainer.add_callback(Clock())
        build = time.perf_counter() - t0
        trainer.train()
        route, n = trainer.mipo_route, matmul_params(trainer.model)
    else:
        import trl

        seen: dict = {}
        orig = trl.SFTTrainer.train

        def train(self, *a, **k):  # count tokens and time steps on the trainer train_sft builds
            seen.update(tokens=[len(x) for x in self.train_dataset["input_ids"]], n=matmul_params(self))
            self.add_callback(Clock())
            return orig(self, *a, **k)

        trl.SFTTrainer.train = train
        _, summary = train_sft(policy, pairs, cfg, out, "cpu", lora=True)
        tokens, n, route, build = seen["tokens"], seen["n"], summary["training_route"], 0.0
    logs = [json.loads(x) for x in (out / "train_log.jsonl").read_text().splitlines() if x.strip()]
    return {"times": times, "tokens": tokens, "n": n, "route": route, "build_s": build,
            "loss": [s.get("loss") for s in logs if "loss" in s],
            "margins": [s.get("rewards/margins") for s in logs if "loss" in s],
            "rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20}


def run_child(spec: dict) -> dict:
    """`child(spec)` in a fresh process (own peak RSS, own thread pools)."""
    proc = subprocess.run([sys.executable, __file__, "--child", json.dumps(spec)], capture_output=True, text=True)
    lines = [x for x in proc.stdout.splitlines() if x.startswith("RESULT ")]
    if proc.returncode or not lines:
        raise SystemExit(f"child failed ({spec}):\n{proc.stderr[-3000:]}")
    return json.loads(lines[-1][7:])


def summarise(r: dict, warmup: int, per_step: int, flops_per_token: float, peak: float) -> dict:
    """pair-tokens/s over the timed steps (mean tokens per pair: the trainer shuffles), MFU, CI of step time."""
    import statistics

    timed = r["times"][warmup:]
    mean_t = statistics.fmean(timed)
    half = 1.96 * statistics.stdev(timed) / len(timed) ** 0.5 if len(timed) > 1 else float("nan")
    tok_step = per_step * sum(r["tokens"]) / len(r["tokens"])
    rate = tok_step / mean_t
    return {"rate": rate, "step_s": mean_t, "ci": half, "n": len(timed), "tok_step": tok_step,
            "mfu": rate * flops_per_token * r["n"] / (peak * 1e12), "rss": r["rss_gb"]}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", nargs="+", default=MODELS)
    p.add_argument("--lengths", nargs="+", default=["profile", "gsm8k"], choices=["profile", "gsm8k"])
    p.add_argument("--routes", nargs="+", default=["fast", "trl"], choices=["fast", "trl"])
    p.add_argument("--steps", type=int, default=3, help="timed optimizer steps per run")
    p.add_argument("--warmup", type=int, default=1, help="untimed steps first")
    p.add_argument("--pairs-per-step", type=int, default=1, help="pairs per optimizer step (no accumulation)")
    p.add_argument("--sft", action=argparse.BooleanOptionalAction, default=True, help="also time LoRA SFT")
    p.add_argument("--gemm-seconds", type=float, default=1.0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--child", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        print("RESULT " + json.dumps(child(json.loads(args.child))), flush=True)
        return
    import tempfile

    import torch

    rates = gemm_rates([(600, 896, 4864), (600, 4864, 896), (600, 896, 896), (600, 576, 1536), (600, 896, 32768)],
                       args.gemm_seconds)
    best = max(rates, key=rates.get)
    print(f"torch {torch.__version__} threads={torch.get_num_threads()} cpu={torch.backends.cpu.get_cpu_capability()}")
    print(f"GEMM (600 rows x the models' linear shapes): bf16 {rates['bfloat16']:.3f} TFLOP/s, "
          f"fp32 {rates['float32']:.3f} TFLOP/s -> MFU against {best} ({rates[best]:.3f})")
    print(FLOPS_NOTE)
    print(f"{'model':28s} {'pairs':7s} {'method':6s} {'route':5s} {'pair-tok/s':>10s} {'step s (95% CI)':>18s} "
          f"{'n':>2s} {'MFU':>6s} {'RSS GB':>6s}  losses (first steps)")
    headline = None
    runs = [(m, ln, "dpo") for m in args.models for ln in args.lengths]
    runs += [(args.models[-1], args.lengths[0], "sft")] if args.sft else []
    with tempfile.TemporaryDirectory() as tmp:
        for model, length, method in runs:
            res = {}
            for route in args.routes:
                spec = {"model": model, "length": length, "route": route, "method": method, "seed": args.seed,
                        "steps": args.steps, "warmup": args.warmup, "pairs_per_step": args.pairs_per_step,
                        "out": f"{tmp}/{model}-{length}-{method}-{route}"}
                r = run_child(spec)
                s = summarise(r, args.warmup, args.pairs_per_step, 6 if method == "dpo" else 4, rates[best])
                res[route] = (r, s)
                print(f"{model:28s} {length:7s} {method:6s} {r['route']:5s} {s['rate']:10.1f} "
                      f"{s['step_s']:9.2f} +- {s['ci']:5.2f} {s['n']:2d} {100 * s['mfu']:5.1f}% {s['rss']:6.2f}  "
                      f"{[round(x, 4) for x in r['loss'][:4]]}", flush=True)
            if {"fast", "trl"} <= set(res):
                (rf, sf), (rt, st) = res["fast"], res["trl"]
                dl = max(abs(a - b) for a, b in zip(rf["loss"], rt["loss"]))
                dm = max((abs(a - b) for a, b in zip(rf["margins"], rt["margins"]) if a is not None), default=0.0)
                print(f"  fast/trl: {sf['rate'] / st['rate']:.2f}x  max |dloss| {dl:.2e}  max |dmargin| {dm:.2e} "
                      f"over {len(rf['loss'])} steps", flush=True)
                if method == "dpo" and length == "profile" and "qwen" in model:
                    headline = (sf["rate"] / st["rate"], sf["mfu"], dl)
                headline = headline or (sf["rate"] / st["rate"], sf["mfu"], dl)
    import importlib.util

    grpo = importlib.util.find_spec("mipo.grpo") is not None
    print("GRPO: " + ("mipo/grpo.py exists but is not timed here yet" if grpo else
                      "no GRPO method exists in mipo-bench yet; none timed"))
    if headline:
        x, y, dl = headline
        print(f"speedup_vs_default: {x:.2f}  mfu: {100 * y:.1f}%  loss_match: {'yes' if dl <= 1e-3 else 'no'} "
              f"(max |dloss| {dl:.1e}, tolerance 1e-3)")


if __name__ == "__main__":
    main()
