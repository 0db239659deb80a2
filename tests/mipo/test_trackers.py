"""training.report_to: tensorboard event files per lineage whose steps continue across rounds (real files, tiny
model, two rounds); config validation of the tracker names."""

import json

import pytest

from harness.config import TrainingConfig, parse_suite
from groundfloor.errors import UserError
from harness.run.runner import RunOptions, SuiteRunner

TASKS = ("gsm8k", "profile_prefs")


@pytest.fixture(scope="module")
def tb_run(tiny_model_dir, tmp_path_factory):
    """mipo, per-task lineages, two rounds, report_to: [tensorboard]."""
    cfg = parse_suite({
        "name": "tiny", "models": [str(tiny_model_dir)], "methods": ["mipo"], "rounds": 2,
        "tasks": [{"id": "gsm8k", "limit": 2, "options": {"fewshot": 0}}, {"id": "profile_prefs", "limit": 2}],
        "generation": {"max_new_tokens": 8, "greedy": True},
        "mipo": {"train_prompts_per_round": 3, "diagnostics_prompts": 2, "sampling": {"max_new_tokens": 8}},
        "training": {"per_device_batch_size": 2, "gradient_accumulation_steps": 1, "max_length": 768,
                     "report_to": ["tensorboard"]},
        "device": "cpu",
    })
    out = tmp_path_factory.mktemp("tb") / "run"
    SuiteRunner(cfg, RunOptions(out=out, report=False)).execute()
    return out


def _scalars(folder):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(folder), size_guidance={"scalars": 0})
    acc.Reload()
    return {tag: [(e.step, e.value) for e in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]}


def _round_steps(run, task, k):
    rows = [json.loads(line) for line in
            next((run / "models").iterdir()).joinpath("mipo", f"round_{k}", "lineages", task, "train",
                                                      "train_log.jsonl").read_text().splitlines()]
    return [r["step"] for r in rows if "loss" in r]


def test_one_tensorboard_folder_per_lineage_with_steps_continuing_across_rounds(tb_run):
    model_dir = next((tb_run / "tensorboard").iterdir())
    assert {p.name for p in (model_dir / "mipo").iterdir()} == set(TASKS)
    for task in TASKS:
        sc = _scalars(model_dir / "mipo" / task)
        r1, r2 = _round_steps(tb_run, task, 1), _round_steps(tb_run, task, 2)
        loss_steps = [s for s, _ in sc["train/loss"]]
        assert len(loss_steps) == len(r1) + len(r2) and loss_steps == sorted(set(loss_steps))  # strictly increasing
        assert loss_steps[len(r1)] > loss_steps[len(r1) - 1] == r1[-1]  # round 2 starts after round 1's last
        assert loss_steps[-1] == r1[-1] + r2[-1]
        main = json.loads((next((tb_run / "models").iterdir()) / "round_0" / "tasks" / task
                           / "metrics.json").read_text())
        tag = f"eval/{task}/{main['main_metric']}"
        assert [s for s, _ in sc[tag]] == [0, r1[-1], r1[-1] + r2[-1]]  # round 0, then each round's end
        assert sc[tag][0][1] == pytest.approx(main["metrics"][main["main_metric"]]["value"])
        assert [s for s, _ in sc[f"diagnostics/{task}/pmi"]] == [0, r1[-1], r1[-1] + r2[-1]]
        assert not any(t.startswith(f"eval/{other}/") for t in sc for other in TASKS if other != task)


def test_resumed_run_writes_no_second_copy(tb_run, tiny_model_dir):
    from mipo.trackers import TensorBoardTracker
    from groundfloor.records import RoundKey
    from groundfloor.rundir import RunDir

    before = {p: p.stat().st_size for p in (tb_run / "tensorboard").rglob("events.out.tfevents.*")}
    TensorBoardTracker(RunDir(tb_run)).round_evaluated(RoundKey(str(tiny_model_dir), "mipo", 2, "gsm8k"),
                                                       ("gsm8k",))
    after = {p: p.stat().st_size for p in (tb_run / "tensorboard").rglob("events.out.tfevents.*")}
    assert after == before


