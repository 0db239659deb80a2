"""Report flags: gains that moved with the no-answer or truncation rate, multiple-choice results below chance,
and the validity table; side metrics never become a task's main metric."""

from __future__ import annotations

import pandas as pd

from reports.tables import main_metrics
from reports.validity import FORMAT_FLAG, below_chance, format_flag, gain_flags, validity_table


def _rows(method: str, rnd: int, task: str, metrics: dict[str, float]) -> list[dict]:
    return [{"run": "r", "model": "m", "family": "qwen2", "method": method, "round": rnd, "task": task,
             "metric": k, "value": v, "ci_low": max(0.0, v - 0.1), "ci_high": v + 0.1, "n": 10, "kind": "eval",
             "partial": False} for k, v in metrics.items()]


def _df() -> pd.DataFrame:
    rows = _rows("prompting", 0, "arc_challenge", {"accuracy": 0.0, "no_answer_rate": 0.9, "truncated_rate": 0.9,
                                                   "chance": 0.25, "accuracy_answered": 0.0, "response_tokens": 128})
    rows += _rows("mipo", 1, "arc_challenge", {"accuracy": 0.2, "no_answer_rate": 0.4, "truncated_rate": 0.3,
                                               "chance": 0.25, "accuracy_answered": 0.33, "response_tokens": 90})
    rows += _rows("prompting", 0, "gsm8k", {"accuracy": 0.3, "no_answer_rate": 0.1, "truncated_rate": 0.0})
    rows += _rows("mipo", 1, "gsm8k", {"accuracy": 0.4, "no_answer_rate": 0.05, "truncated_rate": 0.0})
    return pd.DataFrame(rows)


def _last() -> pd.DataFrame:
    return pd.DataFrame([{"run": "r", "model": "m", "method": "mipo", "round": 1, "task": t, "base": b, "value": v,
                          "gain": v - b} for t, b, v in (("arc_challenge", 0.0, 0.2), ("gsm8k", 0.3, 0.4))])


def test_format_flag_only_when_a_rate_moved_more_than_the_gain():
    assert format_flag(0.2, {"no_answer_rate": -0.5, "truncated_rate": 0.0}).startswith(FORMAT_FLAG)
    assert "Δno_answer_rate -0.500" in format_flag(0.2, {"no_answer_rate": -0.5, "truncated_rate": 0.0})
    assert format_flag(0.2, {"no_answer_rate": -0.1, "truncated_rate": 0.15}) == ""
    assert format_flag(-0.2, {"truncated_rate": 0.3}) != ""  # a loss can be format too
    assert format_flag(0.0, {"truncated_rate": 0.3}) == "" and format_flag(0.1, {"truncated_rate": float("nan")}) == ""


def test_below_chance():
    assert below_chance(0.2, 0.25) == "below chance (0.200 < 0.250)"
    assert below_chance(0.25, 0.25) == "" and below_chance(0.1, None) == ""


def test_gain_flags_name_the_format_driven_gain_and_the_below_chance_rounds():
    arc, gsm = gain_flags(_last(), _df())
    assert FORMAT_FLAG in arc and "Δtruncated_rate -0.600" in arc and "Δno_answer_rate -0.500" in arc
    assert "round 0 below chance" in arc and "last round below chance (0.200 < 0.250)" in arc
    assert gsm == ""  # +0.10 gain, rates moved by 0.05 and 0: knowledge, not format


def test_validity_table_has_every_figure_with_ci_and_n():
    table = validity_table(_df())
    assert len(table) == 4 and {"no answer", "truncated", "response tokens", "chance", "flags"} <= set(table.columns)
    arc0 = table[(table["task"] == "arc_challenge") & (table["round"] == 0)].iloc[0]
    assert arc0["truncated"].startswith("0.900 [") and arc0["truncated"].endswith("(n=10)")
    assert arc0["flags"].startswith("below chance")
    gsm0 = table[(table["task"] == "gsm8k") & (table["round"] == 0)].iloc[0]
    assert gsm0["chance"] == "" and gsm0["flags"] == ""


def test_side_metrics_never_become_the_main_metric():
    df = pd.DataFrame(_rows("prompting", 0, "judge_task", {"chance": 0.5, "no_answer_rate": 0.0, "truncated_rate": 0.1,
                                                             "win_rate": 0.6}))
    assert list(main_metrics(df)["metric"]) == ["win_rate"]
