"""The run directory: paths (names made safe and injective), atomic writes, resumable JSONL, sealed checkpoints.

Model names become folder names through `slug`: a name that is already safe keeps its name, any
other gets a lossy cleanup plus a short hash of the original, so two names never share a folder.
Task ids are validated, not rewritten. Every path handed out stays inside the run root.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from groundfloor.errors import RunFailure, UserError, look_alike
from groundfloor.locks import RunLock, pid_alive  # noqa: F401  (RunLock lived here; kept importable)


def atomic_write_text(path: Path, text: str) -> None:
    """Write via a temp file and rename, so readers never see a half-written file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        fsync_dir(path.parent)  # the rename itself is durable before anything relies on it
    except OSError as e:
        tmp.unlink(missing_ok=True)
        if e.errno == errno.ENOSPC:
            raise RunFailure(f"disk full while writing {path}; free space and re-run the same command "
                             "to resume") from None
        raise


@contextmanager
def staged_folder(target: str | Path) -> Iterator[Path]:
    """A temporary sibling folder to build `target` in: on success its files are moved into `target` (created
    only then, each file by an atomic rename); on an error or Ctrl-C it is removed and `target` is untouched."""
    target = Path(target)
    tmp = target.with_name(f".{target.name}.tmp-{os.getpid()}")
    for old in target.parent.glob(f".{target.name}.tmp-*"):  # left by a killed build (kill -9 skips `finally`)
        pid = old.name.rsplit("-", 1)[-1]
        if old == tmp or not pid.isdigit() or not pid_alive(int(pid)):
            shutil.rmtree(old, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        yield tmp
        for path in sorted(p for p in tmp.rglob("*") if not p.is_dir()):
            dest = target / path.relative_to(tmp)
            dest.parent.mkdir(parents=True, exist_ok=True)
            os.replace(path, dest)
        fsync_dir(target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def atomic_write_json(path: Path, obj: Any) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n")


def read_jsonl(path: Path, repair: bool = True) -> list[dict]:
    """Rows of an append-only JSONL file.

    A torn last line (no newline: the writer was killed mid-append) is left out and, with `repair` (the
    writer's own reads), truncated away so the next append starts on a clean line; readers of another
    process's file pass repair=False (its last line may be an append in progress). A complete line that is
    not a JSON object is skipped.
    """
    try:
        raw = path.read_bytes()
    except OSError:
        return []
    rows, good_end = [], 0
    for line in raw.split(b"\n")[:-1]:  # the piece after the last newline is a torn line (or empty)
        good_end += len(line) + 1
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError:
            continue
        if isinstance(row, dict):
            rows.append(row)
    if repair and good_end != len(raw):
        with open(path, "r+b") as f:
            f.truncate(good_end)
            f.flush()
            os.fsync(f.fileno())
    return rows


def append_jsonl(path: Path, row: dict) -> None:
    """Append one row and flush it to disk."""
    path.parent.mkdir(parents=True, exist_ok=True)
    line = json.dumps(row, ensure_ascii=False, default=str) + "\n"
    try:
        with open(path, "a", encoding="utf-8") as f:
            f.write(line)
            f.flush()
            os.fsync(f.fileno())
    except OSError as e:
        if e.errno == errno.ENOSPC:
            raise RunFailure(f"disk full while appending to {path}; free space and re-run to resume") from None
        raise


def write_jsonl(path: Path, rows: list[dict]) -> None:
    atomic_write_text(path, "".join(json.dumps(r, ensure_ascii=False, default=str) + "\n" for r in rows))


SAFE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
MAX_ID = 64  # task ids (a path component)
MAX_SLUG = 80  # model folder names
LAYOUT = 2  # run folders written since model folders carry a hash when the name needed cleaning
TMP_FILE = re.compile(r"\.tmp-(\d+)$")


def shown(name: str, limit: int = 80) -> str:
    """A name as printed in one-line errors (very long ones shortened)."""
    return name if len(name) <= limit else f"{name[:limit - 20]}…({len(name)} characters)"


def validate_id(name: str, kind: str = "task id") -> str:
    """`name` when it is a valid id ([A-Za-z0-9][A-Za-z0-9_.-]*, at most 64 characters); else a UserError."""
    if not isinstance(name, str) or not SAFE_ID.fullmatch(name) or len(name) > MAX_ID:
        folded = look_alike(name) if isinstance(name, str) else ""
        hint = f"; did you mean '{folded}'?" if folded != name and SAFE_ID.fullmatch(folded) else ""
        raise UserError(f"{kind} '{shown(str(name))}' is not valid: use letters, digits, '_', '.' and '-', starting "
                        f"with a letter or digit, at most {MAX_ID} characters{hint}")
    return name


def slug(name: str) -> str:
    """A folder name for a model: `name` itself when safe, else a cleaned name plus a hash of the original."""
    if SAFE_ID.fullmatch(name) and len(name) <= MAX_SLUG:
        return name
    cleaned = "".join(c if (c.isascii() and c.isalnum()) or c in "-_." else "_" for c in name.strip("/"))
    cleaned = cleaned[-(MAX_SLUG - 11):].lstrip("._-") or "model"
    return f"{cleaned}-{hashlib.sha256(name.encode('utf-8', 'surrogatepass')).hexdigest()[:10]}"


def legacy_slug(name: str) -> str:
    """The lossy folder name of run folders written before `LAYOUT` 2 (read-only use)."""
    keep = "".join(c if c.isalnum() or c in "-_." else "_" for c in name.strip("/"))
    return keep[-80:] or "model"


def _layout_of(manifest: Path) -> int:
    """LAYOUT of an existing run folder: 1 when its manifest predates the `layout` key."""
    try:
        data = json.loads(manifest.read_text())
    except (OSError, ValueError):
        return LAYOUT  # no manifest yet (a new run), or a damaged one that resuming refuses anyway
    return int(data.get("layout", 1)) if isinstance(data, dict) else LAYOUT


class RunDir:
    """Paths inside one run folder (see the README for the layout)."""

    def __init__(self, root: str | Path):
        self.root = Path(root)
        self._layout: int | None = None

    @property
    def manifest(self) -> Path:
        return self.root / "manifest.json"

    @property
    def results(self) -> Path:
        return self.root / "results.csv"

    @property
    def report(self) -> Path:
        return self.root / "report"

    @property
    def layout(self) -> int:
        if self._layout is None:
            self._layout = _layout_of(self.manifest)
        return self._layout

    def model_folder(self, model: str) -> str:
        return legacy_slug(model) if self.layout < 2 else slug(model)

    def model_dir(self, model: str) -> Path:
        return self._inside(self.root / "models" / self.model_folder(model))

    def round_dir(self, model: str, method: str, round_k: int) -> Path:
        """Round 0 is shared by every method (the untrained model, i.e. `prompting`)."""
        if round_k == 0:
            return self.model_dir(model) / "round_0"
        return self._inside(self.model_dir(model) / validate_id(method, "method") / f"round_{int(round_k)}")

    def task_dir(self, model: str, method: str, round_k: int, task: str, lineage: str | None = None) -> Path:
        """A task's folder in a round; `lineage`: in that lineage's own folder (lm-eval tasks of per-task
        lineages); an `lm_eval/<name>` task lives in tasks/lm_eval/<name>."""
        base = self.round_dir(model, method, round_k)
        base = base / "lineages" / validate_id(lineage, "lineage") if lineage else base
        lm, _, name = task.partition("/")
        folder = Path("lm_eval", validate_id(name)) if lm == "lm_eval" and name else Path(validate_id(task))
        return self._inside(base / "tasks" / folder)

    def _inside(self, path: Path) -> Path:
        root = os.path.normpath(os.path.abspath(self.root))
        if os.path.commonpath([root, os.path.normpath(os.path.abspath(path))]) != root:
            raise UserError(f"{path} would lie outside the run folder {self.root}")
        return path

    def check_names(self, models: list[str], tasks: list[str]) -> dict[str, str]:
        """Refuse names that cannot be folders or that share one (also on case-insensitive disks).

        Returns the folder of each model name.
        """
        folders = {m: self.model_folder(m) for m in models}
        for kind, names in (("models", folders), ("tasks", {validate_id(t): t for t in tasks})):
            seen: dict[str, str] = {}
            for name, folder in names.items():
                other = seen.setdefault(folder.casefold(), name)
                if other != name:
                    why = "" if self.layout >= 2 or kind == "tasks" else " (this run folder predates unique " \
                        "model folders; use --new-run)"
                    raise UserError(f"{kind} '{shown(other)}' and '{shown(name)}' would share the folder "
                                    f"'{shown(folder)}' of {self.root}{why}; rename one")
        return folders


def fsync_dir(folder: Path) -> None:
    """Make a folder's entries (renames, new files) durable; a no-op where folders cannot be opened."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError as e:
        if e.errno not in (errno.EINVAL, errno.EBADF, errno.EISDIR):
            raise
    finally:
        os.close(fd)


def run_relative(path: str | Path | None, root: str | Path) -> str | None:
    """A path inside the run root as a root-relative posix string (so a moved run folder still works)."""
    if path is None:
        return None
    full, base = os.path.abspath(path), os.path.abspath(root)
    if os.path.commonpath([full, base]) != base:
        return str(full)
    return Path(os.path.relpath(full, base)).as_posix()


def from_run_relative(value: str | None, root: str | Path) -> str | None:
    """The inverse of `run_relative`; a relative path that is not under the root is an older run's cwd-relative path."""
    if value is None or os.path.isabs(value):
        return value
    inside = Path(root) / value
    return str(inside) if inside.exists() or not Path(value).exists() else value


def clean_stale_tmp(root: str | Path) -> list[Path]:
    """Remove `*.tmp-PID` files and folders under `root` whose writer process is dead; returns them."""
    removed = []
    for path in sorted(Path(root).rglob("*.tmp-*")):
        m = TMP_FILE.search(path.name)
        if not m or int(m.group(1)) == os.getpid() or pid_alive(int(m.group(1))):
            continue
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
        removed.append(path)
    return removed
