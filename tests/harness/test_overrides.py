"""`--seed` and `--set key.path=value`: applied to the suite, validated by the same config model, recorded."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest

from groundfloor.errors import UserError
from harness.overrides import apply_overrides, load_suite_with, parse_assignment
from tests.helpers.reliability_helpers import run_cli, tiny_suite

SUITE = """
name: s
models: [smollm2-135m-instruct, {id: qwen2.5-coder-0.5b-instruct, name: qwen}]
tasks: [gsm8k, {id: arc_challenge, limit: 5}]
training: {beta: 0.1}
"""


@pytest.fixture
def suite(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text(SUITE)
    return path


def test_values_are_yaml():
    assert parse_assignment("training.beta=0.2") == (["training", "beta"], 0.2)
    assert parse_assignment("mipo.fresh_prompts=false") == (["mipo", "fresh_prompts"], False)
    assert parse_assignment("mipo.train_prompts_per_round=all") == (["mipo", "train_prompts_per_round"], "all")
    assert parse_assignment("methods=[mipo, sft_self]") == (["methods"], ["mipo", "sft_self"])
    assert parse_assignment("judge=null") == (["judge"], None)


def test_overrides_apply_by_path_index_and_id(suite):
    cfg, applied = load_suite_with(suite, ["training.beta=0.25", "tasks.gsm8k.limit=7", "tasks.1.seed=3",
                                           "models.qwen.dtype=float32", "mipo.sampling.temperature=0.7"], seed=11)
    assert cfg.training.beta == 0.25 and cfg.seed == 11 and cfg.training.seed == 11
    assert [(t.id, t.limit, t.seed) for t in cfg.tasks] == [("gsm8k", 7, None), ("arc_challenge", 5, 3)]
    assert cfg.models[1].dtype == "float32" and cfg.mipo.sampling.temperature == 0.7
    assert applied == ["seed=11", "training.beta=0.25", "tasks.gsm8k.limit=7", "tasks.1.seed=3",
                       "models.qwen.dtype=float32", "mipo.sampling.temperature=0.7"]
    plain, none = load_suite_with(suite, [], None)
    assert none == [] and plain.training.beta == 0.1 and plain.seed == 42


def test_the_file_is_not_changed_and_later_overrides_win(suite):
    data = {"seed": 1, "training": {"beta": 0.1}}
    out, _ = apply_overrides(data, ["seed=5"], seed=3)
    assert out["seed"] == 5 and out["training"]["seed"] == 3 and data == {"seed": 1, "training": {"beta": 0.1}}


@pytest.mark.parametrize("sets,message", [
    (["training.betta=0.2"], "unknown key 'training.betta'; did you mean 'beta'?"),
    (["trainig.beta=0.2"], "unknown key 'trainig'; did you mean 'training'?"),
    (["training.beta=-1"], "training.beta: Input should be greater than 0"),
    (["tasks.gsm8kk.limit=3"], "no entry 'gsm8kk' in this list; did you mean 'gsm8k'?"),
    (["tasks.9.limit=3"], "index 9 is out of range (2 entries)"),
    (["training.beta.x=1"], "'training.beta' is a single value"),
    (["seed.x=1"], "seed: Input should be a valid integer"),
    (["methods=[mipo, dpo]"], "methods.1: Input should be"),
    (["training.beta"], "expected key.path=value"),
    (["=3"], "expected key.path=value"),
    (["training.beta=[1, 2"], "the value is not valid YAML"),
])
def test_bad_overrides_are_one_line_user_errors(suite, sets, message):
    with pytest.raises(UserError) as err:
        load_suite_with(suite, sets, None)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_errors_of_the_file_itself_name_the_file(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(SUITE.replace("beta: 0.1", "betta: 0.1"))
    with pytest.raises(UserError, match=r"bad.yaml: unknown key 'training.betta'") as err:
        load_suite_with(path, ["training.beta=0.2"], None)
    assert "--set" not in str(err.value)


def test_cli_error_exit_2_and_dry_run_records_overrides(tiny_model_dir, tmp_path, monkeypatch, capsys):
    suite = tiny_suite(tmp_path / "t.yaml", tiny_model_dir)
    code, _, err = run_cli(["run", suite, "--out", tmp_path / "r", "--set", "generation.greedyy=true"],
                           monkeypatch, capsys)
    assert code == 2 and "did you mean 'greedy'?" in err and len(err.strip().splitlines()) == 1
    code, out, err = run_cli(["run", suite, "--output-path", tmp_path / "r", "--dry-run", "--seed", "9",
                              "--set", "tasks.arc_challenge.limit=1"], monkeypatch, capsys)
    assert code == 0, err
    plan = json.loads(out)
    assert plan["cli_overrides"] == ["seed=9", "tasks.arc_challenge.limit=1"]
    assert plan["run_folder"] == str(tmp_path / "r") and plan["tasks"]["arc_challenge"]["eval_items"] == 1
    code, _, err = run_cli(["run", suite, "--out", tmp_path / "r", "-q", "-v"], monkeypatch, capsys)
    assert code == 2 and "exclude each other" in err


@pytest.mark.integration
def test_piped_run_with_overrides_writes_run_log_and_manifest(tiny_model_dir, tmp_path):
    """A real run (tiny model, one round) with stdout and stderr pipes: no live display, every console line in
    run.log, the overrides in the recorded config; resuming without them is refused as a changed config."""
    suite = tiny_suite(tmp_path / "t.yaml", tiny_model_dir, rounds=1, extra="backend: transformers")
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "harness.cli", "run", str(suite), "--output-path", str(out), "--seed", "7",
           "--set", "tasks.arc_challenge.limit=3", "--set", "mipo.sampling.greedy=false", "--set", "training.beta=0.2"]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=900, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "report:" in proc.stdout
    assert "\x1b[" not in proc.stderr and "━" not in proc.stderr and "\r" not in proc.stderr  # plain lines
    log = (out / "run.log").read_text()
    ours = [line for line in proc.stderr.splitlines() if re.match(r"\d\d:\d\d:\d\d ", line)]
    assert len(ours) >= 6
    for line in ours:  # every line the run printed is in run.log (after its HH:MM:SS)
        assert line.split(" ", 1)[1] in log, line
    assert "start: " in log and "evaluating (3)" in log and "run: step 3/3 done" in log
    manifest = json.loads((out / "manifest.json").read_text())
    cfg = manifest["config"]
    assert (cfg["seed"], cfg["training"]["seed"], cfg["training"]["beta"]) == (7, 7, 0.2)
    assert cfg["tasks"][0]["limit"] == 3 and cfg["mipo"]["sampling"]["greedy"] is False
    assert manifest["cli_overrides"] == ["seed=7", "tasks.arc_challenge.limit=3", "mipo.sampling.greedy=false",
                                         "training.beta=0.2"]
    again = subprocess.run(cmd[:7] + ["-q"], capture_output=True, text=True, timeout=300, env=env)
    assert again.returncode == 2 and "different config" in again.stderr and "seed" in again.stderr
