"""Small-n statistics: Wilson intervals for proportions, BH q-values, and the gain heatmap that uses them."""

from __future__ import annotations

import matplotlib
import numpy as np
import pandas as pd
import pytest
from scipy.stats import binomtest, false_discovery_control

from groundfloor.stats import bh_qvalues, mean_ci, wilson_ci
from reports import figures

matplotlib.use("Agg")


@pytest.mark.parametrize("k,n", [(0, 10), (1, 10), (5, 10), (9, 10), (10, 10), (0, 1), (1, 1), (3, 7), (17, 40),
                                 (0, 200), (123, 200)])
def test_wilson_matches_scipy(k, n):
    ref = binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
    assert wilson_ci(k, n) == pytest.approx((ref.low, ref.high), abs=1e-12)
    ref90 = binomtest(k, n).proportion_ci(confidence_level=0.90, method="wilson")
    assert wilson_ci(k, n, alpha=0.10) == pytest.approx((ref90.low, ref90.high), abs=1e-12)


def test_proportion_mean_ci_is_wilson_and_not_degenerate_at_zero():
    mean, lo, hi = mean_ci([0.0] * 10)
    assert (mean, lo) == (0.0, 0.0) and hi == pytest.approx(binomtest(0, 10).proportion_ci(method="wilson").high)
    assert hi > 0.2  # a percentile bootstrap gives [0, 0] here
    mean, lo, hi = mean_ci([1, 0, 1, 1, 0, 1, 1, 1, 0, 1])
    ref = binomtest(7, 10).proportion_ci(method="wilson")
    assert mean == pytest.approx(0.7) and (lo, hi) == pytest.approx((ref.low, ref.high))


def test_graded_and_clustered_scores_keep_the_bootstrap():
    graded = [0.0, 0.5, 1.0, 0.25, 0.75, 0.5]
    m, lo, hi = mean_ci(graded, seed=3)
    assert m == pytest.approx(0.5) and 0.0 <= lo < 0.5 < hi <= 1.0
    assert (lo, hi) == mean_ci(graded, seed=3)[1:]  # seeded: the same resamples
    # 0/1 scores of items that share users: resample users (Wilson would assume independent items)
    binary, users = [1, 1, 1, 0, 0, 0, 1, 0], ["a", "a", "a", "b", "b", "b", "c", "c"]
    _, lo_c, hi_c = mean_ci(binary, clusters=users, seed=0)
    assert (lo_c, hi_c) != pytest.approx(wilson_ci(4, 8))


def test_wilson_rejects_impossible_counts():
    assert all(np.isnan(wilson_ci(0, 0)))
    with pytest.raises(ValueError):
        wilson_ci(11, 10)


def test_bh_qvalues_match_scipy_and_keep_nan():
    p = np.array([0.01, 0.04, 0.03, 0.5, 0.002, 0.04, 1.0])
    assert bh_qvalues(p) == pytest.approx(false_discovery_control(p, method="bh"))
    with_nan = bh_qvalues([0.01, np.nan, 0.04])
    assert np.isnan(with_nan[1]) and with_nan[[0, 2]] == pytest.approx(false_discovery_control([0.01, 0.04]))
    assert np.isnan(bh_qvalues([np.nan])).all()


def _last(n_rows: int, n_tasks: int, p: list[float], name_len: int = 30) -> pd.DataFrame:
    rows = [(f"m{i}-" + "x" * name_len, f"task_{j}_with_a_long_name") for i in range(n_rows) for j in range(n_tasks)]
    return pd.DataFrame({"model": [r[0] for r in rows], "method": "mipo", "run": "r",
                         "task": [r[1] for r in rows], "gain": 0.1, "p_value": p})


def test_heatmap_stars_use_bh_qvalues():
    # four cells: p = 0.04 each is < 0.05, but with one p = 0.9 BH gives q = 0.053 for the three: no star
    fig, q = figures.heatmap_figure(_last(2, 2, [0.04, 0.04, 0.04, 0.9]))
    texts = [t.get_text() for t in fig.axes[0].texts]
    matplotlib.pyplot.close(fig)
    assert q.ravel() == pytest.approx(false_discovery_control([0.04, 0.04, 0.04, 0.9]))
    assert not any(t.endswith("*") for t in texts)
    fig, q = figures.heatmap_figure(_last(2, 2, [0.001, 0.04, 0.04, 0.9]))
    stars = sum(t.get_text().endswith("*") for t in fig.axes[0].texts)
    assert "Benjamini–Hochberg" in fig.axes[0].get_title()
    matplotlib.pyplot.close(fig)
    assert stars == int((q < 0.05).sum()) == 1


@pytest.mark.parametrize("n_rows,n_tasks,name_len", [(1, 1, 5), (2, 3, 30), (12, 1, 40), (3, 8, 60)])
def test_heatmap_text_stays_inside_the_figure(n_rows, n_tasks, name_len):
    fig, _ = figures.heatmap_figure(_last(n_rows, n_tasks, [0.5] * (n_rows * n_tasks), name_len))
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    texts = [t for t in fig.findobj(matplotlib.text.Text) if t.get_text() and t.get_visible()]
    assert any("gain (last round" in t.get_text() for t in texts)  # the colour-bar label is among them
    outside = [t.get_text() for t in texts
               if not (fig.bbox.contains(*t.get_window_extent(renderer).p0)
                       and fig.bbox.contains(*t.get_window_extent(renderer).p1))]
    matplotlib.pyplot.close(fig)
    assert outside == []
