"""PMI, length and diversity diagnostics with the fake backend."""

from harness.backends.base import GenParams
from harness.backends.fake import FakeBackend
from mipo.diagnostics import distinct_n, measure as _measure, responses
from test_mipo_pairs import ToyTask, _items

PARAMS = GenParams(max_new_tokens=8)


def measure(backend, task, items, params, seed):
    """Generate the responses, then score them (the two steps the runner separates)."""
    return _measure(backend, task, items, responses(backend, task, items, params), seed=seed)


def _question(rendered: str) -> str:
    return rendered.split("<user>")[-1].split("</user>")[0].split("\n\n")[-1]


class ScoringBackend(FakeBackend):
    """Answers 'reply:<question>' and scores a continuation -1 under its own prompt, -5 elsewhere."""

    def __init__(self, specific=True):
        super().__init__(lambda text: "reply:" + _question(text) if specific else "generic")

    def loglikelihood(self, requests, batch_size=8):
        out = []
        for ctx, cont in requests:
            own = cont == "reply:" + _question(ctx)
            out.append(-1.0 if own or cont == "generic" else -5.0)
        return out


class ContextBackend(FakeBackend):
    """Scores higher when the user's profile is in the context (the conditional PMI is positive)."""

    def loglikelihood(self, requests, batch_size=8):
        return [-1.0 if "I am user" in ctx else -3.0 for ctx, _ in requests]


def test_pmi_positive_for_prompt_specific_answers():
    task = ToyTask()
    task.default_negative = "derangement"
    m = measure(ScoringBackend(), task, _items(4, context=False), PARAMS, seed=0)
    assert m["pmi"]["value"] == 4.0 and m["pmi"]["n"] == 4


def test_pmi_zero_for_generic_answers():
    task = ToyTask()
    task.default_negative = "derangement"
    m = measure(ScoringBackend(specific=False), task, _items(4, context=False), PARAMS, seed=0)
    assert m["pmi"]["value"] == 0.0 and m["distinct_2"]["value"] == 0.0
    assert m["response_words"]["value"] == 1.0


def test_conditional_pmi_drops_the_profile():
    task = ToyTask()
    task.default_negative = "context_drop"
    m = measure(ContextBackend(), task, _items(3), PARAMS, seed=0)
    assert m["pmi"]["value"] == 2.0
    assert set(m) == {"pmi", "response_words", "logp_response", "distinct_2"}
    assert all(v["ci_low"] <= v["value"] <= v["ci_high"] for v in m.values())


def test_too_few_prompts_and_distinct():
    assert measure(ContextBackend(), ToyTask(), _items(1), PARAMS, seed=0) == {}
    assert distinct_n(["a b c", "a b d"]) == 3 / 4


def test_pmi_counterfactual_follows_the_plans_negative_not_the_tasks_default():
    task, items = ToyTask(), _items(3)
    task.default_negative = "context_drop"
    outputs = responses(ContextBackend(), task, items, PARAMS)
    assert _measure(ContextBackend(), task, items, outputs, seed=0)["pmi"]["value"] == 2.0
    # a suite's `negative: derangement` override: x' is another user's prompt, which also has a profile
    assert _measure(ContextBackend(), task, items, outputs, seed=0, negative="derangement")["pmi"]["value"] == 0.0


class CutBackend(FakeBackend):
    """Scores higher when the first sentence of the problem ('Fact i is known.') is in the context."""

    def loglikelihood(self, requests, batch_size=8):
        return [-1.0 if "is known." in ctx else -4.0 for ctx, _ in requests]


def test_pmi_with_partial_prompt_cuts_the_question():
    task, items = ToyTask(), _items(4, context=False)
    outputs = responses(CutBackend(), task, items, PARAMS)
    m = _measure(CutBackend(), task, items, outputs, seed=0, negative="partial_prompt")
    assert m["pmi"]["n"] == 4 and 0.0 < m["pmi"]["value"] <= 3.0  # some cuts drop that sentence, some the other
