"""Finding tasks: built-ins, user folders (`--include DIR`) and installed packages (entry points).

A registry is an ordinary object built per command; nothing is registered globally, and a
user task whose id collides with another is an error rather than a silent override.

Importing a user folder or an installed plugin runs its code (also under `run --dry-run`). A user
folder that fails to import is an error; an installed plugin that fails is reported in one line on
stderr and skipped, so commands that do not need its tasks keep working.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import sys
from importlib.metadata import entry_points
from pathlib import Path

from groundfloor.errors import UserError, closest, unknown
from groundfloor.rundir import validate_id
from tasks.base import Task

BUILTIN_MODULES = ("tasks.gsm8k", "tasks.svamp", "tasks.math500", "tasks.arc", "tasks.mmlu", "tasks.csqa",
                   "tasks.profiles", "tasks.prism", "tasks.community_alignment", "tasks.multibench")
ENTRY_POINT_GROUP = "mipo_bench.tasks"
_WARNED: set[str] = set()  # broken plugins already reported by this process


def _task_classes(module) -> list[type[Task]]:
    """The module's own task classes; one that sets an `id` but lacks a method a task must have is an error."""
    classes = [obj for _, obj in inspect.getmembers(module, inspect.isclass)
               if issubclass(obj, Task) and getattr(obj, "id", None) and obj.__module__ == module.__name__]
    for cls in classes:
        if inspect.isabstract(cls) and "id" in vars(cls):
            missing = ", ".join(sorted(cls.__abstractmethods__))
            where = getattr(module, "__file__", None) or module.__name__
            raise UserError(f"{where}: task class {cls.__name__} (id '{cls.id}') does not define {missing}, "
                            "which every task must")
    return [c for c in classes if not inspect.isabstract(c)]


def declared_names(cls: type[Task]) -> dict[str, tuple[str, list[str]]]:
    """The registry names a task class declares: attribute -> (value, the valid names)."""
    from tasks.negatives import NEGATIVES, PARTIAL_RULES

    return {"default_negative": (cls.default_negative, sorted(NEGATIVES)),
            "partial_rule": (cls.partial_rule, list(PARTIAL_RULES))}


def check_names(cls: type[Task], origin: str) -> None:
    """Refuse a task class whose declared registry names are not known ones (a typo fails when it is loaded)."""
    for attr, (value, valid) in declared_names(cls).items():
        if value not in valid:
            hint = closest(value, valid) if isinstance(value, str) else None
            tip = f"did you mean '{hint}'? " if hint else ""
            raise UserError(f"{origin}: task '{cls.id}' sets {attr} = {value!r}, which is not known; "
                            f"{tip}(choices: {', '.join(valid)})")


def _load_file(path: Path):
    name = f"mipo_bench_user_{path.stem}_{abs(hash(str(path.resolve()))) % 10**8}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise UserError(f"cannot import task file {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except SystemExit as e:  # a module that calls sys.exit must not end the command silently
        raise UserError(f"{path}: failed to import (it called sys.exit({e.code!r}))") from None
    except Exception as e:
        raise UserError(f"{path}: failed to import ({type(e).__name__}: {e})") from None
    return module


class TaskRegistry:
    """The tasks visible to one command."""

    def __init__(self, include: list[str | Path] | None = None, use_entry_points: bool = True):
        self._classes: dict[str, type[Task]] = {}
        self._origin: dict[str, str] = {}
        self.broken: dict[str, str] = {}  # installed plugin -> why it failed to load
        for mod_name in BUILTIN_MODULES:
            self._add_module(importlib.import_module(mod_name), "built-in")
        if use_entry_points:
            for ep in entry_points(group=ENTRY_POINT_GROUP):
                self._add_plugin(ep)
        for folder in include or []:
            folder = Path(folder).expanduser()
            if not folder.is_dir():
                what = "is a file, not a folder" if folder.exists() else "not found"
                raise UserError(f"include folder {folder} {what}")
            for path in sorted(folder.glob("*.py")):
                if not path.name.startswith("_"):
                    self._add_module(_load_file(path), str(path))

    def _add_plugin(self, ep) -> None:
        """Register an installed plugin's tasks; a plugin that fails is named on stderr once and skipped."""
        origin = f"plugin '{ep.name}' ({ep.value})"
        before = dict(self._classes), dict(self._origin)
        try:
            obj = ep.load()
            classes = _task_classes(obj) if inspect.ismodule(obj) else [obj]
            if not all(isinstance(c, type) and issubclass(c, Task) for c in classes):
                raise TypeError(f"{ep.value} is not a Task subclass or a module of them")
            for cls in classes:
                self._add(cls, origin)
        except (Exception, SystemExit) as e:  # a plugin's import can raise anything (even sys.exit); it must not
            # break unrelated commands
            self._classes, self._origin = before
            msg = str(e).splitlines()[0] if str(e) else ""
            self.broken[ep.name] = f"{type(e).__name__}: {msg}" if msg else type(e).__name__
            if ep.name not in _WARNED:
                _WARNED.add(ep.name)
                print(f"warning: task {origin} failed to load ({self.broken[ep.name]}); its tasks are unavailable",
                      file=sys.stderr)

    def _add_module(self, module, origin: str) -> None:
        for cls in _task_classes(module):
            self._add(cls, origin)

    def _add(self, cls: type[Task], origin: str) -> None:
        try:
            validate_id(cls.id)  # ids become folder names in run folders
        except UserError as e:
            raise UserError(f"{origin}: {e}") from None
        check_names(cls, origin)
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
            err = unknown("task", task_id, self._classes)
            if self.broken:
                err = UserError(f"{err}; note: plugin {', '.join(sorted(self.broken))} failed to load")
            raise err
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
