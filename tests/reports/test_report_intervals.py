"""Reports and `compare` never print a zero-width interval at n > 0, show McNemar's discordant counts beside
every paired 0/1 gain, and pair the PMI diagnostic's rounds on the same prompts."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd

from groundfloor.results import COLUMNS
from groundfloor.rundir import RunDir
from groundfloor.stats import mean_interval
from reports.build import build_report
from reports.compare import compare_runs
from reports.pmi import pmi_changes
from reports.load import load_results, open_runs

N = 10
# task -> (round-0 scores, round-1 scores, users): no change, one discordant pair, graded and clustered no change
TASKS = {"flat_mcq": ([0.0] * N, [0.0] * N, None),
         "one_flip": ([0.0] * N, [1.0] + [0.0] * (N - 1), None),
         "flat_pref": ([0.5] * N, [0.5] * N, [f"u{i % 3}" for i in range(N)]),
         "flat_users": ([1.0] * N, [1.0] * N, [f"u{i % 2}" for i in range(N)])}


def _diag(run: RunDir, k: int, per_prompt: list[dict]) -> dict:
    """Write round k's diagnostics.json for task flat_mcq; return its results.csv row of the summed PMI."""
    folder = run.round_dir("m", "prompting" if k == 0 else "mipo", k) / "diagnostics" / "flat_mcq"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "diagnostics.json").write_text(json.dumps({"per_prompt": per_prompt}))
    v, lo, hi, _ = mean_interval([r["pmi"] for r in per_prompt])
    return {"metric": "pmi", "value": v, "ci_low": lo, "ci_high": hi, "n": len(per_prompt), "kind": "diagnostic"}


def make_flat_run(root: Path, pmi: tuple[list[float], list[float]] | None = None) -> Path:
    """A run of one model, round 0 and mipo round 1, whose results.csv has only the oldest columns."""
    run = RunDir(root)
    rows = []
    for k, method in ((0, "prompting"), (1, "mipo")):
        base = {"model": "m", "family": "f", "method": method, "round": k, "partial": False}
        for task, (s0, s1, users) in TASKS.items():
            scores = s1 if k else s0
            path = run.task_dir("m", method, k, task) / "samples.jsonl"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("".join(json.dumps({"id": f"q{i}", "score": s, "user": users[i] if users else None}) + "\n"
                                    for i, s in enumerate(scores)))
            v, lo, hi, _ = mean_interval(scores, clusters=users)
            rows.append({**base, "task": task, "metric": "accuracy", "value": v, "ci_low": lo, "ci_high": hi, "n": N,
                         "kind": "eval"})
        if pmi is not None:
            recs = [{"id": f"d{i}", "pmi": p, "response_tokens": 10, "pmi_per_token": p / 10}
                    for i, p in enumerate(pmi[k])]
            rows.append({**base, "task": "flat_mcq", **_diag(run, k, recs)})
    pd.DataFrame(rows, columns=COLUMNS).to_csv(run.results, index=False)
    run.manifest.write_text(json.dumps({"seed": 0, "models": {}, "tasks": {}}))
    return root


CI = re.compile(r"\[([+-]?\d+\.\d+)%?, ([+-]?\d+\.\d+)%?\]")


def _zero_width(text: str) -> list[str]:
    return [m.group(0) for m in CI.finditer(text) if m.group(1).lstrip("+-") == m.group(2).lstrip("+-")
            and float(m.group(1)) == float(m.group(2))]


def test_no_report_path_prints_a_zero_width_interval(tmp_path):
    run = make_flat_run(tmp_path / "run")
    out = tmp_path / "report"
    build_report([run], out)
    md, page = (out / "report.md").read_text(), (out / "index.html").read_text()
    assert "Headline" in md and len(CI.findall(md)) >= 12
    assert _zero_width(md) == [] and _zero_width(page) == []
    gains = pd.read_csv(out / "gains.csv").set_index("task")
    assert (gains["ci_high"] > gains["ci_low"]).all() and (gains["n"] == N).all()
    assert dict(gains["ci_method"]) == {"flat_mcq": "newcombe10", "one_flip": "newcombe10",
                                        "flat_pref": "bootstrap+wilson-floor",
                                        "flat_users": "bootstrap+newcombe10-floor"}
    cli = subprocess.run([sys.executable, "-m", "harness.cli", "compare", str(run), str(run)], capture_output=True,
                         text=True, timeout=120)
    assert cli.returncode == 0, cli.stderr
    assert _zero_width(cli.stdout) == [] and len(CI.findall(cli.stdout)) == 2 * len(TASKS)  # prompting, mipo
    cmp = compare_runs(run, run)
    assert (cmp["ci_high"] > cmp["ci_low"]).all()


