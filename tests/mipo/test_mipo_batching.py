"""The global batch stays the configured one on any number of training processes (world size faked by WORLD_SIZE)."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.config import TrainingConfig
from groundfloor.errors import UserError
from mipo.batching import accumulation_steps, batch_problem, global_batch, planned_world_size
from tests.helpers.reliability_helpers import run_cli


def _trained_global_batch(cfg: TrainingConfig, world: int, monkeypatch) -> int:
    """per-device x accumulation (what TRL is given under this WORLD_SIZE) x world."""
    from mipo.train import common_args

    monkeypatch.setenv("WORLD_SIZE", str(world))
    args = common_args(cfg, Path("/tmp/x"), "cuda", lora=False)
    return args["per_device_train_batch_size"] * args["gradient_accumulation_steps"] * world


@pytest.mark.parametrize("world, per_device, accumulation", [(1, 1, 4), (2, 1, 2), (4, 1, 1), (2, 2, 1)])
def test_default_global_batch_is_four_on_any_world_size(world, per_device, accumulation, monkeypatch):
    cfg = TrainingConfig(per_device_batch_size=per_device)
    assert _trained_global_batch(cfg, world, monkeypatch) == 4
    assert accumulation_steps(cfg, world) == accumulation and global_batch(cfg, world) == 4


def test_a_configured_global_batch_is_kept(monkeypatch):
    cfg = TrainingConfig(global_batch_size=24, per_device_batch_size=2)
    assert [_trained_global_batch(cfg, w, monkeypatch) for w in (1, 2, 3, 4, 6)] == [24] * 5
    assert accumulation_steps(cfg, 3) == 4


def test_a_batch_the_processes_cannot_split_is_refused_in_one_line(monkeypatch):
    from mipo.train import common_args

    for cfg, world in ((TrainingConfig(), 3), (TrainingConfig(), 8), (TrainingConfig(per_device_batch_size=8), 1)):
        problem = batch_problem(cfg, world)
        assert problem and "global_batch_size" in problem and "\n" not in problem
        monkeypatch.setenv("WORLD_SIZE", str(world))
        with pytest.raises(UserError, match="not a multiple"):
            common_args(cfg, Path("/tmp/x"), "cuda", lora=False)


def test_explicit_accumulation_is_used_as_given_and_must_agree_with_a_global_batch():
    legacy = TrainingConfig(per_device_batch_size=2, gradient_accumulation_steps=1)
    assert accumulation_steps(legacy, 1) == 1 and global_batch(legacy, 2) == 4
    both = TrainingConfig(per_device_batch_size=1, gradient_accumulation_steps=4, global_batch_size=4)
    assert accumulation_steps(both, 1) == 4
    with pytest.raises(UserError, match="set only global_batch_size"):
        accumulation_steps(both, 2)


def test_world_size_of_the_launch(monkeypatch, tmp_path):
    monkeypatch.setenv("WORLD_SIZE", "4")
    assert planned_world_size(TrainingConfig()) == 4
    monkeypatch.delenv("WORLD_SIZE")
    assert planned_world_size(TrainingConfig()) == 1
    import mipo.launch

    monkeypatch.setattr(mipo.launch, "visible_gpus", lambda: 0)
    three = tmp_path / "acc.yaml"
    three.write_text("distributed_type: MULTI_CPU\nnum_processes: 3\n")
    assert planned_world_size(TrainingConfig(launcher="accelerate", accelerate_config=str(three))) == 3
    monkeypatch.setattr(mipo.launch, "visible_gpus", lambda: 2)
    assert planned_world_size(TrainingConfig(launcher="accelerate", accelerate_config=str(three))) == 2


def test_run_refuses_before_any_work_with_exit_2(tmp_path, monkeypatch, capsys, tiny_model_dir):
    suite = tmp_path / "s.yaml"
    suite.write_text(f"models: ['{tiny_model_dir}']\ntasks: [{{id: arc_challenge, limit: 2}}]\nrounds: 1\n"
                     "methods: [mipo]\ntraining: {global_batch_size: 4}\n")
    monkeypatch.setenv("WORLD_SIZE", "3")
    code, _, err = run_cli(["run", suite, "--out", tmp_path / "run", "--dry-run"], monkeypatch, capsys)
    assert code == 2 and "global_batch_size 4 is not a multiple" in err and len(err.strip().splitlines()) == 1
    monkeypatch.setenv("WORLD_SIZE", "2")
    code, _, err = run_cli(["run", suite, "--out", tmp_path / "run", "--dry-run"], monkeypatch, capsys)
    assert code == 0, err
