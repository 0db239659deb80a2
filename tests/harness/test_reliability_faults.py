"""Faults: corrupt downloads, a full disk mid-run, NaN losses, empty or enormous outputs.

The model cache's faults are in test_reliability_cache.py.
"""

from __future__ import annotations

import errno
import json
import zipfile
from pathlib import Path

import pandas as pd
import pytest

import groundfloor.pypi_fetch as pypi_fetch
import groundfloor.rundir as rundir
from groundfloor.backends.base import GenParams
from groundfloor.backends.fake import FakeBackend
from groundfloor.errors import UserError
from harness.evaluation.evaluate import MAX_OUTPUT_CHARS, evaluate_task
from tests.helpers.reliability_helpers import run_cli, tiny_suite

GOOD = b"GGUF" + bytes(range(256)) * 8


def _wheel(path: Path, member: str, data: bytes) -> Path:
    with zipfile.ZipFile(path, "w") as z:
        z.writestr(member, data)
        z.writestr("fakepkg-1.0.dist-info/METADATA", "Name: fakepkg\n")
    return path


class _FakePip:
    """Stands in for `pip download`: fails `fail` times, then writes a good wheel into -d."""

    def __init__(self, fail: int = 0):
        self.fail, self.calls = fail, 0

    def __call__(self, cmd, capture_output=True, text=True):
        self.calls += 1
        dest = Path(cmd[cmd.index("-d") + 1])
        if self.calls <= self.fail:
            return type("P", (), {"returncode": 1, "stderr": "ERROR: network is unreachable\n"})()
        _wheel(dest / "fakepkg-1.0-py3-none-any.whl", "fakepkg/model.bin", GOOD)
        return type("P", (), {"returncode": 0, "stderr": ""})()


def test_partial_wheel_is_downloaded_again(tmp_path, monkeypatch):
    good = _wheel(tmp_path / "w.whl", "fakepkg/model.bin", GOOD).read_bytes()
    dest = tmp_path / "wheels"
    dest.mkdir()
    (dest / "fakepkg-1.0-py3-none-any.whl").write_bytes(good[: len(good) // 2])  # a killed download
    pip = _FakePip()
    monkeypatch.setattr(pypi_fetch.subprocess, "run", pip)
    wheel = pypi_fetch.download_wheel("fakepkg", "1.0", dest)
    assert pip.calls == 1 and pypi_fetch.wheel_ok(wheel)


def test_corrupt_member_is_detected(tmp_path):
    wheel = _wheel(tmp_path / "fakepkg-1.0-py3-none-any.whl", "fakepkg/model.bin", GOOD)
    raw = bytearray(wheel.read_bytes())
    at = raw.index(GOOD[100:140])  # stored uncompressed: flip bytes inside the member's data
    raw[at:at + 8] = b"\x00" * 8
    wheel.write_bytes(bytes(raw))
    assert not pypi_fetch.wheel_ok(wheel)
    assert pypi_fetch._find_ok(tmp_path, "fakepkg", "1.0") is None and not wheel.exists()


def test_download_succeeding_on_the_last_try_is_used(tmp_path, monkeypatch):
    pip = _FakePip(fail=2)
    monkeypatch.setattr(pypi_fetch.subprocess, "run", pip)
    assert pypi_fetch.download_wheel("fakepkg", "1.0", tmp_path / "w", retries=2).exists()
    pip = _FakePip(fail=5)
    monkeypatch.setattr(pypi_fetch.subprocess, "run", pip)
    with pytest.raises(UserError, match="network is unreachable"):
        pypi_fetch.download_wheel("fakepkg", "1.0", tmp_path / "w2", retries=2)
    assert pip.calls == 3


def test_full_disk_mid_run_is_exit_1_and_the_run_resumes(tmp_path, tiny_model_dir, monkeypatch, capsys):
    suite = tiny_suite(tmp_path / "s.yaml", tiny_model_dir, tasks="[{id: arc_challenge, limit: 3}]")
    out = tmp_path / "run"
    real_open = open
    appended = []

    def filling_open(path, mode="r", **kw):
        if "a" in mode and Path(path).name == "samples.jsonl":
            appended.append(path)
            if len(appended) == 2:  # the second item hits a full disk mid-line
                from tests.helpers.full_disk import FullDisk as _FullDisk

                return _FullDisk(path, mode, **kw)
        return real_open(path, mode, **kw)

    with monkeypatch.context() as m:
        m.setattr(rundir, "open", filling_open, raising=False)
        code, _, err = run_cli(["run", suite, "--out", out], monkeypatch, capsys)
    assert code == 1 and "disk full" in err and "re-run" in err, err
    samples = next(out.glob("models/*/round_0/tasks/arc_challenge/samples.jsonl"))
    assert not samples.read_text().endswith("\n")  # a torn line on disk
    assert not (out / ".lock").exists()

    code, _, err = run_cli(["run", suite, "--out", out], monkeypatch, capsys)
    assert code == 0, err
    ids = [json.loads(line)["id"] for line in samples.read_text().splitlines()]
    assert len(ids) == len(set(ids)) == 3


def test_full_disk_outside_the_run_folder_helpers_is_a_run_failure(tmp_path, tiny_model_dir, monkeypatch, capsys):
    import harness.run.runner as runner

    def full(*a, **k):
        raise OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "x"))

    monkeypatch.setattr(runner, "write_results", full)
    suite = tiny_suite(tmp_path / "s.yaml", tiny_model_dir)
    code, _, err = run_cli(["run", suite, "--out", tmp_path / "run"], monkeypatch, capsys)
    assert code == 1 and "disk full" in err


