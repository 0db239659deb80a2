"""Log-likelihood scoring of options (lm-eval style) shared by multiple-choice and personalization tasks.

Multiple choice uses raw text, no chat template (as lm-eval / olmo "rc" tasks do):
context = "Question: <q>\\nAnswer:", continuation = " <choice text>", and for mutual information the
unconditional context "Answer:" with the same continuation. Three picks are reported:
acc (max log p), acc_norm (max log p / characters of the choice), acc_mutual_info
(max log p(choice|question) - log p(choice|"Answer:")).
"""

from __future__ import annotations

LETTERS = "ABCDEFGHIJ"
UNCONDITIONAL = "Answer:"
MC_METRICS = ("acc_norm", "acc_mutual_info")


def mc_context(question: str) -> str:
    return f"Question: {question}\nAnswer:"


def mc_requests(question: str, choices: tuple[str, ...]) -> list[tuple[str, str]]:
    """2 * len(choices) pairs: conditional ones first, then the unconditional ones."""
    conts = [f" {c}" for c in choices]
    return [(mc_context(question), c) for c in conts] + [(UNCONDITIONAL, c) for c in conts]


def argmax(values: list[float]) -> int:
    return max(range(len(values)), key=lambda i: values[i])


def mc_picks(choices: tuple[str, ...], logliks: list[float]) -> dict[str, int]:
    """The option chosen under each rule, from `mc_requests`' log-likelihoods."""
    n = len(choices)
    cond, uncond = logliks[:n], logliks[n:2 * n]
    norm = [v / max(1, len(c)) for v, c in zip(cond, choices)]
    mi = [c - u for c, u in zip(cond, uncond)]
    return {"acc": argmax(cond), "acc_norm": argmax(norm), "acc_mutual_info": argmax(mi)}
