"""The transformers backend on a tiny random model: batching must not change results."""

import torch

from groundfloor.backends.base import GenParams
from groundfloor.backends.hf import HFBackend


def test_greedy_generation_independent_of_batch_size(tiny_model_dir):
    b = HFBackend.load(str(tiny_model_dir), dtype=torch.float32)
    prompts = [[{"role": "user", "content": q}] for q in ("What is 2 + 3?", "I am vegetarian.", "Question: apples")]
    one = b.generate(prompts, GenParams(max_new_tokens=8, batch_size=1))
    three = b.generate(prompts, GenParams(max_new_tokens=8, batch_size=3))
    assert [g.text for g in one] == [g.text for g in three]
    assert all(g.n_new_tokens <= 8 for g in one)


def test_loglikelihood_matches_unbatched_forward(tiny_model_dir):
    b = HFBackend.load(str(tiny_model_dir), dtype=torch.float32)
    ctx = b.render([{"role": "user", "content": "What is 2 + 3?"}])
    reqs = [(ctx, "The answer is 5."), (ctx + " long extra context", "8"), (ctx, "pasta")]
    batched = b.loglikelihood(reqs, batch_size=3)
    for (c, cont), got in zip(reqs, batched):
        ids_c = b.tokenizer(c, add_special_tokens=False)["input_ids"]
        ids_x = b.tokenizer(cont, add_special_tokens=False)["input_ids"]
        ids = torch.tensor([ids_c + ids_x])
        with torch.no_grad():
            logits = b.model(ids).logits[0].float().log_softmax(-1)
        want = sum(float(logits[len(ids_c) - 1 + k, t]) for k, t in enumerate(ids_x))
        assert abs(got - want) < 1e-3
    assert all(v < 0 for v in batched)


def _hf_generate(backend, prompts, params):
    """The same call through HF `generate` (the batcher switched off)."""
    batcher, backend.batcher = backend.batcher, None
    try:
        return backend.generate(prompts, params)
    finally:
        backend.batcher = batcher


def test_continuous_batcher_matches_hf_generate(tiny_model_dir):
    """Rows stop at different steps, free slots are refilled and the shared system prompt is encoded once:
    the texts and token counts must still equal HF generate's, for every batch size."""
    from groundfloor.backends.batcher import common_prefix

    b = HFBackend.load(str(tiny_model_dir), dtype=torch.float32)
    assert b.batcher is not None
    qs = ["What is 2 + 3?", "I am vegetarian.", "Question: apples", "Give me a short answer", "- first point",
          "el plan es simple y es para usted; le plan est simple", "The answer is: A.", "der plan ist einfach",
          "Solve the following math problem step by step. #### 42", "How many apples are left? 12 - 4 = 8"]
    prompts = [[{"role": "system", "content": "You are a helpful assistant. Keep every answer short."},
                {"role": "user", "content": q}] for q in qs]
    encoded = b._encode([b.render(p) for p in prompts])
    assert common_prefix(encoded) >= 8
    raw: dict[int, list[int]] = {}
    b.batcher.run(encoded, list(range(len(qs))), 30, 4, lambda i, toks: raw.__setitem__(i, toks), stop=set())
    assert all(len(t) == 30 for t in raw.values())
    # a stop token that every row emits, first at different steps: rows finish at different times
    firsts = {t: {seq.index(t) for seq in raw.values()} for t in raw[0] if all(t in seq for seq in raw.values())}
    stop = max(firsts, key=lambda t: (len(firsts[t]), -min(firsts[t])))
    assert len(firsts[stop]) >= 3
    b.stop_ids = [stop]
    for bs in (1, 3, 4, 16):
        params = GenParams(max_new_tokens=30, batch_size=bs)
        ours, ref = b.generate(prompts, params), _hf_generate(b, prompts, params)
        assert [(g.text, g.n_new_tokens) for g in ours] == [(g.text, g.n_new_tokens) for g in ref]
        assert len({g.n_new_tokens for g in ours}) >= 3


def test_batcher_reports_each_item_once_in_completion_order(tiny_model_dir):
    b = HFBackend.load(str(tiny_model_dir), dtype=torch.float32)
    prompts = [[{"role": "user", "content": q}] for q in ("hi", "apples and pears", "2 + 3", "plan")]
    seen: list[int] = []
    gens = b.generate(prompts, GenParams(max_new_tokens=5, batch_size=2), on_done=lambda i, g: seen.append(i))
    assert sorted(seen) == [0, 1, 2, 3]
    assert all(g is not None and g.n_new_tokens <= 5 for g in gens)
    assert b.generate(prompts[:1], GenParams(max_new_tokens=0, batch_size=2))[0].n_new_tokens == 0


