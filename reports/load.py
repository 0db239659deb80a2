"""Read run folders without touching them: results.csv, manifest.json and per-item samples.jsonl."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from groundfloor.errors import UserError
from groundfloor.results import read_results
from groundfloor.rundir import RunDir
from reports.tables import fill_lineage


@dataclass(frozen=True)
class Run:
    """One run folder: its label in reports, its path and its manifest (may be empty)."""

    label: str
    path: Path
    manifest: dict = field(default_factory=dict, hash=False, compare=False)

    @property
    def seed(self):
        return self.manifest.get("seed", self.manifest.get("config", {}).get("seed"))

    def samples_path(self, model: str, method: str, round_k: int, task: str, trained_on: str = "") -> Path:
        """The task's samples.jsonl in that round; with `trained_on` (one lineage), the lineage's own copy
        where it has one (lm-eval tasks evaluated after every lineage's round)."""
        run = RunDir(self.path)
        if isinstance(trained_on, str) and trained_on and "+" not in trained_on and int(round_k) > 0:
            own = run.task_dir(model, method, int(round_k), task, lineage=trained_on) / "samples.jsonl"
            if own.exists():
                return own
        return run.task_dir(model, method, int(round_k), task) / "samples.jsonl"


def _labels(paths: list[Path]) -> list[str]:
    """Folder names, made unique with the parent folder when two runs share a name."""
    names = [p.name or str(p) for p in paths]
    return [f"{p.parent.name}/{p.name}" if names.count(n) > 1 else n for p, n in zip(paths, names)]


def open_runs(paths: list[Path]) -> list[Run]:
    """Run objects for folders holding a results.csv; a UserError names the first folder without one."""
    paths = [Path(p) for p in paths]
    runs = []
    for path, label in zip(paths, _labels(paths)):
        if not (path / "results.csv").exists():
            raise UserError(f"{path}: no results.csv (is this a mipo-bench run folder?)")
        man = path / "manifest.json"
        try:
            manifest = json.loads(man.read_text()) if man.exists() else {}
        except json.JSONDecodeError:
            manifest = {}
        runs.append(Run(label, path, manifest))
    return runs


def load_results(runs: list[Run]) -> pd.DataFrame:
    """results.csv of every run, concatenated, with `run` (label) and `seed` columns added."""
    frames = []
    for run in runs:
        df = read_results(run.path / "results.csv")  # an empty file or a truncated row is a one-line error
        df["run"] = run.label
        df["seed"] = run.seed
        frames.append(df)
    if not frames:
        return pd.DataFrame()
    df = pd.concat(frames, ignore_index=True)
    df["partial"] = df["partial"].astype(str).str.lower().isin({"true", "1"})
    df["round"] = df["round"].astype(int)
    df["family"] = df["family"].fillna("unknown")
    return fill_lineage(df)


def read_samples(path: Path) -> dict[str, tuple[float, str | None]]:
    """id -> (score, user) from a samples.jsonl; unreadable lines and items without a score are skipped."""
    out: dict[str, tuple[float, str | None]] = {}
    if not path.exists():
        return out
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue
        score = row.get("score")
        if row.get("id") is None or score is None:
            continue
        try:
            out[str(row["id"])] = (float(score), row.get("user"))
        except (TypeError, ValueError):
            continue
    return out
