"""PRISM / Community Alignment rows with the real column names (loader monkeypatched, no network), the judge."""

from __future__ import annotations

import json

import pytest

from groundfloor.backends.base import GenParams
from groundfloor.backends.fake import FakeBackend
from groundfloor.errors import UserError
from harness.evaluation.evaluate import evaluate_task
from tasks.disjoint import check_disjoint
from mipo.pairs import build_pairs, check_provenance
from tasks import community_alignment as ca
from tasks import hub as hub_module
from tasks import prism
from tasks.judge import JUDGE_SYSTEM, Judge, load_judge, parse_score

PREFS = {"values": 40, "creativity": 20, "fluency": 70, "factuality": 90, "diversity": 10, "safety": 80,
         "personalisation": 30, "helpfulness": 60, "other": 100, "other_text": None}
SURVEY = [{"user_id": f"u{i}", "system_string": "Be concise and cite sources", "stated_prefs": dict(PREFS)}
          for i in range(20)]
SURVEY[1] = {**SURVEY[1], "system_string": "N/A"}
SURVEY[2] = {**SURVEY[2], "stated_prefs": {**PREFS, "other": 95, "other_text": "Use plain words"}}
CONVS = [{"conversation_id": f"c{i}", "user_id": f"u{i % 20}", "opening_prompt": f"Question number {i}?",
          "conversation_history": [
              {"turn": 0, "role": "user", "content": f"Question number {i}?"},
              {"turn": 0, "role": "model", "content": "short good answer", "if_chosen": True},
              {"turn": 0, "role": "model", "content": "a much longer rambling answer", "if_chosen": False},
              {"turn": 1, "role": "model", "content": "later", "if_chosen": True}]} for i in range(60)]


TURNS = ("first", "second", "third", "fourth")


def ca_row(i: int, **over) -> dict:
    """A row with every column of the dataset (facebook/community-alignment-dataset): four turns of prompt, four
    candidates, preferred candidate and feedback (first turn filled, later turns empty), demographics, flags."""
    row = {"conversation_id": 1000 + i, "annotator_id": 70 + i % 7, "assigned_lang": "en"}
    for t in TURNS:
        row.update({f"{t}_turn_prompt": None, f"{t}_turn_responses": None, f"{t}_turn_preferred_response": None,
                    f"{t}_turn_feedback": None, **{f"{t}_turn_response_{x}": None for x in "abcd"}})
    row.update({"first_turn_prompt": f"Prompt {i % 8}?", "first_turn_response_a": "alpha<|end_of_text|>",
                "first_turn_response_b": "beta", "first_turn_response_c": "gamma", "first_turn_response_d": "delta",
                "first_turn_preferred_response": "response_b",
                "first_turn_feedback": "I prefer answers that give concrete steps.",
                "annotator_age": "18-34", "annotator_gender": "Female", "annotator_country": "Kenya",
                "annotator_education_level": "Post-secondary graduate", "annotator_political": "Prefer not to say",
                "annotator_ethnicity": "Prefer not to say", "is_pregenerated_first_prompt": True,
                "in_balanced_subset": False, "in_balanced_subset_10": False})
    return {**row, **over}


CA_ROWS = [ca_row(i) for i in range(40)]


def _fake_hub(task_id, path, name, split, offline, **_):
    if offline:
        raise UserError("offline")
    if path == prism.HUB:
        return SURVEY if name == "survey" else CONVS
    return CA_ROWS


@pytest.fixture
def hub(monkeypatch):
    monkeypatch.setattr(hub_module, "load_hub_split", _fake_hub)  # the one hub reader of tasks/loader.py


def test_prism_preferences_are_text_without_placeholders_or_slider_artefact(hub):
    split = prism.Prism().load(offline=False)
    items = {it.id: it for it in split.eval_items + split.train_items}
    assert len(items) == 60
    important = "It is important to me that an AI language model "
    assert items["c0"].target == ["Be concise and cite sources.", important + "produces factual and informative "
                                  "responses.", important + "produces responses that are safe and do not risk harm "
                                  "to myself and others.", important + "produces responses that are well-written "
                                  "and coherent."]
    assert items["c1"].target[0].startswith(important) and len(items["c1"].target) == 3  # "N/A" dropped
    assert items["c2"].target[1] == "Use plain words."  # `other` counts only with its typed text
    assert prism.rated_preferences({"values": 50, "safety": 10, "other": 99, "other_text": "-1"}) == []


