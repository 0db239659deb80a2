"""verified_dpo for one round on a real small model (SmolLM2-135M-Instruct from PyPI, cached) with profile_prefs'
own checks as the verifier."""

import json

import pandas as pd
import pytest
from tests.helpers.reliability_helpers import run_suite_process

SUITE = """
name: control-micro
models: [smollm2-135m-instruct]
methods: [verified_dpo]
tasks:
  - {id: profile_prefs, limit: 4}
rounds: 1
generation: {greedy: true, max_new_tokens: 48, batch_size: 8}
mipo: {train_prompts_per_round: 6, diagnostics_prompts: 0, sampling: {max_new_tokens: 48}}
verified_dpo: {samples_per_prompt: 4, sampling: {temperature: 1.0}}
training: {max_length: 384, warmup_ratio: 0}
"""


@pytest.mark.integration
def test_verified_dpo_one_round_on_smollm2(tmp_path):
    out, proc = run_suite_process(tmp_path, SUITE, "control.yaml")

    rd = out / "models/smollm2-135m-instruct/verified_dpo/round_1/lineages/profile_prefs"
    samples = [json.loads(line) for line in (rd / "verified_samples.jsonl").open()]
    assert len(samples) == 6 * 4 and len({(s["prompt_id"], s["sample"]) for s in samples}) == 24
    pairs = [json.loads(line) for line in (rd / "pairs.jsonl").open()]
    stats = json.loads((rd / "pairs_stats.json").read_text())["per_task"]["profile_prefs"]
    assert pairs and stats["pairs"] + stats["no_pair"] == 6
    by_id = {}
    for s in samples:
        by_id.setdefault(s["prompt_id"], []).append(s["score"])
    for p in pairs:  # the best-scored sample against the worst-scored one of the same prompt
        assert p["chosen_score"] == max(by_id[p["prompt_id"]]) > p["rejected_score"] == min(by_id[p["prompt_id"]])
        assert p["rejected_from"] == p["prompt_id"] and p["negative_strategy"] == "verified"
    df = pd.read_csv(out / "results.csv")
    ev = df[(df["kind"] == "eval") & (df["metric"] == "honoured")]
    assert set(zip(ev["method"], ev["round"])) == {("prompting", 0), ("verified_dpo", 1)} and (ev["n"] == 4).all()
    change = df[(df["metric"] == "relative_weight_change") & (df["method"] == "verified_dpo")]
    assert len(change) == 1 and change["value"].iloc[0] > 0
