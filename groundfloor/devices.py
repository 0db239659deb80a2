"""Device and dtype resolution."""

from __future__ import annotations

from pathlib import Path


def resolve_device(device: str) -> str:
    """'auto' -> 'cuda' when available, else 'cpu'."""
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        from groundfloor.errors import UserError

        raise UserError("--device cuda was asked for, but torch sees no CUDA device")
    return device


def cpu_has_fast_bf16() -> bool:
    """True on CPUs with AMX or AVX-512 BF16 (bf16 matmuls are then faster than fp32)."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "amx_bf16" in flags or "avx512_bf16" in flags


def resolve_dtype(dtype: str, device: str):
    """'auto' -> bf16 on CUDA and on CPUs with fast bf16, else fp32."""
    import torch

    table = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
    if dtype != "auto":
        return table[dtype]
    if device == "cuda" or cpu_has_fast_bf16():
        return torch.bfloat16
    return torch.float32
