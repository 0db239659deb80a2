"""Locks: the exclusive run-folder lock, and a waiting lock per cache entry (a model or a data bundle).

Both are flocks held for the process's life (the kernel drops them when the process dies). A lock
that fails for another reason than "held by another process" (ENOLCK, a filesystem without locks)
says what it is instead of pretending the folder is busy.
"""

from __future__ import annotations

import errno
import json
import os
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None  # type: ignore[assignment]

from groundfloor.errors import UserError

BUSY = {errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES}


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, ValueError):
        return pid > 0
    return True


def _read_owner(path: Path) -> dict:
    try:
        data = json.loads(path.read_text() or "{}")
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def lock_failure(e: OSError, where: Path) -> UserError:
    """A one-line error for a lock that failed for another reason than being held."""
    name = errno.errorcode.get(e.errno or 0, "unknown error")
    return UserError(f"cannot lock {where}: {e.strerror or e} ({name}); the filesystem there may not support file "
                     "locks (e.g. NFS without a lock daemon): use a folder on a local disk")


class RunLock:
    """An exclusive lock on a run folder; `.lock` records the holder's host and pid.

    Where fcntl exists the lock is an flock, so a `kill -9` leaves a stale file that the next run
    takes over. A lock file written on another host is never taken over automatically.
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

    def check_free(self) -> None:
        """Raise the error `acquire` would raise for a folder another process holds; creates nothing."""
        if not self.path.exists():
            return
        other = _read_owner(self.path)
        if other.get("host") and other["host"] != socket.gethostname() and other.get("pid"):
            raise self._refuse(other)
        if fcntl is None:
            if other.get("pid") and pid_alive(int(other["pid"])):
                raise self._refuse(other)
            return
        try:
            fd = os.open(self.path, os.O_RDONLY)
        except OSError:
            return  # gone meanwhile, or unreadable: the real run reports it
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)  # conflicts only with a live holder's exclusive lock
        except OSError as e:
            if e.errno in BUSY:
                raise self._refuse(other) from None
            raise lock_failure(e, self.path.parent) from None
        finally:
            os.close(fd)

    def acquire(self) -> "RunLock":
        self.path.parent.mkdir(parents=True, exist_ok=True)
        me = {"pid": os.getpid(), "host": socket.gethostname()}
        if fcntl is None:
            return self._acquire_by_pid(me)
        for _ in range(5):
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as e:
                os.close(fd)
                if e.errno in BUSY:
                    raise self._refuse(_read_owner(self.path)) from None
                raise lock_failure(e, self.path.parent) from None
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
                alive = other.get("pid") and pid_alive(int(other["pid"]))
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


@contextmanager
def cache_lock(path: Path, what: str, log: Callable[[str], None] = lambda m: None) -> Iterator[None]:
    """Hold an exclusive lock on `path` (created, never deleted) while building the cache entry `what`.

    Another process building the same entry is waited for. Where the filesystem has no locks the
    entry is built without one, and the log says so.
    """
    if fcntl is None:
        yield
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            if e.errno not in BUSY:
                log(f"{what}: {lock_failure(e, path.parent)}; building without a lock")
            else:
                log(f"{what}: another process is preparing it; waiting")
                fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing drops the flock