def test_prism_prompts_are_the_authors(hub):
    task = prism.Prism()
    it = next(i for i in task.load(offline=False).eval_items)
    assert task.messages(it)[0]["content"] == (
        f"Give me short 2-3 sentence answers to the following prompt: {it.question} Please respect the following "
        f"requirements made by the user: {' '.join(it.target)} Respond with short 2-3 sentences.")
    assert task.messages(it, with_context=False)[0]["content"] == (
        f"Give me short 2-3 sentence answers to the following prompt: {it.question} Respond with short 2-3 sentences.")
    assert task.generation.max_new_tokens == 512 and task.generation.temperature == 0.1
    assert it.choices == ("short good answer", "a much longer rambling answer") and it.meta["chosen"] == 0


def test_community_alignment_rows_use_feedback_never_demographics(hub):
    items = ca.ca_items(CA_ROWS)
    assert len(items) == 40
    it = items[0]
    assert it.target == ["I prefer answers that give concrete steps."] and it.context == it.target[0]
    assert it.choices == ("alpha", "beta", "gamma", "delta") and it.meta["chosen"] == 1
    text = json.dumps([it.target for it in items])
    assert not any(w in text for w in ("Kenya", "18-34", "Female", "graduate"))
    assert it.meta["user"] == "70" and it.id == "ca-1000"


def test_community_alignment_filters_and_cleans():
    rows = [ca_row(0, assigned_lang="fr"), ca_row(1, first_turn_feedback=None), ca_row(2, first_turn_feedback="N/A"),
            ca_row(3, first_turn_response_a=None, first_turn_preferred_response="response_c"),
            ca_row(4, first_turn_preferred_response=None), ca_row(5, first_turn_response_b="<|end_of_text|>"),
            ca_row(6, first_turn_response_d="delta <|eot_id|>")]
    items = ca.ca_items(rows)
    assert [it.id for it in items] == ["ca-1003", "ca-1006"]
    assert items[0].choices == ("beta", "gamma", "delta") and items[0].choices[items[0].meta["chosen"]] == "gamma"
    assert items[1].choices[-1] == "delta"
    assert [it.id for it in ca.ca_items(rows, languages=None)][0] == "ca-1000"
    task = ca.CommunityAlignment({"languages": ["en", "fr"]})
    assert task.options.languages == ["en", "fr"]
    from tasks.registry import TaskRegistry

    with pytest.raises(UserError, match="option languages"):
        TaskRegistry(use_entry_points=False).get("community_alignment", {"languages": ["english"]})


def test_community_alignment_schema_error_is_one_line():
    row = ca_row(0)
    del row["first_turn_feedback"]
    with pytest.raises(UserError) as e:
        ca.ca_items([row])
    assert "first_turn_feedback" in str(e.value) and "\n" not in str(e.value)


def test_split_by_prompt_text_keeps_a_prompt_in_one_pool(hub):
    split = ca.CommunityAlignment().load(offline=False)
    ev, tr = {it.question for it in split.eval_items}, {it.question for it in split.train_items}
    assert ev and tr and not ev & tr and len(ev | tr) == 8
    assert check_disjoint(split.eval_items, split.train_items)["ok"]


def _judge_reply(text: str) -> str:
    return "5" if "Assistant: short good answer" in text else "Score: 3"


def test_judge_prompt_is_the_authors(hub):
    backend = FakeBackend(_judge_reply)
    out = Judge(backend).rate("Q?", "resp", ["pref one", "pref two"])
    assert out["score"] == 3.0 and out["unparsed"] == 0 and len(out["calls"]) == 2
    assert out["calls"][0]["prompt"] == "User: Q?\n\nAssistant: resp\n\nUser's preference: pref one"
    seen = []
    Judge(FakeBackend(lambda t: seen.append(t) or "4")).rate("Q?", "resp", ["p"])
    assert seen[0].startswith(f"<system>{JUDGE_SYSTEM}</system><user>User: Q?")
    for task, plain in ((prism.Prism(), True), (ca.CommunityAlignment(), False)):
        it = task.load(offline=False).eval_items[0]
        assert (task.judge_question(it) == it.question) == plain


