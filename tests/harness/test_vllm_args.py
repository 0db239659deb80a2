"""generation.vllm_args and generation.vllm_reload (groundfloor/vllm_args.py) against a fake `vllm` module: config
checks, the arguments the engine gets, and the rebuild reload path (the real engine: test_vllm_rebuild_real.py)."""

import dataclasses
import shutil
import sys
import types
from pathlib import Path
from types import SimpleNamespace

import pytest

from groundfloor import vllm_args
from harness.config import parse_suite
from groundfloor.errors import UserError
from tests.helpers.tiny_model import make_adapter

SUITE = {"models": ["m"], "tasks": ["gsm8k"]}
FIELDS = ("model", "tokenizer", "dtype", "seed", "max_model_len", "enforce_eager", "enable_chunked_prefill",
          "max_num_batched_tokens", "gpu_memory_utilization", "enable_sleep_mode", "tensor_parallel_size",
          "pipeline_parallel_size", "data_parallel_size", "enable_lora", "max_lora_rank", "max_loras")
EngineArgs = dataclasses.make_dataclass("EngineArgs", [(f, object, None) for f in FIELDS])


def _suite(**generation):
    return parse_suite({**SUITE, "generation": generation})


@pytest.fixture
def known(monkeypatch):
    """vLLM's argument names as the fake EngineArgs has them (whether or not vLLM is installed)."""
    monkeypatch.setattr(vllm_args, "engine_arg_names", lambda: frozenset(FIELDS))


def test_unknown_key_names_the_closest_argument(known):
    with pytest.raises(UserError, match=r"generation\.vllm_args: 'tensor_paralel_size' is not an argument of "
                                        r"vLLM's EngineArgs; did you mean 'tensor_parallel_size'\?"):
        _suite(vllm_args={"tensor_paralel_size": 2})


@pytest.mark.skipif(vllm_args.engine_arg_names() is None, reason="vLLM not installed")
def test_names_come_from_the_installed_vllm():
    assert {"tensor_parallel_size", "gpu_memory_utilization", "max_model_len"} <= vllm_args.engine_arg_names()
    with pytest.raises(UserError, match="did you mean 'gpu_memory_utilization'"):
        _suite(vllm_args={"gpu_memory_utilisation": 0.8})


@pytest.mark.parametrize("key,names", [("dtype", "models[].dtype"), ("model", "models[].id"),
                                       ("seed", "generation.seed"), ("max_lora_rank", "training.lora_r"),
                                       ("enable_lora", "training.mode")])
def test_keys_the_harness_sets_are_refused_naming_their_suite_key(known, key, names):
    with pytest.raises(UserError, match=rf"generation\.vllm_args: '{key}' is set by the harness from .*"
                                        + names.replace("[", r"\[").replace("]", r"\]")):
        _suite(vllm_args={key: 1})


def test_without_vllm_the_args_are_accepted_and_checked_at_engine_start(monkeypatch, tiny_model_dir):
    from groundfloor.backends.vllm_backend import engine_kwargs

    monkeypatch.setattr(vllm_args, "engine_arg_names", lambda: None)
    cfg = _suite(vllm_args={"tensor_parallel_size": 2, "max_modle_len": 4096})
    assert cfg.generation.vllm_args["max_modle_len"] == 4096
    monkeypatch.setattr(vllm_args, "imported_arg_names", lambda: frozenset(FIELDS))
    with pytest.raises(UserError, match="did you mean 'max_model_len'"):
        engine_kwargs(str(tiny_model_dir), None, "cpu", extra=cfg.generation.vllm_args)


def test_vllm_reload_values_and_suite_level_only(known):
    assert _suite().generation.vllm_reload == "auto"
    assert _suite(vllm_reload="rebuild").generation.vllm_reload == "rebuild"
    with pytest.raises(UserError, match="generation.vllm_reload: Input should be 'auto', 'in_place' or 'rebuild'"):
        _suite(vllm_reload="rebuilt")
    with pytest.raises(UserError, match="tasks.gsm8k.generation.vllm_args: set once per suite"):
        parse_suite({**SUITE, "tasks": [{"id": "gsm8k", "generation": {"vllm_args": {"max_model_len": 512}}}]})


