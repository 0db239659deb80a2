"""Iterative rounds end to end on the tiny model: methods mipo + sft_self, two rounds, resume, launcher."""

import json
from pathlib import Path

import pandas as pd
import pytest

from harness.config import TrainingConfig, parse_suite
from harness.run.runner import RunOptions, SuiteRunner
from mipo.pairs import NEGATIVE_SEED_OFFSET, check_provenance
from groundfloor.policy import Policy


def _suite(tiny_model_dir, **over):
    return parse_suite({
        "name": "tiny", "models": [str(tiny_model_dir)], "methods": ["mipo", "sft_self"], "rounds": 2,
        "tasks": [{"id": "gsm8k", "limit": 3, "options": {"fewshot": 0}}, {"id": "profile_prefs", "limit": 3}],
        "generation": {"max_new_tokens": 8, "greedy": True},
        "mipo": {"train_prompts_per_round": 3, "diagnostics_prompts": 2, "sampling": {"max_new_tokens": 8}},
        "training": {"per_device_batch_size": 2, "gradient_accumulation_steps": 1, "max_length": 768,
                     "transfer": True},
        "device": "cpu", **over,
    })


@pytest.fixture(scope="module")
def tiny_run(tiny_model_dir, tmp_path_factory):
    """The default scope (per_task): one lineage per task and method, two rounds, transfer evaluations on."""
    out = tmp_path_factory.mktemp("rounds") / "run"
    SuiteRunner(_suite(tiny_model_dir), RunOptions(out=out, report=False)).execute()
    return out


def _model_dir(run: Path) -> Path:
    return next((run / "models").iterdir())


def test_two_rounds_per_task_lineage_for_both_methods(tiny_run):
    df = pd.read_csv(tiny_run / "results.csv")
    ev = df[df["kind"] == "eval"]
    assert set(ev[ev["method"] == "prompting"]["round"]) == {0}
    assert set(ev.loc[ev["round"] == 0, "scope"].fillna("")) == {""}
    for method in ("mipo", "sft_self"):
        rows = ev[ev["method"] == method]
        assert set(rows["round"]) == {1, 2} and set(rows["scope"]) == {"per_task"}
        assert (rows["trained_on"] == rows["task"]).all()  # each task evaluated by its own lineage's policy
        diag = df[(df["kind"] == "diagnostic") & (df["method"] == method)]
        assert set(diag["metric"]) >= {"pmi", "distinct_2", "response_words"} and set(diag["round"]) == {1, 2}
        assert (diag["trained_on"] == diag["task"]).all()
        train = df[(df["kind"] == "train") & (df["method"] == method)]
        change = train[train["metric"] == "relative_weight_change"]
        assert len(change) == 4 and (change["value"] > 0).all()  # 2 lineages x 2 rounds, each moved the weights
        assert set(change["trained_on"]) == {"gsm8k", "profile_prefs"}
    train = df[(df["kind"] == "train") & (df["method"] == "mipo")]
    assert {"rewards_margins", "loss", "chosen_tokens", "rejected_tokens"} <= set(train["metric"])
    for method in ("mipo", "sft_self"):
        for k in (1, 2):
            for task, want in (("gsm8k", "derangement"), ("profile_prefs", "context_drop")):
                rd = _model_dir(tiny_run) / method / f"round_{k}" / "lineages" / task
                pairs = [json.loads(line) for line in (rd / "pairs.jsonl").read_text().splitlines()]
                assert pairs and check_provenance(pairs) == [] and {p["task"] for p in pairs} == {task}
                # sft_self uses only the chosen side, so its negatives are the free derangement
                assert {p["negative_strategy"] for p in pairs} == {want if method == "mipo" else "derangement"}
                stats = json.loads((rd / "pairs_stats.json").read_text())
                assert list(stats["per_task"]) == [task] and stats["per_task"][task]["pair_seed"] == 42 + k
                assert stats["per_task"][task]["prompts"] == 3  # per task, not divided across tasks
                assert (rd / "train" / "checkpoint" / "adapter_config.json").exists()
                summary = json.loads((rd / "train_summary.json").read_text())
                assert summary["trained_dtype"] == "float32" and summary["relative_weight_change"] > 0
    stats = json.loads((_model_dir(tiny_run) / "mipo/round_1/lineages/gsm8k/pairs_stats.json").read_text())
    assert stats["per_task"]["gsm8k"]["sampling"]["temperature"] == 0.1
    assert stats["per_task"]["gsm8k"]["negative_seed"] is None  # derangement: nothing sampled
    prof = json.loads((_model_dir(tiny_run) / "mipo/round_1/lineages/profile_prefs/pairs_stats.json").read_text())
    assert prof["per_task"]["profile_prefs"]["negative_seed"] == \
        prof["per_task"]["profile_prefs"]["sampling"]["seed"] + NEGATIVE_SEED_OFFSET


