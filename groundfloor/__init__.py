"""mipo-bench's ground floor: what `tasks`, `mipo`, `reports` and `harness` all stand on.

Backends and models, the run folder and its typed records, statistics, the package cache, locks, errors and
progress. It imports nothing from the floors above it (pyproject.toml's import contract).
"""
