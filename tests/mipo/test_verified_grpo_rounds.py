"""verified_dpo, rlvr and rlaif end to end on the tiny model, with a fake scorer (and a fake judge for rlaif)."""

from __future__ import annotations

import hashlib
import json

import pandas as pd
import pytest
import torch

from groundfloor.backends.fake import FakeBackend
from harness.config import parse_suite
from groundfloor.errors import UserError
from harness.run.runner import RunOptions, SuiteRunner
from tasks.base import Score
from tasks.profiles import Profiles
from tasks.scorers import Generative


def _coin(output: str, item) -> Score:
    """A fake scorer: passes about half of all outputs, decided by a hash of the text."""
    return Score(extracted=None, score=float(hashlib.sha256(output.encode()).digest()[0] < 128))


def _fake_judge(text: str) -> str:
    """A fake judge: a 1-5 grade from a hash of the whole prompt, or, for a fifth of them, no number at all."""
    h = hashlib.sha256(text.encode()).digest()[0]
    return "no idea" if h % 5 == 0 else str(1 + h % 5)


def _suite(tiny_model_dir, methods, **over):
    return parse_suite({
        "name": "tiny", "models": [str(tiny_model_dir)], "methods": methods, "rounds": 1,
        "tasks": [{"id": "profile_prefs", "limit": 3}],
        "generation": {"max_new_tokens": 8, "greedy": True},
        "mipo": {"train_prompts_per_round": 4, "diagnostics_prompts": 0, "sampling": {"max_new_tokens": 8}},
        "verified_dpo": {"samples_per_prompt": 4, "sampling": {"temperature": 1.0}},
        "training": {"max_length": 768, "warmup_ratio": 0, "grpo_args": {"temperature": 1.0}},
        "device": "cpu", **over,
    })


@pytest.fixture(scope="module")
def run(tiny_model_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("control") / "run"
    threads = torch.get_num_threads()
    # one thread: GRPO's token-by-token generation on the tiny model is thousands of tiny matmuls, and two OpenMP
    # threads on a loaded 2-core machine took ~5 ms per 8x32 matmul against ~0.05 ms with one (measured)
    torch.set_num_threads(1)
    try:
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(Profiles, "scorer", Generative(rule=_coin, metric="honoured"))
            mp.setattr("mipo.grpo_round._judge", lambda inp, initial: FakeBackend(_fake_judge))
            SuiteRunner(_suite(tiny_model_dir, ["verified_dpo", "rlvr", "rlaif"]),
                        RunOptions(out=out, report=False)).execute()
    finally:
        torch.set_num_threads(threads)
    return out


def _round(run, method):
    return next((run / "models").iterdir()) / method / "round_1" / "lineages" / "profile_prefs"


def test_verified_dpo_pairs_train_and_reach_results(run):
    rd = _round(run, "verified_dpo")
    pairs = [json.loads(line) for line in (rd / "pairs.jsonl").read_text().splitlines()]
    stats = json.loads((rd / "pairs_stats.json").read_text())
    entry = stats["per_task"]["profile_prefs"]
    assert pairs and entry["pairs"] == len(pairs) and entry["pairs"] + entry["no_pair"] == entry["prompts"] == 4
    for p in pairs:
        assert {"prompt_id", "prompt", "chosen", "rejected", "negative_strategy", "rejected_from"} <= set(p)
        assert p["chosen_score"] == 1.0 and p["rejected_score"] == 0.0 and p["rejected_from"] == p["prompt_id"]
        assert _coin(p["chosen"], None).score == 1.0 and _coin(p["rejected"], None).score == 0.0
    assert stats["eval_overlap"]["ok"] and stats["no_pair"] == entry["no_pair"]
    summary = json.loads((rd / "train_summary.json").read_text())
    assert summary["method"] == "verified_dpo" and summary["relative_weight_change"] > 0
    assert summary["pairs_stats"]["per_task"]["profile_prefs"]["no_pair"] == entry["no_pair"]


@pytest.mark.parametrize("method", ["rlvr", "rlaif"])
def test_grpo_rounds_write_rollouts_rewards_and_move_the_weights(run, method):
    rd = _round(run, method)
    rollouts = [json.loads(line) for line in (rd / "rollouts.jsonl").read_text().splitlines()]
    assert len(rollouts) == 4 * 4  # 4 prompts x 4 completions
    for r in rollouts:
        if method == "rlvr":  # the reward is the task's scorer against the gold: 1 correct, 0 wrong
            assert r["reward"] == _coin(r["completion"], None).score
        else:  # the mean 1-5 grade over the preferences, an unreadable reply scoring 1
            grades = [1.0 if reply == "no idea" else float(reply) for reply in r["judge_replies"]]
            assert r["reward"] == pytest.approx(sum(grades) / len(grades))
            assert r["judge_unreadable"] == sum(reply == "no idea" for reply in r["judge_replies"])
    summary = json.loads((rd / "train_summary.json").read_text())
    assert summary["method"] == method and summary["relative_weight_change"] > 0
    assert summary["num_generations"] == 4 and summary["temperature"] == 1.0
    log = [json.loads(line) for line in (rd / "train" / "train_log.jsonl").read_text().splitlines()]
    assert any("reward" in s for s in log) and summary["steps"] >= 1
    prompts = [json.loads(line) for line in (rd / "prompts.jsonl").read_text().splitlines()]
    assert {r["prompt_id"] for r in rollouts} == {p["prompt_id"] for p in prompts}
    assert json.loads((rd / "pairs_stats.json").read_text())["eval_overlap"]["ok"]
    if method == "rlaif":
        counts = summary["reward_counts"]
        assert counts["judge_calls"] >= 16 and counts["judge_unreadable"] == sum(r["judge_unreadable"] for r in rollouts)


def test_every_method_reaches_results_csv(run):
    df = pd.read_csv(run / "results.csv")
    for method in ("verified_dpo", "rlvr", "rlaif"):
        ev = df[(df["kind"] == "eval") & (df["method"] == method)]
        assert set(ev["round"]) == {1} and "honoured" in set(ev["metric"])
        train = df[(df["kind"] == "train") & (df["method"] == method)]
        assert (train.loc[train["metric"] == "relative_weight_change", "value"] > 0).all()
    grpo = df[(df["kind"] == "train") & (df["method"] == "rlaif")]
    assert {"reward", "judge_unreadable_rate", "prompts"} <= set(grpo["metric"])
    assert "no_pair_prompts" in set(df[(df["kind"] == "train") & (df["method"] == "verified_dpo")]["metric"])


def test_grpo_args_are_checked_against_grpoconfig(tiny_model_dir, tmp_path):
    for bad, said in (({"num_generation": 4}, "did you mean 'num_generations'"),
                      ({"learning_rate": 1e-3}, "set from the training section")):
        cfg = _suite(tiny_model_dir, ["rlvr"], training={"grpo_args": bad})
        with pytest.raises(UserError, match=said):
            SuiteRunner(cfg, RunOptions(out=tmp_path / "r", report=False)).dry_run()
