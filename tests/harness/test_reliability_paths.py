"""Names that become paths, output-path checks, sealed checkpoints, stale temp files, moved run folders."""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
import sys

import pytest

import groundfloor.locks as locks
from groundfloor.errors import UserError
from groundfloor.outpaths import check_out_dir, check_out_file
from groundfloor.rundir import RunDir, RunLock, clean_stale_tmp, from_run_relative, legacy_slug, run_relative, slug
from groundfloor.seal import seal_folder, sealed_problem
from tests.helpers.reliability_helpers import run_cli, tiny_suite


def test_lossy_names_get_distinct_folders_and_safe_names_keep_theirs():
    assert slug("team/model") != slug("team_model") == "team_model"
    assert slug("smollm2-135m-instruct") == "smollm2-135m-instruct"  # existing run folders keep their paths
    names = ["team/model", "team_model", "team model", "team:model", "/abs/team/model", "../../x", "é", "m" * 5000]
    folders = [slug(n) for n in names]
    assert len(set(folders)) == len(names)
    assert all(len(f) <= 80 and f[0].isalnum() and "/" not in f and ".." not in f for f in folders)


def test_two_models_of_one_lossy_name_write_to_two_folders(tmp_path):
    run = RunDir(tmp_path / "run")
    folders = run.check_names(["team/model", "team_model"], ["gsm8k"])
    a = run.task_dir("team/model", "mipo", 1, "gsm8k")
    b = run.task_dir("team_model", "mipo", 1, "gsm8k")
    assert a != b and a.parent.parent.parent.parent.name == folders["team/model"]


def test_names_sharing_a_folder_are_refused(tmp_path):
    run = RunDir(tmp_path / "run")
    with pytest.raises(UserError, match="would share the folder"):
        run.check_names(["Model", "model"], ["gsm8k"])  # one folder on case-insensitive disks
    with pytest.raises(UserError, match="would share the folder"):
        run.check_names(["team/model", slug("team/model")], ["gsm8k"])  # a name spelling another's folder
    with pytest.raises(UserError, match="would share the folder"):
        run.check_names(["m"], ["GSM8K", "gsm8k"])


@pytest.mark.parametrize("task", ["../../../escaped", "a/b", "/abs", "..", ".hidden", "", "x" * 65, "tab\tid"])
def test_task_ids_that_would_leave_the_run_folder_are_refused(tmp_path, task):
    run = RunDir(tmp_path / "run")
    with pytest.raises(UserError, match="is not valid"):
        run.task_dir("m", "mipo", 1, task)
    with pytest.raises(UserError, match="is not valid"):
        run.check_names(["m"], [task])


def test_a_user_task_with_a_traversing_id_writes_nothing(tmp_path, monkeypatch, capsys):
    folder = tmp_path / "user"
    folder.mkdir()
    (folder / "t.py").write_text("from tasks.base import Task\n\nclass T(Task):\n    id = '../../../escaped'\n"
                                 "    family = 'math'\n    def messages(self, item, with_context=True): return []\n"
                                 "    def score(self, output, item): return None\n"
                                 "    def gold_output(self, item): return ''\n")
    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text('{"model_type": "llama"}')
    suite = tmp_path / "s.yaml"
    suite.write_text(f'models: ["{model}"]\ntasks: [gsm8k]\ninclude: [user]\nrounds: 0\n')
    code, _, err = run_cli(["run", suite, "--out", tmp_path / "a" / "b" / "run"], monkeypatch, capsys)
    assert code == 2 and "'../../../escaped' is not valid" in err and str(folder / "t.py") in err
    assert not (tmp_path / "escaped").exists() and not list(tmp_path.glob("a/escaped*"))


def test_a_legacy_run_folder_keeps_its_folder_names(tmp_path):
    root = tmp_path / "old"
    root.mkdir()
    (root / "manifest.json").write_text(json.dumps({"config": {}, "config_hash": "x"}))  # no "layout": written before
    run = RunDir(root)
    assert run.layout == 1 and run.model_dir("org/model").name == legacy_slug("org/model") == "org_model"
    with pytest.raises(UserError, match="predates unique model folders; use --new-run"):
        run.check_names(["org/model", "org_model"], ["gsm8k"])
    assert RunDir(tmp_path / "new").model_dir("org/model").name == slug("org/model")


