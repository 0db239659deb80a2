"""User-facing errors: one line, exit code 2, with did-you-mean hints."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class UserError(Exception):
    """Bad input from the user. The CLI prints the message on one line and exits with 2."""

    exit_code = 2


class RunFailure(Exception):
    """A run could not finish (exit code 1); what was computed stays on disk."""

    exit_code = 1


def closest(name: str, valid: Iterable[str]) -> str | None:
    """The closest valid name to `name`, or None."""
    valid = list(valid)
    hits = difflib.get_close_matches(name, valid, n=1, cutoff=0.4)
    if hits:
        return hits[0]
    lowered = [v for v in valid if name.lower() in v.lower() or v.lower() in name.lower()]
    return lowered[0] if lowered else None


def unknown(kind: str, name: str, valid: Iterable[str]) -> UserError:
    """A UserError for an unknown `kind` (model, task, key, ...) naming the closest valid one."""
    valid = sorted(set(valid))
    hint = closest(name, valid)
    tail = f"; did you mean '{hint}'?" if hint else f"; valid: {', '.join(valid[:12])}"
    return UserError(f"unknown {kind} '{name}'{tail}")
