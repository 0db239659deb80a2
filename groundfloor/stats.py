"""Statistics: confidence intervals and paired tests between rounds and runs.

Intervals of a mean: Wilson score intervals for proportions (0/1 scores of independent items), where a
percentile bootstrap is too narrow at small n (and [0, 0] at 0/10); a percentile bootstrap for graded
scores and for clustered data (items that share a user are resampled user by user). Paired 0/1 gains of
independent items use Newcombe's hybrid score interval (method 10) and McNemar's exact test; graded or
clustered gains a paired bootstrap. No interval is ever of width 0 when n > 0: where the bootstrap
collapses (every resampled unit has the same mean) a Wilson-based bound replaces it, and clustered 0/1
data never get an interval narrower than the independent-items one. `ci_method` names what produced each
interval. Stars across many cells use Benjamini–Hochberg q-values.
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


def _units(n: int, clusters: Sequence | None) -> int:
    """How many independent resampling units there are: items, or distinct clusters when given."""
    return n if clusters is None else len({str(c) for c in clusters})


def _bounds(x: np.ndarray, bounds: tuple[float, float] | None) -> tuple[float, float] | None:
    """The range the values can take: `bounds`, else [0, 1] when every value lies in it, else the observed
    range (None when that is a single point: no bound is known)."""
    if bounds is not None:
        return bounds
    lo, hi = float(x.min()), float(x.max())
    if lo >= 0.0 and hi <= 1.0:
        return 0.0, 1.0
    return (lo, hi) if hi > lo else None


def wilson_floor(centre: float, units: int, bounds: tuple[float, float] | None,
                 alpha: float = 0.05) -> tuple[float, float]:
    """CI of a mean when every one of `units` units (items or clusters) has the same mean `centre`.

    None of the units was seen to differ, so the share of the population that does is at most Wilson's
    upper bound for 0 of `units`, u = z²/(units + z²); such units lie at worst at an end of `bounds`, so
    the mean lies in [centre − u·(centre − low), centre + u·(high − centre)]. (nan, nan) without bounds.
    """
    if bounds is None or units <= 0:
        return float("nan"), float("nan")
    u = wilson_ci(0, units, alpha)[1]
    return centre - u * (centre - bounds[0]), centre + u * (bounds[1] - centre)


def _collapsed(lo: float, hi: float) -> bool:
    """True when a bootstrap interval has (numerically) zero width."""
    return not hi - lo > 1e-12


def mean_interval(values: Sequence[float], n_boot: int = 2000, alpha: float = 0.05, seed: int = 0,
                  clusters: Sequence | None = None,
                  bounds: tuple[float, float] | None = None) -> tuple[float, float, float, str]:
    """Mean, its (1-alpha) CI and the CI's method: "wilson" for 0/1 values of independent items, else
    "bootstrap" (percentile; whole clusters resampled when given). A bootstrap of zero width (every unit
    has the same mean) becomes `wilson_floor` ("bootstrap+wilson-floor"; "none" with nan ends when the
    values have no known bounds), and clustered 0/1 values never get an interval narrower than Wilson's
    for independent items ("bootstrap+wilson-floor" where that widened it)."""
    x = np.asarray(values, dtype=float)
    if x.size == 0:
        return float("nan"), float("nan"), float("nan"), ""
    mean = float(x.mean())
    binary = is_binary(x)
    if clusters is None and binary:
        return (mean, *wilson_ci(int(x.sum()), int(x.size), alpha), "wilson")
    boots = _boot_means(x, n_boot, np.random.default_rng(seed), clusters)
    lo, hi = (float(v) for v in np.quantile(boots, [alpha / 2, 1 - alpha / 2]))
    if _collapsed(lo, hi):
        lo, hi = wilson_floor(mean, _units(x.size, clusters), _bounds(x, bounds), alpha)
        return mean, lo, hi, "bootstrap+wilson-floor" if math.isfinite(lo) else "none"
    if binary:
        w_lo, w_hi = wilson_ci(int(x.sum()), int(x.size), alpha)
        if w_lo < lo or w_hi > hi:
            return mean, min(lo, w_lo), max(hi, w_hi), "bootstrap+wilson-floor"
    return mean, lo, hi, "bootstrap"


def mean_ci(values: Sequence[float], n_boot: int = 2000, alpha: float = 0.05, seed: int = 0,
            clusters: Sequence | None = None) -> tuple[float, float, float]:
    """Mean and its (1-alpha) CI as `mean_interval` computes them (without the method's name)."""
    return mean_interval(values, n_boot, alpha, seed, clusters)[:3]


def paired_bootstrap(a: Sequence[float], b: Sequence[float], n_boot: int = 5000, alpha: float = 0.05,
                     seed: int = 0, clusters: Sequence | None = None) -> dict[str, float]:
    """Gain b - a on paired items: mean, percentile-bootstrap CI (may have zero width: see `paired_interval`),
    and a two-sided bootstrap p-value for 'no difference'."""
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


def discordant(a: Sequence[float], b: Sequence[float]) -> tuple[int, int]:
    """McNemar's discordant counts from a to b: (improved: 0 → 1, broken: 1 → 0)."""
    a_, b_ = np.asarray(a) > 0.5, np.asarray(b) > 0.5
    return int(np.sum(~a_ & b_)), int(np.sum(a_ & ~b_))


def _phi(both: int, improved: int, broken: int, neither: int) -> float:
    """Newcombe's corrected phi of the paired 2x2 table: 0 when a margin is 0 or 0 <= ad−bc <= n/2,
    (ad−bc−n/2)/√(margins) above n/2, (ad−bc)/√(margins) when negative (as Newcombe 1998, and Fagerland,
    Lydersen & Laake 2017, ch. 8, compute it for method 10)."""
    n = both + improved + broken + neither
    margins = (both + improved) * (broken + neither) * (both + broken) * (improved + neither)
    if margins == 0:
        return 0.0
    ad_bc = both * neither - improved * broken
    num = ad_bc - n / 2 if ad_bc > n / 2 else (0.0 if ad_bc >= 0 else ad_bc)
    return num / math.sqrt(margins)


def newcombe10(both: int, improved: int, broken: int, neither: int, alpha: float = 0.05) -> tuple[float, float]:
    """Newcombe's (1998, Stat Med 17:2635) method 10 CI of the paired difference p_new − p_base.

    p_new = (both + improved)/n and p_base = (both + broken)/n get Wilson intervals (l1, u1) and (l2, u2);
    with the corrected phi of `_phi` the CI is
    [θ − √((p_new−l1)² − 2φ(p_new−l1)(u2−p_base) + (u2−p_base)²),
     θ + √((u1−p_new)² − 2φ(u1−p_new)(p_base−l2) + (p_base−l2)²)], θ = (improved − broken)/n.
    """
    n = both + improved + broken + neither
    if n <= 0:
        return float("nan"), float("nan")
    p1, p2 = (both + improved) / n, (both + broken) / n
    l1, u1 = wilson_ci(both + improved, n, alpha)
    l2, u2 = wilson_ci(both + broken, n, alpha)
    phi, theta = _phi(both, improved, broken, neither), p1 - p2
    down = math.sqrt(max(0.0, (p1 - l1) ** 2 - 2 * phi * (p1 - l1) * (u2 - p2) + (u2 - p2) ** 2))
    up = math.sqrt(max(0.0, (u1 - p1) ** 2 - 2 * phi * (u1 - p1) * (p2 - l2) + (p2 - l2) ** 2))
    return max(-1.0, theta - down), min(1.0, theta + up)


def paired_interval(a: Sequence[float], b: Sequence[float], n_boot: int = 5000, alpha: float = 0.05,
                    seed: int = 0, clusters: Sequence | None = None) -> dict:
    """Gain b − a on paired items: gain, CI, p-value, n, ci_method, and for 0/1 scores the discordant
    counts (improved, broken; None otherwise).

    0/1 scores of independent items: Newcombe's method 10 and McNemar's exact p ("newcombe10"). Otherwise
    the paired bootstrap with its p-value ("bootstrap"); clustered 0/1 scores never get a CI narrower than
    Newcombe's ("bootstrap+newcombe10-floor" where that widened it), and a bootstrap of zero width becomes
    `wilson_floor` over the differences' range ("bootstrap+wilson-floor").
    """
    xa, xb = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    binary = xa.size > 0 and is_binary(xa) and is_binary(xb)
    res = dict(paired_bootstrap(xa, xb, n_boot, alpha, seed, clusters), ci_method="bootstrap", improved=None,
               broken=None) if clusters is not None or not binary else {"gain": float((xb - xa).mean()), "n": xa.size}
    if xa.size == 0:
        return {**res, "ci_method": ""}
    if binary:
        up, down = discordant(xa, xb)
        both = int(np.sum((xa > 0.5) & (xb > 0.5)))
        n_lo, n_hi = newcombe10(both, up, down, xa.size - both - up - down, alpha)
        if clusters is None:
            return {**res, "ci_low": n_lo, "ci_high": n_hi, "p_value": mcnemar_exact(xa, xb),
                    "ci_method": "newcombe10", "improved": up, "broken": down}
        res.update(improved=up, broken=down)
        if n_lo < res["ci_low"] or n_hi > res["ci_high"]:
            res.update(ci_low=min(n_lo, res["ci_low"]), ci_high=max(n_hi, res["ci_high"]),
                       ci_method="bootstrap+newcombe10-floor")
        return res
    if _collapsed(res["ci_low"], res["ci_high"]):
        span = _bounds(np.concatenate([xa, xb]), None)
        d_bounds = None if span is None else (-(span[1] - span[0]), span[1] - span[0])
        lo, hi = wilson_floor(res["gain"], _units(xa.size, clusters), d_bounds, alpha)
        res.update(ci_low=lo, ci_high=hi, ci_method="bootstrap+wilson-floor" if math.isfinite(lo) else "none")
    return res


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
