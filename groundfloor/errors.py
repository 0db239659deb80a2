"""User-facing errors: one line, exit code 2, with did-you-mean hints."""

from __future__ import annotations

import difflib
import unicodedata
from collections.abc import Iterable

MAX_MESSAGE = 1000  # characters of a printed error; longer ones are cut (a pasted file, a 5,000-character id)


class UserError(Exception):
    """Bad input from the user. The CLI prints the message on one line and exits with 2."""

    exit_code = 2


class RunFailure(Exception):
    """A run could not finish (exit code 1); what was computed stays on disk."""

    exit_code = 1


def _invisible(c: str) -> bool:
    """Control, format (zero-width), unassigned and separator characters other than the plain space."""
    return c != " " and unicodedata.category(c)[0] in "CZ"


def one_line(text: str, limit: int = MAX_MESSAGE) -> str:
    """`text` as one printable line: control and invisible characters escaped (\\n, \\x1b, \\u200b), cut at `limit`."""
    out = "".join(c.encode("unicode_escape", "backslashreplace").decode("ascii") if _invisible(c) else c
                  for c in text)
    return out if len(out) <= limit else f"{out[:limit - 30]}…({len(out)} characters)"


def look_alike(name: str) -> str:
    """`name` with look-alike characters folded (full-width digits, ligatures: NFKC) and invisible ones dropped."""
    return "".join(c for c in unicodedata.normalize("NFKC", name) if not _invisible(c)).strip()


def closest(name: str, valid: Iterable[str]) -> str | None:
    """The closest valid name to `name` (look-alike characters folded first), or None."""
    valid = list(valid)
    folded = look_alike(name)
    if folded != name and folded in valid:
        return folded
    name = folded or name
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
