"""Where downloaded models and data bundles live (overridable with MIPO_BENCH_CACHE)."""

from __future__ import annotations

import os
from pathlib import Path

from groundfloor.errors import UserError, one_line

CACHE_ENV = "MIPO_BENCH_CACHE"


def cache_root() -> Path:
    """The cache folder: $MIPO_BENCH_CACHE, else ~/.cache/mipo-bench."""
    given = os.environ.get(CACHE_ENV)
    root = given or os.path.join(os.path.expanduser("~"), ".cache", "mipo-bench")
    path = Path(root).expanduser()
    where = f"{CACHE_ENV}={one_line(root, 200)}" if given else f"the cache folder {root} (set {CACHE_ENV} to move it)"
    if path.exists() and not path.is_dir():
        raise UserError(f"{where}: is a file, not a folder")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UserError(f"{where}: cannot create the folder ({e.strerror or e})") from None
    return path


def hub_offline() -> bool:
    """True when the user asked for offline mode (HF_HUB_OFFLINE / HF_DATASETS_OFFLINE / MIPO_BENCH_OFFLINE)."""
    return any(
        os.environ.get(k, "").lower() in {"1", "true", "yes"}
        for k in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "MIPO_BENCH_OFFLINE")
    )


def hub_reachable(timeout: float = 3.0) -> bool:
    """False in offline mode or when huggingface.co cannot be reached within `timeout` seconds."""
    if hub_offline():
        return False
    import socket

    host = os.environ.get("HF_ENDPOINT", "https://huggingface.co").split("//")[-1].split("/")[0]
    try:
        with socket.create_connection((host, 443), timeout=timeout):
            return True
    except OSError:
        return False
