"""The pre-registered endpoint of the rlvr reward-rise run, from its train_log.jsonl.

Primary: mean rollout reward over the second half of the steps minus the first half, with a 95 % percentile
bootstrap CI over steps (each half's steps resampled on their own, 10,000 draws, seed 0). Beside it, per half:
the share of groups with no reward spread (from `frac_reward_zero_std`), mean completion length and clipped ratio.

    python docs/measurements/grpo_rise/analysis.py RUN_FOLDER/.../train/train_log.jsonl
"""

from __future__ import annotations

import json
import sys

import numpy as np


def main() -> None:
    rows = [r for r in map(json.loads, open(sys.argv[1]).read().splitlines()) if "reward" in r]
    half = len(rows) // 2
    first, second = rows[:half], rows[half:]
    reward = lambda rs: np.array([r["reward"] for r in rs])  # noqa: E731
    a, b = reward(first), reward(second)
    rng = np.random.default_rng(0)
    boot = (rng.choice(b, (10_000, len(b))).mean(1) - rng.choice(a, (10_000, len(a))).mean(1))
    lo, hi = np.percentile(boot, [2.5, 97.5])
    print(f"steps: {len(rows)} (halves {rows[0]['step']}-{first[-1]['step']} and {second[0]['step']}-{rows[-1]['step']})")
    print(f"mean reward: {a.mean():.4f} -> {b.mean():.4f}; difference {b.mean() - a.mean():+.4f} "
          f"[{lo:+.4f}, {hi:+.4f}] (bootstrap over steps)")
    for key in ("frac_reward_zero_std", "completions/mean_length", "completions/clipped_ratio", "reward_std"):
        if key in rows[0]:
            print(f"{key}: {np.mean([r[key] for r in first]):.3f} -> {np.mean([r[key] for r in second]):.3f}")
    print("reward per step:", " ".join(f"{r['reward']:.3f}" for r in rows))


if __name__ == "__main__":
    main()
