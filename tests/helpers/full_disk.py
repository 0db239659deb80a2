"""A text file whose writes put half the data on disk and then fail with ENOSPC (a full disk mid-write)."""

from __future__ import annotations

import errno


class FullDisk:
    """A text file whose writes put half the data on disk and then fail with ENOSPC."""

    def __init__(self, path, mode, **kw):
        self.f = open(path, mode, **kw)

    def write(self, text):
        self.f.write(text[: len(text) // 2])
        self.f.flush()
        raise OSError(errno.ENOSPC, "No space left on device")

    def __getattr__(self, name):
        return getattr(self.f, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.f.close()
