"""The pre-registered endpoints of the grpo_epochs runs, from a round's rollouts.jsonl and train_log.jsonl.

Each train prompt is seen once per epoch; a prompt's n-th step (in the rollouts' trainer steps) is its epoch n.
Primary: the mean over prompts of (mean reward in the last epoch - mean reward in the first), 95 % percentile
bootstrap CI resampling completions within each (prompt, epoch) cell (10,000 draws, seed 0): the prompts are the
fixed set trained on, the noise is the rollouts'. Beside it: the same CI resampling prompts (the more
conservative reading), the reward per epoch, the least-squares slope of reward on epoch, and per epoch from
the train log: groups with no reward spread, mean completion length, clipped ratio; for rlaif the unreadable
judge replies per epoch.

    python docs/measurements/grpo_epochs/analysis.py ROUND_FOLDER   (the folder holding rollouts.jsonl and train/)
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

DRAWS = 10_000


def _rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def cells(rollouts: list[dict]) -> dict[tuple[str, int], list[dict]]:
    """(prompt id, epoch 1..E) -> that prompt's rollouts in that epoch."""
    steps = defaultdict(set)
    for r in rollouts:
        steps[r["prompt_id"]].add(r["step"])
    epoch_of = {(p, s): i + 1 for p, ss in steps.items() for i, s in enumerate(sorted(ss))}
    out = defaultdict(list)
    for r in rollouts:
        out[(r["prompt_id"], epoch_of[(r["prompt_id"], r["step"])])].append(r)
    return out


def last_minus_first(by_cell: dict, prompts: list[str], first: int, last: int, rng, by_prompt: bool) -> np.ndarray:
    """Bootstrap draws of the primary statistic: completions resampled per cell, or prompts resampled."""
    a = [np.array([r["reward"] for r in by_cell[(p, first)]]) for p in prompts]
    b = [np.array([r["reward"] for r in by_cell[(p, last)]]) for p in prompts]
    if by_prompt:
        diff = np.array([y.mean() - x.mean() for x, y in zip(a, b)])
        return rng.choice(diff, (DRAWS, len(diff))).mean(1)
    per = [rng.choice(y, (DRAWS, len(y))).mean(1) - rng.choice(x, (DRAWS, len(x))).mean(1) for x, y in zip(a, b)]
    return np.mean(per, axis=0)


def main() -> None:
    folder = Path(sys.argv[1])
    rollouts = _rows(folder / "rollouts.jsonl")
    by_cell = cells(rollouts)
    prompts = sorted({p for p, _ in by_cell})
    epochs = sorted({e for _, e in by_cell})
    first, last = epochs[0], epochs[-1]
    complete = [p for p in prompts if (p, first) in by_cell and (p, last) in by_cell]
    print(f"{len(rollouts)} rollouts, {len(prompts)} prompts, epochs {first}-{last}; {len(complete)} prompts in both")
    per_epoch = [np.mean([r["reward"] for p in prompts for r in by_cell.get((p, e), [])]) for e in epochs]
    print("mean reward per epoch:", " ".join(f"{e}: {m:.3f}" for e, m in zip(epochs, per_epoch)))
    point = np.mean([np.mean([r["reward"] for r in by_cell[(p, last)]]) - np.mean([r["reward"] for r in by_cell[(p, first)]])
                     for p in complete])
    for label, by_prompt in (("completions resampled per cell (primary)", False), ("prompts resampled", True)):
        boot = last_minus_first(by_cell, complete, first, last, np.random.default_rng(0), by_prompt)
        lo, hi = np.percentile(boot, [2.5, 97.5])
        print(f"epoch {last} - epoch {first}: {point:+.4f} [{lo:+.4f}, {hi:+.4f}]  ({label})")
    x = np.array([e for p in prompts for e in epochs for _ in by_cell.get((p, e), [])], float)
    y = np.array([r["reward"] for p in prompts for e in epochs for r in by_cell.get((p, e), [])])
    print(f"slope of reward on epoch: {np.polyfit(x, y, 1)[0]:+.4f} per epoch")
    if any("judge_unreadable" in r for r in rollouts):
        replies = {e: [(r["judge_unreadable"], len(r["judge_replies"])) for p in prompts for r in by_cell.get((p, e), [])]
                   for e in epochs}
        print("judge replies unreadable per epoch:",
              " ".join(f"{e}: {sum(u for u, _ in v)}/{sum(n for _, n in v)}" for e, v in replies.items()))
    log = [r for r in _rows(folder / "train" / "train_log.jsonl") if "reward" in r]
    size = len(log) // len(epochs) if epochs else 0
    for key in ("frac_reward_zero_std", "completions/mean_length", "completions/clipped_ratio"):
        if log and key in log[0]:
            vals = [np.mean([r[key] for r in log[i * size:(i + 1) * size]]) for i in range(len(epochs))]
            print(f"{key} per epoch:", " ".join(f"{v:.3f}" for v in vals))
    summary = json.loads((folder / "train_summary.json").read_text()) if (folder / "train_summary.json").exists() else {}
    if "relative_weight_change" in summary:
        print(f"relative_weight_change: {summary['relative_weight_change']:.3g}")


if __name__ == "__main__":
    main()
