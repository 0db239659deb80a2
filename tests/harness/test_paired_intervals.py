"""Intervals that are never empty: Newcombe's method 10 for paired 0/1 gains, the Wilson floor of a collapsed
bootstrap, the bootstrap itself, each checked against a hand-computed case."""

from __future__ import annotations

import itertools
import math

import pytest

from groundfloor.stats import mean_interval, newcombe10, paired_interval, wilson_ci


def test_newcombe10_published_example_with_negative_phi():
    """Newcombe (1998) Table II example (a): a = 36 (both +), b = 12 (+ then −), c = 2, d = 0, n = 50.

    θ = (b − c)/n = 0.2; p1 = 48/50 = 0.96, p2 = 38/50 = 0.76.
    Wilson 95%: 48/50 → (0.86540, 0.98896); 38/50 → (0.62587, 0.85703).
    ad − bc = 0 − 24 = −24 < 0, so φ = −24 / √(48·2·38·12) = −24 / 209.23 = −0.11471.
    δ = √(0.09460² + 2·0.11471·0.09460·0.09703 + 0.09703²) = 0.14307  → L = 0.2 − 0.14307 = 0.05693
    ε = √(0.02896² + 2·0.11471·0.02896·0.13413 + 0.13413²) = 0.14043  → U = 0.2 + 0.14043 = 0.34043
    The paper prints 0.0569 to 0.3404 for method 10.
    """
    assert newcombe10(both=36, improved=12, broken=2, neither=0) == pytest.approx((0.0569, 0.3404), abs=5e-5)


def test_newcombe10_with_the_corrected_positive_phi():
    """Cavo et al. (2012) as in Fagerland, Lydersen & Laake (2017, ch. 8): table [[59, 6], [16, 80]], n = 161.

    p_new = (59 + 6)/161 = 0.40373, p_base = (59 + 16)/161 = 0.46584, θ = −10/161 = −0.06211.
    Wilson: 65/161 → (0.33104, 0.48090); 75/161 → (0.39048, 0.54279).
    ad − bc = 59·80 − 6·16 = 4624 > n/2, so φ = (4624 − 80.5) / √(65·96·75·86) = 0.71617.
    δ = √(0.07269² − 2·0.71617·0.07269·0.07695 + 0.07695²) = 0.05651 → L = −0.11862
    ε = √(0.07718² − 2·0.71617·0.07718·0.07536 + 0.07536²) = 0.05749 → U = −0.00463
    """
    assert newcombe10(both=59, improved=6, broken=16, neither=80) == pytest.approx((-0.11862, -0.00463), abs=5e-6)


def test_one_discordant_pair_at_n10_is_not_a_point():
    """The issue's case: 1 item 0 → 1, 9 items 0 → 0. p_new = 0.1, p_base = 0; a margin (base = 1) is 0, so φ = 0.
    Wilson 1/10 → (0.01788, 0.40415), 0/10 → (0, 0.27753).
    L = 0.1 − √((0.1 − 0.01788)² + 0.27753²) = 0.1 − 0.28943 = −0.18943;  U = 0.1 + (0.40415 − 0.1) = 0.40415.
    """
    res = paired_interval([0.0] * 10, [1.0] + [0.0] * 9)
    assert (res["ci_low"], res["ci_high"]) == pytest.approx((-0.18943, 0.40415), abs=5e-6)
    assert (res["improved"], res["broken"], res["ci_method"], res["p_value"]) == (1, 0, "newcombe10", 1.0)


def test_no_change_at_n10_has_the_rule_of_three_width():
    """All ten items right in both rounds: Wilson 10/10 → (1 − u, 1), u = z²/(10 + z²) = 0.27753, φ = 0 (a 0 margin):
    the CI is [−0.27753, +0.27753], not the bootstrap's [0, 0]."""
    res = paired_interval([1.0] * 10, [1.0] * 10)
    assert (res["gain"], res["ci_method"]) == (0.0, "newcombe10")
    assert (res["ci_low"], res["ci_high"]) == pytest.approx((-0.27753, 0.27753), abs=5e-6)


