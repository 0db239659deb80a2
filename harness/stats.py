"""Statistics: bootstrap confidence intervals, paired tests between rounds and runs."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np


def _boot_means(x: np.ndarray, n_boot: int, rng: np.random.Generator, clusters: Sequence | None) -> np.ndarray:
    """Bootstrap means of `x`, resampling items, or whole clusters (e.g. users) when given."""
    if clusters is None:
        return x[rng.integers(0, x.size, size=(n_boot, x.size))].mean(axis=1)
    keys = np.asarray([str(c) for c in clusters])
    uniq = np.unique(keys)
    sums = np.array([x[keys == k].sum() for k in uniq])
    counts = np.array([(keys == k).sum() for k in uniq])
    pick = rng.integers(0, len(uniq), size=(n_boot, len(uniq)))
    return sums[pick].sum(axis=1) / counts[pick].sum(axis=1)


def mean_ci(values: Sequence[float], n_boot: int = 2000, alpha: float = 0.05, seed: int = 0,
            clusters: Sequence | None = None) -> tuple[float, float, float]:
    """Mean and percentile-bootstrap (1-alpha) CI; resamples whole clusters (e.g. users) when given."""
    x = np.asarray(values, dtype=float)
    if x.size == 0:
        return float("nan"), float("nan"), float("nan")
    boots = _boot_means(x, n_boot, np.random.default_rng(seed), clusters)
    lo, hi = np.quantile(boots, [alpha / 2, 1 - alpha / 2])
    return float(x.mean()), float(lo), float(hi)


def paired_bootstrap(a: Sequence[float], b: Sequence[float], n_boot: int = 5000, alpha: float = 0.05,
                     seed: int = 0, clusters: Sequence | None = None) -> dict[str, float]:
    """Gain b - a on paired items: mean, CI, and a two-sided bootstrap p-value for 'no difference'."""
    d = np.asarray(b, dtype=float) - np.asarray(a, dtype=float)
    if d.size == 0:
        return {"gain": float("nan"), "ci_low": float("nan"), "ci_high": float("nan"), "p_value": float("nan"), "n": 0}
    boots = _boot_means(d, n_boot, np.random.default_rng(seed), clusters)
    lo, hi = np.quantile(boots, [alpha / 2, 1 - alpha / 2])
    centred = boots - boots.mean()
    p = float(min(1.0, (np.sum(np.abs(centred) >= abs(d.mean())) + 1) / (n_boot + 1)))
    if np.all(d == 0):
        p = 1.0
    return {"gain": float(d.mean()), "ci_low": float(lo), "ci_high": float(hi), "p_value": p, "n": int(d.size)}


def mcnemar_exact(a: Sequence[float], b: Sequence[float]) -> float:
    """Exact two-sided McNemar p-value for paired 0/1 outcomes."""
    a_ = np.asarray(a) > 0.5
    b_ = np.asarray(b) > 0.5
    n01 = int(np.sum(~a_ & b_))
    n10 = int(np.sum(a_ & ~b_))
    n = n01 + n10
    if n == 0:
        return 1.0
    k = min(n01, n10)
    tail = sum(math.comb(n, i) for i in range(k + 1)) / 2**n
    return float(min(1.0, 2 * tail))


def is_binary(values: Sequence[float]) -> bool:
    return all(v in (0.0, 1.0) for v in values)
