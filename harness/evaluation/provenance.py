"""Provenance checks of a run: task code versions, what a resume may not change, and train/eval separation.

- `code_version(task)`: sha256 of the source of the modules that define the task class and its task
  base classes (e.g. svamp = tasks/svamp.py + tasks/gsm8k.py); recorded per task in manifest.json.
- `resume_problems(old, new)`: what differs between a run's manifest and now (data source, task code,
  harness version), each named; `harness.run.manifest.check_resume` refuses the resume with them.
- `collect_round_checks(root)`: every round's recorded train/eval check (tasks/disjoint.py makes it).
"""

from __future__ import annotations

import hashlib
import inspect
import json
from pathlib import Path
from typing import Any

from tasks.base import Task

CHECK_METHOD = ("sha256 (first 16 hex) of the normalised profile + question of each pair's item and of the "
                "pair's rendered prompt, against those of every item in every task's evaluation pool")


def code_version(task: Task) -> dict[str, Any]:
    """Hash of the source files that define the task (its class and its Task base classes, not Task)."""
    files: list[str] = []
    for cls in type(task).__mro__:
        if not (isinstance(cls, type) and issubclass(cls, Task)) or cls is Task:
            continue
        path = inspect.getsourcefile(cls)
        if path and path not in files:
            files.append(path)
    h = hashlib.sha256()
    for path in files:
        h.update(Path(path).read_bytes())
    return {"sha256": h.hexdigest()[:16], "modules": [_short(p) for p in files]}


def _short(path: str) -> str:
    p = Path(path).resolve()
    for parent in p.parents:
        if parent.name == "tasks":
            return str(p.relative_to(parent.parent))
    return str(p)


def _source_text(record: dict | None) -> str:
    src = (record or {}).get("source") or {}
    return f"{src.get('kind', '?')} {', '.join(src.get('eval') or []) or '?'}"


def resume_problems(old: dict, tasks_now: dict[str, dict], version_now: str) -> list[str]:
    """What changed since the run was started: harness version, and per task data source and code version."""
    problems = []
    version_then = (old.get("versions") or {}).get("mipo_bench")
    if version_then != version_now:
        problems.append(f"mipo-bench version {version_then} -> {version_now}")
    for tid, now in tasks_now.items():
        then = (old.get("tasks") or {}).get(tid)
        if then is None:
            continue  # a task the old run did not have: the config check names it
        if "data" not in then or "code_version" not in then:
            problems.append(f"task {tid}: the run predates data-source and code-version records")
            continue
        if json.dumps(then["data"].get("source"), sort_keys=True) != json.dumps(now["data"]["source"], sort_keys=True):
            problems.append(f"task {tid} data source ({_source_text(then['data'])} -> {_source_text(now['data'])})")
        if then["code_version"].get("sha256") != now["code_version"]["sha256"]:
            problems.append(f"task {tid} code ({', '.join(now['code_version']['modules'])} changed)")
    return problems


def collect_round_checks(root: Path) -> dict[str, Any]:
    """Every round's recorded train/eval check (pairs_stats.json `eval_overlap`) under a run folder."""
    rounds = []
    for stats_path in sorted((root / "models").glob("**/pairs_stats.json")):
        try:
            check = json.loads(stats_path.read_text()).get("eval_overlap")
        except (OSError, ValueError):
            check = None
        rel = str(stats_path.parent.relative_to(root))
        rounds.append({"round": rel, **({k: check[k] for k in ("pairs", "overlap", "outside_train_pool", "ok")}
                                        if check else {"ok": None, "missing": True})})
    return {"rounds_checked": sum(1 for r in rounds if r["ok"] is not None),
            "pairs_checked": sum(r.get("pairs", 0) for r in rounds),
            "ok": all(r["ok"] for r in rounds), "method": CHECK_METHOD, "rounds": rounds}
