"""The `mipo-bench` command line, the top of the upper part of `harness` (see `harness/__init__.py`)."""

from harness.cli.root import app, main

__all__ = ["app", "main"]
