"""verified_dpo's pairs against hand-made cases: k scored samples per prompt, best against worst."""

from __future__ import annotations

import json
from collections import defaultdict

from groundfloor.backends.base import GenParams
from groundfloor.backends.fake import FakeBackend
from harness.config import GenerationConfig
from mipo.verified import (STRATEGY, pick_pair, provenance_problems, sample_answers, task_pairs,
                           verified_sampling)
from tasks.base import Item, Score, Task
from tasks.scorers import Generative


def _correct(output: str, item: Item) -> Score:
    return Score(extracted=output, score=float(output.strip() == str(item.target)))


class Sums(Task):
    id = "sums"
    family = "math"
    scorer = Generative(rule=_correct)

    def messages(self, item, with_context=True):
        return [{"role": "user", "content": item.question}]


def _scripted(answers: dict[str, list[str]]) -> FakeBackend:
    """A backend answering the i-th request for a question with answers[question][i]."""
    seen = defaultdict(int)

    def respond(text: str) -> str:
        q = next(q for q in answers if q in text)
        seen[q] += 1
        return answers[q][seen[q] - 1]
    return FakeBackend(respond)


ITEMS = [Item("mixed", "1+1?", "2"), Item("easy", "2+2?", "4"), Item("hard", "3+3?", "6")]
ANSWERS = {"1+1?": ["3", "2", "2", "5"], "2+2?": ["4"] * 4, "3+3?": ["7", "8", "9", "5"]}


def test_pairs_pass_against_fail_and_counts_prompts_without_a_pair(tmp_path):
    pairs, entry = task_pairs(_scripted(ANSWERS), Sums(), ITEMS, 4, GenParams(seed=7), tmp_path, round_k=1)
    assert [p["prompt_id"] for p in pairs] == ["mixed"]  # all-pass and all-fail prompts give no pair
    p = pairs[0]
    assert (p["chosen"], p["rejected"]) == ("2", "3")  # the first passing and the first failing sample
    assert (p["chosen_score"], p["rejected_score"], p["scores"]) == (1.0, 0.0, [0.0, 1.0, 1.0, 0.0])
    assert p["negative_strategy"] == STRATEGY and p["rejected_from"] == p["prompt_id"] == "mixed"
    assert p["prompt"] == "1+1?" and p["prompt_messages"] == [{"role": "user", "content": "1+1?"}]
    assert (entry["pairs"], entry["no_pair"], entry["no_pair_all_pass"], entry["no_pair_all_fail"]) == (1, 2, 1, 1)
    assert entry["mean_sample_score"] == 6 / 12
    rows = [json.loads(line) for line in (tmp_path / "verified_samples.jsonl").read_text().splitlines()]
    assert sorted((r["prompt_id"], r["sample"]) for r in rows) == sorted((i.id, j) for i in ITEMS for j in range(4))


def test_graded_scores_pair_best_with_worst_and_ties_give_none():
    group = [{"sample": j, "text": str(j), "score": s} for j, s in enumerate([0.5, 0.75, 0.25, 0.75])]
    chosen, rejected, why = pick_pair(group)
    assert (chosen["sample"], rejected["sample"], why) == (1, 2, None)
    tied = [{"sample": j, "text": str(j), "score": 0.5} for j in range(4)]
    assert pick_pair(tied) == (None, None, "tied")
    unscored = [{"sample": 0, "text": "a", "score": None}, {"sample": 1, "text": "b", "score": 1.0}]
    assert pick_pair(unscored) == (None, None, "unscored")


def test_resume_keeps_complete_prompts_and_resamples_all_k_of_incomplete_ones(tmp_path):
    path = tmp_path / "verified_samples.jsonl"
    backend = _scripted({q: a * 2 for q, a in ANSWERS.items()})
    sample_answers(backend, Sums(), ITEMS, 4, GenParams(), path)
    lines = path.read_text().splitlines()
    path.write_text("\n".join(lines[:6]) + "\n")  # interrupted: "mixed" complete, "easy" half done
    again = FakeBackend(lambda text: "4")
    got = sample_answers(again, Sums(), ITEMS, 4, GenParams(), path)
    assert again.calls == 8  # all 4 samples of "easy" and of "hard", none of "mixed"
    assert [s["text"] for s in got["mixed"]] == ANSWERS["1+1?"]


def test_a_pair_whose_rejected_side_scored_as_well_is_a_provenance_problem():
    bad = {"task": "sums", "prompt_id": "a", "rejected_from": "a", "negative_strategy": STRATEGY,
           "chosen_score": 1.0, "rejected_score": 1.0}
    other = {**bad, "rejected_from": "b", "rejected_score": 0.0}
    assert len(provenance_problems([bad, other])) == 2
    assert provenance_problems([{**bad, "rejected_score": 0.0}]) == []


def test_sampling_override_lies_over_the_task_train_sampling():
    train = GenParams(max_new_tokens=64, temperature=0.1, top_p=0.9, greedy=False, batch_size=3, seed=45)
    got = verified_sampling(train, GenerationConfig(temperature=1.0))
    assert (got.temperature, got.top_p, got.max_new_tokens, got.batch_size, got.seed) == (1.0, 0.9, 64, 3, 45)
    assert verified_sampling(train, None) == train
