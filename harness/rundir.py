"""The run directory: paths, atomic writes, resumable JSONL, and an exclusive run lock."""

from __future__ import annotations

import errno
import json
import os
import socket
from pathlib import Path
from typing import Any

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None  # type: ignore[assignment]

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
            raise RunFailure(f"disk full while writing {path}; free space and re-run the same command "
                             "to resume") from None
        raise


def atomic_write_json(path: Path, obj: Any) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n")


def read_jsonl(path: Path) -> list[dict]:
    """Rows of an append-only JSONL file.

    A torn last line (no newline: the writer was killed mid-append) is truncated away so the next
    append starts on a clean line; a complete line that is not a JSON object is skipped.
    """
    if not path.exists():
        return []
    raw = path.read_bytes()
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
    if good_end != len(raw):
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


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _read_owner(path: Path) -> dict:
    try:
        data = json.loads(path.read_text() or "{}")
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


class RunLock:
    """An exclusive lock on a run folder; `.lock` records the holder's host and pid.

    Where fcntl exists the lock is an flock held for the process's life, so the kernel drops it
    when the process dies (a `kill -9` leaves a stale file, which the next run takes over). A
    lock file written on another host is never taken over automatically.
    """

    def __init__(self, root: Path):
        self.path = Path(root) / ".lock"
        self.held = False
        self._fd: int | None = None

    def _refuse(self, other: dict) -> UserError:
        pid = other.get("pid", "?")
        if other.get("host") and other.get("host") != socket.gethostname():
            return UserError(f"run folder {self.path.parent} is locked by pid {pid} on {other.get('host')}; "
                             f"remove {self.path} if that run is dead")
        return UserError(f"run folder {self.path.parent} is in use by pid {pid}; wait for it or choose another --out")

    def acquire(self) -> "RunLock":
        self.path.parent.mkdir(parents=True, exist_ok=True)
        me = {"pid": os.getpid(), "host": socket.gethostname()}
        if fcntl is None:
            return self._acquire_by_pid(me)
        for _ in range(5):
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                os.close(fd)
                raise self._refuse(_read_owner(self.path)) from None
            try:
                same_file = os.fstat(fd).st_ino == os.stat(self.path).st_ino
            except FileNotFoundError:
                same_file = False
            if not same_file:  # the previous holder removed it between our open and flock
                os.close(fd)
                continue
            other = _read_owner(self.path)
            if other.get("host") and other["host"] != me["host"] and other.get("pid"):
                os.close(fd)
                raise self._refuse(other)
            os.ftruncate(fd, 0)
            os.write(fd, json.dumps(me).encode())
            os.fsync(fd)
            self._fd = fd
            self.held = True
            return self
        raise UserError(f"could not lock {self.path.parent}")

    def _acquire_by_pid(self, me: dict) -> "RunLock":
        """Fallback without fcntl: create the file exclusively; a same-host lock with a dead pid is stale."""
        for _ in range(2):
            tmp = self.path.with_name(f".lock.tmp-{me['pid']}")
            tmp.write_text(json.dumps(me))
            try:
                os.link(tmp, self.path)  # atomic, and the file is never seen empty
            except FileExistsError:
                other = _read_owner(self.path)
                alive = other.get("pid") and _pid_alive(int(other["pid"]))
                if other.get("host") != me["host"] or alive:
                    raise self._refuse(other) from None
                self.path.unlink(missing_ok=True)  # stale lock
                continue
            finally:
                tmp.unlink(missing_ok=True)
            self.held = True
            return self
        raise UserError(f"could not lock {self.path.parent}")

    def release(self) -> None:
        if not self.held:
            return
        self.path.unlink(missing_ok=True)  # while still holding the flock
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
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
