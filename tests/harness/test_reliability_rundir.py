"""Integrity of the run folder: atomic writes, torn JSONL lines, the run lock, resuming a changed config."""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
import time

import pytest

import groundfloor.locks as locks
import groundfloor.rundir as rundir
from groundfloor.errors import RunFailure, UserError
from harness.run.manifest import changed_keys
from groundfloor.rundir import RunLock, append_jsonl, atomic_write_json, atomic_write_text, read_jsonl
from tests.helpers.full_disk import FullDisk as _FullDisk
from tests.helpers.reliability_helpers import run_cli, tiny_suite


def _no_temp_files(folder) -> bool:
    return not [p for p in folder.iterdir() if ".tmp" in p.name]


def test_atomic_write_keeps_the_old_file_when_the_rename_fails(tmp_path, monkeypatch):
    path = tmp_path / "metrics.json"
    atomic_write_json(path, {"v": 1})

    def broken_replace(src, dst):
        raise PermissionError(errno.EACCES, "denied")

    monkeypatch.setattr(rundir.os, "replace", broken_replace)
    with pytest.raises(PermissionError):
        atomic_write_json(path, {"v": 2})
    assert json.loads(path.read_text()) == {"v": 1}
    assert _no_temp_files(tmp_path)


def test_full_disk_during_atomic_write_is_a_run_failure_and_keeps_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "results.csv"
    atomic_write_text(path, "a,b\n1,2\n")
    monkeypatch.setattr(rundir, "open", _FullDisk, raising=False)
    with pytest.raises(RunFailure, match="disk full"):
        atomic_write_text(path, "a,b\n3,4\n")
    assert path.read_text() == "a,b\n1,2\n"
    assert _no_temp_files(tmp_path)


def test_full_disk_during_append_leaves_a_torn_line_that_resume_drops(tmp_path, monkeypatch):
    path = tmp_path / "samples.jsonl"
    append_jsonl(path, {"id": "a"})
    with monkeypatch.context() as m:
        m.setattr(rundir, "open", _FullDisk, raising=False)
        with pytest.raises(RunFailure, match="disk full"):
            append_jsonl(path, {"id": "b", "output": "x" * 50})
    assert not path.read_text().endswith("\n")
    assert read_jsonl(path) == [{"id": "a"}]
    append_jsonl(path, {"id": "b"})
    assert [r["id"] for r in read_jsonl(path)] == ["a", "b"]


def test_read_jsonl_truncates_a_torn_last_line(tmp_path):
    path = tmp_path / "samples.jsonl"
    path.write_text('{"id": "1"}\n{"id": "2"}\n{"id": "3", "outp')
    assert [r["id"] for r in read_jsonl(path)] == ["1", "2"]
    assert path.read_text() == '{"id": "1"}\n{"id": "2"}\n'
    append_jsonl(path, {"id": "3"})
    assert [r["id"] for r in read_jsonl(path)] == ["1", "2", "3"]


def test_read_jsonl_skips_a_damaged_complete_line_and_keeps_the_rest(tmp_path):
    path = tmp_path / "samples.jsonl"
    path.write_text('{"id": "1"}\n{"id": "2", "out{"id": "x"}\n\n[1]\n{"id": "3"}\n')
    assert [r["id"] for r in read_jsonl(path)] == ["1", "3"]
    assert read_jsonl(tmp_path / "missing.jsonl") == []


def test_second_lock_in_use_then_free(tmp_path):
    with RunLock(tmp_path):
        with pytest.raises(UserError, match=f"in use by pid {os.getpid()}"):
            RunLock(tmp_path).acquire()
    assert not (tmp_path / ".lock").exists()
    with RunLock(tmp_path) as lock:
        assert lock.held


HOLD = """
import sys, time
from pathlib import Path
from groundfloor.rundir import RunLock
RunLock(Path(sys.argv[1])).acquire()
print("locked", flush=True)
time.sleep(60)
"""


