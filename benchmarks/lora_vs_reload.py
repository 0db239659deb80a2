"""vLLM: a round's LoRA adapter served as a `LoRARequest` against its merged weights reloaded into the engine.

After a round's training, the policy is the base model plus a LoRA adapter. The vLLM engine can serve it in
two ways. This script times both on the same adapter and the same prompts:

- reload (what mipo-bench does, groundfloor/backends/engine_pool.py): a plain engine; the adapter is merged
  into the base weights by PEFT and the result is copied into the live engine (`reload_weights`);
- lora: an engine started with `enable_lora`; every request carries a `LoRARequest` for the adapter folder.

The adapter is LoRA r 16 / alpha 32 on all linear layers (the CPU default), with random B matrices, so it
changes the model. Generation is greedy on GSM8K zero-shot chat prompts. The script prints the engine
start, the switch to the adapter, the generation time and the share of identical outputs.

    python benchmarks/lora_vs_reload.py --model smollm2-135m-instruct
    python benchmarks/lora_vs_reload.py --model qwen2.5-coder-0.5b-instruct --n 16 --max-new-tokens 128
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def make_adapter(path: str, rank: int, folder: Path) -> str:
    """A LoRA adapter with random B matrices (PEFT initialises B to zero, which would change nothing)."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32)
    peft_model = get_peft_model(model, LoraConfig(r=rank, lora_alpha=2 * rank, target_modules="all-linear"))
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for name, p in peft_model.named_parameters():
            if "lora_B" in name:
                p.copy_(torch.randn(p.shape, generator=gen) * 0.01)
    out = folder / "adapter"
    peft_model.save_pretrained(str(out))
    return str(out)


def prompts(path: str, n: int) -> list[str]:
    """n GSM8K zero-shot prompts rendered with the model's chat template."""
    from transformers import AutoTokenizer

    from tasks.gsm8k import Gsm8k

    task = Gsm8k({"fewshot": 0})
    tok = AutoTokenizer.from_pretrained(path)
    items = list(task.load(offline=True).eval_items)[:n]
    return [tok.apply_chat_template(task.messages(it), tokenize=False, add_generation_prompt=True) for it in items]


def timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def run_reload(path: str, adapter: str, texts: list[str], params) -> tuple[dict, list[str]]:
    from groundfloor.backends.engine_pool import _weights, shutdown
    from groundfloor.backends.vllm_backend import start_engine

    llm, start = timed(lambda: start_engine(path, "float32", "cpu"))
    _, switch = timed(lambda: llm.collective_rpc("reload_weights", kwargs={
        "weights_iterator": _weights(path, adapter, None), "is_checkpoint_format": True}))
    outs, gen = timed(lambda: llm.generate(texts, params, use_tqdm=False))
    shutdown(llm)
    return {"start": start, "switch": switch, "generate": gen}, [o.outputs[0].text for o in outs]


def run_lora(path: str, adapter: str, rank: int, texts: list[str], params) -> tuple[dict, list[str]]:
    from vllm.lora.request import LoRARequest

    from groundfloor.backends.engine_pool import shutdown
    from groundfloor.backends.vllm_backend import start_engine

    llm, start = timed(lambda: start_engine(path, "float32", "cpu", lora_rank=rank))
    request = LoRARequest("round_1", 1, adapter)
    # the first request with the adapter loads it: timed as the switch, on one prompt of one token
    from vllm import SamplingParams

    _, switch = timed(lambda: llm.generate(texts[:1], SamplingParams(max_tokens=1), lora_request=request,
                                           use_tqdm=False))
    outs, gen = timed(lambda: llm.generate(texts, params, lora_request=request, use_tqdm=False))
    shutdown(llm)
    return {"start": start, "switch": switch, "generate": gen}, [o.outputs[0].text for o in outs]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="smollm2-135m-instruct")
    p.add_argument("--n", type=int, default=16)
    p.add_argument("--max-new-tokens", type=int, default=128)
    p.add_argument("--rank", type=int, default=16)
    args = p.parse_args()
    from groundfloor.backends.vllm_backend import configure_env
    from groundfloor.models.resolve import resolve_model

    configure_env("cpu")
    from vllm import SamplingParams

    path = str(resolve_model(args.model).path)
    texts = prompts(path, args.n)
    params = SamplingParams(max_tokens=args.max_new_tokens, temperature=0.0)
    with tempfile.TemporaryDirectory() as tmp:
        adapter = make_adapter(path, args.rank, Path(tmp))
        reload_t, reload_out = run_reload(path, adapter, texts, params)
        lora_t, lora_out = run_lora(path, adapter, args.rank, texts, params)
    print(f"model={args.model} n={args.n} max_new_tokens={args.max_new_tokens} rank={args.rank} fp32 greedy")
    for name, t in (("reload", reload_t), ("lora", lora_t)):
        total = sum(t.values())
        print(f"  {name:6s} start {t['start']:6.2f} s  switch {t['switch']:6.2f} s  generate {t['generate']:6.2f} s  "
              f"total {total:6.2f} s")
    same = sum(a == b for a, b in zip(reload_out, lora_out)) / len(texts)
    print(f"identical_outputs: {same:.2f}  generate_ratio_lora_over_reload: "
          f"{lora_t['generate'] / reload_t['generate']:.2f}")


if __name__ == "__main__":
    main()
