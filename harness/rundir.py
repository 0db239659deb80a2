"""The run directory: paths, atomic writes, resumable JSONL, and a pid lock."""

from __future__ import annotations

import errno
import json
import os
import socket
from pathlib import Path
from typing import Any

from harness.errors import RunFailure, UserError


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
    except OSError as e:
        tmp.unlink(missing_ok=True)
        if e.errno == errno.ENOSPC:
            raise RunFailure(f"disk full while writing {path}; free space and re-run the same command to resume") from None
        raise


def atomic_write_json(path: Path, obj: Any) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n")


def read_jsonl(path: Path) -> list[dict]:
    """Rows of a JSONL file; a torn last line (from a kill) is dropped and truncated away."""
    if not path.exists():
        return []
    raw = path.read_bytes()
    rows, good_end = [], 0
    pos = 0
    for line in raw.splitlines(keepends=True):
        pos += len(line)
        if not line.endswith(b"\n"):
            break  # torn last line
        if line.strip():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                break
        good_end = pos
    if good_end != len(raw):
        with open(path, "r+b") as f:
            f.truncate(good_end)
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


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class RunLock:
    """An exclusive lock on a run folder holding host and pid; a stale lock (dead pid) is taken over."""

    def __init__(self, root: Path):
        self.path = root / ".lock"
        self.held = False

    def acquire(self) -> "RunLock":
        self.path.parent.mkdir(parents=True, exist_ok=True)
        me = {"pid": os.getpid(), "host": socket.gethostname()}
        for _ in range(2):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            except FileExistsError:
                try:
                    other = json.loads(self.path.read_text() or "{}")
                except (OSError, json.JSONDecodeError):
                    other = {}
                same_host = other.get("host") == me["host"]
                if other.get("pid") and same_host and _pid_alive(int(other["pid"])):
                    raise UserError(f"run folder {self.path.parent} is in use by pid {other['pid']}; "
                                    "wait for it or choose another --out")
                if other.get("pid") and not same_host:
                    raise UserError(f"run folder {self.path.parent} is locked by pid {other['pid']} on "
                                    f"{other.get('host')}; remove {self.path} if that run is dead")
                self.path.unlink(missing_ok=True)  # stale lock
                continue
            with os.fdopen(fd, "w") as f:
                json.dump(me, f)
            self.held = True
            return self
        raise UserError(f"could not lock {self.path.parent}")

    def release(self) -> None:
        if self.held:
            self.path.unlink(missing_ok=True)
            self.held = False

    def __enter__(self) -> "RunLock":
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()


class RunDir:
    """Paths inside one run folder (see the README for the layout)."""

    def __init__(self, root: str | Path):
        self.root = Path(root)

    @property
    def manifest(self) -> Path:
        return self.root / "manifest.json"

    @property
    def results(self) -> Path:
        return self.root / "results.csv"

    @property
    def report(self) -> Path:
        return self.root / "report"

    def model_dir(self, model: str) -> Path:
        return self.root / "models" / slug(model)

    def round_dir(self, model: str, method: str, round_k: int) -> Path:
        """Round 0 is shared by every method (the untrained model, i.e. `prompting`)."""
        if round_k == 0:
            return self.model_dir(model) / "round_0"
        return self.model_dir(model) / method / f"round_{round_k}"

    def task_dir(self, model: str, method: str, round_k: int, task: str) -> Path:
        return self.round_dir(model, method, round_k) / "tasks" / task


def slug(name: str) -> str:
    """A filesystem-safe name for a model id or path."""
    keep = "".join(c if c.isalnum() or c in "-_." else "_" for c in name.strip("/"))
    return keep[-80:] or "model"
