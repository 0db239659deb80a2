"""The global batch on any number of devices: gradient accumulation derived from the world size.

`training.global_batch_size` (unset: 4, the authors' `--train_batch_size 4`) is the number of pairs one
optimizer step sees over all processes. Each process takes `per_device_batch_size` pairs per micro-step,
so accumulation = global / (per_device x world size), as OpenRLHF derives it from its global
`train_batch_size`. A global batch the processes cannot split evenly is refused (one line, exit 2).
An explicit `training.gradient_accumulation_steps` without `global_batch_size` is used as given
(global = per_device x accumulation x world); with both set, they must agree.
"""

from __future__ import annotations

import os

from groundfloor.errors import UserError
from mipo.config import TrainingConfig


def world_size() -> int:
    """The number of training processes of this launch (`WORLD_SIZE`, set by accelerate/torchrun; else 1)."""
    try:
        return max(1, int(os.environ.get("WORLD_SIZE", "1")))
    except ValueError:
        return 1


PAPER_GLOBAL_BATCH = 4  # the authors' --train_batch_size 4 with --micro_train_batch_size 1


def batch_problem(cfg: TrainingConfig, world: int) -> str | None:
    """One line saying why `world` processes cannot train the configured global batch; None when they can."""
    per_step = cfg.per_device_batch_size * world
    accum, wanted = cfg.gradient_accumulation_steps, cfg.global_batch_size
    if accum is not None and wanted is not None and per_step * accum != wanted:
        return (f"training.global_batch_size {wanted} != per_device_batch_size {cfg.per_device_batch_size} x "
                f"gradient_accumulation_steps {accum} x {world} process(es) = {per_step * accum}; set only "
                "global_batch_size (the accumulation is derived from it)")
    if accum is None and (wanted or PAPER_GLOBAL_BATCH) % per_step:
        return (f"training.global_batch_size {wanted or PAPER_GLOBAL_BATCH} is not a multiple of "
                f"per_device_batch_size {cfg.per_device_batch_size} x {world} process(es) = {per_step}; "
                "choose a global batch or per_device_batch_size that divides evenly")
    return None


def accumulation_steps(cfg: TrainingConfig, world: int | None = None) -> int:
    """Gradient accumulation steps that make the global batch the configured one on `world` processes."""
    world = world_size() if world is None else world
    problem = batch_problem(cfg, world)
    if problem:
        raise UserError(problem)
    if cfg.gradient_accumulation_steps is not None:
        return cfg.gradient_accumulation_steps
    return (cfg.global_batch_size or PAPER_GLOBAL_BATCH) // (cfg.per_device_batch_size * world)


def global_batch(cfg: TrainingConfig, world: int | None = None) -> int:
    """Pairs per optimizer step over all processes, as trained."""
    world = world_size() if world is None else world
    return cfg.per_device_batch_size * accumulation_steps(cfg, world) * world


def planned_world_size(cfg: TrainingConfig) -> int:
    """The processes a round will train on: under `accelerate launch` the visible GPUs (else the config's
    `num_processes`), in-process the current launch's world size."""
    if cfg.launcher != "accelerate":
        return world_size()
    import yaml

    from mipo.launch import resolve_config, visible_gpus

    gpus = visible_gpus()
    if gpus:
        return gpus
    data = yaml.safe_load(resolve_config(cfg.accelerate_config).read_text()) or {}
    return max(1, int(data.get("num_processes") or 1))
