"""Tasks: one module per task (a Task subclass or a `@task` function, tasks/define.py), the base class, the registry."""

from tasks.base import DataSplit, GenerationSettings, Item, Score, Task

__all__ = ["DataSplit", "GenerationSettings", "Item", "Score", "Task"]
