"""Coverage, z-scores and PIT diagnostics on simulated honest and dishonest reports."""

import matplotlib
import numpy as np
import pytest
from scipy import stats

from probex.metrics import (
    interval_coverage,
    mean_squared_z,
    pit_from_draws,
    pit_histogram,
    pit_uniformity_pvalue,
    pit_values,
    plot_pit_histogram,
    z_scores,
)


def test_coverage_by_hand_and_tolerance():
    intervals = np.array([[0.0, 1.0], [0.0, 1.0], [2.0, 2.0]])
    assert interval_coverage(intervals, np.array([0.5, 1.5, 2.0 + 1e-12])) == pytest.approx(1 / 3)
    assert interval_coverage(intervals, np.array([0.5, 1.5, 2.0 + 1e-12]),
                             atol=1e-9) == pytest.approx(2 / 3)


def test_z_scores_by_hand():
    z = z_scores([1.0, 2.0, 3.0, 3.0], [0.5, 1.0, 0.0, 0.0], [0.0, 0.0, 3.0, 2.0])
    np.testing.assert_array_equal(z, [2.0, 2.0, 0.0, np.inf])
    assert mean_squared_z([1.0, 2.0], [0.5, 1.0], [0.0, 0.0]) == 4.0
    with pytest.raises(ValueError, match="sd"):
        z_scores([1.0], [-1.0], [0.0])


@pytest.mark.parametrize("df", [None, 4.0])
def test_pit_is_uniform_for_a_correct_model_and_u_shaped_for_narrow_intervals(df):
    """2,000 truths drawn from the reported distribution: the chi-square test of 10 bins
    passes at 1e-3 (fails with probability 1e-3 under a correct model; seeded), and the
    mean squared z is 1 +- 4 sqrt(2 / n) (normal) or df / (df - 2) in scale units (t)."""
    rng = np.random.default_rng(0)
    n = 2000
    loc, scale = rng.normal(size=n), rng.uniform(0.5, 2.0, size=n)
    noise = rng.standard_normal(n) if df is None else rng.standard_t(df, size=n)
    truth = loc + scale * noise
    pit = pit_values(truth, loc, scale, df)
    assert pit_uniformity_pvalue(pit) > 1e-3
    sd = scale if df is None else scale * np.sqrt(df / (df - 2))
    bound = 4 * np.sqrt(2 / n) * (1 if df is None else 3)  # t_4 has heavy tails
    assert abs(mean_squared_z(loc, sd, truth) - 1) < bound
    narrow = pit_values(truth, loc, scale / 2, df)
    counts, _ = pit_histogram(narrow)
    assert pit_uniformity_pvalue(narrow) < 1e-6
    assert counts[0] + counts[-1] > 2 * (counts[4] + counts[5])  # U shape


def test_pit_values_mixed_normal_and_t():
    pit = pit_values([1.0, 1.0], [0.0, 0.0], [1.0, 1.0], df=[np.inf, 3.0])
    np.testing.assert_allclose(pit, [stats.norm.cdf(1.0), stats.t.cdf(1.0, 3.0)])


def test_pit_from_draws_is_uniform_for_exchangeable_truths_even_with_ties():
    rng = np.random.default_rng(1)
    draws = rng.poisson(3.0, size=(50, 1500)).astype(float)  # many ties
    truth = rng.poisson(3.0, size=1500).astype(float)
    pit = pit_from_draws(draws, truth, seed=2)
    assert pit_uniformity_pvalue(pit) > 1e-3
    moved = pit_from_draws(np.moveaxis(draws, 0, 1), truth, axis=1, seed=2)
    np.testing.assert_array_equal(pit, moved)
    shifted = pit_from_draws(draws, truth + 2.0, seed=2)
    assert shifted.mean() > 0.7  # a biased estimate shows as a slope


def test_plot_pit_histogram(tmp_path):
    matplotlib.use("Agg")
    pit = np.random.default_rng(3).uniform(size=500)
    ax = plot_pit_histogram(pit, n_bins=8, title="honest", path=tmp_path / "pit.png")
    bars = ax.containers[0]
    assert len(bars) == 8 and sum(p.get_height() for p in bars) == 500
    assert (tmp_path / "pit.png").stat().st_size > 0
    with pytest.raises(ValueError, match="n_bins"):
        plot_pit_histogram(pit, n_bins=1)
    with pytest.raises(TypeError):
        plot_pit_histogram(pit, 8)  # keyword-only
