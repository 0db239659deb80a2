"""Offline-capable tasks: items load, gold outputs score 1.0, eval/train pools disjoint by prompt hash."""

from __future__ import annotations

import pytest

from groundfloor.errors import UserError
from tasks.disjoint import check_disjoint
from tasks.registry import TaskRegistry

OFFLINE = ["gsm8k", "math500", "arc_challenge", "arc_easy", "mmlu", "commonsense_qa", "profile_prefs"]
HUB_ONLY = ["svamp", "prism", "community_alignment"]


@pytest.fixture(scope="module")
def registry():
    return TaskRegistry(use_entry_points=False)


@pytest.mark.parametrize("task_id", OFFLINE)
def test_offline_task_loads_scores_and_is_disjoint(registry, task_id):
    task = registry.get(task_id)
    split = task.load(offline=True)
    assert split.eval_items and split.train_items
    for item in split.eval_items[:5] + split.eval_items[-3:]:
        sc = task.score(task.gold_output(item), item)
        assert sc.score == 1.0, (item.id, sc)
    report = check_disjoint(split.eval_items, split.train_items)
    assert report["ok"], report
    assert task.describe()["scorers"]


@pytest.mark.parametrize("task_id", HUB_ONLY)
def test_hub_only_tasks_fail_offline_with_one_line(registry, task_id):
    with pytest.raises(UserError) as e:
        registry.get(task_id).load(offline=True)
    assert "\n" not in str(e.value) and "offline" in str(e.value)


def test_sizes_and_protocol(registry):
    assert len(registry.get("math500").load(True).eval_items) == 500
    arc_e = registry.get("arc_easy").load(True)
    assert len(arc_e.eval_items) == 2376 and len(arc_e.train_items) == 570
    mmlu = registry.get("mmlu").load(True)
    assert len({it.meta["subject"] for it in mmlu.eval_items}) == 57
    csqa = registry.get("commonsense_qa").load(True)
    assert all(len(it.choices) == 5 for it in csqa.eval_items[:50])
    assert {it.target for it in csqa.eval_items} <= set("ABCDE")


def test_gsm8k_greedy_option_and_side_by_side_extraction(registry):
    default, greedy = registry.get("gsm8k"), registry.get("gsm8k", {"greedy": True})
    assert not default.generation.greedy and default.generation.temperature == 0.1
    assert greedy.generation.greedy and greedy.generation.temperature == 0.0
    item = default.load(True).eval_items[0]
    sc = default.score(f"so it is {item.target}", item)  # no '####': strict fails, flexible succeeds
    assert sc.extra == {"accuracy_strict": 0.0, "accuracy_flexible": 1.0, "accuracy_marker": 0.0}
    assert sc.score is None and sc.details["extraction"] == "not_run"  # the authors' model stage decides
    assert greedy.scorer.stage.generation.greedy and not default.scorer.stage.generation.greedy


def test_unknown_option_rejected(registry):
    with pytest.raises(UserError):
        registry.get("mmlu", {"scorer": "nope"})
    with pytest.raises(UserError):
        registry.get("arc_easy", {"bogus": 1})
