"""PMI, length and diversity diagnostics with the fake backend."""

from groundfloor.backends.base import GenParams
from groundfloor.backends.fake import FakeBackend
from harness.evaluation.diagnostics import distinct_n, measure as _measure, measure_prompts, responses
from tests.helpers.toy_task import ToyTask, toy_items as _items

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
    assert set(m) == {"pmi", "pmi_per_token", "response_tokens", "response_words", "logp_response", "distinct_2"}
    # identical values everywhere: a Wilson bound where the values are bounded, no CI (not a point) where not
    assert all(v["ci_low"] < v["ci_high"] and v["ci_low"] <= v["value"] <= v["ci_high"] or
               (v["ci_method"] == "none" and v["ci_low"] != v["ci_low"]) for v in m.values())
    assert m["pmi"]["ci_method"] == "none" and m["pmi_per_token"]["ci_method"] == "bootstrap+wilson-floor"


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


class LengthBackend(ContextBackend):
    """Answers with as many words as the prompt's number; PMI = +0.5 per word when the profile is in the context."""

    def __init__(self):
        super().__init__(lambda text: " ".join(["w"] * (1 + int(_question(text).split()[-1].strip(".?")) % 3)))

    def loglikelihood(self, requests, batch_size=8):
        return [-0.5 * len(cont.split()) * (1 if "I am user" in ctx else 2) for ctx, cont in requests]


def test_pmi_per_token_divides_each_prompts_pmi_by_its_response_tokens():
    task, items = ToyTask(), _items(4)
    task.default_negative = "context_drop"
    outputs = responses(LengthBackend(), task, items, PARAMS)
    lengths = [len(o.split()) for o in outputs]
    assert len(set(lengths)) > 1  # answers of different lengths: the summed PMI grows with them, per token not
    metrics, records = measure_prompts(LengthBackend(), task, items, outputs, seed=0)
    assert [r["pmi"] for r in records] == [0.5 * t for t in lengths]
    assert [r["response_tokens"] for r in records] == lengths and [r["id"] for r in records] == [it.id for it in items]
    assert [r["response"] for r in records] == outputs
    assert all(r["pmi_per_token"] == 0.5 for r in records)
    assert metrics["pmi"]["value"] == sum(0.5 * t for t in lengths) / 4
    assert metrics["pmi_per_token"]["value"] == 0.5 and metrics["pmi_per_token"]["n"] == 4
    assert metrics["pmi_per_token"]["ci_high"] > metrics["pmi_per_token"]["ci_low"]  # identical values: Wilson floor
