"""GPU figures for a random-init Qwen2 model of Qwen2.5-0.5B shape: one DPO step (TRL) and batch generation.

No download: the model is built from a Qwen2Config (0.5B shape, random weights) and the tokenizer is
the cached qwen2.5-coder-0.5b-instruct one (same vocabulary). Prints seconds per DPO step (after a
warm-up step), generation tokens/s at the given batch size, and peak GPU memory.

    python benchmarks/gpu_step.py                          # cuda, bf16, 0.5B shape
    python benchmarks/gpu_step.py --device cpu --tiny      # smoke check on CPU (tiny shape, fp32)
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

QWEN05 = dict(hidden_size=896, intermediate_size=4864, num_hidden_layers=24, num_attention_heads=14,
              num_key_value_heads=2, vocab_size=151936, max_position_embeddings=32768, rope_theta=1e6,
              tie_word_embeddings=True, rms_norm_eps=1e-6)
TINY = dict(QWEN05, hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
            num_key_value_heads=2)


def tokenizer():
    """The cached Qwen2.5 tokenizer (resolves the alias, fetching it once if needed)."""
    from transformers import AutoTokenizer

    from groundfloor.models.resolve import resolve_model

    tok = AutoTokenizer.from_pretrained(resolve_model("qwen2.5-coder-0.5b-instruct").path)
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    return tok


def sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def dpo_steps(model_dir: str, tok, args, dtype) -> float:
    """Seconds of one optimizer step of TRL's DPOTrainer (full fine-tuning, reference model, sigmoid loss)."""
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, TrainerCallback
    from trl import DPOConfig, DPOTrainer

    words = "the answer is computed step by step and then checked again " * 40
    rows = [{"prompt": [{"role": "user", "content": f"Question {i}: {words[: args.prompt_chars]}"}],
             "chosen": [{"role": "assistant", "content": words[: args.response_chars] + f" #### {i}"}],
             "rejected": [{"role": "assistant", "content": words[::-1][: args.response_chars] + f" #### {i + 1}"}]}
            for i in range(args.dpo_batch * (args.dpo_steps + 1))]
    stamps: list[float] = []

    class Clock(TrainerCallback):
        def on_step_end(self, a, state, control, **kw):
            sync(args.device)
            stamps.append(time.perf_counter())

    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=dtype).to(args.device)
    ref = AutoModelForCausalLM.from_pretrained(model_dir, dtype=dtype).to(args.device)
    with tempfile.TemporaryDirectory() as tmp:
        cfg = DPOConfig(output_dir=tmp, per_device_train_batch_size=args.dpo_batch, gradient_accumulation_steps=1,
                        max_steps=args.dpo_steps + 1, learning_rate=5e-7, beta=0.1, loss_type=["sigmoid"],
                        max_length=args.max_length, logging_steps=1, save_strategy="no", report_to="none",
                        bf16=dtype == torch.bfloat16, use_cpu=args.device == "cpu", disable_tqdm=True,
                        gradient_checkpointing=args.device == "cuda", dataloader_num_workers=0)
        trainer = DPOTrainer(model=model, ref_model=ref, args=cfg, train_dataset=Dataset.from_list(rows),
                             processing_class=tok, callbacks=[Clock()])
        trainer.train()
    steps = [b - a for a, b in zip(stamps, stamps[1:])]  # the first step is a warm-up
    return sum(steps) / max(1, len(steps))


@torch.inference_mode()
def generation(model_dir: str, tok, args, dtype) -> tuple[float, int]:
    """(new tokens/s, tokens) of one HF generate call on `--gen-batch` prompts, no EOS stop."""
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=dtype).to(args.device).eval()
    text = tok.apply_chat_template([{"role": "user", "content": "Solve: 12 * 7 + 3 = ? " * 20}],
                                   tokenize=False, add_generation_prompt=True)
    enc = tok([text] * args.gen_batch, return_tensors="pt", add_special_tokens=False).to(args.device)
    kw = dict(do_sample=False, eos_token_id=None, pad_token_id=tok.pad_token_id, temperature=None, top_p=None,
              top_k=None)
    model.generate(**enc, max_new_tokens=4, min_new_tokens=4, **kw)  # warm-up
    sync(args.device)
    t0 = time.perf_counter()
    out = model.generate(**enc, max_new_tokens=args.gen_tokens, min_new_tokens=args.gen_tokens, **kw)
    sync(args.device)
    n = (out.shape[1] - enc["input_ids"].shape[1]) * out.shape[0]
    return n / (time.perf_counter() - t0), n


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="cuda")
    p.add_argument("--dtype", default=None, help="default: bfloat16 on cuda, float32 on cpu")
    p.add_argument("--tiny", action="store_true", help="a 2-layer model of the same vocabulary (smoke check)")
    p.add_argument("--dpo-batch", type=int, default=8)
    p.add_argument("--dpo-steps", type=int, default=3, help="timed steps (after one warm-up step)")
    p.add_argument("--max-length", type=int, default=1024)
    p.add_argument("--prompt-chars", type=int, default=1500)
    p.add_argument("--response-chars", type=int, default=1200)
    p.add_argument("--gen-batch", type=int, default=64)
    p.add_argument("--gen-tokens", type=int, default=256)
    args = p.parse_args()
    if args.tiny:
        args.dpo_batch, args.dpo_steps, args.gen_batch, args.gen_tokens = 2, 1, 4, 8
        args.max_length, args.prompt_chars, args.response_chars = 128, 200, 100
    dtype = {"bfloat16": torch.bfloat16, "float32": torch.float32, "float16": torch.float16}[
        args.dtype or ("bfloat16" if args.device == "cuda" else "float32")]
    from transformers import Qwen2Config, Qwen2ForCausalLM

    torch.manual_seed(0)
    tok = tokenizer()
    config = Qwen2Config(**(TINY if args.tiny else QWEN05), bos_token_id=tok.bos_token_id,
                         eos_token_id=tok.eos_token_id)
    with tempfile.TemporaryDirectory() as tmp:
        Qwen2ForCausalLM(config).to(dtype).save_pretrained(tmp)
        n_params = sum(x.numel() for x in Qwen2ForCausalLM(config).parameters()) if args.tiny else None
        if args.device == "cuda":
            torch.cuda.reset_peak_memory_stats()
        step_s = dpo_steps(tmp, tok, args, dtype)
        tps, n = generation(tmp, tok, args, dtype)
    shape = "tiny" if args.tiny else "qwen2.5-0.5b"
    print(f"device={args.device} dtype={str(dtype).removeprefix('torch.')} shape={shape}"
          + (f" params={n_params / 1e6:.1f}M" if n_params else ""))
    print(f"dpo_step_seconds: {step_s:.3f}  (batch {args.dpo_batch} pairs, max_length {args.max_length}, "
          f"full fine-tuning + reference model)")
    print(f"generation_tokens_per_s: {tps:.1f}  (batch {args.gen_batch}, {args.gen_tokens} new tokens each, "
          f"{n} tokens)")
    if args.device == "cuda":
        print(f"peak_gpu_memory_gib: {torch.cuda.max_memory_allocated() / 2**30:.2f}")


if __name__ == "__main__":
    main()