def test_newcombe10_is_never_empty_and_always_holds_the_estimate():
    for n in range(1, 13):
        for both, up, down in itertools.product(range(n + 1), repeat=3):
            if both + up + down > n:
                continue
            lo, hi = newcombe10(both, up, down, n - both - up - down)
            theta = (up - down) / n
            assert -1.0 <= lo <= theta <= hi <= 1.0 and hi - lo > 1e-9, (n, both, up, down)
            assert newcombe10(both, down, up, n - both - up - down) == pytest.approx((-hi, -lo))  # b − a = −(a − b)


def test_graded_bootstrap_hand_computed():
    """d = b − a = (0.5, 0): resampling two of two gives means 0 (p ¼), 0.25 (p ½), 0.5 (p ¼), so the 2.5% and 97.5%
    percentiles are 0 and 0.5; the scores are not 0/1, so it stays a bootstrap."""
    res = paired_interval([0.0, 0.0], [0.5, 0.0])
    assert (res["gain"], res["ci_low"], res["ci_high"]) == (0.25, 0.0, 0.5)
    assert (res["ci_method"], res["improved"], res["broken"]) == ("bootstrap", None, None)


def test_collapsed_graded_bootstrap_gets_the_wilson_floor():
    """Eight items all rise by 0.25 (scores in [0, 1], so d lies in [−1, 1]): every resample gives 0.25. None of 8
    items differed, so the share that could is at most u = z²/(8 + z²) = 0.32441 and the gain lies in
    [0.25 − u·(0.25 + 1), 0.25 + u·(1 − 0.25)] = [−0.15551, 0.49331]."""
    res = paired_interval([0.25] * 8, [0.5] * 8)
    assert res["ci_method"] == "bootstrap+wilson-floor"
    assert (res["ci_low"], res["ci_high"]) == pytest.approx((-0.15551, 0.49331), abs=5e-6)
    flat = paired_interval([0.5] * 10, [0.5] * 10)  # no change at all: ±z²/(10 + z²)
    assert (flat["ci_low"], flat["ci_high"]) == pytest.approx((-0.27753, 0.27753), abs=5e-6)


def test_clustered_binary_gain_is_never_narrower_than_newcombe():
    """Users a (items 0 → 1, 1 → 1) and b (1 → 1, 0 → 0): resampling users gives 0.5, 0.25 or 0, so the bootstrap
    CI is [0, 0.5]; Newcombe for both = 2, improved = 1, n = 4 is [−0.31956, 0.65529] (ad − bc = 2 = n/2: φ = 0)."""
    res = paired_interval([0, 1, 1, 0], [1, 1, 1, 0], clusters=list("aabb"))
    assert (res["ci_low"], res["ci_high"]) == pytest.approx((-0.31956, 0.65529), abs=5e-6)
    assert (res["ci_method"], res["improved"], res["broken"]) == ("bootstrap+newcombe10-floor", 1, 0)


def test_single_sample_mean_never_collapses():
    """Clustered 0/1 scores, all right, two users: Wilson bound over the 2 users, 1 − z²/(2 + z²) = 0.34238."""
    m, lo, hi, how = mean_interval([1, 1, 1, 1], clusters=list("aabb"))
    assert (m, hi, how) == (1.0, 1.0, "bootstrap+wilson-floor") and lo == pytest.approx(0.34238, abs=5e-6)
    # graded, all identical at 0.3 over 3 items: u = z²/(3 + z²) = 0.56150 → [0.3 − 0.3u, 0.3 + 0.7u]
    u = wilson_ci(0, 3)[1]
    assert mean_interval([0.3, 0.3, 0.3])[1:] == pytest.approx((0.3 - 0.3 * u, 0.3 + 0.7 * u, "bootstrap+wilson-floor"))
    assert u == pytest.approx(0.56150, abs=5e-6)
    # values with no known bounds (e.g. PMI 3.0 twice): no interval rather than a false point
    m, lo, hi, how = mean_interval([3.0, 3.0])
    assert m == 3.0 and math.isnan(lo) and math.isnan(hi) and how == "none"
    assert mean_interval([1, 0, 1])[3] == "wilson" and mean_interval([0.2, 0.4, 0.9])[3] == "bootstrap"