def test_nan_loss_stops_the_round_and_keeps_the_previous_checkpoint(tmp_path, tiny_model_dir, monkeypatch):
    from trl import DPOTrainer

    from harness.config import load_suite
    from harness.run.runner import RunOptions, SuiteRunner

    real = DPOTrainer.compute_loss

    def nan_loss(self, *args, **kwargs):
        out = real(self, *args, **kwargs)
        if isinstance(out, tuple):
            return (out[0] * float("nan"), *out[1:])
        return out * float("nan")

    monkeypatch.setattr(DPOTrainer, "compute_loss", nan_loss)
    suite = tiny_suite(tmp_path / "s.yaml", tiny_model_dir,
                       tasks="[{id: arc_challenge, limit: 2}, {id: profile_prefs, limit: 2}]", rounds=1)
    suite.write_text(suite.read_text().replace("max_length: 768", "max_length: 768, scope: joint"))  # one policy
    out = tmp_path / "run"
    logs = []
    runner = SuiteRunner(load_suite(suite), RunOptions(out=out, report=False))
    monkeypatch.setattr(runner, "log", logs.append)
    runner.execute()

    round_dir = next(out.glob("models/*/mipo/round_1"))
    summary = json.loads((round_dir / "train_summary.json").read_text())
    assert summary["nonfinite_loss"] is True
    assert summary["policy"] == {"base": str(Path(tiny_model_dir).resolve()), "adapter": None}
    assert not (round_dir / "train" / "checkpoint").exists()
    assert any("NaN/inf" in m and "kept the previous checkpoint" in m for m in logs)
    df = pd.read_csv(out / "results.csv")
    row = df[(df["task"] == "_train") & (df["metric"] == "nonfinite_loss")]
    assert len(row) == 1 and row["value"].iloc[0] == 1.0 and row["round"].iloc[0] == 1
    # round 1 evaluated the previous (untrained) policy, so its outputs equal round 0's
    r0 = next(out.glob("models/*/round_0/tasks/arc_challenge/samples.jsonl")).read_text()
    r1 = (round_dir / "tasks" / "arc_challenge" / "samples.jsonl").read_text()
    assert [json.loads(x)["output"] for x in r0.splitlines()] == [json.loads(x)["output"] for x in r1.splitlines()]


@pytest.fixture(scope="module")
def task_items():
    from tasks.registry import TaskRegistry

    reg = TaskRegistry()
    out = {}
    for tid, opts in (("gsm8k", {"fewshot": 0}), ("arc_challenge", {}), ("profile_prefs", {})):
        task = reg.get(tid, opts)
        out[tid] = (task, task.load(offline=True).eval_items[:3])
    return out


@pytest.mark.parametrize("tid", ["gsm8k", "arc_challenge", "profile_prefs"])
@pytest.mark.parametrize("text", ["", "   \n", "7" * (MAX_OUTPUT_CHARS * 3), "é😀" * MAX_OUTPUT_CHARS])
def test_empty_or_enormous_outputs_are_scored_and_stored(tmp_path, task_items, tid, text):
    task, items = task_items[tid]
    if task.loglik_requests(items[0], FakeBackend()) is not None:
        pytest.skip("scored by log-likelihood, not generation")
    metrics = evaluate_task(FakeBackend(lambda prompt: text), task, items, GenParams(), tmp_path / tid,
                            {"model": "fake", "family": "fake", "method": "prompting", "round": 0}).record
    rows = [json.loads(line) for line in (tmp_path / tid / "samples.jsonl").read_text().splitlines()]
    assert len(rows) == len(items)
    for r in rows:
        assert len(r["output"]) <= MAX_OUTPUT_CHARS
        assert r["truncated_output"] == (len(text) > MAX_OUTPUT_CHARS)
        assert 0.0 <= float(r["score"]) <= 1.0
    main = metrics["metrics"][task.metric]
    assert main["n"] == len(items) and 0.0 <= main["value"] <= 1.0
