"""One check of the paths a command will write or read, run before any work (and by `--dry-run`).

An output path passes when no component is longer than the filesystem allows, the whole path is
within its length limit, it is not a file where a folder is expected (or a folder where a file
is), and the nearest existing folder above it is writable. Inputs that are a folder where a file
is expected (or the reverse) say so instead of "not found". Paths are inspected with `os.path`
functions, which never raise on over-long names.
"""

from __future__ import annotations

import os
from pathlib import Path

from groundfloor.errors import UserError
from groundfloor.rundir import shown

# room below a run folder: models/<folder ≤ 80>/<method>/round_<k>/lineages/<task ≤ 64>/train/checkpoint/<file>
DEEPEST_IN_RUN = 256


def _abs(path: str | Path) -> str:
    return os.path.abspath(os.path.expanduser(str(path)))


def nearest_existing(path: str | Path) -> str:
    """The path itself if it exists, else its closest existing ancestor."""
    p = _abs(path)
    while not os.path.lexists(p) and os.path.dirname(p) != p:
        p = os.path.dirname(p)
    return p


def _limits(existing: str) -> tuple[int, int]:
    """(longest file name, longest path) in bytes for the filesystem holding `existing`."""
    try:
        return os.pathconf(existing, "PC_NAME_MAX"), os.pathconf(existing, "PC_PATH_MAX")
    except (OSError, ValueError, AttributeError):  # no pathconf (Windows) or an unknown name
        return 255, 4096


def check_lengths(path: str | Path, label: str, room: int = 0) -> None:
    """Every component within the name limit; the whole path plus `room` (for what goes below) within the path limit."""
    p = _abs(path)
    name_max, path_max = _limits(nearest_existing(os.path.dirname(p) or p))
    for part in Path(p).parts:
        if len(os.fsencode(part)) > name_max:
            raise UserError(f"{label} {shown(str(path))}: the name '{shown(part, 40)}' is {len(os.fsencode(part))} "
                            f"bytes; this filesystem allows at most {name_max}")
    if len(os.fsencode(p)) + room > path_max:
        extra = f" plus {room} for the files written inside it" if room else ""
        raise UserError(f"{label} {shown(str(path))}: the path is {len(os.fsencode(p))} bytes{extra}; this "
                        f"filesystem allows at most {path_max}")


def _check_writable_parent(p: str, label: str, given: str | Path) -> None:
    base = nearest_existing(p)
    if not os.path.isdir(base):
        raise UserError(f"{label} {shown(str(given))}: {shown(base)} is a file, so nothing can be created inside it")
    if not os.access(base, os.W_OK | os.X_OK):
        raise UserError(f"{label} {shown(str(given))}: no permission to write in {shown(base)}")
    probe = os.path.join(base, f".mipo-bench-probe-{os.getpid()}")
    try:  # permissions are not everything (a read-only mount, /proc, root's view): try, leaving no trace
        os.mkdir(probe)
        os.rmdir(probe)
    except FileExistsError:
        pass
    except OSError as e:
        raise UserError(f"{label} {shown(str(given))}: cannot create anything in {shown(base)} "
                        f"({e.strerror or e})") from None


def check_out_dir(path: str | Path, label: str = "--out", room: int = 0) -> Path:
    """A folder that will be created or written into (a run folder, a report, an export)."""
    check_lengths(path, label, room)
    p = _abs(path)
    if os.path.lexists(p) and not os.path.isdir(p):
        raise UserError(f"{label} {shown(str(path))} is a file, not a folder")
    _check_writable_parent(p, label, path)
    return Path(path)


def check_out_file(path: str | Path, label: str = "--out") -> Path:
    """A file that will be written (atomically, in its folder, which is created if missing)."""
    check_lengths(path, label)
    p = _abs(path)
    if os.path.isdir(p):
        raise UserError(f"{label} {shown(str(path))} is a folder; give a file path")
    _check_writable_parent(os.path.dirname(p), label, path)
    return Path(path)


def check_in_file(path: str | Path, label: str) -> Path:
    """An existing, readable file."""
    p = _abs(path)
    if os.path.isdir(p):
        raise UserError(f"{label} {shown(str(path))} is a folder, not a file")
    if not os.path.exists(p):
        raise UserError(f"{label} not found: {shown(str(path))}")
    if not os.path.isfile(p):
        raise UserError(f"{label} {shown(str(path))} is not a regular file")
    if not os.access(p, os.R_OK):
        raise UserError(f"{label} {shown(str(path))}: no permission to read it")
    return Path(path)


def check_run_folder(path: str | Path) -> Path:
    """An existing run folder with a results.csv file (for `report` and `compare`)."""
    p = _abs(path)
    if os.path.isfile(p):
        raise UserError(f"{shown(str(path))} is a file, not a run folder")
    if not os.path.isdir(p):
        raise UserError(f"run folder not found: {shown(str(path))}")
    results = os.path.join(p, "results.csv")
    if os.path.isdir(results):
        raise UserError(f"{shown(str(path))}: results.csv is a folder, not a file")
    if not os.path.isfile(results):
        raise UserError(f"{shown(str(path))}: not a run folder (no results.csv)")
    return Path(path)


def is_run_folder(folder: str | Path) -> bool:
    """A folder that `run` or `eval` wrote: it holds manifest.json, or results.csv next to models/."""
    f = str(folder)
    return os.path.isfile(os.path.join(f, "manifest.json")) or (
        os.path.isfile(os.path.join(f, "results.csv")) and os.path.isdir(os.path.join(f, "models")))


def enclosing_run(path: str | Path) -> str | None:
    """The run folder that `path` lies inside (its closest ancestor that is one, symlinks resolved), or None."""
    p = os.path.dirname(os.path.realpath(_abs(path)))
    while True:
        if is_run_folder(p):
            return p
        parent = os.path.dirname(p)
        if parent == p:
            return None
        p = parent


def check_out_of_runs(path: str | Path, label: str = "--out") -> None:
    """Refuse a run folder inside another run's folder: that run's files (and its results) are its own."""
    run = enclosing_run(path)
    if run is not None:
        raise UserError(f"{label} {shown(str(path))} lies inside the run folder {shown(run)}; give a folder outside "
                        "every run folder")


def check_not_a_run_file(path: str | Path, label: str, runs: list[str | Path] = ()) -> None:
    """Refuse to write over an existing file inside a run folder (one of `runs`, or any folder `is_run_folder`)."""
    full = os.path.realpath(_abs(path))
    if not os.path.lexists(full):
        return
    roots = [os.path.realpath(_abs(r)) for r in runs]
    run = next((r for r in roots if os.path.commonpath([full, r]) == r), None) or enclosing_run(full)
    if run is not None:
        raise UserError(f"{label} {shown(str(path))} is a file of the run folder {shown(run)}; it is not "
                        "overwritten: write to a new file")
