"""Bounds on what a user file or value may ask for, checked before anything is built from it.

A suite is small: a YAML file of a few kilobytes can still expand (nested aliases) to billions of values
or nest thousands of levels deep, and a count such as `rounds: 100000000` would build a plan of that
many steps. These limits are far above any real use and far below what exhausts memory or the stack.
"""

from __future__ import annotations

from typing import Any

from groundfloor.errors import UserError

MAX_VALUES = 100_000  # values in a suite (or a --set value) once YAML aliases are expanded
MAX_DEPTH = 64  # levels of nested mappings and lists
MAX_ROUNDS = 100  # self-improvement rounds per lineage
MAX_ITEMS = 10_000_000  # items or prompts per task (limit, train prompts per round)
MAX_BATCH = 65_536  # batch sizes, accumulation steps, samples per prompt, LoRA rank
MAX_SEED = 2**32 - 1  # numpy's and torch's seed range


def check_bounded(data: Any, source: str) -> Any:
    """`data` when it holds at most MAX_VALUES values nested at most MAX_DEPTH deep; else a UserError.

    Walks the data as written out (an alias counts each time it is used), so a structure whose
    serialisation would not fit in memory is refused after MAX_VALUES steps.
    """
    seen, stack = 1, [(data, 1)]
    while stack:
        node, depth = stack.pop()
        children = list(node.values()) if isinstance(node, dict) else node if isinstance(node, list) else []
        if not children:
            continue
        if depth >= MAX_DEPTH:
            raise UserError(f"{source}: nested more than {MAX_DEPTH} levels deep")
        seen += len(children)
        if seen > MAX_VALUES:
            raise UserError(f"{source}: more than {MAX_VALUES:,} values once YAML aliases (&name / *name) are "
                            "expanded; write the values out or use fewer aliases")
        stack.extend((child, depth + 1) for child in children)
    return data
