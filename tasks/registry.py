"""Finding tasks: built-ins, user folders (`--include DIR`) and installed packages (entry points).

A registry is an ordinary object built per command; nothing is registered globally, and a
user task whose id collides with another is an error rather than a silent override.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import sys
from importlib.metadata import entry_points
from pathlib import Path

from harness.errors import UserError, unknown
from tasks.base import Task

BUILTIN_MODULES = ("tasks.gsm8k", "tasks.svamp", "tasks.math500", "tasks.arc", "tasks.mmlu", "tasks.csqa",
                   "tasks.profiles", "tasks.prism", "tasks.community_alignment")
ENTRY_POINT_GROUP = "mipo_bench.tasks"


def _task_classes(module) -> list[type[Task]]:
    return [
        obj for _, obj in inspect.getmembers(module, inspect.isclass)
        if issubclass(obj, Task) and not inspect.isabstract(obj) and getattr(obj, "id", None)
        and obj.__module__ == module.__name__
    ]


def _load_file(path: Path):
    name = f"mipo_bench_user_{path.stem}_{abs(hash(str(path.resolve()))) % 10**8}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise UserError(f"cannot import task file {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as e:
        raise UserError(f"{path}: failed to import ({type(e).__name__}: {e})") from None
    return module


class TaskRegistry:
    """The tasks visible to one command."""

    def __init__(self, include: list[str | Path] | None = None, use_entry_points: bool = True):
        self._classes: dict[str, type[Task]] = {}
        self._origin: dict[str, str] = {}
        for mod_name in BUILTIN_MODULES:
            self._add_module(importlib.import_module(mod_name), "built-in")
        if use_entry_points:
            for ep in entry_points(group=ENTRY_POINT_GROUP):
                obj = ep.load()
                classes = _task_classes(obj) if inspect.ismodule(obj) else [obj]
                for cls in classes:
                    self._add(cls, f"entry point {ep.name}")
        for folder in include or []:
            folder = Path(folder).expanduser()
            if not folder.is_dir():
                raise UserError(f"include folder not found: {folder}")
            for path in sorted(folder.glob("*.py")):
                if not path.name.startswith("_"):
                    self._add_module(_load_file(path), str(path))

    def _add_module(self, module, origin: str) -> None:
        for cls in _task_classes(module):
            self._add(cls, origin)

    def _add(self, cls: type[Task], origin: str) -> None:
        if cls.id in self._classes and self._classes[cls.id] is not cls:
            raise UserError(f"task id '{cls.id}' from {origin} collides with the one from {self._origin[cls.id]}")
        self._classes[cls.id] = cls
        self._origin[cls.id] = origin

    def ids(self) -> list[str]:
        return sorted(self._classes)

    def origin(self, task_id: str) -> str:
        return self._origin[task_id]

    def get(self, task_id: str, options: dict | None = None) -> Task:
        """An instance of task `task_id` with validated options."""
        if task_id not in self._classes:
            raise unknown("task", task_id, self._classes)
        cls = self._classes[task_id]
        from pydantic import ValidationError

        try:
            return cls(options)
        except ValidationError as e:
            first = e.errors()[0]
            where = ".".join(str(p) for p in first.get("loc", ()))
            if first.get("type") == "extra_forbidden":
                raise unknown(f"option for task {task_id}", where, cls.Options.model_fields) from None
            raise UserError(f"task {task_id}: option {where}: {first.get('msg')}") from None
