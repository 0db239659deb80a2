"""Kill-and-resume on the tiny model: `kill -9` during generation, DPO, the trained model's evaluation and the
report; re-running the same command finishes the run with the same results as an uninterrupted run."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pandas as pd

REPO = Path(__file__).resolve().parents[2]
KEYS = ["model", "family", "method", "round", "task", "metric", "kind", "partial", "trained_on"]
VALUES = ["value", "ci_low", "ci_high", "n"]

SUITE = """
name: killresume
models: [{model}]
tasks:
  - {{id: gsm8k, limit: 3, options: {{fewshot: 0}}}}
  - {{id: arc_challenge, limit: 3}}
  - {{id: profile_prefs, limit: 3}}
rounds: 1
generation: {{greedy: true, max_new_tokens: 8, batch_size: 1}}
mipo: {{train_prompts_per_round: 4, diagnostics_prompts: 2, sampling: {{max_new_tokens: 8, temperature: 1.0, top_p: 1.0}}}}
training: {{per_device_batch_size: 2, gradient_accumulation_steps: 1, max_length: 768, warmup_ratio: 0.0}}
"""

# (phase, files whose appearance or change marks it, max extra delay as a fraction of the clean run's time)
PHASES = [
    ("round-0 generation", "models/*/round_0/tasks/*/samples.jsonl", 0.12),
    ("DPO training", "models/*/mipo/round_1/lineages/*/train/train_log.jsonl", 0.08),  # one lineage per task
    ("round-1 evaluation", "models/*/mipo/round_1/tasks/*/samples.jsonl", 0.15),
    ("report", ".report.tmp-*/*", 0.03),  # the report is built in a staged folder, moved into report/ at its end
]


def _env() -> dict:
    env = dict(os.environ)
    env.update(HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", TOKENIZERS_PARALLELISM="false",
               OMP_NUM_THREADS="1", PYTHONHASHSEED="0")
    return env


def _cmd(suite: Path, out: Path) -> list[str]:
    return [sys.executable, "-m", "harness.cli", "run", str(suite), "--out", str(out)]


def _snapshot(root: Path, pattern: str) -> dict:
    snap = {}
    for p in root.glob(pattern):
        try:
            st = p.stat()
        except FileNotFoundError:
            continue
        snap[str(p)] = (st.st_mtime_ns, st.st_size)
    return snap


def _kill_at(suite: Path, out: Path, pattern: str, delay: float) -> str:
    """Start a run, wait for `pattern` to appear or change, wait `delay` s more, SIGKILL it. Returns what happened."""
    before = _snapshot(out, pattern)
    proc = subprocess.Popen(_cmd(suite, out), cwd=REPO, env=_env(), stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 240
    while proc.poll() is None and time.monotonic() < deadline:
        now = _snapshot(out, pattern)
        if any(before.get(k) != v for k, v in now.items()):
            break
        time.sleep(0.02)
    end = time.monotonic() + delay
    while proc.poll() is None and time.monotonic() < end:
        time.sleep(0.01)
    if proc.poll() is not None:
        err = proc.stderr.read()
        assert proc.returncode == 0, err[-3000:]
        return "finished before the kill"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    proc.stderr.close()
    return "killed"


def _ids(path: Path, key) -> list:
    return [key(json.loads(line)) for line in path.read_text().splitlines() if line.strip()]


def _outputs(root: Path) -> dict:
    out = {}
    for p in sorted(root.glob("models/**/samples.jsonl")):
        out[str(p.relative_to(root))] = {r["id"]: r["output"] for r in map(json.loads, p.read_text().splitlines())}
    return out


def test_kill_nine_anywhere_then_resume_matches_clean_run(tmp_path, tiny_model_dir):
    suite = tmp_path / "suite.yaml"
    suite.write_text(SUITE.format(model=tiny_model_dir))

    clean = tmp_path / "clean"
    t0 = time.monotonic()
    proc = subprocess.run(_cmd(suite, clean), cwd=REPO, env=_env(), capture_output=True, text=True, timeout=300)
    duration = time.monotonic() - t0
    assert proc.returncode == 0, proc.stderr[-3000:]

    killed = tmp_path / "killed"
    rng = random.Random(20240607)
    outcomes = []
    for phase, pattern, frac in PHASES:
        delay = rng.uniform(0, frac * duration)
        outcomes.append((phase, round(delay, 2), _kill_at(suite, killed, pattern, delay)))
    print("kills:", outcomes)
    assert sum(o[2] == "killed" for o in outcomes) >= 3, outcomes
    assert (killed / ".lock").exists() or outcomes[-1][2] != "killed"  # a stale lock is left behind ...

    proc = subprocess.run(_cmd(suite, killed), cwd=REPO, env=_env(), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]  # ... and taken over
    assert not (killed / ".lock").exists()
    assert not list(killed.glob(".report.tmp-*"))  # a killed build's staged folder is cleared by the next one

    for samples in killed.glob("models/**/samples.jsonl"):
        ids = _ids(samples, lambda r: r["id"])
        assert len(ids) == len(set(ids)) == 3, (samples, Counter(ids))
    for positives in killed.glob("models/*/mipo/round_1/lineages/*/positives.jsonl"):
        keys = _ids(positives, lambda r: (r["task"], r["prompt_id"]))
        assert len(keys) == len(set(keys)), Counter(keys)
    assert _outputs(killed) == _outputs(clean)
    for task in ("gsm8k", "arc_challenge", "profile_prefs"):
        a = next(clean.glob(f"models/*/mipo/round_1/lineages/{task}/pairs.jsonl")).read_text()
        b = next(killed.glob(f"models/*/mipo/round_1/lineages/{task}/pairs.jsonl")).read_text()
        assert a == b

    ref = pd.read_csv(clean / "results.csv")
    got = pd.read_csv(killed / "results.csv")
    assert len(ref) == len(got) > 0
    merged = ref.merge(got, on=KEYS, how="outer", suffixes=("_clean", "_resumed"), indicator=True)
    assert (merged["_merge"] == "both").all(), merged[merged["_merge"] != "both"][KEYS]
    for col in VALUES:
        a, b = merged[f"{col}_clean"], merged[f"{col}_resumed"]
        same = (a == b) | (a.isna() & b.isna()) | ((a - b).abs() <= 1e-6 * b.abs().clip(lower=1))
        assert same.all(), merged.loc[~same, KEYS + [f"{col}_clean", f"{col}_resumed"]].to_string()
    assert (killed / "report" / "report.md").exists()