def test_transfer_evaluates_each_policy_on_the_other_tasks(tiny_run):
    df = pd.read_csv(tiny_run / "results.csv")
    tr = df[(df["kind"] == "transfer") & (df["method"] == "mipo") & (df["round"] == 2)]
    assert {(t, on) for t, on in zip(tr["task"], tr["trained_on"])} == {("gsm8k", "profile_prefs"),
                                                                        ("profile_prefs", "gsm8k")}
    md = _model_dir(tiny_run)
    assert (md / "mipo/round_2/transfer/gsm8k/tasks/profile_prefs/samples.jsonl").exists()
    from reports.load import load_results, open_runs
    from reports.tables import main_metrics, transfer_table

    loaded = load_results(open_runs([tiny_run]))
    assert set(main_metrics(loaded)["kind"]) == {"eval"}  # transfer rows never enter the headline gains
    table = transfer_table(loaded)
    assert len(table) == 8 and {"gsm8k", "profile_prefs"} <= set(table.columns)


def test_rounds_use_fresh_prompts_and_per_task_lineage(tiny_run):
    md = _model_dir(tiny_run)
    ids = [set(json.loads((md / "mipo" / f"round_{k}" / "lineages" / "gsm8k" / "pairs_stats.json").read_text())
               ["per_task"]["gsm8k"]["prompt_ids"]) for k in (1, 2)]
    assert ids[0] and not ids[0] & ids[1]
    lineage = json.loads((tiny_run / "manifest.json").read_text())["lineage"]
    per_method = next(iter(lineage.values()))["mipo"]
    assert set(per_method) == {"gsm8k", "profile_prefs"}
    for task, chain in per_method.items():
        assert [c["round"] for c in chain] == [1, 2] and all(c["trained_on"] == [task] for c in chain)
        assert chain[1]["parent"] == chain[0]["policy"]
        assert chain[1]["policy"]["adapter"].endswith(f"round_2/lineages/{task}/train/checkpoint")
    assert per_method["gsm8k"][0]["policy"] != per_method["profile_prefs"][0]["policy"]


def test_joint_scope_trains_one_policy_on_every_tasks_pairs(tiny_model_dir, tmp_path):
    out = tmp_path / "joint"
    cfg = _suite(tiny_model_dir, methods=["mipo"], rounds=1,
                 training={"per_device_batch_size": 2, "gradient_accumulation_steps": 1, "max_length": 768,
                           "scope": "joint"})
    SuiteRunner(cfg, RunOptions(out=out, report=False)).execute()
    rd = _model_dir(out) / "mipo" / "round_1"
    pairs = [json.loads(line) for line in (rd / "pairs.jsonl").read_text().splitlines()]
    assert {p["task"] for p in pairs} == {"gsm8k", "profile_prefs"} and not (rd / "lineages").exists()
    df = pd.read_csv(out / "results.csv")
    ev = df[(df["kind"] == "eval") & (df["round"] == 1)]
    assert set(ev["scope"]) == {"joint"} and set(ev["trained_on"]) == {"gsm8k+profile_prefs"}
    assert df[(df["metric"] == "relative_weight_change")]["value"].iloc[0] > 0
    chain = json.loads((out / "manifest.json").read_text())["lineage"][str(tiny_model_dir)]["mipo"]["joint"]
    assert chain[0]["trained_on"] == ["gsm8k", "profile_prefs"]


def test_rerun_resumes_without_training(tiny_model_dir, tiny_run, monkeypatch):
    def boom(*a, **k):
        raise AssertionError("a finished round was retrained")

    monkeypatch.setattr("mipo.trainers.train_dpo", boom)
    monkeypatch.setattr("mipo.trainers.train_sft", boom)
    before = (tiny_run / "results.csv").read_text()
    SuiteRunner(_suite(tiny_model_dir), RunOptions(out=tiny_run, report=False)).execute()
    assert (tiny_run / "results.csv").read_text() == before