def test_defaults_stay_out_of_the_recorded_config(known):
    """A run started before these keys existed hashes the same config, so it still resumes."""
    assert {"vllm_args", "vllm_reload"}.isdisjoint(_suite().model_dump(mode="json")["generation"])
    dump = _suite(vllm_args={"max_model_len": 512}, vllm_reload="in_place").model_dump(mode="json")["generation"]
    assert dump["vllm_args"] == {"max_model_len": 512} and dump["vllm_reload"] == "in_place"


def test_auto_rebuilds_when_the_engine_has_worker_processes():
    assert vllm_args.reload_path("auto", {}) == "in_place"
    assert vllm_args.reload_path("auto", {"tensor_parallel_size": 1}) == "in_place"
    for key in vllm_args.PARALLEL_KEYS:
        assert vllm_args.reload_path("auto", {key: 2}) == "rebuild"
    assert vllm_args.reload_path("in_place", {"tensor_parallel_size": 2}) == "in_place"
    assert vllm_args.reload_path("rebuild", {}) == "rebuild"
    with pytest.raises(ValueError, match="vllm_reload"):
        vllm_args.reload_path("sometimes", {})


# --- the engine pool against a fake vLLM -------------------------------------------------------------------
class FakeLLM:
    instances: list = []

    def __init__(self, **kw):
        from transformers import AutoTokenizer

        self.kw, self.rpcs, self.shut = kw, [], False
        self.tok = AutoTokenizer.from_pretrained(kw["model"])
        self.llm_engine = SimpleNamespace(engine_core=SimpleNamespace(shutdown=lambda: setattr(self, "shut", True)))
        FakeLLM.instances.append(self)

    def get_tokenizer(self):
        return self.tok

    def generate(self, prompts, sp, lora_request=None, use_tqdm=True):
        return []

    def collective_rpc(self, method, timeout=None, args=(), kwargs=None):
        self.rpcs.append(method)
        return [list(kwargs["weights_iterator"])]

    def reset_prefix_cache(self):
        pass

    def sleep(self, level=1):
        self.rpcs.append("sleep")

    def wake_up(self, tags=None):
        self.rpcs.append("wake")


@pytest.fixture
def fake_vllm(monkeypatch):
    from groundfloor.backends import engine_pool, vllm_backend

    for k, v in {"VLLM_ENABLE_V1_MULTIPROCESSING": "0", "VLLM_CPU_KVCACHE_SPACE": "2", "OMP_NUM_THREADS": "2",
                 "VLLM_LOGGING_LEVEL": "WARNING"}.items():
        monkeypatch.setenv(k, v)
    mods = {"vllm": types.ModuleType("vllm"), "vllm.engine": types.ModuleType("vllm.engine"),
            "vllm.engine.arg_utils": types.ModuleType("vllm.engine.arg_utils")}
    mods["vllm"].LLM, mods["vllm"].SamplingParams = FakeLLM, lambda **kw: kw
    mods["vllm.engine.arg_utils"].EngineArgs = EngineArgs
    for name, mod in mods.items():
        monkeypatch.setitem(sys.modules, name, mod)
    monkeypatch.setattr(vllm_backend, "version", lambda: "vllm-cpu 0.32.0")
    monkeypatch.setattr(engine_pool, "_unsupported", {})
    FakeLLM.instances = []
    engine_pool.release()
    yield engine_pool
    engine_pool.release()


