"""The vLLM backend against a fake `vllm` module: the API calls it makes and how outputs are mapped."""

import json
import sys
import types
from types import SimpleNamespace

import pytest

from harness.backends.base import GenParams
from harness.errors import UserError


class FakeSamplingParams:
    def __init__(self, **kw):
        self.__dict__.update(kw)
        self.kw = kw


class FakeLoRARequest:
    def __init__(self, name, int_id, path):
        self.name, self.int_id, self.path = name, int_id, path


class FakeLLM:
    instances: list = []

    def __init__(self, **kw):
        from transformers import AutoTokenizer

        self.kw = kw
        self.calls = []
        self.tok = AutoTokenizer.from_pretrained(kw["model"])
        FakeLLM.instances.append(self)

    def get_tokenizer(self):
        return self.tok

    def generate(self, prompts, sampling_params, lora_request=None, use_tqdm=True):
        self.calls.append({"prompts": prompts, "params": sampling_params, "lora": lora_request})
        outs = []
        for i, p in enumerate(prompts):
            sp = sampling_params[i] if isinstance(sampling_params, list) else sampling_params
            ids = p["prompt_token_ids"]
            plp = None
            if getattr(sp, "prompt_logprobs", None) is not None:
                plp = [None] + [{t: SimpleNamespace(logprob=-0.25 * k), 99999: SimpleNamespace(logprob=-50.0)}
                                for k, t in enumerate(ids[1:], start=1)]
            outs.append(SimpleNamespace(prompt_token_ids=ids, prompt_logprobs=plp,
                                        outputs=[SimpleNamespace(text=f"  answer {i} ", token_ids=[5, 6, 7])]))
        return outs


@pytest.fixture
def fake_vllm(monkeypatch):
    vllm = types.ModuleType("vllm")
    vllm.LLM, vllm.SamplingParams = FakeLLM, FakeSamplingParams
    lora = types.ModuleType("vllm.lora")
    req = types.ModuleType("vllm.lora.request")
    req.LoRARequest = FakeLoRARequest
    monkeypatch.setitem(sys.modules, "vllm", vllm)
    monkeypatch.setitem(sys.modules, "vllm.lora", lora)
    monkeypatch.setitem(sys.modules, "vllm.lora.request", req)
    FakeLLM.instances = []
    return vllm


def _adapter(tmp_path, r=4):
    (tmp_path / "adapter").mkdir()
    (tmp_path / "adapter" / "adapter_config.json").write_text(json.dumps({"r": r}))
    return str(tmp_path / "adapter")


def test_generate_calls_vllm_and_maps_outputs(fake_vllm, tiny_model_dir):
    import torch

    from harness.backends.select import load_backend

    b = load_backend("vllm", str(tiny_model_dir), None, "cuda", torch.bfloat16, "tiny")
    llm = FakeLLM.instances[-1]
    assert llm.kw["dtype"] == "bfloat16" and "enable_lora" not in llm.kw
    msgs = [[{"role": "user", "content": "What is 2 + 3?"}], [{"role": "user", "content": "I am vegetarian."}]]
    seen = []
    gens = b.generate(msgs, GenParams(max_new_tokens=7, greedy=True, seed=3), on_done=lambda i, g: seen.append(i))
    assert [g.text for g in gens] == ["answer 0", "answer 1"] and seen == [0, 1]
    assert all(g.n_new_tokens == 3 for g in gens)
    call = llm.calls[-1]
    want = b.tokenizer(b.render(msgs[0]), add_special_tokens=False)["input_ids"]
    assert call["prompts"][0]["prompt_token_ids"] == want and gens[0].n_prompt_tokens == len(want)
    sp = call["params"]
    assert [p.seed for p in sp] == [3, 4] and all(p.temperature == 0.0 and p.max_tokens == 7 for p in sp)
    assert b.tokenizer.convert_tokens_to_ids("<|im_end|>") in sp[0].stop_token_ids
    sampled = b.generate(msgs[:1], GenParams(greedy=False, temperature=0.7, top_p=0.9))
    assert sampled and llm.calls[-1]["params"][0].temperature == 0.7 and llm.calls[-1]["params"][0].top_p == 0.9
    assert call["lora"] is None


def test_loglikelihood_sums_prompt_logprobs_of_continuation(fake_vllm, tiny_model_dir):
    from harness.backends.vllm_backend import VLLMBackend

    b = VLLMBackend.load(str(tiny_model_dir))
    ctx = b.render([{"role": "user", "content": "What is 2 + 3?"}])
    n_ctx = len(b.tokenizer(ctx, add_special_tokens=False)["input_ids"])
    n_cont = len(b.tokenizer("The answer is 5.", add_special_tokens=False)["input_ids"])
    got = b.loglikelihood([(ctx, "The answer is 5."), (ctx, "")])
    assert got[0] == pytest.approx(sum(-0.25 * k for k in range(n_ctx, n_ctx + n_cont))) and got[1] == 0.0
    sp = FakeLLM.instances[-1].calls[-1]["params"]
    assert sp.prompt_logprobs == 1 and sp.max_tokens == 1


def test_lora_policy_uses_a_lora_request(fake_vllm, tiny_model_dir, tmp_path):
    from harness.backends.vllm_backend import VLLMBackend

    adapter = _adapter(tmp_path, r=24)
    b = VLLMBackend.load(str(tiny_model_dir), adapter=adapter)
    llm = FakeLLM.instances[-1]
    assert llm.kw["enable_lora"] is True and llm.kw["max_lora_rank"] == 32
    b.generate([[{"role": "user", "content": "hi"}]], GenParams(max_new_tokens=2))
    b.loglikelihood([("a", "b")])
    assert all(c["lora"].path == adapter for c in llm.calls)
    b.close()
    assert b.llm is None


def test_selection_errors(monkeypatch, tiny_model_dir):
    from harness.backends.select import load_backend

    with pytest.raises(UserError, match="cuda"):
        load_backend("vllm", str(tiny_model_dir), None, "cpu", None, "x")
    monkeypatch.setitem(sys.modules, "vllm", None)
    with pytest.raises(UserError, match=r"\[vllm\]"):
        load_backend("vllm", str(tiny_model_dir), None, "cuda", None, "x")
    with pytest.raises(UserError, match="unknown backend"):
        load_backend("tgi", str(tiny_model_dir), None, "cpu", None, "x")


def test_diagnostics_rescore_in_fp32_with_transformers(fake_vllm, tiny_model_dir):
    import torch

    from harness.backends.hf import HFBackend
    from harness.backends.select import fp32_scorer
    from harness.backends.vllm_backend import VLLMBackend

    v = VLLMBackend.load(str(tiny_model_dir))
    scorer = fp32_scorer(v, lambda: HFBackend.load(str(tiny_model_dir), dtype=torch.bfloat16))
    assert isinstance(scorer, HFBackend) and v.llm is None
    assert next(scorer.model.parameters()).dtype == torch.float32


def test_suite_backend_option(tiny_model_dir):
    from harness.config import parse_suite

    assert parse_suite({"models": ["m"], "tasks": ["gsm8k"]}).backend == "transformers"
    assert parse_suite({"models": ["m"], "tasks": ["gsm8k"], "backend": "vllm"}).backend == "vllm"
    with pytest.raises(UserError):
        parse_suite({"models": ["m"], "tasks": ["gsm8k"], "backend": "tgi"})
