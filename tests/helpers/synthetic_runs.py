"""Synthetic run folders in the real layout (results.csv, manifest.json, samples.jsonl) for report tests."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from groundfloor.results import COLUMNS
from groundfloor.rundir import RunDir
from groundfloor.stats import mean_ci


def make_run(root: Path, models=(("alpha-1b", "llama"),), methods=("mipo",), rounds: int = 2,
             tasks=(("mcq_task", "binary"), ("pref_task", "graded")), n: int = 40, seed: int = 0,
             partial: bool = False, users_per_task: int = 8, id_prefix: str = "q") -> Path:
    """Write a run folder; scores drift upward with the round so gains are non-zero."""
    run = RunDir(root)
    rng = np.random.default_rng(seed)
    rows, man_models, man_tasks = [], {}, {}
    for mi, (model, family) in enumerate(models):
        man_models[model] = {"family": family, "id": model, "source": f"local:{model}",
                             "sha256": {"model.safetensors": f"{mi:064x}"}}
        plan = [("prompting", 0)] + [(m, k) for m in methods for k in range(1, rounds + 1)]
        for method, k in plan:
            lift = 0.08 * k * (1 + 0.5 * methods.index(method) if method in methods else 0)
            for task, kind in tasks:
                man_tasks[task] = {"eval_source": {"kind": "local", "name": task, "split": "test"}, "n_eval": n,
                                   "eval_pool": 10 * n, "family": "mcq", "partial": partial}
                samples = []
                for i in range(n):
                    if kind == "binary":
                        score = float(rng.random() < 0.3 + lift)
                        user = None
                    else:
                        score = float(np.clip(round(rng.random() * 0.6 + lift, 3), 0, 1))
                        user = f"u{i % users_per_task}"
                    samples.append({"id": f"{id_prefix}{i}", "prompt": f"p{i}", "target": "t", "output": "o",
                                    "extracted": "e", "score": score, "n_new_tokens": 5, "user": user})
                path = run.task_dir(model, method, k, task) / "samples.jsonl"
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text("".join(json.dumps(s) + "\n" for s in samples))
                scores = [s["score"] for s in samples]
                clusters = [s["user"] for s in samples] if kind == "graded" else None
                v, lo, hi = mean_ci(scores, clusters=clusters)
                main = "accuracy" if kind == "binary" else "honoured"
                base = dict(model=model, family=family, method=method, round=k, task=task, partial=partial)
                rows.append({**base, "metric": main, "value": v, "ci_low": lo, "ci_high": hi, "n": n, "kind": "eval"})
                rows.append({**base, "metric": "response_tokens", "value": 20.0, "ci_low": 15.0, "ci_high": 25.0,
                             "n": n, "kind": "eval"})
                for dm, dv in (("pmi", 3.0 + k), ("response_words", 30.0 - k), ("distinct_2", 0.8 - 0.05 * k)):
                    rows.append({**base, "metric": dm, "value": dv, "ci_low": dv * 0.9, "ci_high": dv * 1.1, "n": 5,
                                 "kind": "diagnostic", "partial": False})
            if k >= 1:
                base = dict(model=model, family=family, method=method, round=k, task="_train", partial=False)
                for tm, tv in (("loss", 0.69 - 0.1 * k), ("rewards_margins", 0.1 * k)):
                    rows.append({**base, "metric": tm, "value": tv, "ci_low": None, "ci_high": None, "n": 10,
                                 "kind": "train"})
    pd.DataFrame(rows, columns=COLUMNS).to_csv(run.results, index=False)
    manifest = {"config": {"seed": seed, "cli_limit": 5 if partial else None}, "config_hash": f"h{seed}",
                "seed": seed, "git_commit": "abc", "device": "cpu", "created": "2026-01-01T00:00:00+00:00",
                "versions": {"python": "3.11", "trl": "1.0"}, "models": man_models, "tasks": man_tasks}
    run.manifest.write_text(json.dumps(manifest))
    return root
