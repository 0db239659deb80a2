"""A suite's `seeds:` list: one run per training seed, each the suite with `--seed N`, then one report over them.

Run folders are `<out>/seed-<N>`; each is an ordinary, resumable run (its manifest records `--seed N`). The
report over all of them (`<out>/report`) has the seed-variance table (reports/tables.py seed_table), since
the runs differ only by seed. `--dry-run` prints the first seed's plan (the others differ only by seed) and
the run folder of every seed.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from groundfloor.outpaths import DEEPEST_IN_RUN, check_out_dir
from harness.config import SuiteConfig
from harness.overrides import load_suite_with


def seed_runs(suite: Path, sets: list[str], seeds: list[int],
              out: Path) -> list[tuple[int, SuiteConfig, list[str], Path]]:
    """(seed, the suite with `--seed seed` and the --set overrides, the overrides as recorded, run folder)."""
    runs = []
    for seed in seeds:
        cfg, overrides = load_suite_with(suite, sets, seed)
        folder = out / f"seed-{seed}"
        check_out_dir(folder, room=DEEPEST_IN_RUN)
        runs.append((seed, cfg, overrides, folder))
    return runs


def run_seeds(suite: Path, sets: list[str], seeds: list[int], opts,
              echo: Callable[[str], None]) -> list[tuple[int, Path]]:
    """Dry-run or execute one run per seed (opts: harness.run.runner.RunOptions for the parent folder);
    returns (seed, run folder) of each."""
    from harness.run.runner import SuiteRunner

    runs = seed_runs(suite, sets, seeds, opts.out)
    folders = {str(seed): str(folder) for seed, _, _, folder in runs}
    if opts.dry_run:
        seed, cfg, overrides, folder = runs[0]
        plan = SuiteRunner(cfg, replace(opts, out=folder, overrides=tuple(overrides))).dry_run()
        echo(json.dumps({**plan, "cli_overrides": overrides, "seeds": seeds, "seed_run_folders": folders,
                         "seed_note": f"one run per seed; the plan above is seed {seed}'s, the others differ only "
                                      f"by seed; estimates are per run (x{len(runs)} in all)"}, indent=2))
        return [(seed, folder) for seed, *_, folder in runs]
    for seed, cfg, overrides, folder in runs:
        echo(f"seed {seed}: {folder}")
        SuiteRunner(cfg, replace(opts, out=folder, overrides=tuple(overrides))).execute()
    from reports.build import build_report

    echo(f"report (all seeds, with seed variance): {build_report([f for *_, f in runs], opts.out / 'report')}")
    return [(seed, folder) for seed, *_, folder in runs]
