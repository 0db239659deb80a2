"""A user task from its own folder (the worked example of docs/adding-a-task.md), end to end."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest
from tests.helpers.reliability_helpers import run_cli

DOC = Path(__file__).resolve().parents[2] / "docs" / "adding-a-task.md"
EXAMPLES = re.findall(r"```python\n(.*?)```", DOC.read_text(), re.S)  # the `@task` function, then the class


def test_the_guide_shows_both_routes():
    assert len(EXAMPLES) == 2 and "@task(" in EXAMPLES[0] and "class WordSums(Task)" in EXAMPLES[1]


@pytest.fixture(params=["function", "class"])
def user_dir(tmp_path, request) -> Path:
    """`my_tasks/` with one documented module (each route in turn) and 10 eval + 10 train items."""
    folder = tmp_path / "my_tasks"
    folder.mkdir()
    code = EXAMPLES[["function", "class"].index(request.param)]
    (folder / "word_sums.py").write_text(code)
    rows = [{"id": f"ws-{i}", "question": f"Ann has {i} apples and buys {i + 3} more. How many apples now?",
             "answer": str(2 * i + 3), "split": "eval" if i < 10 else "train"} for i in range(20)]
    (folder / "word_sums.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return folder


def test_list_show_validate(user_dir, monkeypatch, capsys):
    code, out, err = run_cli(["tasks", "list", "--include", user_dir], monkeypatch, capsys)
    assert code == 0, err
    assert "word_sums" in out and "gsm8k" in out
    code, out, err = run_cli(["tasks", "show", "word_sums", "--include", user_dir], monkeypatch, capsys)
    assert code == 0 and json.loads(out)["family"] == "math"
    code, out, err = run_cli(["tasks", "validate", "word_sums", "--include", user_dir], monkeypatch, capsys)
    assert code == 0, err
    assert "10 eval items, 10 train prompts" in out and "ok: gold outputs" in out


def test_without_include_the_task_is_unknown(monkeypatch, capsys):
    code, _, err = run_cli(["tasks", "validate", "word_sums"], monkeypatch, capsys)
    assert code == 2 and "unknown task 'word_sums'" in err


def test_broken_user_module_is_one_line_error(tmp_path, monkeypatch, capsys):
    (tmp_path / "bad.py").write_text("import does_not_exist\n")
    code, _, err = run_cli(["tasks", "list", "--include", tmp_path], monkeypatch, capsys)
    assert code == 2 and "bad.py: failed to import" in err and len(err.strip().splitlines()) == 1


def test_score_user_task(user_dir, tmp_path, monkeypatch, capsys):
    preds = tmp_path / "p.jsonl"
    preds.write_text('{"id": "ws-1", "output": "It is 5"}\n{"id": "ws-12", "output": "no idea"}\n')
    code, out, err = run_cli(["score", "--task", "word_sums", "--predictions", preds, "--include", user_dir],
                             monkeypatch, capsys)
    assert code == 0, err
    rows = [json.loads(line) for line in (tmp_path / "p.scored.jsonl").read_text().splitlines()]
    assert [r["correct"] for r in rows] == [True, False]  # ws-12 is a train prompt: found as well
    assert "word_sums accuracy: 0.5000" in out


def test_user_task_in_a_suite_end_to_end(user_dir, tmp_path, tiny_model_dir):
    from harness.config import parse_suite
    from harness.run.runner import RunOptions, SuiteRunner

    cfg = parse_suite({
        "name": "user-task", "models": [str(tiny_model_dir)], "include": [str(user_dir)],
        "tasks": [{"id": "word_sums", "limit": 3}], "rounds": 1,
        "generation": {"greedy": True, "max_new_tokens": 8, "batch_size": 2},
        "mipo": {"train_prompts_per_round": 4, "diagnostics_prompts": 2,
                 "sampling": {"max_new_tokens": 8, "temperature": 1.0, "top_p": 1.0}},
        "training": {"per_device_batch_size": 2, "gradient_accumulation_steps": 1, "max_length": 256},
    })
    out = tmp_path / "run"
    SuiteRunner(cfg, RunOptions(out=out, report=False, device="cpu")).execute()
    df = pd.read_csv(out / "results.csv")
    main = df[(df["task"] == "word_sums") & (df["metric"] == "accuracy") & (df["kind"] == "eval")]
    assert sorted(main["round"]) == [0, 1]
    assert (main["n"] == 3).all()
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["tasks"]["word_sums"]["disjointness"]["ok"]
    pairs = list((out / "models").glob("**/round_1/**/pairs.jsonl"))  # round_1/lineages/word_sums/ (per_task)
    assert pairs and pairs[0].read_text().strip()