def test_out_paths(tmp_path, monkeypatch):
    (tmp_path / "f").write_text("x")
    assert check_out_dir(tmp_path / "new" / "deeper") == tmp_path / "new" / "deeper"
    assert check_out_file(tmp_path / "new" / "x.jsonl") == tmp_path / "new" / "x.jsonl"
    with pytest.raises(UserError, match="is a file, not a folder"):
        check_out_dir(tmp_path / "f")
    with pytest.raises(UserError, match="is a folder; give a file path"):
        check_out_file(tmp_path)
    with pytest.raises(UserError, match="allows at most 255"):
        check_out_file(tmp_path / ("n" * 256))
    real = os.access
    monkeypatch.setattr(os, "access", lambda p, mode: False if str(p) == str(tmp_path) else real(p, mode))
    with pytest.raises(UserError, match=f"no permission to write in {tmp_path}"):
        check_out_dir(tmp_path / "a" / "b")  # the nearest existing folder decides


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_read_only_folder_is_refused_by_the_dry_run(tmp_path, tiny_model_dir, monkeypatch, capsys):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    suite = tiny_suite(tmp_path / "s.yaml", tiny_model_dir)
    code, _, err = run_cli(["run", suite, "--out", ro / "run", "--dry-run"], monkeypatch, capsys)
    assert code == 2 and "no permission to write in" in err


def test_an_unforeseen_os_error_is_one_line_and_exit_1(tmp_path, monkeypatch, capsys):
    import reports.build

    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "results.csv").write_text("model,family,method,round,task,metric,value,ci_low,ci_high,n,"
                                                  "kind,partial\n")

    def broken(*a, **k):
        raise OSError(errno.EIO, "Input/output error", str(tmp_path / "run" / "report"))

    monkeypatch.setattr(reports.build, "build_report", broken)
    code, _, err = run_cli(["report", tmp_path / "run"], monkeypatch, capsys)
    assert code == 1 and err.strip() == f"error: Input/output error: {tmp_path / 'run' / 'report'}"


def test_a_lock_that_fails_for_another_reason_says_so(tmp_path, monkeypatch):
    def no_locks(fd, op):
        raise OSError(errno.ENOLCK, "No locks available")

    monkeypatch.setattr(locks.fcntl, "flock", no_locks)
    with pytest.raises(UserError, match=r"cannot lock .*No locks available \(ENOLCK\).*local disk"):
        RunLock(tmp_path / "run").acquire()


def test_sealed_folder_detects_a_missing_or_changed_file(tmp_path):
    ckpt = tmp_path / "checkpoint"
    (ckpt / "sub").mkdir(parents=True)
    (ckpt / "adapter_model.safetensors").write_bytes(b"w" * 100)
    (ckpt / "sub" / "tokenizer.json").write_text("{}")
    shas = seal_folder(ckpt)
    assert set(shas) == {"adapter_model.safetensors", "sub/tokenizer.json"}
    assert sealed_problem(ckpt, shas) is None
    (ckpt / "sub" / "tokenizer.json").write_text("{ }")
    assert "does not match the sha256" in sealed_problem(ckpt, shas)
    (ckpt / "sub" / "tokenizer.json").unlink()
    assert "is missing" in sealed_problem(ckpt, shas)
    assert "is missing" in sealed_problem(tmp_path / "nothing", shas)
    assert "no recorded sha256" in sealed_problem(ckpt, None)


def test_run_relative_paths_survive_moving_the_run_folder(tmp_path, monkeypatch):
    root = tmp_path / "runs" / "a"
    ckpt = root / "models" / "m" / "mipo" / "round_1" / "train" / "checkpoint"
    ckpt.mkdir(parents=True)
    stored = run_relative(ckpt, root)
    assert stored == "models/m/mipo/round_1/train/checkpoint"
    assert run_relative("/elsewhere/base", root) == "/elsewhere/base"  # outside the run: kept absolute
    shutil.move(str(root), str(tmp_path / "moved"))
    monkeypatch.chdir(tmp_path / "runs")
    assert from_run_relative(stored, tmp_path / "moved") == str(tmp_path / "moved" / stored)
    assert os.path.isdir(from_run_relative(stored, tmp_path / "moved"))
    (tmp_path / "runs" / "legacy").mkdir()  # older summaries stored paths relative to the working folder
    assert from_run_relative("legacy", tmp_path / "moved") == "legacy"