def test_vllm_args_reach_the_engine_constructor_over_the_defaults(fake_vllm, tiny_model_dir):
    from groundfloor.backends.select import load_backend

    lines = []
    args = {"max_model_len": 512, "gpu_memory_utilization": 0.5, "enforce_eager": False}
    b = load_backend("vllm", str(tiny_model_dir), None, "cpu", None, "tiny", vllm_args=args, log=lines.append)
    kw = FakeLLM.instances[-1].kw
    assert {k: kw[k] for k in args} == args and kw["max_num_batched_tokens"] == 512
    assert kw["model"] == str(tiny_model_dir) and kw["seed"] == 0
    assert fake_vllm.live_engine().kwargs == kw
    assert len(lines) == 1 and "engine started on" in lines[0] and '"max_model_len": 512' in lines[0]
    b.close()
    load_backend("vllm", str(tiny_model_dir), None, "cpu", None, "tiny", vllm_args={"max_model_len": 256})
    assert len(FakeLLM.instances) == 2 and FakeLLM.instances[0].shut  # other arguments: another engine


def _changed_copy(src, dst):
    import torch
    from safetensors.torch import load_file, save_file

    shutil.copytree(src, dst)
    f = next(dst.glob("*.safetensors"))
    weights = load_file(str(f))
    weights["lm_head.weight"] = weights["lm_head.weight"] * 3 + torch.randn_like(weights["lm_head.weight"])
    save_file(weights, str(f), metadata={"format": "pt"})
    return str(dst)


def test_auto_rebuilds_at_tensor_parallel_2(fake_vllm, tiny_model_dir, tmp_path):
    lines = []
    base = str(tiny_model_dir)
    args = {"tensor_parallel_size": 2}
    fake_vllm.acquire(base, None, "cpu", None, "tiny", vllm_args=args, log=lines.append)
    first = FakeLLM.instances[-1]
    new = _changed_copy(tiny_model_dir, tmp_path / "round1")
    fake_vllm.acquire(new, None, "cpu", None, "tiny", vllm_args=args, log=lines.append)
    live = fake_vllm.live_engine()
    assert first.shut and first.rpcs == [] and len(FakeLLM.instances) == 2  # no in-place reload
    assert FakeLLM.instances[-1].kw["model"] == new and FakeLLM.instances[-1].kw["tensor_parallel_size"] == 2
    assert live.reloads == {"in_place": 0, "rebuild": 1} and live.last_reload == "rebuild" and live.swaps == 0
    assert "reloaded rebuild (0 in place, 1 rebuilt so far)" in lines[-1]
    fake_vllm.acquire(base, None, "cpu", None, "tiny", vllm_args={}, reload="in_place")  # other args: new engine
    fake_vllm.acquire(new, None, "cpu", None, "tiny", vllm_args={}, reload="in_place")
    assert FakeLLM.instances[-1].rpcs == ["reload_weights"] and fake_vllm.live_engine().reloads["in_place"] == 1


def test_rebuild_with_an_adapter_starts_on_the_merged_policy(fake_vllm, tiny_model_dir, tmp_path):
    import torch
    from peft import PeftModel
    from safetensors.torch import load_file
    from transformers import AutoModelForCausalLM

    base = str(tiny_model_dir)
    adapter = make_adapter(base, tmp_path / "adapter", r=4, std=0.5)
    fake_vllm.acquire(base, None, "cpu", torch.float32, "tiny", reload="rebuild")
    fake_vllm.acquire(base, adapter, "cpu", torch.float32, "tiny", reload="rebuild")
    live = fake_vllm.live_engine()
    folder = FakeLLM.instances[-1].kw["model"]
    assert folder == live.merged and folder != base and live.policy == (base, adapter)
    assert FakeLLM.instances[-1].get_tokenizer().chat_template  # tokenizer files written beside the weights
    want = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(base), adapter).merge_and_unload()
    got = {k: v for f in sorted(Path(folder).glob("*.safetensors")) for k, v in load_file(str(f)).items()}
    assert set(got) == set(want.state_dict()) and all(torch.equal(got[k], v) for k, v in want.state_dict().items())
    q = "model.layers.0.self_attn.q_proj.weight"
    assert not torch.equal(got[q], AutoModelForCausalLM.from_pretrained(base).state_dict()[q])  # the adapter counts
    fake_vllm.release()
    assert not Path(folder).exists()  # the merged folder goes with the engine
