"""Pair construction: derangements, provenance, and each negative strategy with the fake backend."""

import random

import pytest

from groundfloor.backends.base import GenParams
from groundfloor.backends.fake import FakeBackend
from mipo.pairs import build_pairs, check_provenance, derangement, drop_sentence
from tasks.base import Item
from tests.helpers.toy_task import ToyTask, toy_items as _items

PARAMS = GenParams(max_new_tokens=8, temperature=0.1, top_p=0.9, greedy=False)


def _echo(text):
    return "answer to " + text.split("<user>")[-1].split("</user>")[0][-40:]


@pytest.mark.parametrize("n", [2, 3, 4, 5, 7, 10, 33])
def test_derangement_has_no_fixed_points(n):
    for seed in range(50):
        perm = derangement(n, random.Random(seed))
        assert sorted(perm) == list(range(n))
        assert all(i != p for i, p in enumerate(perm))


def test_derangement_needs_two():
    with pytest.raises(ValueError):
        derangement(1, random.Random(0))


def test_derangement_pairs_and_provenance():
    task, items = ToyTask(), _items(6)
    positives = [f"pos {i}" for i in range(6)]
    pairs, stats = build_pairs(task, items, positives, "derangement", FakeBackend(_echo), PARAMS, 0, 1)
    assert stats.built == 6 and stats.dropped_identical == 0 and not check_provenance(pairs)
    by_id = dict(zip([it.id for it in items], positives))
    for p in pairs:
        assert p["negative_strategy"] == "derangement" and p["rejected_from"] != p["prompt_id"]
        assert p["rejected"] == by_id[p["rejected_from"]] and p["round"] == 1


def test_identical_pairs_are_dropped_and_counted():
    task, items = ToyTask(), _items(4)
    pairs, stats = build_pairs(task, items, ["same"] * 4, "derangement", FakeBackend(), PARAMS, 0, 1)
    assert pairs == [] and stats.dropped_identical == 4 and stats.built == 0


def test_resample_uses_another_prompt():
    task, items = ToyTask(), _items(5)
    backend = FakeBackend(_echo)
    pairs, _ = build_pairs(task, items, [f"pos {i}" for i in range(5)], "resample", backend, PARAMS, 3, 2)
    assert backend.calls == 5 and not check_provenance(pairs)
    for p in pairs:
        assert p["rejected_from"] != p["prompt_id"] and p["rejected_prompt"] != p["prompt"]
        assert p["rejected"] == _echo(f"<user>{p['rejected_prompt']}</user>")


def test_context_drop_removes_only_the_profile():
    task, items = ToyTask(), _items(3)
    pairs, _ = build_pairs(task, items, ["pos"] * 3, "context_drop", FakeBackend(_echo), PARAMS, 0, 1)
    assert not check_provenance(pairs)
    for p, it in zip(pairs, items):
        assert p["rejected_from"] == p["prompt_id"] and p["rejected_prompt"] == it.question
        assert it.context in p["prompt"] and it.context not in p["rejected_prompt"]
    with pytest.raises(ValueError, match="no user context"):
        build_pairs(task, _items(3, context=False), ["pos"] * 3, "context_drop", FakeBackend(), PARAMS, 0, 1)


def test_partial_prompt_drops_one_sentence():
    task, items = ToyTask(), _items(3, context=False)
    pairs, _ = build_pairs(task, items, ["pos"] * 3, "partial_prompt", FakeBackend(_echo), PARAMS, 0, 1)
    assert not check_provenance(pairs)
    for p in pairs:
        assert p["rejected_from"] == p["prompt_id"] and p["negative_strategy"] == "partial_prompt"
        assert len(p["rejected_prompt"].split(". ")) == len(p["prompt"].split(". ")) - 1
        assert p["rejected_prompt"].endswith("?")  # the question sentence is kept
    assert drop_sentence("Only one sentence?", random.Random(0)) is None
    one = [Item(id="a", question="Only one sentence?"), *items[:2]]
    pairs, stats = build_pairs(task, one, ["pos"] * 3, "partial_prompt", FakeBackend(_echo), PARAMS, 0, 1)
    assert stats.dropped_no_negative == 1 and [p["prompt_id"] for p in pairs] == ["q0", "q1"]


def _authors_cut(question: str, idx: int) -> str:
    """gsm.py:144-155 with the random index given."""
    questions = question.split(".")
    question_list = questions[:-1]
    remaining = question_list[:idx] + question_list[idx + 1:]
    return (".".join(remaining) + "." + questions[-1]).strip()


@pytest.mark.parametrize("question", ["Tom has 3 apples. He buys 2.5 kg more. How many now?",
                                      "A costs $1.50. B costs 2. C costs 3. What is the total cost.",
                                      "No period at all?"])
def test_gsm8k_partial_prompt_is_the_authors_period_cut(question):
    from mipo.pairs import drop_period_piece, partial_question
    from tasks.gsm8k import Gsm8k

    head = question.split(".")[:-1]
    got = drop_period_piece(question, random.Random(3))
    if not head:  # the authors skip such a question (gsm.py:147-150)
        assert got is None
        return
    assert got in {_authors_cut(question, i) for i in range(len(head))}
    assert {drop_period_piece(question, random.Random(s)) for s in range(40)} == \
        {_authors_cut(question, i) for i in range(len(head))}
    assert partial_question(Gsm8k({"fewshot": 0}), Item(id="x", question=question), random.Random(3)) == got


