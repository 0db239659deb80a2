"""Per-request seeded sampling for the continuous batcher.

Every request draws from its own `torch.Generator`, seeded from the call's seed, the prompt's token
ids and how many identical prompts came before it in the call. A sample therefore depends on the
prompt and the seed only, not on batch size, batch neighbours or whether the run was resumed.
The filtering is HF `generate`'s for do_sample: temperature, then top-k (the model's
generation_config, 50 by default), then top-p.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import torch

# generation_config fields that add logits processors this sampler does not apply, with their no-op values
_UNSUPPORTED = {"repetition_penalty": 1.0, "no_repeat_ngram_size": 0, "min_p": None, "typical_p": 1.0,
                "epsilon_cutoff": 0.0, "eta_cutoff": 0.0, "bad_words_ids": None, "suppress_tokens": None,
                "begin_suppress_tokens": None, "min_new_tokens": None, "encoder_repetition_penalty": 1.0}


def plain_sampling(generation_config) -> bool:
    """True when HF's sampling for this model is only temperature/top-k/top-p (what `Sampler` does)."""
    return all(getattr(generation_config, k, v) in (v, None) for k, v in _UNSUPPORTED.items())


def request_seed(seed: int, prompt: list[int], repeat: int) -> int:
    """A 63-bit seed from the call's seed, the prompt's token ids and its repeat index within the call."""
    h = hashlib.blake2b(f"{seed}:{repeat}:".encode() + bytes(str(prompt), "ascii"), digest_size=8)
    return int.from_bytes(h.digest(), "big") >> 1


@dataclass
class Sampler:
    """Temperature / top-k / top-p sampling with one generator per request."""

    temperature: float
    top_p: float
    top_k: int | None
    seed: int

    def generators(self, prompts: list[list[int]], device) -> list[torch.Generator]:
        seen: dict[tuple[int, ...], int] = {}
        gens = []
        for p in prompts:
            key = tuple(p)
            repeat = seen.get(key, 0)
            seen[key] = repeat + 1
            gens.append(torch.Generator(device=device).manual_seed(request_seed(self.seed, p, repeat)))
        return gens

    def filtered_logits(self, logits: torch.Tensor) -> torch.Tensor:
        """Logits [rows, vocab] after temperature, top-k and top-p (removed tokens at -inf)."""
        x = logits.float() / self.temperature
        if self.top_k and self.top_k < x.shape[-1]:
            kth = torch.topk(x, self.top_k, dim=-1).values[:, -1:]
            x = x.masked_fill(x < kth, float("-inf"))
        if self.top_p < 1.0:
            sorted_x, idx = torch.sort(x, descending=False, dim=-1)
            cum = sorted_x.softmax(-1).cumsum(-1)
            drop = cum <= 1 - self.top_p
            drop[:, -1] = False  # always keep the most likely token
            x = x.masked_fill(drop.scatter(-1, idx, drop), float("-inf"))
        return x

    def pick(self, logits: torch.Tensor, gens: list[torch.Generator]) -> torch.Tensor:
        """One token per row, row r drawn with `gens[r]`."""
        probs = self.filtered_logits(logits).softmax(-1)
        return torch.cat([torch.multinomial(probs[r], 1, generator=g) for r, g in enumerate(gens)])
