"""Run metadata from manifest.json: models with sha256, data sources, seeds, versions, partial runs."""

from __future__ import annotations

import hashlib
import json

import pandas as pd

from reports.load import Run


def runs_table(runs: list[Run], df: pd.DataFrame) -> pd.DataFrame:
    """One row per run: seed, config hash, git commit, device, created, versions, partial flag."""
    rows = []
    for r in runs:
        m = r.manifest
        sub = df[df["run"] == r.label] if not df.empty else df
        limit = m.get("config", {}).get("cli_limit")
        partial = bool(sub["partial"].any()) if not sub.empty else False
        cfg = {k: v for k, v in m.get("config", {}).items() if k not in ("seed", "name")}
        sans_seed = hashlib.sha256(json.dumps(cfg, sort_keys=True).encode()).hexdigest()[:12]
        rows.append({"run": r.label, "path": str(r.path), "seed": r.seed, "config hash": m.get("config_hash"),
                     "config hash w/o seed": sans_seed if cfg else "n/a",
                     "git commit": m.get("git_commit"), "device": m.get("device"), "created": m.get("created"),
                     "versions": ", ".join(f"{k} {v}" for k, v in sorted(m.get("versions", {}).items())),
                     "partial": ("PARTIAL" + (f" (--limit {limit})" if limit else "")) if partial else "full"})
    return pd.DataFrame(rows)


def models_table(runs: list[Run]) -> pd.DataFrame:
    """Every model of every run with family, size, source and how many weight files were hashed (the hashes:
    `model_hashes`)."""
    rows = []
    for r in runs:
        for name, info in (r.manifest.get("models") or {}).items():
            sha = info.get("sha256") or {}
            rows.append({"run": r.label, "model": name, "family": info.get("family"), "params": info.get("n_params"),
                         "source": info.get("source"),
                         "weight files hashed": len(sha) if isinstance(sha, dict) else int(bool(sha))})
    return pd.DataFrame(rows)


def model_hashes(runs: list[Run]) -> pd.DataFrame:
    """One row per weight file of every model: its sha256 as recorded in the manifest."""
    rows = []
    for r in runs:
        for name, info in (r.manifest.get("models") or {}).items():
            sha = info.get("sha256") or {}
            items = sha.items() if isinstance(sha, dict) else [("", sha)] if sha else []
            rows += [{"run": r.label, "model": name, "file": f, "sha256": str(v)} for f, v in items]
    return pd.DataFrame(rows)


def data_table(runs: list[Run]) -> pd.DataFrame:
    """Every task of every run: eval source and split, why that source, items evaluated out of the pool, partial."""
    rows = []
    for r in runs:
        for task, info in (r.manifest.get("tasks") or {}).items():
            src = info.get("eval_source") or {}
            disj = info.get("disjointness") or {}
            rows.append({"run": r.label, "task": task, "family": info.get("family"),
                         "source": f"{src.get('kind', '?')}:{src.get('name', '?')}", "split": src.get("split"),
                         "why this source": (info.get("data") or {}).get("reason"),
                         "items": f"{info.get('n_eval')} of {info.get('eval_pool')}",
                         "train/eval overlap": disj.get("overlap"), "partial": "PARTIAL" if info.get("partial") else "",
                         "label leak": "LABEL LEAK" if info.get("label_leak") else ""})
    return pd.DataFrame(rows)


def label_leak_banners(runs: list[Run]) -> list[str]:
    """One banner per task whose manifest records a label leak (tasks/base.py `label_leak`), with the reason."""
    leaks: dict[str, tuple[str, list[str]]] = {}
    for r in runs:
        for task, info in (r.manifest.get("tasks") or {}).items():
            if info.get("label_leak"):
                leaks.setdefault(task, (info["label_leak"], []))[1].append(r.label)
    return [f"LABEL LEAK in {task} ({', '.join(labels)}): {why}" for task, (why, labels) in sorted(leaks.items())]


def partial_runs(runs: list[Run], df: pd.DataFrame) -> list[str]:
    """Labels of runs with a partial row (evaluated on a --limit subset)."""
    if df.empty:
        return []
    return [r.label for r in runs if df.loc[df["run"] == r.label, "partial"].any()]
