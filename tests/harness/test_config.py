"""Bad suite input: one line on stderr, exit code 2, with the position or a did-you-mean hint."""

from __future__ import annotations

import pytest

from harness.config import load_suite, parse_suite
from groundfloor.errors import UserError
from tests.helpers.reliability_helpers import run_cli, tiny_suite


def _error(tmp_path, text: str | bytes) -> str:
    path = tmp_path / "suite.yaml"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    with pytest.raises(UserError) as e:
        load_suite(path)
    return str(e.value)


@pytest.mark.parametrize("text, where", [
    ("models: [a\ntasks: [gsm8k]\n", "line 2, column 6"),
    ("models:\n  - a\n tasks: [gsm8k]\n", "line 3, column 2"),
    ("\tmodels: [a]\n", "line 1, column 1"),
    ("models: [a]\ntasks: [gsm8k]\nmodels: [b]\n", "line 3, column 1"),
])
def test_malformed_yaml_names_line_and_column(tmp_path, text, where):
    msg = _error(tmp_path, text)
    assert "malformed YAML" in msg and where in msg and "\n" not in msg


def test_duplicate_key_is_named(tmp_path):
    assert "duplicate key 'models'" in _error(tmp_path, "models: [a]\ntasks: [gsm8k]\nmodels: [b]\n")


def test_empty_missing_and_binary_files(tmp_path):
    assert "empty" in _error(tmp_path, "")
    assert "not UTF-8" in _error(tmp_path, b"\xff\xfe\x00")
    with pytest.raises(UserError, match="suite file not found"):
        load_suite(tmp_path / "nope.yaml")
    assert "must be a mapping" in _error(tmp_path, "- a\n- b\n")


@pytest.mark.parametrize("data, expected", [
    ({"generaton": {}}, "unknown key 'generaton'; did you mean 'generation'?"),
    ({"generation": {"max_new_token": 3}}, "unknown key 'generation.max_new_token'; did you mean 'max_new_tokens'?"),
    ({"tasks": [{"id": "gsm8k", "limt": 3}]}, "unknown key 'tasks.0.limit'".replace("limit", "limt")),
    ({"tasks": [{"id": "gsm8k", "generation": {"temprature": 1}}]}, "did you mean 'temperature'?"),
    ({"models": [{"id": "a", "dtyp": "float32"}]}, "unknown key 'models.0.dtyp'; did you mean 'dtype'?"),
    ({"mipo": {"sampling": {"gredy": True}}}, "unknown key 'mipo.sampling.gredy'; did you mean 'greedy'?"),
    ({"judge": {"modle": "x"}}, "unknown key 'judge.modle'; did you mean 'model'?"),
    ({"trainning": {}}, "did you mean 'training'?"),
])
def test_unknown_keys_suggest_the_closest(data, expected):
    with pytest.raises(UserError) as e:
        parse_suite({"models": ["a"], "tasks": ["gsm8k"], **data}, "s.yaml")
    assert expected in str(e.value)


@pytest.mark.parametrize("data, expected", [
    ({"rounds": -1}, "rounds: Input should be greater than or equal to 0"),
    ({"methods": ["mipoo"]}, "methods.0"),
    ({"models": []}, "a suite needs at least one model"),
    ({"tasks": ["gsm8k", {"id": "gsm8k", "limit": 2}]}, "task 'gsm8k' is listed twice"),
    ({"models": ["a", "a"]}, "model 'a' is listed twice"),
])
def test_invalid_values(data, expected):
    with pytest.raises(UserError) as e:
        parse_suite({"models": ["a"], "tasks": ["gsm8k"], **data}, "s.yaml")
    assert expected in str(e.value)


def test_a_single_string_is_one_task_not_its_letters():
    cfg = parse_suite({"models": "a", "tasks": "gsm8k"}, "s.yaml")
    assert [t.id for t in cfg.tasks] == ["gsm8k"] and [m.id for m in cfg.models] == ["a"]


def _cli_error(tmp_path, monkeypatch, capsys, suite_text: str, *extra) -> str:
    suite = tmp_path / "s.yaml"
    suite.write_text(suite_text)
    code, out, err = run_cli(["run", suite, "--out", tmp_path / "run", *extra], monkeypatch, capsys)
    assert code == 2, (out, err)
    assert len(err.strip().splitlines()) == 1, err
    return err


def test_cli_malformed_yaml(tmp_path, monkeypatch, capsys):
    err = _cli_error(tmp_path, monkeypatch, capsys, "models: [a\ntasks: [gsm8k]\n")
    assert "line 2, column 6" in err


def test_cli_unknown_key(tmp_path, monkeypatch, capsys):
    err = _cli_error(tmp_path, monkeypatch, capsys, "models: [a]\ntasks: [gsm8k]\nround: 2\n")
    assert "unknown key 'round'; did you mean 'rounds'?" in err


def test_cli_unknown_task(tmp_path, monkeypatch, capsys, tiny_model_dir):
    err = _cli_error(tmp_path, monkeypatch, capsys, f"models: ['{tiny_model_dir}']\ntasks: [gsm8kk]\n", "--dry-run")
    assert "unknown task 'gsm8kk'; did you mean 'gsm8k'?" in err


def test_cli_unknown_task_option(tmp_path, monkeypatch, capsys, tiny_model_dir):
    text = f"models: ['{tiny_model_dir}']\ntasks: [{{id: gsm8k, options: {{fewshots: 0}}}}]\n"
    err = _cli_error(tmp_path, monkeypatch, capsys, text, "--dry-run")
    assert "fewshots" in err and "did you mean 'fewshot'?" in err


def test_cli_unknown_model_fails_before_any_work(tmp_path, monkeypatch, capsys, tiny_model_dir):
    text = f"models: ['{tiny_model_dir}', smollm2]\ntasks: [gsm8k]\n"
    err = _cli_error(tmp_path, monkeypatch, capsys, text)
    assert "unknown model 'smollm2'" in err and "did you mean 'smollm2-135m-instruct'?" in err
    assert not (tmp_path / "run").exists()
    err = _cli_error(tmp_path, monkeypatch, capsys, "models: [./no/such/folder]\ntasks: [gsm8k]\n")
    assert "model folder not found: ./no/such/folder" in err


def test_cli_bad_device_and_limit(tmp_path, monkeypatch, capsys, tiny_model_dir):
    suite = tiny_suite(tmp_path / "s.yaml", tiny_model_dir)
    code, _, err = run_cli(["run", suite, "--device", "tpu"], monkeypatch, capsys)
    assert code == 2 and "--device must be cpu, cuda or auto" in err
    code, _, err = run_cli(["run", suite, "--limit", "0"], monkeypatch, capsys)
    assert code == 2 and "limit" in err
