"""Bad data and unreachable resources, and the dry run: exit code 2 with one line, or a plan without a model."""

from __future__ import annotations

import json

import pytest

from tests.helpers.reliability_helpers import run_cli, tiny_suite

USER_TASK = '''
from pathlib import Path

from tasks.base import DataSource, DataSplit, Item, Score, Task
from tasks.bundles import read_jsonl

DATA = Path(__file__).with_name("rows.jsonl")


class RowsTask(Task):
    id = "rows_task"
    family = "math"

    def load(self, offline):
        rows = read_jsonl(DATA)
        items = [Item(id=str(i), question=r["q"], target=r["a"]) for i, r in enumerate(rows)]
        src = DataSource("local", str(DATA), "all")
        return DataSplit(items, [], src, src)

    def messages(self, item, with_context=True):
        return [{"role": "user", "content": item.question}]

    def score(self, output, item):
        return Score(output.strip(), float(output.strip() == item.target))

    def gold_output(self, item):
        return item.target
'''


def _user_task(tmp_path, rows: str):
    folder = tmp_path / "user_tasks"
    folder.mkdir(exist_ok=True)
    (folder / "rows_task.py").write_text(USER_TASK)
    (folder / "rows.jsonl").write_text(rows)
    return folder


def _run(tmp_path, monkeypatch, capsys, model, tasks: str, extra: str = "", args=()):
    suite = tiny_suite(tmp_path / "s.yaml", model, tasks=tasks, extra=extra)
    return run_cli(["run", suite, "--out", tmp_path / "run", *args], monkeypatch, capsys)


def test_malformed_data_row_names_file_and_line(tmp_path, monkeypatch, capsys, tiny_model_dir):
    folder = _user_task(tmp_path, '{"q": "1+1", "a": "2"}\n{"q": "2+2", "a": 4\n{"q": "3+3", "a": "6"}\n')
    code, _, err = _run(tmp_path, monkeypatch, capsys, tiny_model_dir, "[rows_task]", f"include: ['{folder}']",
                        ["--dry-run"])
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert f"{folder / 'rows.jsonl'}:2: malformed JSON" in err


def test_empty_dataset_is_a_user_error(tmp_path, monkeypatch, capsys, tiny_model_dir):
    folder = _user_task(tmp_path, "\n")
    code, _, err = _run(tmp_path, monkeypatch, capsys, tiny_model_dir, "[rows_task]", f"include: ['{folder}']")
    assert code == 2 and "task rows_task: the evaluation dataset is empty" in err


def test_broken_user_task_file(tmp_path, monkeypatch, capsys, tiny_model_dir):
    folder = _user_task(tmp_path, "")
    (folder / "rows_task.py").write_text("import not_a_module_anywhere\n")
    code, _, err = _run(tmp_path, monkeypatch, capsys, tiny_model_dir, "[rows_task]", f"include: ['{folder}']",
                        ["--dry-run"])
    assert code == 2 and "rows_task.py: failed to import (ModuleNotFoundError" in err


def test_hub_model_while_offline_is_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    code, _, err = _run(tmp_path, monkeypatch, capsys, "some-org/some-model", "[{id: arc_challenge, limit: 2}]")
    errors = [line for line in err.splitlines() if line.startswith("error:")]  # after the progress log lines
    assert code == 2 and len(errors) == 1 and "Traceback" not in err, err
    assert "some-org/some-model" in err and "offline" in err


def test_hub_dataset_while_offline_is_one_line(tmp_path, monkeypatch, capsys, tiny_model_dir):
    from groundfloor.errors import UserError
    from tasks.hub import load_hub_split

    with pytest.raises(UserError, match="offline"):
        load_hub_split("x", "org/data", None, "test", offline=True)


def test_dry_run_prints_the_plan_without_loading_or_fetching_a_model(tmp_path, monkeypatch, capsys, tiny_model_dir):
    import groundfloor.backends.hf as hf
    import groundfloor.models.build as build
    import groundfloor.models.resolve as resolve
    import harness.run.runner as runner

    def forbidden(*a, **k):
        raise AssertionError("the dry run must not resolve, download or load a model")

    for mod, name in ((runner, "resolve_model"), (resolve, "fetch_alias"), (build, "download_wheel"),
                      (resolve, "_resolve_hub"), (hf.HFBackend, "load")):
        monkeypatch.setattr(mod, name, forbidden)
    suite = tmp_path / "s.yaml"
    suite.write_text(f"""
models: ["{tiny_model_dir}", smollm2-135m-instruct]
tasks: [{{id: gsm8k, limit: 3, options: {{fewshot: 0}}}}, {{id: arc_challenge, limit: 4}}, profile_prefs]
rounds: 2
methods: [mipo, sft_self]
""")
    code, out, err = run_cli(["run", suite, "--out", tmp_path / "run", "--dry-run"], monkeypatch, capsys)
    assert code == 0, err
    plan = json.loads(out)
    assert plan["models"] == [str(tiny_model_dir), "smollm2-135m-instruct"]
    assert plan["model_sources"][str(tiny_model_dir)] == "local folder"
    assert plan["model_sources"]["smollm2-135m-instruct"].startswith("built-in alias")
    assert plan["rounds"] == 2 and plan["methods"] == ["mipo", "sft_self"]
    assert plan["tasks"]["gsm8k"]["eval_items"] == 3 and plan["tasks"]["arc_challenge"]["eval_items"] == 4
    assert plan["tasks"]["profile_prefs"]["eval_items"] > 0
    assert plan["estimated_minutes_cpu"] > 0 and plan["resumes"] is False
    assert not (tmp_path / "run").exists()  # nothing is written


def test_dry_run_with_limit(tmp_path, monkeypatch, capsys, tiny_model_dir):
    suite = tiny_suite(tmp_path / "s.yaml", tiny_model_dir, tasks="[arc_challenge, profile_prefs]")
    code, out, err = run_cli(["run", suite, "--dry-run", "--limit", "2"], monkeypatch, capsys)
    assert code == 0, err
    assert {t["eval_items"] for t in json.loads(out)["tasks"].values()} == {2}


def test_score_keeps_an_identical_repeat_once(tmp_path):
    from harness.evaluation.score import read_predictions

    path = tmp_path / "p.jsonl"
    path.write_text('{"id": 1, "output": "A"}\n{"id": "2", "output": "B"}\n{"id": "1", "output": "A"}\n')
    assert [(r["id"], r["output"]) for r in read_predictions(path)] == [("1", "A"), ("2", "B")]


def test_eval_advises_only_flags_it_has(tmp_path, monkeypatch, capsys):
    import re

    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text('{"model_type": "llama"}')
    out = tmp_path / "ev"
    out.mkdir()
    (out / "manifest.json").write_text(json.dumps({"config": {"name": "eval", "rounds": 3}, "config_hash": "old"}))
    code, _, err = run_cli(["eval", "--model", model, "--tasks", "arc_challenge", "--out", out], monkeypatch, capsys)
    assert code == 2 and "different config" in err
    advised = set(re.findall(r"--[a-z][a-z-]+", err))
    code, help_text, _ = run_cli(["eval", "--help"], monkeypatch, capsys)
    assert advised and all(flag in help_text for flag in advised), (advised, help_text)
