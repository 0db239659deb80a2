"""Training a round in separate processes under `accelerate launch` (multi-GPU, DeepSpeed ZeRO-2).

With `training.launcher: accelerate` the suite runner keeps generation and evaluation in its own
process and, for each round, runs

    accelerate launch --config_file <training.accelerate_config> -m mipo.launch <round_dir>/train

which reads `train_request.json` from that folder, trains with TRL on every rank, and (rank 0)
writes `train_result.json`. The same command can be run by hand to retrain a round.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from groundfloor.errors import RunFailure, UserError
from groundfloor.policy import Policy
from groundfloor.records import TrainSummary
from groundfloor.rundir import atomic_write_json, read_jsonl
from mipo.config import TrainingConfig
from mipo.trainers import trainer_of

REQUEST = "train_request.json"
RESULT = "train_result.json"


def write_request(train_dir: Path, method: str, policy: Policy, initial: Policy, pairs_path: Path,
                  cfg: TrainingConfig, device: str, lora: bool) -> Path:
    """Everything the training processes need, as JSON."""
    path = train_dir / REQUEST
    atomic_write_json(path, {
        "method": method, "policy": policy.to_dict(), "initial": initial.to_dict(), "pairs": str(pairs_path),
        "training": cfg.model_dump(mode="json"), "device": device, "lora": lora,
    })
    return path


def resolve_config(name: str) -> Path:
    """An accelerate config path: as given, else relative to the project root."""
    path = Path(name)
    if path.is_file():
        return path
    packaged = Path(__file__).resolve().parent.parent / name
    if packaged.is_file():
        return packaged
    raise UserError(f"training.accelerate_config: {name} not found")


def _resolved_copy(config: Path, train_dir: Path) -> Path:
    """The accelerate config with a relative `deepspeed_config_file` made absolute (copied into train_dir)."""
    import yaml

    data = yaml.safe_load(config.read_text()) or {}
    ds = (data.get("deepspeed_config") or {}).get("deepspeed_config_file")
    if not ds or Path(ds).is_absolute():
        return config
    for root in (Path.cwd(), config.resolve().parent.parent, config.resolve().parent):
        if (root / ds).is_file():
            data["deepspeed_config"]["deepspeed_config_file"] = str((root / ds).resolve())
            break
    else:
        raise UserError(f"{config}: deepspeed_config_file {ds} not found")
    out = train_dir / "accelerate_config.yaml"
    out.write_text(yaml.safe_dump(data, sort_keys=False))
    return out


def visible_gpus() -> int:
    """CUDA devices this process sees (0 without CUDA)."""
    import torch

    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def launch(train_dir: Path, accelerate_config: str) -> tuple[Policy, TrainSummary]:
    """Run `accelerate launch ... -m mipo.launch train_dir` and return the trained policy and summary."""
    (train_dir / RESULT).unlink(missing_ok=True)
    exe = shutil.which("accelerate", path=str(Path(sys.executable).parent)) or shutil.which("accelerate")
    if exe is None:
        raise UserError("training.launcher: accelerate, but the `accelerate` command is not installed")
    cmd = [exe, "launch", "--config_file", str(_resolved_copy(resolve_config(accelerate_config), train_dir))]
    gpus = visible_gpus()
    if gpus:
        cmd += ["--num_processes", str(gpus)]
    cmd += ["-m", "mipo.launch", str(train_dir)]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(Path(__file__).resolve().parent.parent),
                                                                       os.environ.get("PYTHONPATH")]))}
    proc = subprocess.run(cmd, env=env)
    result = train_dir / RESULT
    if proc.returncode != 0 or not result.exists():
        raise RunFailure(f"training under accelerate failed (exit {proc.returncode}); command: {' '.join(cmd)}")
    data = json.loads(result.read_text())
    return Policy(**data["policy"]), data["summary"]


def run_request(train_dir: Path) -> tuple[Policy, TrainSummary]:
    """Train as described by `train_request.json` (on every rank) with the method's trainer (mipo/trainers.py);
    rank 0 writes `train_result.json`."""
    req = json.loads((train_dir / REQUEST).read_text())
    cfg = TrainingConfig.model_validate(req["training"])
    pairs = read_jsonl(Path(req["pairs"]))
    policy, initial = Policy(**req["policy"]), Policy(**req["initial"])
    new, summary = trainer_of(req["method"]).train(policy, initial, pairs, cfg, train_dir, req["device"], req["lora"])
    if int(os.environ.get("RANK", "0")) == 0:
        summary["world_size"] = int(os.environ.get("WORLD_SIZE", "1"))
        atomic_write_json(train_dir / RESULT, {"policy": new.to_dict(), "summary": summary})
    return new, summary


def main(argv: list[str] | None = None) -> None:
    args = argv if argv is not None else sys.argv[1:]
    if len(args) != 1:
        raise SystemExit("usage: accelerate launch [--config_file F] -m mipo.launch ROUND_DIR/train")
    run_request(Path(args[0]))


if __name__ == "__main__":
    main()