def test_round_prompts_fresh_or_fixed(tiny_run, tiny_model_dir):
    from mipo.prompts import round_prompts
    from harness.run.runner import build_plans

    plan = build_plans(_suite(tiny_model_dir), None, offline=True)[0]
    r1, r2 = round_prompts(plan, 2, 1, True), round_prompts(plan, 2, 2, True)
    assert not {i.id for i in r1} & {i.id for i in r2}
    assert round_prompts(plan, 2, 1, False) == round_prompts(plan, 2, 2, False)
    assert not {i.id for i in plan.diag_items} & {i.id for i in plan.train_pool}
    over = build_plans(_suite(tiny_model_dir, tasks=[{"id": "gsm8k", "negative": "resample",
                                                       "options": {"fewshot": 0}}, "profile_prefs"]), None, True)
    assert [p.negative for p in over] == ["resample", "context_drop"]


def test_train_prompts_per_round_all_is_the_whole_pool_and_a_number_is_per_task(tiny_model_dir):
    from mipo.prompts import round_prompts
    from harness.run.runner import build_plans
    from mipo.rounds import prompts_per_task

    mipo = {"diagnostics_prompts": 2, "sampling": {"max_new_tokens": 8}}
    cfg = _suite(tiny_model_dir, mipo={**mipo, "train_prompts_per_round": "all"})
    for plan in build_plans(cfg, None, offline=True):
        n = prompts_per_task(cfg, plan)
        assert n == len(plan.train_pool) > 100
        assert {i.id for i in round_prompts(plan, n, 2, True)} == {i.id for i in plan.train_pool}
    cfg = _suite(tiny_model_dir, mipo={**mipo, "train_prompts_per_round": 5})
    assert [prompts_per_task(cfg, p) for p in build_plans(cfg, None, offline=True)] == [5, 5]
    own = [{"id": "gsm8k", "limit": 3, "options": {"fewshot": 0}, "train_prompts_per_round": 2},
           {"id": "profile_prefs", "limit": 3}]
    cfg = _suite(tiny_model_dir, tasks=own, mipo={**mipo, "train_prompts_per_round": 5})
    assert [prompts_per_task(cfg, p) for p in build_plans(cfg, None, offline=True)] == [2, 5]
    with pytest.raises(Exception, match="number of prompts per task from 2"):
        _suite(tiny_model_dir, tasks=[{**own[0], "train_prompts_per_round": 1}])


def test_paper_suite_dry_run_trains_per_task_on_whole_pools(monkeypatch, capsys, tmp_path):
    from tests.helpers.reliability_helpers import run_cli

    code, out, err = run_cli(["run", "suites/paper.yaml", "--dry-run", "--device", "cpu", "--out", tmp_path / "p"],
                             monkeypatch, capsys)
    assert code == 0, err
    plan = json.loads(out)
    from harness.config import load_suite

    assert load_suite("suites/paper.yaml").mipo.train_prompts_per_round == "all"
    assert plan["training"]["scope"] == "per_task" and plan["training"]["mode"] == "full"
    assert plan["training"]["weights_dtype"] == "float32" and plan["training"]["learning_rate"] == 5e-7
    assert plan["training"]["lineages"] == {t: [t] for t in plan["tasks"]}
    fetched = [t for t in plan["tasks"].values() if t["train_pool"] != "not fetched"]  # offline: hub-only tasks
    assert fetched and all(t["train_prompts_per_round"] == t["train_pool"] > 0 for t in fetched)


def test_round_that_changed_no_weights_fails_and_keeps_its_folder(tiny_model_dir, tmp_path, monkeypatch):
    """A trainer that saves its parent unchanged: exit 1 'training changed no weights', files kept, redone later."""
    import shutil

    from groundfloor.errors import RunFailure
    from mipo.train import weight_change

    def unchanged(policy, initial, pairs, cfg, out_dir, device, lora):
        shutil.copytree(policy.base, out_dir / "checkpoint")
        new = Policy(base=str(out_dir / "checkpoint"))
        return new, {"steps": 1, "nonfinite_loss": False, "policy": new.to_dict(),
                     **weight_change(new, policy, lora=False)}

    monkeypatch.setattr("mipo.trainers.train_dpo", unchanged)
    cfg = _suite(tiny_model_dir, methods=["mipo"], rounds=1, tasks=[{"id": "gsm8k", "limit": 2,
                                                                     "options": {"fewshot": 0}}])
    out = tmp_path / "run"
    with pytest.raises(RunFailure, match="training changed no weights"):
        SuiteRunner(cfg, RunOptions(out=out, report=False)).execute()
    rd = _model_dir(out) / "mipo" / "round_1" / "lineages" / "gsm8k"
    assert (rd / "pairs.jsonl").exists() and (rd / "train" / "checkpoint").exists()
    assert json.loads((rd / "train" / "unchanged_weights.json").read_text())["relative_weight_change"] == 0.0
    assert not (rd / "train_summary.json").exists()  # not a finished round: the next run trains it again


