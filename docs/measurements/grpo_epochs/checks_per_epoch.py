"""Exploratory (not a pre-registered endpoint): rescore a round's rollouts with profile_prefs' scorer and print, per
epoch, the answered rate and each check's honoured rate, to say which checks the rlvr / rlaif reward moved.

    python docs/measurements/grpo_epochs/checks_per_epoch.py ROUND_FOLDER
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np
from analysis import cells  # the script's own folder is on sys.path when run as a file

from tasks.registry import TaskRegistry


def main() -> None:
    folder = Path(sys.argv[1])
    rollouts = [json.loads(line) for line in (folder / "rollouts.jsonl").read_text().splitlines() if line.strip()]
    task = TaskRegistry(use_entry_points=False).get("profile_prefs")
    items = {it.id: it for it in task.load(offline=True).train_items}
    by_cell = cells(rollouts)
    epochs = sorted({e for _, e in by_cell})
    table = defaultdict(dict)
    for e in epochs:
        scores = [task.score(r["completion"], items[p]).extra for (p, ep), rs in by_cell.items() if ep == e for r in rs]
        keys = sorted({k for s in scores for k in s if k.startswith("honoured_") or k == "answered"})
        for k in keys:
            vals = [s[k] for s in scores if k in s]
            table[k][e] = (np.mean(vals), len(vals))
    print("metric " + " ".join(f"epoch{e}" for e in epochs) + "  (n per epoch)")
    for k, row in table.items():
        print(f"{k:20s} " + " ".join(f"{row[e][0]:.3f}" if e in row else "  -  " for e in epochs)
              + f"  (n {row[epochs[0]][1] if epochs[0] in row else '-'})")


if __name__ == "__main__":
    main()
