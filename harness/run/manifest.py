"""manifest.json: resolved config and hash, versions, git commit, seeds, device, sources with sha256."""

from __future__ import annotations

import json
import platform
import subprocess
from datetime import datetime, timezone
from pathlib import Path

from groundfloor.errors import UserError
from groundfloor.rundir import RunDir, atomic_write_json
from harness import __version__
from harness.config import SuiteConfig
from harness.evaluation.provenance import collect_round_checks, resume_problems


def versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for mod in ("torch", "transformers", "trl", "peft", "datasets", "harness"):
        try:
            out[mod] = __import__(mod).__version__
        except Exception:
            out[mod] = "missing"
    out["mipo_bench"] = out.pop("harness")
    return out


def git_commit() -> str | None:
    try:
        here = Path(__file__).resolve().parent
        res = subprocess.run(["git", "-C", str(here), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5)
        return res.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def _flatten(d, prefix=""):
    """Dotted keys to JSON values; lists of mappings are indexed (tasks.0.limit)."""
    if isinstance(d, dict):
        out = {}
        for k, v in d.items():
            out.update(_flatten(v, f"{prefix}{k}."))
        return out
    if isinstance(d, list) and d and all(isinstance(v, dict) for v in d):
        out = {}
        for i, v in enumerate(d):
            out.update(_flatten(v, f"{prefix}{i}."))
        return out
    return {prefix.rstrip("."): json.dumps(d, sort_keys=True)}


def changed_keys(old: dict, new: dict) -> list[str]:
    """The dotted config keys whose values differ between two config dumps."""
    a, b = _flatten(old), _flatten(new)
    return sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))


def read_manifest(run: RunDir) -> dict | None:
    """The run's manifest, None when there is none; a damaged one is a UserError."""
    if not run.manifest.exists():
        return None
    try:
        data = json.loads(run.manifest.read_text())
    except (OSError, ValueError) as e:
        raise UserError(f"{run.manifest} is unreadable ({type(e).__name__}); use --new-run or another --out") from None
    if not isinstance(data, dict):
        raise UserError(f"{run.manifest} is not a run manifest; use --new-run or another --out")
    return data


def check_resume(run: RunDir, cfg_dump: dict, cfg_hash: str, tasks: dict[str, dict] | None = None) -> None:
    """Refuse to resume a run whose config changed, naming the keys that differ.

    With `tasks` (each task's manifest record as planned now) also refuse when a task's data source or
    code version, or the harness version, differs from the run's (harness/evaluation/provenance.py).
    """
    old = read_manifest(run)
    if old is None:
        return
    keys = changed_keys(old.get("config", {}), cfg_dump) if old.get("config_hash") != cfg_hash else []
    if keys:  # no keys: the same config, hashed by another version of the harness
        shown = ", ".join(keys[:8]) + (f" and {len(keys) - 8} more" if len(keys) > 8 else "")
        raise UserError(f"{run.root} holds a run with a different config (changed: {shown}); "
                        "use another --out, or --new-run to start a fresh run folder")
    if tasks is None:
        return
    problems = resume_problems(old, tasks, __version__)
    if problems:
        shown = "; ".join(problems[:4]) + (f"; and {len(problems) - 4} more" if len(problems) > 4 else "")
        raise UserError(f"{run.root} holds a run made from other inputs (changed: {shown}); its results would "
                        "not be comparable: use another --out, or --new-run to start a fresh run folder")


def write_manifest(run: RunDir, cfg_dump: dict, cfg_hash: str, extra: dict) -> dict:
    """Write (or update) the manifest, keeping the original creation time."""
    created = (read_manifest(run) or {}).get("created")
    data = {
        "created": created or datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "updated": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "config": cfg_dump, "config_hash": cfg_hash, "versions": versions(), "git_commit": git_commit(), **extra,
        "train_eval_checks": collect_round_checks(run.root),
    }
    atomic_write_json(run.manifest, data)
    return data


def suite_dump(cfg: SuiteConfig, limit: int | None) -> tuple[dict, str]:
    """The config as recorded (with the CLI's --limit folded in) and its hash."""
    dump = cfg.model_dump(mode="json")
    dump["cli_limit"] = limit
    import hashlib

    return dump, hashlib.sha256(json.dumps(dump, sort_keys=True).encode()).hexdigest()[:16]
