"""Tasks: one small module per task, plus the base class and the registry."""

from tasks.base import DataSplit, GenerationSettings, Item, Score, Task

__all__ = ["DataSplit", "GenerationSettings", "Item", "Score", "Task"]
