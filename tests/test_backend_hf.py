"""The transformers backend on a tiny random model: batching must not change results."""

import torch

from harness.backends.base import GenParams
from harness.backends.hf import HFBackend


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