def test_bf16_weights_with_a_plain_optimizer_are_refused_before_any_work(tiny_model_dir, tmp_path, monkeypatch,
                                                                         capsys):
    from tests.helpers.reliability_helpers import run_cli, tiny_suite

    suite = tiny_suite(tmp_path / "s.yaml", tiny_model_dir, rounds=1, extra="device: cpu")
    text = suite.read_text().replace("max_length: 768", "max_length: 768, mode: full, weights_dtype: bfloat16")
    suite.write_text(text)
    code, _, err = run_cli(["run", suite, "--out", tmp_path / "run"], monkeypatch, capsys)
    assert code == 2 and "training.weights_dtype: bfloat16" in err and "set training.weights_dtype: float32" in err
    assert len(err.strip().splitlines()) == 1 and not (tmp_path / "run" / "models").exists()
    code, _, err = run_cli(["run", suite, "--dry-run", "--out", tmp_path / "run"], monkeypatch, capsys)
    assert code == 2 and "weights_dtype" in err
    # LoRA trains fp32 adapters over bf16 frozen weights: allowed
    suite.write_text(text.replace("mode: full", "mode: lora"))
    code, _, err = run_cli(["run", suite, "--dry-run", "--out", tmp_path / "run"], monkeypatch, capsys)
    assert code == 0, err


def test_accelerate_launcher_trains_a_round(tiny_model_dir, tmp_path):
    from mipo import launch

    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text("".join(json.dumps({"prompt_messages": [{"role": "user", "content": q}], "chosen": c,
                                         "rejected": r}) + "\n" for q, c, r in
                             [("What is 2 + 3?", "5", "pasta"), ("I am vegetarian.", "pasta", "#### 42")]))
    cfg = TrainingConfig(per_device_batch_size=2, gradient_accumulation_steps=1, max_length=64, warmup_ratio=0.0,
                         launcher="accelerate", accelerate_config="configs/accelerate_cpu.yaml")  # 1 step: no warm-up
    initial = Policy(base=str(tiny_model_dir))
    train_dir = tmp_path / "train"
    launch.write_request(train_dir, "mipo", initial, initial, pairs, cfg, "cpu", lora=True)
    policy, summary = launch.launch(train_dir, cfg.accelerate_config)
    assert policy.adapter == str(train_dir / "checkpoint") and summary["steps"] == 1
    assert summary["relative_weight_change"] > 0 and summary["trained_dtype"] == "float32"
    assert summary["world_size"] == 1 and (train_dir / "train_log.jsonl").read_text()


def test_results_csv_written_before_scopes_reads_as_joint(tmp_path):
    from groundfloor.results import COLUMNS, read_results

    path = tmp_path / "results.csv"
    rows = [["m", "llama", "prompting", 0, "gsm8k", "accuracy", 0.5, 0.4, 0.6, 10, "eval", False],
            ["m", "llama", "mipo", 1, "gsm8k", "accuracy", 0.6, 0.5, 0.7, 10, "eval", False]]
    pd.DataFrame(rows, columns=COLUMNS).to_csv(path, index=False)
    df = read_results(path)
    assert list(df["scope"]) == ["", "joint"] and list(df["trained_on"]) == ["", ""]


def test_report_shows_each_lineages_weight_change_per_round(tiny_run):
    from reports.load import load_results, open_runs
    from reports.tables import diagnostics_table, fmt_change

    assert fmt_change(8.889e-06, 134515008) == "8.89e-06 (n=134515008 weights)"
    table = diagnostics_table(load_results(open_runs([tiny_run])))
    trained = table[table["round"] >= 1]
    assert len(trained) == 8 and set(trained["trained_on"]) == {"gsm8k", "profile_prefs"}
    assert all(c.endswith("weights)") and float(c.split()[0]) > 0 for c in trained["relative_weight_change"])