def test_system_line_moves_into_user_turn_without_system_role():
    from jinja2.exceptions import TemplateError

    class NoSystem(FakeBackend):
        def render(self, messages):
            if messages[0]["role"] == "system":
                raise TemplateError("System role not supported")
            return super().render(messages)

    judge = Judge(NoSystem(lambda t: "2"))
    assert judge.rate("Q", "R", ["p"])["score"] == 2.0
    assert judge.messages("x") == [{"role": "user", "content": f"{JUDGE_SYSTEM}\n\nx"}]


def test_win_rate_ties_are_wins_and_unparsed_replies_lose(hub, tmp_path):
    task = prism.Prism()
    items = task.load(offline=False).eval_items[:4]
    task.set_judge(Judge(FakeBackend(_judge_reply)))
    model = FakeBackend(lambda text: "short good answer" if items[0].question in text else "meh")
    metrics = evaluate_task(model, task, items, GenParams(), tmp_path, header={}).record
    rows = [json.loads(line) for line in (tmp_path / "samples.jsonl").read_text().splitlines()]
    for r in rows:
        tie = r["output"] == "short good answer"
        assert r["score"] == (1.0 if tie else 0.0) and r["win_rate_strict"] == 0.0 and r["judge_unparsed"] == 0
        assert len(r["judge_calls"]) == len(r["target"]) and r["judge_score_reference"] == 5.0
    m = metrics["metrics"]
    assert m["judge_unparsed"]["value"] == 0 and m["judge_unparsed"]["n"] == 2 * sum(len(it.target) for it in items)
    # the judge cannot read its reply about the model's response: a loss, even though the reference scores low
    bad = prism.Prism()
    bad.set_judge(Judge(FakeBackend(lambda t: "no idea" if "Assistant: mine" in t else "1")))
    sc = bad.score("mine", items[0])
    n = len(items[0].target)
    assert sc.score == 0.0 and sc.details["judge_unparsed"] == n and sc.extra["judge_unparsed_rate"] == 0.5
    # an unreadable reply about the reference is never a win for the model either
    ref_bad = prism.Prism()
    ref_bad.set_judge(Judge(FakeBackend(lambda t: "5" if "Assistant: mine" in t else "ten")))
    assert ref_bad.score("mine", items[0]).score == 0.0
    assert bad.aggregate([{"judge_calls": sc.details["judge_calls"],
                           "judge_reference_calls": sc.details["judge_reference_calls"]}])["judge_unparsed"]["value"] == n


def test_tiny_local_judge_end_to_end(hub, tmp_path, tiny_model_dir):
    task = ca.CommunityAlignment({"judge_model": str(tiny_model_dir), "judge_max_new_tokens": 4})
    items = task.load(offline=False).eval_items[:3]
    metrics = evaluate_task(FakeBackend(lambda t: "Step one: boil water."), task, items, GenParams(), tmp_path,
                            header={}).record
    rows = [json.loads(line) for line in (tmp_path / "samples.jsonl").read_text().splitlines()]
    calls = [c for r in rows for c in r["judge_calls"] + r["judge_reference_calls"]]
    assert len(calls) == 6 and all(c["prompt"].startswith("User: Give me short") for c in calls)
    assert metrics["metrics"]["judge_unparsed"]["value"] == sum(c["score"] is None for c in calls)
    assert any(r["judge_unparsed"] for r in rows)  # a random tiny judge writes unreadable replies: they must lose
    for r in rows:
        if r["judge_unparsed"]:
            assert r["score"] == 0.0
    assert isinstance(load_judge(str(tiny_model_dir)), Judge)


def test_parse_score():
    assert parse_score("Rating: 4/5") == 4.0 and parse_score("I'd say 5.") == 5.0 and parse_score(" 3") == 3.0
    assert parse_score("no idea") is None and parse_score("10") is None and parse_score("0") is None
    assert parse_score("") is None


