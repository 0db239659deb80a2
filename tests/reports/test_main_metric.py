"""A task's main metric is the one its scorer declares, carried from metrics.json through results.csv into the
report, even when other metrics sort before it (a judge task's `judge_score` before its `win_rate`)."""

from __future__ import annotations

import json

import pandas as pd

from groundfloor.backends.base import GenParams
from groundfloor.backends.fake import FakeBackend
from harness.evaluation.evaluate import evaluate_task
from groundfloor.results import read_results, write_results
from groundfloor.rundir import RunDir
from reports.tables import main_metrics
from tasks.base import Item, Score, Task
from tasks.scorers import Generative

ITEMS = [Item(id=f"q{i}", question=f"Say {i}.", target=str(i)) for i in range(4)]


def _judged(output: str, item: Item) -> Score:
    return Score(extracted=output, score=float(output == item.target), extra={"judge_score": 4.0 + len(output)})


class _ToyJudged(Task):
    id = "toy_judged"
    family = "personalization"
    description = "a judge-like task: main metric win_rate, side metric judge_score"
    scorer = Generative(metric="win_rate", metrics=("judge_score",), rule=_judged)

    def data_sources(self):
        raise AssertionError("items are given")

    def messages(self, item: Item, with_context: bool = True) -> list[dict[str, str]]:
        return [{"role": "user", "content": item.question}]


def test_the_declared_main_metric_reaches_the_report(tmp_path):
    run = RunDir(tmp_path / "run")
    answers = {"Say 0.": "0", "Say 1.": "1", "Say 2.": "nine", "Say 3.": "nine"}
    for method, k in (("prompting", 0), ("mipo", 1)):
        out = run.round_dir("m", method, k) / "tasks" / "toy_judged"
        out.mkdir(parents=True)
        backend = FakeBackend(lambda text: next(a for q, a in answers.items() if q in text) if k == 0 else "0")
        header = {"model": "m", "family": "qwen2", "method": method, "round": k}
        evaluate_task(backend, _ToyJudged(), ITEMS, GenParams(), out, header=header)
        assert json.loads((out / "metrics.json").read_text())["main_metric"] == "win_rate"
    write_results(run)
    df = read_results(run.results)
    rows = df[df["task"] == "toy_judged"]
    assert set(rows[rows["main"] == "True"]["metric"]) == {"win_rate"}
    assert set(rows[rows["main"] == "False"]["metric"]) >= {"judge_score", "truncated_rate", "response_tokens"}
    assert list(rows["metric"]).index("judge_score") < list(rows["metric"]).index("win_rate")  # sorted by name
    main = main_metrics(df.assign(run="r"))
    assert set(main["metric"]) == {"win_rate"} and sorted(main["value"]) == [0.25, 0.5]


def test_results_without_the_main_column_fall_back_to_names():
    rows = [{"model": "m", "family": "f", "method": "prompting", "round": 0, "task": "t", "metric": name,
             "value": v, "ci_low": None, "ci_high": None, "n": 4, "kind": "eval", "partial": False}
            for name, v in (("accuracy", 0.5), ("accuracy_answered", 0.9), ("no_answer_rate", 0.1))]
    assert list(main_metrics(pd.DataFrame(rows))["metric"]) == ["accuracy"]
    flagged = pd.DataFrame(rows).assign(main=["False", "True", "False"])
    assert list(main_metrics(flagged)["metric"]) == ["accuracy_answered"]  # the flag wins over the name
