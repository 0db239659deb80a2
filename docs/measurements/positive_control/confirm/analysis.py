"""Secondary read-outs of the confirmatory positive control: per-check and validity gains, paired on items.

For every check (`honoured_<check>`, on the items whose profile has it), `answered`, `truncated`, `repeating` and
`honoured` among the items answered in both rounds: round k - round 0 on the same item ids, with a 95 % percentile
bootstrap CI that resamples users (items of one user move together), 4,000 resamples, seed 0.

    python docs/measurements/positive_control/confirm/analysis.py RUN_FOLDER METHOD [ROUND]
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

FIELDS = ("honoured_length", "honoured_format", "honoured_language", "honoured_name", "honoured_tone",
          "honoured_diet", "honoured_units", "honoured_budget", "honoured_structure", "answered", "truncated",
          "repeating", "honoured_vacuous")


def read(path: Path) -> dict[str, dict]:
    return {r["id"]: r for r in map(json.loads, path.read_text().splitlines())}


def paired(a: dict, b: dict, field: str, keep=lambda x, y: True, draws: int = 4000) -> str:
    ids = [i for i in a if i in b and field in a[i] and field in b[i] and keep(a[i], b[i])]
    if not ids:
        return f"{field}: n=0"
    by_user = defaultdict(list)
    for i in ids:
        by_user[a[i].get("user") or i].append(float(b[i][field]) - float(a[i][field]))
    users = list(by_user)
    sums = np.array([sum(by_user[u]) for u in users])
    counts = np.array([len(by_user[u]) for u in users])
    rng = np.random.default_rng(0)
    picks = rng.integers(0, len(users), size=(draws, len(users)))
    boot = sums[picks].sum(1) / counts[picks].sum(1)
    gain = sums.sum() / counts.sum()
    base = np.mean([float(a[i][field]) for i in ids])
    lo, hi = np.percentile(boot, [2.5, 97.5])
    return f"{field}: {base:.3f} -> {base + gain:.3f}, gain {gain:+.3f} [{lo:+.3f}, {hi:+.3f}] (n={len(ids)} items, {len(users)} users)"


def main() -> None:
    run, method = Path(sys.argv[1]), sys.argv[2]
    k = int(sys.argv[3]) if len(sys.argv) > 3 else 1
    model = next((run / "models").iterdir())
    a = read(model / "round_0" / "tasks" / "profile_prefs" / "samples.jsonl")
    b = read(model / method / f"round_{k}" / "tasks" / "profile_prefs" / "samples.jsonl")
    for f in FIELDS:
        print(paired(a, b, f))
    both = lambda x, y: x.get("answered") == 1.0 and y.get("answered") == 1.0  # noqa: E731
    print("among items answered in both rounds:", paired(a, b, "score", both))
    tokens = [(a[i]["n_new_tokens"], b[i]["n_new_tokens"]) for i in a if i in b]
    print(f"response tokens: {np.mean([t[0] for t in tokens]):.1f} -> {np.mean([t[1] for t in tokens]):.1f}")


if __name__ == "__main__":
    main()
