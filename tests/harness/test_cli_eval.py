"""`mipo-bench eval`: round 0 only, no training, no diagnostics; bad names exit 2."""

import pandas as pd

from tests.helpers.reliability_helpers import run_cli


def test_eval_command_round0_only(tiny_model_dir, tmp_path, monkeypatch, capsys):
    out = tmp_path / "ev"
    code, stdout, err = run_cli(["eval", "--model", str(tiny_model_dir), "--tasks", "arc_challenge,profile_prefs",
                                 "--limit", "2", "--out", str(out)], monkeypatch, capsys)
    assert code == 0, err
    assert "report:" in stdout
    df = pd.read_csv(out / "results.csv")
    assert set(df["round"]) == {0} and set(df["method"]) == {"prompting"}
    assert set(df["kind"]) == {"eval"} and set(df["task"]) == {"arc_challenge", "profile_prefs"}
    assert (df[df["metric"].isin(["accuracy", "honoured"])]["n"] == 2).all()


def test_eval_unknown_task_exit_2(tiny_model_dir, tmp_path, monkeypatch, capsys):
    code, _, err = run_cli(["eval", "--model", str(tiny_model_dir), "--tasks", "arc_chalenge", "--out",
                            str(tmp_path / "x")], monkeypatch, capsys)
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert code == 2 and len(errors) == 1 and "did you mean 'arc_challenge'" in errors[0]
