"""Command-line overrides of a suite file: `--seed N` and `--set key.path=value`.

The suite file is validated first (its own errors name the file); the overrides are then applied
to its mapping and the result is validated by the same config model, so an override meets the same
checks and did-you-mean hints as a key in the file. Values are YAML (`0.2`, `true`, `null`, `all`,
`[gsm8k, arc_challenge]`). Paths walk mappings by key and lists by index; `tasks` and `models`
entries are also found by their id or name (`tasks.gsm8k.limit=20`). `--seed N` sets the suite's `seed`
and `training.seed`. The overridden values are what the manifest records and hashes.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

from groundfloor.errors import UserError, closest
from groundfloor.limits import check_bounded
from groundfloor.rundir import shown
from harness.config import SuiteConfig, load_yaml, parse_suite


def parse_assignment(text: str) -> tuple[list[str], Any]:
    """`a.b.c=value` -> (["a", "b", "c"], the YAML value)."""
    key, sep, raw = text.partition("=")
    parts = key.strip().split(".")
    if not sep or not key.strip() or any(not p.strip() for p in parts):
        raise UserError(f"--set {text!r}: expected key.path=value (e.g. training.beta=0.2)")
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except RecursionError:
        raise UserError(f"--set {shown(key.strip())}: the value is nested too deeply to read") from None
    except yaml.YAMLError as e:
        raise UserError(f"--set {text!r}: the value is not valid YAML ({str(e).splitlines()[0]})") from None
    return [p.strip() for p in parts], check_bounded(value, f"--set {shown(key.strip())}")


def _names(entry: Any) -> list[str]:
    """What a `tasks`/`models` entry is called: its id (and a model's `name`)."""
    if isinstance(entry, str):
        return [entry]
    return [str(entry[k]) for k in ("name", "id") if isinstance(entry, dict) and entry.get(k) is not None]


def _list_slot(seq: list, part: str, where: str) -> int:
    """The index of `part` in a list: a number, or the id of a `tasks`/`models` entry."""
    if part.lstrip("-").isdigit():
        i = int(part)
        if not -len(seq) <= i < len(seq):
            raise UserError(f"--set {where}: index {i} is out of range ({len(seq)} entries)")
        return i % len(seq)
    for i, entry in enumerate(seq):
        if part in _names(entry):
            return i
    names = [n for e in seq for n in _names(e)]
    hint = closest(part, names)
    tail = f"; did you mean '{hint}'?" if hint else f"; entries: {', '.join(names) or 'none'}"
    raise UserError(f"--set {where}: no entry '{part}' in this list{tail}")


def set_path(data: dict, parts: list[str], value: Any, text: str) -> None:
    """Put `value` at `parts` in `data` (in place), creating mappings on the way."""
    node: Any = data
    for depth, part in enumerate(parts):
        last = depth == len(parts) - 1
        where = f"{'.'.join(parts[:depth + 1])} (in {text!r})"
        if isinstance(node, list):
            i = _list_slot(node, part, where)
            if isinstance(node[i], str) and not last:  # `- gsm8k` written short: expand to a mapping
                node[i] = {"id": node[i]}
            key: Any = i
        elif isinstance(node, dict):
            key = part
            if not last and node.get(key) is None:
                node[key] = {}
        else:
            raise UserError(f"--set {where}: '{'.'.join(parts[:depth])}' is a single value, not a mapping or list")
        if last:
            node[key] = value
        else:
            node = node[key]


def apply_overrides(data: dict, sets: list[str], seed: int | None) -> tuple[dict, list[str]]:
    """A copy of the suite mapping with the overrides applied, and the overrides as recorded."""
    out = copy.deepcopy(data)
    applied = []
    if seed is not None:
        out["seed"] = seed
        training = out.get("training")
        out["training"] = {**(training if isinstance(training, dict) else {}), "seed": seed}
        applied.append(f"seed={seed}")
    for text in sets:
        parts, value = parse_assignment(text)
        set_path(out, parts, value, text)
        applied.append(text)
    return out, applied


def load_suite_with(path: Path, sets: list[str], seed: int | None) -> tuple[SuiteConfig, list[str]]:
    """Load and validate a suite file, then apply and validate the overrides; (config, overrides as given)."""
    data = load_yaml(path)
    parse_suite(data, source=str(path))  # the file's own errors are reported as the file's
    if not sets and seed is None:
        cfg, applied = parse_suite(data, source=str(path)), []
    else:
        merged, applied = apply_overrides(data, sets, seed)
        cfg = parse_suite(merged, source=f"{path} with {' '.join(_shown(a) for a in applied)}")
    cfg._base_dir = path.parent
    return cfg, applied


def _shown(applied: str) -> str:
    return f"--seed {applied.split('=', 1)[1]}" if applied.startswith("seed=") else f"--set {applied}"
