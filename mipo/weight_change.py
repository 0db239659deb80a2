"""How far a round moved the weights: ||θ_new − θ_parent|| / ||θ_parent|| over the trained weights, in fp32.

Read from the saved files (safetensors), so it works the same for in-process and `accelerate launch`
rounds. Full fine-tuning compares every tensor of the new checkpoint with the same tensor of the
parent checkpoint. LoRA compares the *effective* weights of the adapted modules, W0 + s·B·A, with
the parent's (W0 + s·B_p·A_p, or W0 for the first adapter): the change a merged model would see,
not the adapter's own parameters (whose parent is zero in round 1).
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors import safe_open

LORA_A, LORA_B = ".lora_A.weight", ".lora_B.weight"


class _Tensors:
    """Lazy access by name to the tensors of a folder's *.safetensors files."""

    def __init__(self, folder: str | Path):
        self.where: dict[str, Path] = {}
        for path in sorted(Path(folder).glob("*.safetensors")):
            with safe_open(str(path), "pt") as f:
                self.where.update({k: path for k in f.keys()})

    def get(self, key: str) -> torch.Tensor:
        with safe_open(str(self.where[key]), "pt") as f:
            return f.get_tensor(key).to(torch.float32)


class _Sums:
    """Running sums of ||Δ||² and ||θ_parent||² (fp32 values, fp64 sums) and of elements that changed."""

    def __init__(self):
        self.diff = self.norm = 0.0
        self.tensors = self.elements = self.changed = 0

    def add(self, new: torch.Tensor, old: torch.Tensor) -> None:
        self.diff += float((new - old).double().pow(2).sum())
        self.norm += float(old.double().pow(2).sum())
        self.tensors += 1
        self.elements += new.numel()
        self.changed += int((new != old).sum())

    def result(self, over: str) -> dict:
        rel = (self.diff / self.norm) ** 0.5 if self.norm > 0 else float("nan")
        return {"relative_weight_change": rel, "weight_change_over": over, "weight_tensors_compared": self.tensors,
                "weight_elements_compared": self.elements, "weight_elements_changed": self.changed}


def full_change(new_dir: str | Path, parent_dir: str | Path) -> dict:
    """Relative change over every tensor the new checkpoint shares (by name and shape) with its parent."""
    new, old = _Tensors(new_dir), _Tensors(parent_dir)
    sums = _Sums()
    for key in sorted(new.where):
        if key not in old.where:
            continue
        a, b = new.get(key), old.get(key)
        if a.shape == b.shape and a.is_floating_point():
            sums.add(a, b)
    if not sums.tensors:
        raise ValueError(f"{new_dir} and {parent_dir} share no weight tensor")
    return sums.result("all weights (full fine-tuning)")


def _scaling(adapter_dir: Path) -> float:
    cfg = json.loads((adapter_dir / "adapter_config.json").read_text())
    r, alpha = cfg["r"], cfg.get("lora_alpha", cfg["r"])
    return alpha / r ** 0.5 if cfg.get("use_rslora") else alpha / r


def _base_key(module: str, base: _Tensors) -> str | None:
    """The base model's weight name for a PEFT module path (prefix `base_model.model.` removed)."""
    name = module.removeprefix("base_model.model.") + ".weight"
    for cand in (name, name.removeprefix("model."), "model." + name):
        if cand in base.where:
            return cand
    return None


def _delta(adapter: _Tensors, module: str, scale: float) -> torch.Tensor:
    return scale * adapter.get(module + LORA_B) @ adapter.get(module + LORA_A)


def lora_change(new_adapter: str | Path, parent_adapter: str | Path | None, base_dir: str | Path) -> dict:
    """Relative change of the effective (merged) weights of every module the new adapter adapts."""
    new = _Tensors(new_adapter)
    old = _Tensors(parent_adapter) if parent_adapter else None
    base = _Tensors(base_dir)
    s_new = _scaling(Path(new_adapter))
    s_old = _scaling(Path(parent_adapter)) if parent_adapter else 0.0
    modules = sorted(k.removesuffix(LORA_A) for k in new.where if k.endswith(LORA_A))
    sums = _Sums()
    for module in modules:
        key = _base_key(module, base)
        if key is None:
            raise ValueError(f"adapter module {module} has no weight in {base_dir}")
        w0 = base.get(key)
        w_old = w0 + _delta(old, module, s_old) if old is not None and module + LORA_A in old.where else w0
        sums.add(w0 + _delta(new, module, s_new), w_old)
    if not sums.tensors:
        raise ValueError(f"{new_adapter} holds no LoRA weights")
    return sums.result("effective weights W0 + s·B·A of the LoRA-adapted modules")