def test_trl_gets_wandb_only_and_the_lineage_group(monkeypatch, tmp_path):
    from mipo.trackers import set_wandb_group, trl_report_to

    assert trl_report_to(TrainingConfig(report_to=["tensorboard"])) == "none"
    assert trl_report_to(TrainingConfig(report_to=["tensorboard", "wandb"])) == ["wandb"]
    monkeypatch.delenv("WANDB_RUN_GROUP", raising=False)
    cfg = TrainingConfig(report_to=["wandb"])
    set_wandb_group(cfg, tmp_path / "run" / "models" / "m" / "mipo" / "round_2" / "lineages" / "gsm8k" / "train")
    assert __import__("os").environ["WANDB_RUN_GROUP"] == "m/mipo/gsm8k"
    set_wandb_group(cfg, tmp_path / "run" / "models" / "m" / "mipo" / "round_1" / "train")
    assert __import__("os").environ["WANDB_RUN_GROUP"] == "m/mipo/joint"


def test_unknown_tracker_is_refused(tmp_path, monkeypatch, capsys):
    from tests.helpers.reliability_helpers import run_cli

    with pytest.raises(UserError, match="'mlflow' is not a tracker; choose from tensorboard, wandb"):
        parse_suite({"models": ["m"], "tasks": ["gsm8k"], "training": {"report_to": ["mlflow"]}})
    with pytest.raises(UserError, match="listed twice"):
        parse_suite({"models": ["m"], "tasks": ["gsm8k"], "training": {"report_to": ["wandb", "wandb"]}})
    assert parse_suite({"models": ["m"], "tasks": ["gsm8k"],
                        "training": {"report_to": "tensorboard"}}).training.report_to == ["tensorboard"]
    suite = tmp_path / "s.yaml"
    suite.write_text("models: [m]\ntasks: [gsm8k]\ntraining: {report_to: [all]}\n")
    code, _, err = run_cli(["run", suite, "--out", tmp_path / "out", "--dry-run"], monkeypatch, capsys)
    assert code == 2 and "training.report_to" in err and "not a tracker" in err


def test_missing_tracker_package_is_a_user_error(monkeypatch):
    from mipo import trackers

    monkeypatch.setattr(trackers.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(UserError, match="report_to: wandb needs the wandb package"):
        trackers.check_installed(TrainingConfig(report_to=["wandb"]))


def test_tracker_on_written_round_files(tmp_path):
    """The tracker alone on a run folder's files: offsets, round 0 at step 0, transfer tags, logged once."""
    from groundfloor.records import RoundKey
    from groundfloor.rundir import RunDir
    from mipo.trackers import TensorBoardTracker

    run = RunDir(tmp_path)

    def metrics(folder, value, name="metrics.json"):
        folder.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(json.dumps({"main_metric": "acc", "metrics": {"acc": {"value": value, "n": 2}}}))

    md = tmp_path / "models" / run.model_folder("m")
    metrics(md / "round_0" / "tasks" / "a", 0.1)
    metrics(md / "round_0" / "tasks" / "b", 0.2)
    for k, steps in ((1, 2), (2, 3)):
        train = md / "mipo" / f"round_{k}" / "lineages" / "a" / "train"
        train.mkdir(parents=True)
        rows = [{"step": s, "loss": 1.0 / s, "rewards/margins": 0.1 * s} for s in range(1, steps + 1)]
        train.joinpath("train_log.jsonl").write_text("".join(json.dumps(r) + "\n" for r in
                                                             rows + [{"step": steps, "train_loss": 0.5}]))
        metrics(md / "mipo" / f"round_{k}" / "tasks" / "a", 0.1 + k)
        metrics(md / "mipo" / f"round_{k}" / "transfer" / "a" / "tasks" / "b", 0.2 + k)
    tracker = TensorBoardTracker(run)
    for k in (1, 2):
        for _ in range(2):  # a second call (a resume) writes nothing more
            tracker.round_evaluated(RoundKey("m", "mipo", k, "a"), ("a",))
            tracker.round_evaluated(RoundKey("m", "mipo", k, "a"), ("b",), transfer=True)
    sc = _scalars(tmp_path / "tensorboard" / run.model_folder("m") / "mipo" / "a")
    assert [s for s, _ in sc["train/loss"]] == [1, 2, 3, 4, 5]
    assert [s for s, _ in sc["train/rewards/margins"]] == [1, 2, 3, 4, 5]
    assert sc["eval/a/acc"] == [(0, pytest.approx(0.1)), (2, pytest.approx(1.1)), (5, pytest.approx(2.1))]
    assert sc["transfer/b/acc"] == [(0, pytest.approx(0.2)), (2, pytest.approx(1.2)), (5, pytest.approx(2.2))]
    assert "eval/b/acc" not in sc
