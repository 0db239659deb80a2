"""Report building: files, figures, self-contained HTML, numbers matching results.csv, flags."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from reports.build import build_report
from tests.helpers.synthetic_runs import make_run

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def two_method_report(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("rep")
    run = make_run(tmp / "run", models=(("alpha-1b", "llama"), ("beta-2b", "qwen")), methods=("mipo", "sft_self"))
    out = tmp / "report"
    md = build_report([run], out)
    return run, out, md


def test_files_and_figures(two_method_report):
    _, out, md = two_method_report
    assert md == out / "report.md" and md.read_text().startswith("# mipo-bench report")
    for name in ("round_curves", "gain_heatmap", "training_diagnostics", "method_comparison"):
        png = out / f"{name}.png"
        assert png.exists() and png.stat().st_size > 5000, name
        assert png.read_bytes()[:8] == PNG_MAGIC
        assert f"({name}.png)" in md.read_text()
    wide = pd.read_csv(out / "results_wide.csv")
    assert {"accuracy", "accuracy_ci_low", "accuracy_ci_high", "accuracy_n", "partial"} <= set(wide.columns)
    assert len(wide) == len(wide.drop_duplicates(["run", "model", "method", "round", "task"]))


def test_html_self_contained(two_method_report):
    _, out, _ = two_method_report
    html = (out / "index.html").read_text()
    assert not re.search(r'(src|href)="(https?:|//)', html)
    assert "<script" not in html and "<link" not in html
    assert html.count('src="data:image/png;base64,') == len(list(out.glob("*.png")))


def test_html_numbers_match_results_csv(two_method_report):
    run, out, _ = two_method_report
    html = (out / "index.html").read_text()
    df = pd.read_csv(run / "results.csv")
    main = df[df["metric"].isin(["accuracy", "honoured"])]
    assert len(main) > 10
    for r in main.itertuples():
        assert f"{r.value:.3f} [{r.ci_low:.3f}, {r.ci_high:.3f}] (n={r.n})" in html


def test_headline_gain_matches_values_and_sections(two_method_report):
    run, out, md = two_method_report
    gains = pd.read_csv(out / "gains.csv")
    df = pd.read_csv(run / "results.csv")
    for g in gains.itertuples():
        v = df[(df.model == g.model) & (df.method == g.method) & (df["round"] == g.round) & (df.task == g.task) &
               (df.metric == g.metric)]["value"].iloc[0]
        b = df[(df.model == g.model) & (df["round"] == 0) & (df.task == g.task) & (df.metric == g.metric)]["value"]
        assert g.gain == pytest.approx(v - b.iloc[0])
        assert g.ci_low <= g.gain <= g.ci_high
    text = md.read_text()
    for section in ("Headline", "Gain per model family", "Method comparison", "Paired method differences",
                    "Training and diagnostics", "Models", "Data"):
        assert section in text
    assert "0" * 63 + "1" in text  # sha256 from the manifest
    assert "Seed variance" not in text and "PARTIAL" not in text


def test_family_from_column_not_name(tmp_path):
    run = make_run(tmp_path / "run", models=(("qwen-lookalike", "llama"), ("other", "llama")), rounds=1)
    md = build_report([run], tmp_path / "out").read_text()
    fam = md.split("## Gain per model family")[1].split("##")[0]
    assert "| llama" in fam and "qwen |" not in fam
    assert re.search(r"\| llama\s+\| mipo\s+\| mcq_task\s+\| 1\s+\| 2 ", fam)


def test_partial_flagged(tmp_path):
    run = make_run(tmp_path / "run", partial=True, rounds=1)
    out = tmp_path / "out"
    build_report([run], out)
    html = (out / "index.html").read_text()
    assert 'class="banner">PARTIAL RUN' in html and "--limit 5" in html


def test_seed_variance_and_merge(tmp_path):
    runs = [make_run(tmp_path / f"s{s}", seed=s, rounds=1) for s in (1, 2, 3)]
    runs.append(make_run(tmp_path / "other", models=(("gamma", "mistral"),), rounds=1, seed=9))
    md = build_report(runs, tmp_path / "out").read_text()
    seeds = md.split("## Seed variance")[1].split("##")[0]
    assert "SD across seeds" in seeds and "alpha-1b" in seeds and "gamma" not in seeds
    assert "mistral" in md and "| s2 " in md


def test_missing_samples_fall_back_unpaired(tmp_path):
    run = make_run(tmp_path / "run", rounds=1)
    shutil.rmtree(run / "models")
    build_report([run], tmp_path / "out")
    gains = pd.read_csv(tmp_path / "out" / "gains.csv")
    assert set(gains["test"]) == {"unpaired normal (no samples)"}


def test_report_cli(tmp_path):
    run = make_run(tmp_path / "run", rounds=1)
    res = subprocess.run([sys.executable, "-m", "harness.cli", "report", str(run), "--out", str(tmp_path / "o")],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert (tmp_path / "o" / "index.html").exists()
    bad = subprocess.run([sys.executable, "-m", "harness.cli", "report", str(tmp_path)], capture_output=True,
                         text=True, timeout=60)
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1


@pytest.mark.skipif(not Path("/usr/bin/chromium").exists(), reason="needs /usr/bin/chromium")
def test_index_html_renders_headless(two_method_report, tmp_path):
    _, out, _ = two_method_report
    shot = tmp_path / "shot.png"
    subprocess.run(["/usr/bin/chromium", "--headless", "--no-sandbox", "--disable-gpu",
                    "--disable-background-networking", f"--screenshot={shot}", "--window-size=1400,2000",
                    f"file://{(out / 'index.html').resolve()}"], capture_output=True, timeout=120)
    assert shot.exists() and shot.stat().st_size > 20_000
    assert shot.read_bytes()[:8] == PNG_MAGIC


def test_round0_only_and_empty_results(tmp_path):
    run = make_run(tmp_path / "run", rounds=0)
    md = build_report([run], tmp_path / "out").read_text()
    assert "Main metric per model" in md and (tmp_path / "out" / "round_curves.png").exists()
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "results.csv").write_text(pd.read_csv(run / "results.csv").head(0).to_csv(index=False))
    md = build_report([empty], tmp_path / "out2").read_text()
    assert "No results yet" in md and (tmp_path / "out2" / "index.html").exists()
