"""Loading hub datasets, with one clear line when the hub cannot be reached."""

from __future__ import annotations

from harness.errors import UserError


def load_hub_split(task_id: str, path: str, name: str | None, split: str, offline: bool):
    """`datasets.load_dataset(path, name, split=split)`, or a UserError when offline."""
    if offline:
        raise UserError(f"task '{task_id}' needs the hub dataset '{path}' ({split}), and the hub is unreachable "
                        "(offline); run it online or pick an offline task")
    import datasets

    try:
        return datasets.load_dataset(path, name, split=split)
    except Exception as e:  # network errors, gated datasets, renamed configs
        raise UserError(f"task '{task_id}': could not load hub dataset '{path}' ({split}): {type(e).__name__}") from None
