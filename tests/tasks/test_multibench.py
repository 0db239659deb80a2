"""Multi-Bench on rows with the dataset's real columns (tests/tasks/data/multibench_rows.jsonl), fake model and judge.

The expected scores below are read off mb.py by hand (int(reply), else 0, mb.py:130-136; win = score >=
the reference's, mb.py:274), case by case; nothing here re-computes them.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from groundfloor.backends.base import GenParams
from groundfloor.backends.fake import FakeBackend
from groundfloor.errors import UserError
from harness.evaluation.evaluate import evaluate_task
from tasks.disjoint import check_disjoint
from mipo.pairs import build_pairs, check_provenance
from tasks import hub as hub_module
from tasks import multibench as mb
from tasks.judge import JUDGE_SYSTEM, Judge

ROWS = [json.loads(line) for line in (Path(__file__).parent / "data" / "multibench_rows.jsonl").open()]
SEEN: list[dict] = []


def _fake_hub(task_id, path, name, split, offline, revision=None):
    if offline:
        raise hub_module.HubUnavailable(f"task '{task_id}' needs the hub dataset '{path}' ({split}) (offline)")
    SEEN.append({"path": path, "name": name, "split": split, "revision": revision})
    return ROWS


@pytest.fixture
def hub(monkeypatch):
    monkeypatch.setattr(hub_module, "load_hub_split", _fake_hub)


def test_rows_become_items_split_by_prompt_at_the_pinned_revision(hub):
    split = mb.Multibench().load(offline=False)
    assert SEEN[-1] == {"path": "kaist-ai/Multifaceted-Bench", "name": None, "split": "train",
                        "revision": mb.REVISION}
    items = split.eval_items + split.train_items
    assert len(items) == 20 and split.eval_items and split.train_items
    ev, tr = {it.question for it in split.eval_items}, {it.question for it in split.train_items}
    assert not ev & tr and check_disjoint(split.eval_items, split.train_items)["ok"]
    it = next(i for i in items if i.id == "mb-0001")
    assert it.question == ROWS[1]["prompt"] and it.context == ROWS[1]["system"]
    assert it.target == [p["description"] for p in ROWS[1]["preference_set"]]
    assert mb.Multibench().reference(it) == ROWS[1]["reference_answer"]


def test_prompt_negative_and_sampling_are_mb_py(hub):
    task = mb.Multibench()
    it = task.load(offline=False).eval_items[0]
    assert task.messages(it) == [{"role": "user", "content": f"{it.context}\n\n{it.question}"}]
    assert task.messages(it, with_context=False) == [{"role": "user", "content": it.question}]
    g, t = task.generation, task.train_generation
    assert (g.max_new_tokens, g.temperature, g.top_p, g.greedy) == (1024, 0.1, 0.9, False)
    assert (t.max_new_tokens, t.temperature, t.top_p, t.greedy) == (512, 0.1, 0.9, False)
    assert task.default_negative == "context_drop"


def test_context_drop_pairs_pass_provenance(hub):
    task = mb.Multibench()
    items = task.load(offline=False).train_items[:4]
    backend = FakeBackend(lambda t: "tailored" if "Shape every answer" in t else "plain")
    pairs, stats = build_pairs(task, items, ["tailored"] * 4, "context_drop", backend, GenParams(), seed=0,
                               round_k=1)
    assert stats.built == 4 and check_provenance(pairs) == []
    assert pairs[0]["rejected"] == "plain"


# (the model's output, the judge's reply about it, the judge's reply about the reference,
#  mb.py's win, strict win, unreadable replies)
CASES = [("out-a", "4", "3", 1.0, 1.0, 0),
         ("out-b", "3", "3", 1.0, 0.0, 0),        # a tie is a win (>=)
         ("out-c", "2", "5", 0.0, 0.0, 0),
         ("out-d", "Score: 4", "2", 0.0, 0.0, 1),  # int() cannot read it: 0, below 2
         ("out-e", "no idea", "n/a", 1.0, 0.0, 2),  # 0 >= 0: a win for mb.py, never for the strict rate
         ("out-f", " 5\n", "4", 1.0, 1.0, 0)]     # int() strips whitespace


def _judge_for(items):
    replies = {}
    for (out, mine, ref, *_), it in zip(CASES, items):
        replies[f"Assistant: {out}"] = mine
        replies[f"Assistant: {it.meta['reference']}"] = ref
    seen = []

    def reply(text: str) -> str:
        seen.append(text)
        return next(r for key, r in replies.items() if key + "</user>" in text)

    return Judge(FakeBackend(reply)), seen


def test_scores_as_mb_py_would(hub, tmp_path):
    task = mb.Multibench()
    items = (lambda s: s.eval_items + s.train_items)(task.load(offline=False))[:len(CASES)]
    judge, seen = _judge_for(items)
    task.set_judge(judge)
    outputs = {f"<user>{it.context}\n\n{it.question}</user>": case[0] for case, it in zip(CASES, items)}
    model = FakeBackend(lambda text: next(o for key, o in outputs.items() if key in text))
    metrics = evaluate_task(model, task, items, GenParams(), tmp_path, header={}).record
    rows = {r["id"]: r for r in map(json.loads, (tmp_path / "samples.jsonl").read_text().splitlines())}
    for (out, _, _, win, strict, bad), it in zip(CASES, items):
        r = rows[it.id]
        assert r["output"] == out
        assert (r["score"], r["win_rate_strict"], r["judge_unparsed"]) == (win, strict, bad), out
        assert r["judge_calls"][0]["prompt"] == f"User: {it.context}\n\n{it.question}\n\nAssistant: {out}"
    m = metrics["metrics"]
    assert m["win_rate"]["value"] == pytest.approx(4 / 6) and m["win_rate"]["n"] == 6
    assert m["win_rate_strict"]["value"] == pytest.approx(2 / 6)
    assert m["judge_unparsed"]["value"] == 3 and m["judge_unparsed"]["n"] == 12
    assert seen[0].startswith(f"<system>{JUDGE_SYSTEM}</system><user>User: ")
    assert "User's preference" not in seen[0]  # mb.py's judge has no preference line (mb.py:98)


def test_the_reference_is_judged_once_per_item(hub):
    task = mb.Multibench()
    it = task.load(offline=False).eval_items[0]
    calls = []
    task.set_judge(Judge(FakeBackend(lambda t: calls.append(t) or "3")))
    task.score("first", it), task.score("second", it)
    assert len(calls) == 3


def test_offline_fails_in_one_line_and_needs_a_judge(hub):
    with pytest.raises(UserError) as e:
        mb.Multibench().load(offline=True)
    assert "\n" not in str(e.value) and "Multifaceted-Bench" in str(e.value)
    task = mb.Multibench()
    with pytest.raises(UserError, match="needs a judge.*Qwen2.5-14B-Instruct"):
        task.score("x", task.load(offline=False).eval_items[0])
    with pytest.raises(UserError, match="option scorer"):
        from tasks.registry import TaskRegistry

        TaskRegistry(use_entry_points=False).get("multibench", {"scorer": "loglik"})


def test_schema_error_is_one_line():
    row = dict(ROWS[0])
    del row["reference_answer"]
    with pytest.raises(UserError) as e:
        mb.mb_items([row])
    assert "reference_answer" in str(e.value) and "\n" not in str(e.value)


REF = Path(__file__).resolve().parents[3] / "shared" / "reference" / "mipo-authors" / "mb.py"


def _run_mb(first: int, last: int, **names) -> dict:
    """Run lines first..last of the authors' mb.py with `names` bound; return its namespace."""
    import textwrap

    lines = REF.read_text(encoding="utf-8").splitlines(keepends=True)[first - 1:last]
    exec(compile(textwrap.dedent("".join(lines)), f"mb.py:{first}-{last}", "exec"), names)  # noqa: S102
    return names


