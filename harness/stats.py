"""Statistics: confidence intervals and paired tests between rounds and runs.

Intervals of a mean: Wilson score intervals for proportions (0/1 scores of independent items), where a
percentile bootstrap is too narrow at small n (and [0, 0] at 0/10); a percentile bootstrap for graded
scores and for clustered data (items that share a user are resampled user by user). Paired differences
use a paired bootstrap (plus McNemar's exact test for 0/1 scores). Stars across many cells use
Benjamini–Hochberg q-values.
"""

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


def _z(alpha: float) -> float:
    """The two-sided standard-normal quantile for `alpha` (1.959964 for 0.05)."""
    from statistics import NormalDist

    return NormalDist().inv_cdf(1 - alpha / 2)


def wilson_ci(k: int, n: int, alpha: float = 0.05) -> tuple[float, float]:
    """Wilson score interval of a proportion k/n (nan, nan when n = 0)."""
    if n <= 0:
        return float("nan"), float("nan")
    if not 0 <= k <= n:
        raise ValueError(f"wilson_ci needs 0 <= k <= n, got k={k}, n={n}")
    z = _z(alpha)
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    # the exact ends: 0/n and n/n touch the bounds (the formula gives them up to rounding)
    return (0.0 if k == 0 else max(0.0, centre - half)), (1.0 if k == n else min(1.0, centre + half))


def mean_ci(values: Sequence[float], n_boot: int = 2000, alpha: float = 0.05, seed: int = 0,
            clusters: Sequence | None = None) -> tuple[float, float, float]:
    """Mean and its (1-alpha) CI: Wilson for 0/1 values of independent items, else a percentile bootstrap
    (resampling whole clusters, e.g. users, when given)."""
    x = np.asarray(values, dtype=float)
    if x.size == 0:
        return float("nan"), float("nan"), float("nan")
    if clusters is None and is_binary(x):
        lo, hi = wilson_ci(int(x.sum()), int(x.size), alpha)
        return float(x.mean()), lo, hi
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
    """True when every value is 0 or 1 (a proportion's items)."""
    return all(v in (0.0, 1.0) for v in values)


def bh_qvalues(pvalues: Sequence[float]) -> np.ndarray:
    """Benjamini–Hochberg q-values (FDR-adjusted p-values) of a family; nan stays nan, outside the family."""
    p = np.asarray(pvalues, dtype=float)
    q = np.full(p.shape, np.nan)
    ok = np.flatnonzero(np.isfinite(p))
    if ok.size == 0:
        return q
    order = ok[np.argsort(p[ok], kind="stable")]
    m = ok.size
    scaled = p[order] * m / np.arange(1, m + 1)
    q[order] = np.minimum(1.0, np.minimum.accumulate(scaled[::-1])[::-1])
    return q