def test_shared_context_loglik_matches_flat_scoring(tiny_model_dir):
    """Choices of one question share its encoded context; scores must equal the one-sequence-per-choice path."""
    b = HFBackend.load(str(tiny_model_dir), dtype=torch.float32)
    q1 = b.render([{"role": "user", "content": "Question: What is 2 + 3? A. 5 B. 6 C. 7"}])
    q2 = b.render([{"role": "user", "content": "I am vegetarian. What should I cook?"}])
    reqs = [(q1, " A"), (q1, " B. 6 apples"), (q1, ""), (q2, "pasta with tomatoes"), (q2, " B"),
            (q1, "The answer is: C."), (q2, "x")]
    shared = b.loglikelihood(reqs, batch_size=2)
    batcher, b.batcher = b.batcher, None  # forces the flat path
    flat = b.loglikelihood(reqs, batch_size=3)
    b.batcher = batcher
    assert shared[2] == 0.0
    assert all(abs(s - f) < 1e-3 for s, f in zip(shared, flat)), (shared, flat)
    assert len({round(v, 3) for v in shared}) == len(shared)  # distinct: rows not mixed up


def test_sliding_window_models_fall_back_to_hf_generate(tiny_model_dir):
    """A cache with sliding-window layers is not the batcher's: greedy decoding goes through HF generate."""
    from transformers import AutoTokenizer, Qwen2Config, Qwen2ForCausalLM

    tok = AutoTokenizer.from_pretrained(str(tiny_model_dir))
    cfg = Qwen2Config(vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                      num_attention_heads=2, num_key_value_heads=2, use_sliding_window=True, sliding_window=8,
                      max_window_layers=0, layer_types=["sliding_attention", "full_attention"])
    b = HFBackend(Qwen2ForCausalLM(cfg), tok)
    assert b.batcher is None
    gens = b.generate([[{"role": "user", "content": "hi"}]] * 2, GenParams(max_new_tokens=4, batch_size=2))
    assert all(1 <= g.n_new_tokens <= 4 for g in gens)
    assert gens[0].text == gens[1].text


def test_sampling_depends_on_prompt_and_seed_not_on_batching(tiny_model_dir):
    """Each request samples with its own generator: batch size and order do not change a sample (so a
    resumed run samples what an uninterrupted one would); a repeated prompt gets a fresh sample."""
    b = HFBackend.load(str(tiny_model_dir), dtype=torch.float32)
    assert b.batcher is not None and b.sample_in_batcher
    prompts = [[{"role": "user", "content": q}] for q in ("What is 2 + 3?", "I am vegetarian.", "What is 2 + 3?",
                                                          "Question: apples", "plan")]
    params = GenParams(max_new_tokens=12, batch_size=1, greedy=False, temperature=1.0, top_p=0.9, seed=5)
    one = [g.text for g in b.generate(prompts, params)]
    three = [g.text for g in b.generate(prompts, GenParams(**{**params.to_dict(), "batch_size": 3}))]
    rev = [g.text for g in b.generate(prompts[::-1][:4], GenParams(**{**params.to_dict(), "batch_size": 2}))][::-1]
    assert one == three
    # prompts 1..4 in reverse: prompt 2 (a repeat of prompt 0 before) is now the first occurrence
    assert rev == [one[1], one[0], one[3], one[4]]
    assert one[0] != one[2]  # the same prompt twice in one call: two different samples
    other = [g.text for g in b.generate(prompts, GenParams(**{**params.to_dict(), "seed": 6}))]
    assert other != one


def test_sampler_filtering_equals_hf_warpers():
    """Temperature, then top-k, then top-p: the same kept tokens and values as HF generate's warpers."""
    from transformers.generation.logits_process import (
        TemperatureLogitsWarper,
        TopKLogitsWarper,
        TopPLogitsWarper,
    )

    from groundfloor.backends.sampling import Sampler

    torch.manual_seed(0)
    logits = torch.randn(6, 300) * 3
    for temperature, top_k, top_p in ((1.0, 50, 0.9), (0.7, 0, 0.5), (1.3, 5, 1.0), (0.1, 50, 0.95)):
        ours = Sampler(temperature, top_p, top_k, seed=0).filtered_logits(logits)
        ref = TemperatureLogitsWarper(temperature)(None, logits.clone())
        if top_k:
            ref = TopKLogitsWarper(top_k)(None, ref)
        if top_p < 1.0:
            ref = TopPLogitsWarper(top_p)(None, ref)
        assert torch.equal(torch.isinf(ours), torch.isinf(ref))
        kept = ~torch.isinf(ref)
        assert torch.allclose(ours[kept], ref[kept])
        assert kept.sum(-1).min() >= 1


def test_loglik_batches_keep_logits_under_budget():
    """Long continuations get batches of their own: 8 rows of 1,025 kept positions on a 152k vocabulary
    would hold 5 GB of fp32 logits (the OOM of a 1.5B model's PMI diagnostic on 24 GB)."""
    from groundfloor.backends.hf import LOGITS_BUDGET_BYTES, logit_batches

    vocab = 151_936
    keep = [1025] * 4 + [40] * 20
    batches = logit_batches(list(range(24)), keep, batch_size=8, vocab=vocab)
    assert sorted(i for b in batches for i in b) == list(range(24))
    assert [len(b) for b in batches[:4]] == [1, 1, 1, 1]
    assert all(len(b) <= 8 for b in batches)
    assert all(len(b) * max(keep[i] for i in b) * vocab * 4 <= LOGITS_BUDGET_BYTES for b in batches)
    assert logit_batches(list(range(5)), [3] * 5, batch_size=8, vocab=100) == [[0, 1, 2, 3, 4]]