@pytest.mark.skipif(not REF.is_file(), reason="the authors' scripts are not here")
def test_mb_py_own_lines_agree(hub, tmp_path, capsys):
    """mb.py's judge turn (97-98), its reading of a reply (130-136) and its win rate (274), run on the same replies."""
    from types import SimpleNamespace

    import numpy as np

    def authors(reply: str) -> int:
        return _run_mb(130, 136, response=reply, scores=[])["scores"][0]

    task = mb.Multibench()
    items = (lambda s: s.eval_items + s.train_items)(task.load(offline=False))[:len(CASES)]
    task.set_judge(_judge_for(items)[0])
    ours = [task.score(out, it) for (out, *_), it in zip(CASES, items)]
    theirs = _run_mb(274, 274, np=np, f=SimpleNamespace(score=np.array([authors(c[1]) for c in CASES])),
                     gpt=SimpleNamespace(score=np.array([authors(c[2]) for c in CASES])))["win_rate"]
    assert sum(s.score for s in ours) / len(ours) * 100 == pytest.approx(theirs)
    assert [s.extracted for s in ours] == [authors(c[1]) for c in CASES]
    msgs = _run_mb(97, 98, prompt=task.messages(items[0])[0]["content"], response="out-a")["messages"]
    assert ours[0].details["judge_calls"][0]["prompt"] == msgs[1]["content"] and msgs[0]["content"] == JUDGE_SYSTEM
    capsys.readouterr()  # mb.py prints the replies it cannot read