def test_stale_temp_files_of_dead_processes_are_removed(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    sub = tmp_path / "models" / "m"
    sub.mkdir(parents=True)
    stale = [sub / f".samples.jsonl.tmp-{dead.pid}", tmp_path / f".manifest.json.tmp-{dead.pid}"]
    stale_dir = sub / f".safetensors.tmp-{dead.pid}"
    live = [sub / f".x.tmp-{os.getpid()}", sub / f".y.tmp-{os.getppid()}", sub / "notes.tmp-abc"]
    for p in stale + live:
        p.write_text("x")
    stale_dir.mkdir()
    (stale_dir / "w").write_text("x")
    removed = clean_stale_tmp(tmp_path)
    assert sorted(removed) == sorted(stale + [stale_dir])
    assert all(p.exists() for p in live) and not any(p.exists() for p in stale + [stale_dir])


def test_a_moved_run_folder_resumes_from_another_working_folder(tmp_path, tiny_model_dir, monkeypatch, capsys):
    (tmp_path / "suites").mkdir()
    suite = tiny_suite(tmp_path / "suites" / "s.yaml", tiny_model_dir)
    monkeypatch.chdir(tmp_path)
    code, _, err = run_cli(["run", "suites/s.yaml", "--out", "runs/first"], monkeypatch, capsys)
    assert code == 0, err
    samples = next((tmp_path / "runs" / "first").glob("models/*/round_0/tasks/arc_challenge/samples.jsonl"))
    before = samples.read_text()
    shutil.move(str(tmp_path / "runs"), str(tmp_path / "elsewhere"))
    (tmp_path / "cwd").mkdir()
    monkeypatch.chdir(tmp_path / "cwd")
    code, _, err = run_cli(["run", suite, "--out", "../elsewhere/first"], monkeypatch, capsys)
    assert code == 0 and "already evaluated" in err, err
    moved = next((tmp_path / "elsewhere" / "first").glob("models/*/round_0/tasks/arc_challenge/samples.jsonl"))
    assert moved.read_text() == before


def test_a_moved_trained_run_resumes_and_a_damaged_checkpoint_is_refused(tmp_path, tiny_model_dir, monkeypatch,
                                                                         capsys):
    suite = tmp_path / "s.yaml"
    suite.write_text(f"""
name: tiny
models: ["{tiny_model_dir}"]
tasks: [{{id: gsm8k, limit: 2, options: {{fewshot: 0}}}}]
rounds: 1
generation: {{greedy: true, max_new_tokens: 8, batch_size: 2}}
mipo: {{train_prompts_per_round: 4, diagnostics_prompts: 0, sampling: {{max_new_tokens: 8, temperature: 1.0, top_p: 1.0}}}}
training: {{per_device_batch_size: 2, gradient_accumulation_steps: 1, max_length: 256, warmup_ratio: 0.0}}
""")
    code, _, err = run_cli(["run", suite, "--out", tmp_path / "first"], monkeypatch, capsys)
    assert code == 0, err
    summary_path = next((tmp_path / "first").glob("models/*/mipo/round_1/**/train_summary.json"))
    summary = json.loads(summary_path.read_text())
    ckpt_rel = summary["policy"]["adapter"] or summary["policy"]["base"]
    assert not os.path.isabs(ckpt_rel) and ckpt_rel.endswith("train/checkpoint")  # stored relative to the run root
    assert summary["checkpoint_sha256"] and all(len(v) == 64 for v in summary["checkpoint_sha256"].values())
    shutil.move(str(tmp_path / "first"), str(tmp_path / "moved"))
    monkeypatch.chdir(tiny_model_dir.parent)
    code, _, err = run_cli(["run", suite, "--out", tmp_path / "moved"], monkeypatch, capsys)
    assert code == 0 and "already trained" in err, err
    weights = sorted((tmp_path / "moved" / ckpt_rel).glob("*.safetensors"))[0]
    weights.write_bytes(weights.read_bytes()[:-8] + b"damaged!")
    code, _, err = run_cli(["run", suite, "--out", tmp_path / "moved"], monkeypatch, capsys)
    assert code == 1 and "does not match the sha256" in err and "Traceback" not in err, err
    assert len(err.strip().splitlines()[-1]) < 400


def test_include_is_relative_to_the_suite_file(tmp_path, tiny_model_dir, monkeypatch, capsys):
    (tmp_path / "proj" / "my_tasks").mkdir(parents=True)
    (tmp_path / "proj" / "my_tasks" / "bad.py").write_text("raise RuntimeError('imported from the suite folder')\n")
    suite = tiny_suite(tmp_path / "proj" / "s.yaml", tiny_model_dir, extra="include: [my_tasks]")
    monkeypatch.chdir(tmp_path)  # not the suite's folder
    code, _, err = run_cli(["run", suite, "--out", tmp_path / "run", "--dry-run"], monkeypatch, capsys)
    assert code == 2 and "my_tasks/bad.py: failed to import (RuntimeError: imported from the suite folder)" in err
