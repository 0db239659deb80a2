"""PRISM / Community Alignment logic on small in-memory rows (loader monkeypatched, no network)."""

from __future__ import annotations

import json

import pytest

from harness.backends.base import GenParams
from harness.backends.fake import FakeBackend
from harness.errors import UserError
from harness.evaluate import evaluate_task
from tasks import community_alignment as ca
from tasks import prism
from tasks.judge import Judge, parse_score

SURVEY = [{"user_id": f"u{i}", "system_string": "Be concise and cite sources",
           "stated_prefs": {"values": 90, "fluency": 10, "factuality": 80, "safety": 70 + i}} for i in range(20)]
CONVS = [{"conversation_id": f"c{i}", "user_id": f"u{i % 20}", "opening_prompt": f"Question number {i}?",
          "conversation_history": [
              {"turn": 0, "role": "user", "content": f"Question number {i}?"},
              {"turn": 0, "role": "model", "content": "short good answer", "if_chosen": True},
              {"turn": 0, "role": "model", "content": "a much longer rambling answer", "if_chosen": False},
              {"turn": 1, "role": "model", "content": "later", "if_chosen": True}]} for i in range(60)]


def _fake_hub(task_id, path, name, split, offline):
    if offline:
        raise UserError("offline")
    if path == prism.HUB:
        return SURVEY if name == "survey" else CONVS
    return [{"first_turn_prompt": f"Prompt {i}?", "first_turn_response_a": "alpha", "first_turn_response_b": "beta",
             "first_turn_response_c": "gamma", "first_turn_response_d": "delta",
             "first_turn_preferred_response": "b", "annotator_id": f"a{i % 7}", "annotator_age": "25-34",
             "annotator_country": "Kenya", "annotator_gender": ""} for i in range(40)]


@pytest.fixture
def hub(monkeypatch):
    monkeypatch.setattr(prism, "load_hub_split", _fake_hub)
    monkeypatch.setattr(ca, "load_hub_split", _fake_hub)


def test_prism_items_from_survey_and_conversations(hub):
    split = prism.Prism().load(offline=False)
    items = split.eval_items + split.train_items
    assert len(items) == 60 and split.eval_items and split.train_items
    it = items[0]
    assert it.target[0] == "Be concise and cite sources." and "I value responses that reflect my values" in it.target[1]
    assert len(it.target) == 4 and it.choices == ("short good answer", "a much longer rambling answer")
    assert it.meta["chosen"] == 0 and it.context in prism.Prism().messages(it)[0]["content"]
    assert it.context not in prism.Prism().messages(it, with_context=False)[0]["content"]


def test_community_alignment_rows(hub):
    split = ca.CommunityAlignment().load(offline=False)
    it = (split.eval_items + split.train_items)[0]
    assert it.choices == ("alpha", "beta", "gamma", "delta") and it.meta["chosen"] == 1
    assert it.target == ["My age: 25-34.", "My country: Kenya."]


def test_judge_win_rate_ties_are_wins_and_details_kept(hub, tmp_path):
    task = prism.Prism()
    split = task.load(offline=False)
    # The judge gives 5 to the human-chosen response, 3 to "meh" outputs and 5 to "short good answer".
    judge_backend = FakeBackend(lambda text: "5" if "short good answer" in text else "Score: 3")
    task.set_judge(Judge(judge_backend))
    items = split.eval_items[:4]
    model = FakeBackend(lambda text: "short good answer" if "0?" in text or "5?" in text else "meh")
    metrics = evaluate_task(model, task, items, GenParams(), tmp_path, header={})
    rows = [json.loads(line) for line in (tmp_path / "samples.jsonl").read_text().splitlines()]
    for r in rows:
        tie = r["output"] == "short good answer"
        assert r["score"] == (1.0 if tie else 0.0) and r["win_rate_strict"] == 0.0
        assert len(r["judge_calls"]) == 4 and {"prompt", "reply", "score", "preference"} <= set(r["judge_calls"][0])
        assert r["judge_score_reference"] == 5.0
    m = metrics["metrics"]
    assert {"win_rate", "win_rate_strict", "judge_score", "judge_score_reference"} <= set(m)
    assert task.score(task.gold_output(items[0]), items[0]).score == 1.0


def test_judge_required_and_suite_config(hub):
    task = ca.CommunityAlignment()
    item = task.load(offline=False).eval_items[0]
    with pytest.raises(UserError, match="needs a judge"):
        task.score("x", item)

    class Cfg:
        model, provider, max_new_tokens = "some/judge", "inspect", 8

    task.set_judge_config(Cfg())
    assert task.options.judge_model == "some/judge" and task.describe()["scorers"][0]["judge"]["provider"] == "inspect"


def test_parse_score():
    assert parse_score("Rating: 4/5") == 4.0 and parse_score("I'd say 5.") == 5.0
    assert parse_score("no idea") is None and parse_score("10") is None


def test_loglik_profile_measure_on_tiny_model(hub, tmp_path, tiny_model_dir):
    from harness.backends.hf import HFBackend

    task = prism.Prism({"scorer": "loglik"})
    items = task.load(offline=False).eval_items[:3]
    backend = HFBackend.load(str(tiny_model_dir))
    metrics = evaluate_task(backend, task, items, GenParams(), tmp_path, header={})
    m = metrics["metrics"]
    assert set(m) >= {"preferred_top_with_profile", "acc_without_profile", "profile_gain", "pmi_margin"}
    rows = [json.loads(line) for line in (tmp_path / "samples.jsonl").read_text().splitlines()]
    r = rows[0]
    assert r["profile_gain"] == r["score"] - r["acc_without_profile"] and len(r["logliks"]) == 4


def test_offline_fails_in_one_line():
    for task in (prism.Prism(), ca.CommunityAlignment()):
        with pytest.raises(UserError) as e:
            task.load(offline=True)
        assert "\n" not in str(e.value)