def test_judge_required_and_suite_config(hub):
    task = ca.CommunityAlignment()
    item = task.load(offline=False).eval_items[0]
    with pytest.raises(UserError, match="needs a judge.*Qwen2.5-14B-Instruct"):
        task.score("x", item)

    class Cfg:
        model, provider, max_new_tokens = "some/judge", "inspect", 8

    task.set_judge_config(Cfg())
    judge_info = task.describe()["scorers"][0]["judge"]
    assert task.options.judge_model == "some/judge" and judge_info["provider"] == "inspect"
    assert "Qwen2.5-14B-Instruct" in judge_info["authors"]


def test_context_drop_pairs_pass_provenance(hub):
    task = prism.Prism()
    items = task.load(offline=False).train_items[:4]
    backend = FakeBackend(lambda t: "plain answer" if "requirements" not in t else "tailored answer")
    pairs, stats = build_pairs(task, items, ["tailored answer"] * 4, "context_drop", backend,
                               GenParams(), seed=0, round_k=1)
    assert stats.built == 4 and check_provenance(pairs) == []
    wrong = dict(pairs[0], rejected_prompt=task.messages(items[1], with_context=False)[0]["content"])
    assert check_provenance([wrong])


def test_loglik_profile_measure_on_tiny_model(hub, tmp_path, tiny_model_dir):
    from groundfloor.backends.hf import HFBackend

    task = prism.Prism({"scorer": "loglik"})
    items = task.load(offline=False).eval_items[:3]
    backend = HFBackend.load(str(tiny_model_dir))
    metrics = evaluate_task(backend, task, items, GenParams(), tmp_path, header={}).record
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


def test_community_alignment_is_marked_as_leaking_the_label(hub):
    """The only preference text of the real schema is feedback written after seeing the responses: the task says so."""
    from harness.evaluation.plan import plan_task
    from harness.config import SuiteConfig, TaskSpec

    follow_up = ca_row(0, second_turn_prompt="Shorter please.", second_turn_feedback="Liked the short one.",
                       second_turn_response_a="x", second_turn_preferred_response="response_a")
    item = ca.ca_items([follow_up])[0]
    assert item.context == "I prefer answers that give concrete steps."  # first-turn feedback only, no later turn
    task = ca.CommunityAlignment()
    shown = task.describe()
    assert "first_turn_feedback" in shown["label_leak"] and "after" in shown["label_leak"]
    assert "LABEL LEAK" in shown["description"]
    assert prism.Prism().describe()["label_leak"] is None
    cfg = SuiteConfig(models=["m"], tasks=[TaskSpec(id="community_alignment")])
    plan = plan_task(task, cfg.tasks[0], cfg, offline=False, limit=2)
    assert plan.manifest()["label_leak"] == ca.LABEL_LEAK


def test_no_default_suite_lists_a_leaking_task():
    from pathlib import Path

    from harness.config import load_suite
    from tasks.registry import TaskRegistry

    reg = TaskRegistry(use_entry_points=False)
    leaking = {tid for tid in reg.ids() if reg.get(tid).label_leak}
    assert "community_alignment" in leaking
    suites = sorted((Path(__file__).resolve().parents[2] / "suites").glob("*.yaml"))
    assert suites
    for path in suites:
        assert not leaking & {t.id for t in load_suite(path).tasks}, path.name


def test_reports_and_tasks_show_flag_the_leak(tmp_path, monkeypatch, capsys):
    from tests.helpers.reliability_helpers import run_cli
    from reports.load import Run
    from reports.meta import data_table, label_leak_banners

    code, out, err = run_cli(["tasks", "show", "community_alignment"], monkeypatch, capsys)
    assert code == 0, err
    assert json.loads(out)["label_leak"] == ca.LABEL_LEAK
    runs = [Run("a", tmp_path, {"tasks": {"community_alignment": {"label_leak": ca.LABEL_LEAK}, "gsm8k": {}}}),
            Run("b", tmp_path, {"tasks": {"gsm8k": {"label_leak": None}}})]
    banners = label_leak_banners(runs)
    assert banners == [f"LABEL LEAK in community_alignment (a): {ca.LABEL_LEAK}"]
    assert list(data_table(runs)["label leak"]) == ["LABEL LEAK", "", ""]