def test_pair_groups_derange_within_each_group():
    """SVAMP's rule: SVAMP prompts deranged among themselves, GSM8K pairs built among GSM8K prompts."""
    task = ToyTask()
    items = [Item(id=f"s{i}", question=f"S{i}?") for i in range(5)] + \
        [Item(id=f"g{i}", question=f"G{i}?", meta={"pair_group": "gsm8k"}) for i in range(4)] + \
        [Item(id="lonely", question="L?", meta={"pair_group": "alone"})]
    positives = [f"pos {it.id}" for it in items]
    for strategy in ("derangement", "resample"):
        for seed in range(10):
            pairs, stats = build_pairs(task, items, positives, strategy, FakeBackend(_echo), PARAMS, seed, 1)
            assert stats.dropped_no_negative == 1 and len(pairs) == 9 and not check_provenance(pairs)
            assert all(p["rejected_from"][0] == p["prompt_id"][0] for p in pairs)
    with_meta = Item(id="v", question="Body one. Body two. How many?", meta={"partial_question": "How many?"})
    pairs, _ = build_pairs(task, [with_meta, *items[:2]], ["x", "y", "z"], "partial_prompt", FakeBackend(_echo),
                           PARAMS, 0, 1)
    assert pairs[0]["rejected_prompt"] == "How many?"


def test_check_provenance_catches_violations():
    base = {"prompt": "profile\n\nWhat?", "rejected_prompt": "What?"}
    ok = [{**base, "prompt_id": "a", "rejected_from": "b", "negative_strategy": "derangement"},
          {**base, "prompt_id": "a", "rejected_from": "a", "negative_strategy": "context_drop"}]
    assert check_provenance(ok) == []
    bad = [{**base, "prompt_id": "a", "rejected_from": "a", "negative_strategy": "derangement"},
           {**base, "prompt_id": "a", "rejected_from": "a", "negative_strategy": "resample"},
           {**base, "prompt_id": "a", "rejected_from": "b", "negative_strategy": "context_drop"},
           {**base, "prompt_id": "a", "rejected_from": "b", "negative_strategy": "partial_prompt"},
           {**base, "prompt_id": "a", "rejected_from": "a", "negative_strategy": "context_drop",
            "rejected_prompt": "Another question?"}]
    assert len(check_provenance(bad)) == 5


def test_unknown_strategy_rejected():
    with pytest.raises(ValueError):
        build_pairs(ToyTask(), _items(3), ["p"] * 3, "shuffle", FakeBackend(), PARAMS, 0, 1)


def test_suite_overrides_negative_strategy(tmp_path):
    from harness.config import parse_suite

    cfg = parse_suite({"models": ["m"], "tasks": [{"id": "gsm8k", "negative": "resample"}, "profile_prefs"]})
    assert cfg.tasks[0].negative == "resample" and cfg.tasks[1].negative is None


def test_resampled_negative_is_a_fresh_sample_not_the_other_prompts_positive(tiny_model_dir):
    """The transformers backend seeds each request from the seed and the prompt: negatives must use another
    seed, or `resample` would hand back the other prompt's positive word for word."""
    from groundfloor.backends.hf import HFBackend

    backend = HFBackend.load(str(tiny_model_dir))
    task, items = ToyTask(), _items(4)
    params = GenParams(max_new_tokens=12, temperature=1.0, top_p=0.95, greedy=False, seed=11)
    positives = [g.text for g in backend.generate([task.train_messages(it) for it in items], params)]
    pairs, _ = build_pairs(task, items, positives, "resample", backend, params, 3, 1)
    by_id = {it.id: pos for it, pos in zip(items, positives)}
    assert pairs and not check_provenance(pairs)
    assert all(p["rejected"] != by_id[p["rejected_from"]] for p in pairs)


def test_svamp_pool_deranges_svamp_and_gsm8k_apart_and_cuts_the_body():
    from tasks.svamp import Svamp, _train_items

    svamp = [{"Body": f"Body {i} has {i} apples.", "Question": f"How many apples in {i}?", "Answer": i,
              "question_concat": f"Body {i} has {i} apples. How many apples in {i}?"} for i in range(6)]
    gsm = [{"question": f"G{i} had 3. G{i} got 2. How many?", "answer": "#### 5"} for i in range(900)]
    items = _train_items(svamp, gsm)
    assert len(items) == 706 and sum(it.meta.get("pair_group") == "gsm8k" for it in items) == 700
    task = Svamp()
    positives = [f"pos {it.id}" for it in items]
    pairs, stats = build_pairs(task, items, positives, "derangement", FakeBackend(_echo), PARAMS, 0, 1)
    assert stats.built == 706 and not check_provenance(pairs)
    assert all(p["rejected_from"].startswith("gsm8k-") == p["prompt_id"].startswith("gsm8k-") for p in pairs)
    pairs, _ = build_pairs(task, items[:3], positives[:3], "partial_prompt", FakeBackend(_echo), PARAMS, 0, 1)
    for i, p in enumerate(pairs):  # the question without its body, in the task's own prompt
        assert p["rejected_prompt"].endswith(f"How many apples in {i}?") and f"Body {i} has" not in p["rejected_prompt"]
        assert f"Body {i} has" in p["prompt"]
