"""Fixed, realistic DPO pairs for timing training (used by benchmarks/train_throughput.py).

Prompts are the real task prompts (profile_prefs: generated profile + training question; gsm8k: the
8-shot lm-eval chat prompt around real exemplar-style questions); responses are synthetic text of
realistic length, built deterministically from a seed so every route trains on identical pairs.

- `profile`: prompt ~110 chat tokens, chosen ~150-230 and rejected ~120-200 response tokens
  (the context_drop negative), about 600 pair-tokens (prompt+chosen + prompt+rejected);
- `gsm8k`: the 8-shot prompt (~870-900 tokens), responses 200-1,000 tokens (derangement: another
  question's answer), 2,200-3,800 pair-tokens.
"""

from __future__ import annotations

import random

WORDS = ("the answer is we have so then each total left more than half of after before because first next "
         "step add subtract multiply divide cost dollars apples trees cars hours minutes people students "
         "cook dinner pasta tomatoes soup rice vegetables quick simple easy plan weekend trip mountains beach "
         "pack train bus city museum rain coffee budget cheap morning evening family friends recipe bake "
         "bread oven water salt pepper garlic onion minutes serve fresh healthy snack protein lunch work").split()
NUMBERS = [str(n) for n in (2, 3, 5, 6, 8, 12, 15, 20, 21, 32, 35, 39, 42, 74, 100)]
SHAPES = {"profile": {"chosen": (150, 230), "rejected": (120, 200)},
          "gsm8k": {"chosen": (200, 1000), "rejected": (200, 1000)}}


def _text(rng: random.Random, tokenizer, n_tokens: int) -> str:
    """Word-like text that tokenizes to about `n_tokens` tokens."""
    words: list[str] = []
    while len(tokenizer(" ".join(words), add_special_tokens=False)["input_ids"]) < n_tokens:
        words += [rng.choice(NUMBERS) if rng.random() < 0.1 else rng.choice(WORDS) for _ in range(16)]
        if rng.random() < 0.3:
            words[-1] += "."
    ids = tokenizer(" ".join(words), add_special_tokens=False)["input_ids"][:n_tokens]
    return tokenizer.decode(ids)


def _prompts(kind: str, n: int) -> list[list[dict]]:
    if kind == "profile":
        from tasks.profiles import Profiles, _split_bank, generate_items

        task = Profiles({})
        return [task.messages(it) for it in generate_items(_split_bank(task.default_seed)[1], n, seed=2,
                                                           prefix="train")]
    from tasks.gsm8k import FEWSHOT, lmeval_messages

    rng = random.Random(7)
    return [lmeval_messages(f"{FEWSHOT[i % len(FEWSHOT)][0]} Then {rng.choice(NUMBERS)} more arrive. How many now?")
            for i in range(n)]


def build_pairs(kind: str, n: int, tokenizer, seed: int = 0) -> list[dict]:
    """`n` pairs in mipo.pairs' format (prompt_messages, chosen, rejected), identical for a given seed."""
    rng = random.Random(seed)
    lo_c, hi_c = SHAPES[kind]["chosen"]
    lo_r, hi_r = SHAPES[kind]["rejected"]
    return [{"prompt_messages": msgs, "chosen": _text(rng, tokenizer, rng.randint(lo_c, hi_c)),
             "rejected": _text(rng, tokenizer, rng.randint(lo_r, hi_r))} for msgs in _prompts(kind, n)]


def pair_tokens(trainer) -> list[int]:
    """Tokens of (prompt+chosen) + (prompt+rejected) per pair, as TRL tokenized them (no padding)."""
    ds = trainer.train_dataset
    return [2 * len(p) + len(c) + len(r) for p, c, r in zip(ds["prompt_ids"], ds["chosen_ids"], ds["rejected_ids"])]
