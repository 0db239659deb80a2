"""The quick start (issue 28): `run`/`eval` end with a results table (or JSON rows with --json); `eval` takes
--seed and --set and writes to runs/eval/<model slug> by default; `--help` lists run and eval first."""

import json
import os
import re
import shutil

from harness.cli.summary import stdout_to_stderr
from groundfloor.rundir import slug
from tests.helpers.reliability_helpers import run_cli, tiny_suite


def _row(rows, task):
    return next(r for r in rows if r["task"] == task)


def test_eval_prints_table_then_json_rows(tiny_model_dir, tmp_path, monkeypatch, capsys):
    out = tmp_path / "ev"
    args = ["eval", "--model", str(tiny_model_dir), "--tasks", "arc_challenge,profile_prefs", "--limit", "2",
            "--out", str(out)]
    code, stdout, err = run_cli(args, monkeypatch, capsys)
    assert code == 0, err
    lines = stdout.splitlines()
    for task in ("arc_challenge", "profile_prefs"):
        row = next(line for line in lines if task in line)
        assert "prompting" in row and re.search(r"\d\.\d{3} \[.*\] \(n=2\)", row) and "PARTIAL" in row
    assert "value [95% CI] (n)" in stdout and "report:" in stdout

    code, stdout, err = run_cli(args + ["--json"], monkeypatch, capsys)  # resumes: nothing is evaluated again
    assert code == 0, err
    rows = json.loads(stdout)
    assert {r["task"] for r in rows} == {"arc_challenge", "profile_prefs"}
    arc = _row(rows, "arc_challenge")
    assert (arc["model"], arc["method"], arc["round"], arc["metric"], arc["n"]) == (
        str(tiny_model_dir), "prompting", 0, "accuracy", 2)
    assert 0 <= arc["value"] <= 1 and arc["ci_low"] <= arc["value"] <= arc["ci_high"] and arc["partial"] is True


def test_eval_seed_set_and_default_folder_per_model(tiny_model_dir, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    other = tmp_path / "other-tiny"
    shutil.copytree(tiny_model_dir, other)
    code, stdout, err = run_cli(["eval", "--model", str(tiny_model_dir), "--tasks", "arc_challenge", "--seed", "7",
                                 "--set", "tasks.arc_challenge.limit=1", "--json"], monkeypatch, capsys)
    assert code == 0, err
    assert [(r["task"], r["n"]) for r in json.loads(stdout)] == [("arc_challenge", 1)]  # the --set limit
    first = tmp_path / "runs" / "eval" / slug(str(tiny_model_dir))
    manifest = json.loads((first / "manifest.json").read_text())
    assert manifest["seed"] == 7 and manifest["config"]["seed"] == 7
    assert manifest["cli_overrides"] == ["seed=7", "tasks.arc_challenge.limit=1"]

    code, stdout, err = run_cli(["eval", "--model", str(other), "--tasks", "arc_challenge", "--limit", "1"],
                                monkeypatch, capsys)
    assert code == 0, err  # another model is not refused: its own folder
    second = tmp_path / "runs" / "eval" / slug(str(other))
    assert second != first and (second / "results.csv").exists()
    assert json.loads((second / "manifest.json").read_text())["seed"] == 42


def test_eval_bad_seed_and_set_exit_2(tiny_model_dir, tmp_path, monkeypatch, capsys):
    base = ["eval", "--model", str(tiny_model_dir), "--tasks", "arc_challenge", "--out", str(tmp_path / "x")]
    code, _, err = run_cli(base + ["--seed", "-1"], monkeypatch, capsys)
    assert code == 2 and "--seed" in err
    code, _, err = run_cli(base + ["--set", "tasks.arc_chalenge.limit=1"], monkeypatch, capsys)
    assert code == 2 and "did you mean 'arc_challenge'" in err and not (tmp_path / "x").exists()


def test_run_json_rows(tiny_model_dir, tmp_path, monkeypatch, capsys):
    suite = tiny_suite(tmp_path / "t.yaml", tiny_model_dir)
    code, stdout, err = run_cli(["run", str(suite), "--out", str(tmp_path / "run"), "--json"], monkeypatch, capsys)
    assert code == 0, err
    rows = json.loads(stdout)
    assert [(r["task"], r["round"], r["n"]) for r in rows] == [("arc_challenge", 0, 2)]


def test_json_mode_sends_stdout_to_stderr(capfd):
    with stdout_to_stderr(True):
        print("python line")
        os.write(1, b"fd line\n")  # what a child process or C code writes
    print("after")
    out, err = capfd.readouterr()
    assert out == "after\n" and "python line" in err and "fd line" in err


def test_help_lists_run_and_eval_first(monkeypatch, capsys):
    code, stdout, _ = run_cli(["--help"], monkeypatch, capsys)
    names = re.findall(r"^\W*(\w+)\s{2,}\S", stdout.split("Commands")[1], flags=re.M)
    assert code == 0 and names[:3] == ["run", "eval", "score"], names
