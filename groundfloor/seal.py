"""Sealed folders: a checkpoint or cache entry fsynced and hashed when written, verified before it is used."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from groundfloor.rundir import fsync_dir, run_relative


def file_sha256(path: Path) -> str:
    """A file's sha256, read in 4 MiB blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1 << 22):
            h.update(block)
    return h.hexdigest()


def seal_folder(folder: str | Path) -> dict[str, str]:
    """fsync every file under `folder`, the folders and its parent; return {relative path: sha256}.

    Call it on a checkpoint after its final rename and before writing the summary that declares it
    done; record the result so `sealed_problem` can verify it on resume.
    """
    folder = Path(folder)
    shas = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        with open(path, "rb") as f:
            os.fsync(f.fileno())
        shas[path.relative_to(folder).as_posix()] = file_sha256(path)
    for sub in sorted({p.parent for p in folder.rglob("*")} | {folder}, key=lambda p: -len(p.parts)):
        fsync_dir(sub)
    fsync_dir(folder.parent)
    return shas


def sealed_problem(folder: str | Path, recorded: dict[str, str] | None, root: str | Path | None = None) -> str | None:
    """None when `folder` holds every recorded file with its recorded sha256; else what is wrong (paths
    inside `root`, when given, shown relative to it)."""
    folder = Path(folder)

    def shown(p: Path) -> str:
        return str(run_relative(p, root)) if root is not None else str(p)

    if not folder.is_dir():
        return f"{shown(folder)} is missing"
    if not recorded:
        return f"{shown(folder)} has no recorded sha256"
    for rel, sha in sorted(recorded.items()):
        path = folder / rel
        if not path.is_file():
            return f"{shown(path)} is missing"
        if file_sha256(path) != sha:
            return f"{shown(path)} does not match the sha256 recorded when it was written"
    return None
