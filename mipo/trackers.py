"""Trackers (`training.report_to`): one group per lineage, steps that continue across its rounds.

TensorBoard is written here, not by TRL (whose step restarts at 0 every round): after each evaluation of
round k of a lineage, <run>/tensorboard/<model>/<method>/<lineage>/ gets the round's training log
(train/train_log.jsonl) at step offset_k + step, where offset_k is the steps of rounds 1..k-1, and the
round's evaluation metrics and diagnostics at its last step (round 0's at step 0), as
train/<key>, eval/<task>/<metric>, diagnostics/<task>/<metric>, transfer/<task>/<metric>. What is written is
noted in logged.json there, so a resumed run adds only what is missing.

W&B goes through TRL's own callback: one run per round (named model/method/round_k[/task], see
mipo.train.run_name), grouped per lineage through WANDB_RUN_GROUP (model/method/task, or .../joint).
"""

from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path

from groundfloor.errors import UserError
from groundfloor.methods import BASELINE
from groundfloor.records import RoundKey
from groundfloor.rundir import RunDir, atomic_write_json, read_jsonl
from mipo.config import TrainingConfig


def trl_report_to(cfg: TrainingConfig) -> list[str] | str:
    """TRL's `report_to`: wandb passes through; tensorboard is written by `TensorBoardTracker` instead."""
    return [r for r in cfg.report_to if r != "tensorboard"] or "none"


def check_installed(cfg: TrainingConfig) -> None:
    """A tracker whose package is missing is a UserError before any work."""
    for name in cfg.report_to:  # each tracker's package has the tracker's name
        if importlib.util.find_spec(name) is None:
            raise UserError(f"training.report_to: {name} needs the {name} package (pip install {name}, "
                            "or the mipo-bench[trackers] extra)")


def set_wandb_group(cfg: TrainingConfig, train_dir: Path) -> None:
    """Set WANDB_RUN_GROUP to the lineage of the round training into `train_dir` (W&B runs only)."""
    if "wandb" not in cfg.report_to:
        return
    from mipo.train import run_name

    parts = run_name(train_dir).split("/")  # model/method/round_k[/task]
    os.environ["WANDB_RUN_GROUP"] = "/".join(parts[:2] + (parts[3:] or ["joint"]))


def _numbers(row: dict) -> dict[str, float]:
    return {k: float(v) for k, v in row.items()
            if isinstance(v, (int, float)) and not isinstance(v, bool)}


def _metric_values(path: Path) -> dict[str, float]:
    """{metric: value} of a metrics.json / diagnostics.json file (empty if it is not there)."""
    if not path.is_file():
        return {}
    metrics = json.loads(path.read_text()).get("metrics") or {}
    return {name: float(m["value"]) for name, m in metrics.items()
            if isinstance(m, dict) and isinstance(m.get("value"), (int, float)) and not isinstance(m["value"], bool)}


class TensorBoardTracker:
    """Event files per lineage under <run>/tensorboard/ (see the module's docstring)."""

    def __init__(self, run: RunDir):
        self.run = run

    def folder(self, key: RoundKey) -> Path:
        return self.run.root / "tensorboard" / self.run.model_folder(key.model) / key.method / key.lineage_name

    def _train_log(self, key: RoundKey) -> list[dict]:
        return read_jsonl(key.train_dir(self.run) / "train" / "train_log.jsonl")

    def _last_step(self, key: RoundKey) -> int:
        steps = [int(r["step"]) for r in self._train_log(key) if isinstance(r.get("step"), int)]
        if steps:
            return max(steps)
        summary = key.train_dir(self.run) / "train_summary.json"
        return int(json.loads(summary.read_text()).get("steps") or 0) if summary.is_file() else 0

    def _evals(self, folder: Path, lm_folder: Path | None, tasks, lm_tasks, prefix: str) -> dict[str, float]:
        out = {}
        for task in tasks:
            for metric, v in _metric_values(folder / "tasks" / task / "metrics.json").items():
                out[f"{prefix}/{task}/{metric}"] = v
            diag = folder / "diagnostics" / task / "diagnostics.json"
            for metric, v in _metric_values(diag).items() if prefix == "eval" else ():
                out[f"diagnostics/{task}/{metric}"] = v
        for name in lm_tasks if lm_folder is not None else ():
            for metric, v in _metric_values(lm_folder / "tasks" / "lm_eval" / name / "metrics.json").items():
                out[f"{prefix}/lm_eval/{name}/{metric}"] = v
        return out

    def round_evaluated(self, key: RoundKey, tasks, transfer: bool = False, lm_tasks=()) -> None:
        """Log round `key.round` of its lineage (and round 0 the first time): training rows and evaluations."""
        folder = self.folder(key)
        marker = folder / "logged.json"
        done = set(json.loads(marker.read_text())) if marker.is_file() else set()
        prefix = "transfer" if transfer else "eval"
        offset = sum(self._last_step(RoundKey(key.model, key.method, j, key.lineage)) for j in range(1, key.round))
        end = offset + self._last_step(key)
        scalars: list[tuple[str, float, int]] = []
        new: list[str] = []
        if f"{prefix}:0" not in done:
            zero = RoundKey(key.model, BASELINE, 0)
            got = self._evals(zero.round_dir(self.run), zero.train_dir(self.run), tasks, lm_tasks, prefix)
            scalars += [(t, v, 0) for t, v in got.items()]
            new.append(f"{prefix}:0")
        if not transfer and f"train:{key.round}" not in done:
            for row in self._train_log(key):
                scalars += [(f"train/{k}", v, offset + int(row["step"]))
                            for k, v in _numbers(row).items() if k != "step"]
            new.append(f"train:{key.round}")
        if f"{prefix}:{key.round}" not in done:
            ev_folder = key.transfer_dir(self.run) if transfer else key.round_dir(self.run)
            got = self._evals(ev_folder, key.train_dir(self.run), tasks, lm_tasks, prefix)
            scalars += [(t, v, end) for t, v in got.items()]
            new.append(f"{prefix}:{key.round}")
        if not new:
            return
        from torch.utils.tensorboard import SummaryWriter

        with SummaryWriter(str(folder)) as writer:
            for tag, value, step in scalars:
                writer.add_scalar(tag, value, global_step=step)
        atomic_write_json(marker, sorted(done | set(new)))
