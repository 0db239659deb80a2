"""Per-sample views: inspect logs of a run (read back by inspect_ai.analysis), `mipo-bench view`, the report's
flipped items and example pairs, model hashes in a details section."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from groundfloor.rundir import RunDir, read_jsonl
from reports.build import build_report
from tests.helpers.synthetic_runs import make_run

pytest.importorskip("inspect_ai")


def enrich(root: Path) -> Path:
    """Give a synthetic run distinct outputs per item and round, validity flags, pairs and a train log."""
    for path in sorted((root / "models").rglob("samples.jsonl")):
        where = path.parent.relative_to(root / "models").as_posix()
        rows = read_jsonl(path)
        for r in rows:
            r.update(output=f"Output for {r['id']} at {where}.\nSecond line | with a pipe. " + "x" * 700,
                     extracted=f"ans-{r['id']}", truncated=r["id"].endswith("3"), repeating=False, no_answer=0.0)
        path.write_text("".join(json.dumps(r) + "\n" for r in rows))
        main = "accuracy" if path.parent.name == "mcq_task" else "honoured"
        path.with_name("metrics.json").write_text(json.dumps({"main_metric": main, "metrics": {}}))
    run = RunDir(root)
    for model in json.loads(run.manifest.read_text())["models"]:
        for k in (1, 2):
            for task in ("mcq_task", "pref_task"):
                pairs = [{"prompt_id": f"q{i}", "task": task, "round": k, "prompt": f"Prompt {i} of {task}",
                          "prompt_messages": [], "chosen": f"chosen {i} r{k}", "rejected": f"rejected {i} r{k}",
                          "negative_strategy": "derangement", "rejected_from": f"q{i + 1}", "rejected_prompt": None}
                         for i in range(4)]
                lineage = run.round_dir(model, "mipo", k) / "lineages" / task
                lineage.mkdir(parents=True, exist_ok=True)
                (lineage / "pairs.jsonl").write_text("".join(json.dumps(p) + "\n" for p in pairs))
                steps = [{"step": s, "loss": 0.7 - 0.1 * k - 0.02 * s, "rewards/margins": 0.1 * s} for s in (1, 2, 3)]
                (lineage / "train").mkdir()
                (lineage / "train" / "train_log.jsonl").write_text(
                    "".join(json.dumps(r) + "\n" for r in steps + [{"step": 3, "train_runtime": 1.0}]))
    return root


@pytest.fixture(scope="module")
def rich_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("samples")
    run = enrich(make_run(tmp / "run", n=12))
    out = tmp / "report"
    build_report([run], out)
    return run, out


def test_inspect_logs_read_into_pandas(rich_run):
    from inspect_ai.analysis import evals_df, samples_df

    run, _ = rich_run
    sources = sorted((run / "models").rglob("samples.jsonl"))
    logs = sorted((run / "inspect").rglob("*.eval"))
    assert len(logs) == len(sources) + 4  # one per evaluation, one per round's pairs of each task
    df = samples_df(run / "inspect", quiet=True)
    evals = evals_df(run / "inspect", quiet=True).set_index("eval_id")
    df = df.join(evals[["task_name"]], on="eval_id")
    ev = df[~df["task_name"].str.startswith("pairs_")]
    assert len(ev) == sum(len(read_jsonl(p)) for p in sources)
    # every score, extraction and validity flag as in samples.jsonl (round 2, mcq_task)
    src = {r["id"]: r for r in read_jsonl(run / "models/alpha-1b/mipo/round_2/tasks/mcq_task/samples.jsonl")}
    log = str(run / "inspect/alpha-1b/mipo/round_2/mcq_task.eval")
    mine = df[df["log"] == log]
    assert len(mine) == len(src)
    for r in mine.itertuples():
        assert r.score_accuracy == src[r.id]["score"]
        assert bool(r.metadata_truncated) == src[r.id]["truncated"]
    pairs = df[df["task_name"] == "pairs_pref_task"]
    assert len(pairs) == 8 and set(pairs["metadata_negative_strategy"]) == {"derangement"}
    assert set(pairs["metadata_rejected"].str.startswith("rejected")) == {True}


def test_inspect_logs_refresh_only_what_changed(rich_run):
    from reports.inspect_logs import write_run_logs

    run, _ = rich_run
    logs = {p: p.stat().st_mtime_ns for p in (run / "inspect").rglob("*.eval")}
    changed = run / "models/alpha-1b/round_0/tasks/mcq_task/samples.jsonl"
    with open(changed, "a") as f:
        f.write(json.dumps({"id": "extra", "prompt": "p", "target": "t", "output": "o", "score": 1.0}) + "\n")
    write_run_logs(run)
    moved = {p for p, t in logs.items() if p.stat().st_mtime_ns != t}
    assert moved == {run / "inspect/alpha-1b/round_0/mcq_task.eval"}


def test_view_cli_writes_logs_and_names_the_viewer(rich_run, tmp_path):
    run, _ = rich_run
    res = subprocess.run([sys.executable, "-m", "harness.cli", "view", str(run), "--write-only", "--port", "7601"],
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    assert "inspect_ai view start --log-dir" in res.stdout and "--recursive" in res.stdout and "7601" in res.stdout
    empty = tmp_path / "empty"
    empty.mkdir()
    for bad in (tmp_path / "missing", empty):
        res = subprocess.run([sys.executable, "-m", "harness.cli", "view", str(bad)], capture_output=True, text=True,
                             timeout=300)
        assert res.returncode == 2 and len(res.stderr.strip().splitlines()) == 1, res.stderr


def test_report_flipped_items_and_pairs(rich_run):
    run, out = rich_run
    md = (out / "report.md").read_text()
    html = (out / "index.html").read_text()
    flips = md.split("## Flipped items")[1].split("\n## ")[0]
    base = {r["id"]: r["score"] for r in read_jsonl(run / "models/alpha-1b/round_0/tasks/mcq_task/samples.jsonl")}
    end = {r["id"]: r["score"] for r in read_jsonl(run / "models/alpha-1b/mipo/round_2/tasks/mcq_task/samples.jsonl")}
    up = sum(1 for i in end if i in base and end[i] > base[i])
    down = sum(1 for i in end if i in base and end[i] < base[i])
    assert f"alpha-1b · mipo · mcq_task: round 0 → round 2 ({up} up, {down} down of {len(end)})" in flips
    assert re.search(r"\| 0 → 1 +\|", flips) and "⏎" in flips and "\\|" in flips  # one line per row, pipes escaped
    first_up = next(i for i in end if i in base and end[i] > base[i])
    assert f"Output for {first_up} at alpha-1b/round_0/tasks/mcq_task." in flips
    assert f"Output for {first_up} at alpha-1b/mipo/round_2/tasks/mcq_task." in flips
    assert "x" * 600 not in md and "…" in flips  # outputs cut to a readable length
    pairs = md.split("## Example pairs per task and round")[1].split("\n## ")[0]
    assert pairs.count("| derangement |") == 2 * 2 * 2  # 2 shown per task and round, 2 tasks, 2 rounds
    assert "chosen 0 r1" in pairs and "chosen 2 r1" not in pairs
    assert '<table class="wrap">' in html and "<details open><summary>" in html
    assert f"<td>Output for {first_up} at alpha-1b/round_0/tasks/mcq_task.\nSecond line | with a pipe." in html


def test_model_hashes_in_details_only(rich_run):
    _, out = rich_run
    md = (out / "report.md").read_text()
    models = md.split("## Models")[1].split("\n## ")[0]
    assert "0" * 64 not in models and "weight files hashed" in models
    details = md.split("## Details: sha256 of the model weight files")[1]
    assert "0" * 64 in details and "model.safetensors" in details


@pytest.mark.skipif(not Path("/usr/bin/chromium").exists(), reason="needs /usr/bin/chromium")
def test_flipped_items_render_side_by_side(rich_run, tmp_path):
    """The browser's DOM (after layout) holds the flipped items with round 0 and round k outputs in one row."""
    _, out = rich_run
    dom = subprocess.run(["/usr/bin/chromium", "--headless", "--no-sandbox", "--disable-gpu",
                          "--disable-background-networking", "--dump-dom", f"file://{(out / 'index.html').resolve()}"],
                         capture_output=True, text=True, timeout=120).stdout
    tables = pd.read_html(__import__("io").StringIO(dom), match="round 0 output")
    assert tables
    row = tables[0].iloc[0]
    assert str(row["round 0 output"]).startswith("Output for") and str(row["round 2 output"]).startswith("Output for")
    assert row["round 0 output"] != row["round 2 output"]


def test_train_steps_concatenate_rounds(rich_run):
    from reports.load import open_runs
    from reports.train_steps import train_steps

    run, out = rich_run
    df = train_steps(open_runs([run]))
    loss = df[(df["metric"] == "loss") & (df["lineage"] == "mcq_task")].sort_values("global_step")
    assert list(loss["global_step"]) == [1, 2, 3, 4, 5, 6] and list(loss["round"]) == [1, 1, 1, 2, 2, 2]
    assert list(loss["value"]) == pytest.approx([0.7 - 0.1 * k - 0.02 * s for k in (1, 2) for s in (1, 2, 3)])
    assert set(df["metric"]) == {"loss", "rewards/margins"}  # the trainer's summary line is left out
    png = out / "train_steps.png"
    assert png.exists() and "(train_steps.png)" in (out / "report.md").read_text()