def test_second_process_refuses_and_a_killed_holder_leaves_a_stale_lock(tmp_path, tiny_model_dir, monkeypatch,
                                                                          capsys):
    out = tmp_path / "run"
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(out)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        suite = tiny_suite(tmp_path / "s.yaml", tiny_model_dir)
        code, _, err = run_cli(["run", suite, "--out", out], monkeypatch, capsys)
        assert code == 2 and f"in use by pid {holder.pid}" in err and len(err.strip().splitlines()) == 1
    finally:
        holder.kill()
        holder.wait()
        holder.stdout.close()
    assert json.loads((out / ".lock").read_text())["pid"] == holder.pid  # stale: its process is gone
    with RunLock(out) as lock:
        assert lock.held
        assert json.loads((out / ".lock").read_text())["pid"] == os.getpid()


def test_a_lock_from_another_host_is_not_taken_over(tmp_path):
    (tmp_path / ".lock").write_text(json.dumps({"pid": 1234, "host": "elsewhere"}))
    with pytest.raises(UserError, match="locked by pid 1234 on elsewhere; remove"):
        RunLock(tmp_path).acquire()


def test_pid_fallback_without_fcntl(tmp_path, monkeypatch):
    monkeypatch.setattr(locks, "fcntl", None)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (tmp_path / ".lock").write_text(json.dumps({"pid": dead.pid, "host": locks.socket.gethostname()}))
    with RunLock(tmp_path):  # stale: the pid is dead
        with pytest.raises(UserError, match=f"in use by pid {os.getpid()}"):
            RunLock(tmp_path).acquire()
    assert not (tmp_path / ".lock").exists()


def test_changed_keys_names_nested_and_list_entries():
    old = {"rounds": 1, "tasks": [{"id": "gsm8k", "limit": 3}], "generation": {"seed": 1}}
    new = {"rounds": 2, "tasks": [{"id": "gsm8k", "limit": 5}], "generation": {"seed": 1}}
    assert changed_keys(old, new) == ["rounds", "tasks.0.limit"]


def test_resuming_with_a_changed_config_is_refused(tmp_path, tiny_model_dir, monkeypatch, capsys):
    suite = tiny_suite(tmp_path / "s.yaml", tiny_model_dir)
    out = tmp_path / "run"
    code, _, err = run_cli(["run", suite, "--out", out], monkeypatch, capsys)
    assert code == 0, err
    samples = out.glob("models/*/round_0/tasks/arc_challenge/samples.jsonl")
    first = next(samples).read_text()

    code, _, err = run_cli(["run", suite, "--out", out], monkeypatch, capsys)  # same config: resumes, no work
    assert code == 0, err
    assert next(out.glob("models/*/round_0/tasks/arc_challenge/samples.jsonl")).read_text() == first

    tiny_suite(suite, tiny_model_dir, tasks="[{id: arc_challenge, limit: 3}]")
    for args in (["run", suite, "--out", out], ["run", suite, "--out", out, "--dry-run"]):
        code, _, err = run_cli(args, monkeypatch, capsys)
        assert code == 2 and "tasks.0.limit" in err and "--new-run" in err, err
        assert len(err.strip().splitlines()) == 1
    tiny_suite(suite, tiny_model_dir)
    code, _, err = run_cli(["run", suite, "--out", out, "--limit", "1"], monkeypatch, capsys)
    assert code == 2 and "cli_limit" in err

    time.sleep(1.1)  # --new-run names the fresh folder by the second
    tiny_suite(suite, tiny_model_dir, tasks="[{id: arc_challenge, limit: 3}]")
    code, out_text, err = run_cli(["run", suite, "--out", out, "--new-run"], monkeypatch, capsys)
    assert code == 0, err
    fresh = [p for p in tmp_path.iterdir() if p.name.startswith("run-")]
    assert len(fresh) == 1 and (fresh[0] / "results.csv").exists()
    assert next(out.glob("models/*/round_0/tasks/arc_challenge/samples.jsonl")).read_text() == first