def test_discordant_counts_beside_every_paired_binary_gain(tmp_path):
    run = make_flat_run(tmp_path / "run")
    out = tmp_path / "report"
    build_report([run], out)
    head = [line for line in (out / "report.md").read_text().splitlines() if "| one_flip " in line]
    assert head and "| 1 / 0 " in head[0]  # 1 item 0 → 1, none 1 → 0
    assert "improved / broken" in (out / "index.html").read_text()
    gains = pd.read_csv(out / "gains.csv").set_index("task")
    assert (gains.loc["one_flip", "improved"], gains.loc["one_flip", "broken"]) == (1, 0)
    assert pd.isna(gains.loc["flat_pref", "improved"])  # graded: no discordant counts


def _flipped(tmp_path: Path) -> tuple[Path, Path]:
    """Runs A and B alike but for B's round-1 one_flip: it breaks item q0 (1 → 0 against A), fixes q1 and q2."""
    a, b = make_flat_run(tmp_path / "a"), make_flat_run(tmp_path / "b")
    path = open_runs([b])[0].samples_path("m", "mipo", 1, "one_flip")
    scores = [0.0, 1.0, 1.0] + [0.0] * (N - 3)
    path.write_text("".join(json.dumps({"id": f"q{i}", "score": s}) + "\n" for i, s in enumerate(scores)))
    return a, b


def test_compare_counts_items_improved_and_broken(tmp_path):
    a, b = _flipped(tmp_path)
    row = compare_runs(a, b).set_index(["method", "task"]).loc[("mipo", "one_flip")]
    assert (row["improved"], row["broken"], row["ci_method"]) == (2, 1, "newcombe10")
    assert abs(row["gain"] - 0.1) < 1e-12
    cli = [sys.executable, "-m", "harness.cli", "compare", str(a), str(b)]
    res = subprocess.run(cli, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert "improved/broken" in res.stdout
    assert "2 / 1" in next(x for x in res.stdout.splitlines() if "one_flip" in x and "mipo" in x)
    res = subprocess.run(cli + ["--json", "--csv", str(tmp_path / "cmp.csv")], capture_output=True, text=True,
                         timeout=120)
    assert res.returncode == 0, res.stderr
    rows = {(r["method"], r["task"]): r for r in json.loads(res.stdout)}
    assert (rows[("mipo", "one_flip")]["improved"], rows[("mipo", "one_flip")]["broken"]) == (2, 1)
    assert rows[("mipo", "flat_pref")]["improved"] is None  # graded: no discordant counts
    csv = pd.read_csv(tmp_path / "cmp.csv").set_index(["method", "task"])
    assert tuple(csv.loc[("mipo", "one_flip"), ["improved", "broken"]]) == (2, 1)


def test_pmi_change_is_paired_on_the_prompts(tmp_path):
    """Prompts differ widely (0..70 nats) but each gains 1 ± 0.2: the two rounds' CIs overlap, the paired one
    excludes 0."""
    base = [10.0 * i for i in range(8)]
    new = [p + 1.0 + 0.2 * (-1) ** i for i, p in enumerate(base)]
    run = make_flat_run(tmp_path / "run", pmi=(base, new))
    df = load_results(open_runs([run]))
    rounds = df[df["metric"] == "pmi"].set_index("round")
    assert rounds.loc[1, "ci_low"] < rounds.loc[0, "ci_high"]  # two overlapping CIs
    ch = pmi_changes(df, open_runs([run])).iloc[0]
    assert ch["n prompts"] == 8 and ch["_pmi_change"] == 1.0
    assert 0.0 < ch["_pmi_lo"] < 1.0 < ch["_pmi_hi"] < 2.0
    assert abs(ch["_pmi_per_token_change"] - 0.1) < 1e-12  # 10 tokens per response
    out = tmp_path / "report"
    build_report([run], out)
    md = (out / "report.md").read_text()
    assert "PMI change vs round 0, paired on the diagnostic prompts" in md and "+1.000 [" in md
    assert (out / "pmi_changes.csv").exists()


def test_pmi_change_skips_rounds_without_per_prompt_records(tmp_path):
    run = make_flat_run(tmp_path / "run", pmi=([1.0, 2.0], [2.0, 3.0]))
    for k, method in ((0, "prompting"), (1, "mipo")):
        p = RunDir(run).round_dir("m", method, k) / "diagnostics" / "flat_mcq" / "diagnostics.json"
        p.write_text(json.dumps({"metrics": {}}))  # an older file: no per_prompt records
    assert pmi_changes(load_results(open_runs([run])), open_runs([run])).empty
    build_report([run], tmp_path / "report")  # still builds
