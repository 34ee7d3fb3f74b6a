"""Monte Carlo means: stratified standard errors, Student-t coverage, the Pareto tail
diagnostic and its warning."""

import warnings

import numpy as np
import pytest
from scipy import stats

from probex.diagnostics import ProbexWarning, SamplingWarning
from probex.inference.monte_carlo import (
    check_monte_carlo_error,
    importance_ess,
    monte_carlo_mean,
    pareto_tail_shape,
    reliability_threshold,
)


def test_stratified_standard_error_is_the_closed_form():
    rng = np.random.default_rng(0)
    a, b = rng.normal(0, 1, (30, 2)), rng.normal(5, 3, (70, 2))
    result = monte_carlo_mean(np.concatenate([a, b]), np.r_[np.zeros(30), np.ones(70)])
    expected = np.sqrt(30 * a.var(0, ddof=1) + 70 * b.var(0, ddof=1)) / 100
    np.testing.assert_allclose(result.se, expected)
    np.testing.assert_allclose(result.mean, np.concatenate([a, b]).mean(0))
    assert result.df == 98 and result.n == 100
    single = monte_carlo_mean(a)
    np.testing.assert_allclose(single.se, a.std(0, ddof=1) / np.sqrt(30))


def test_student_t_interval_covers_at_the_nominal_rate():
    """400 replications of a mean of 12 normal terms: coverage within 3 binomial sd of 0.95
    (the normal quantile would give 0.93)."""
    rng = np.random.default_rng(1)
    hits = [np.all((iv := monte_carlo_mean(rng.normal(2.0, 1.0, (12, 1))).interval(0.95))[..., 0]
                   <= 2.0) and np.all(2.0 <= iv[..., 1]) for _ in range(400)]
    assert abs(np.mean(hits) - 0.95) < 3 * np.sqrt(0.95 * 0.05 / 400)


@pytest.mark.parametrize("k", [0.0, 0.5, 0.9])
def test_pareto_shape_recovers_generalized_pareto_tails(k):
    """The fit uses the top 3 sqrt(n) = 150 of n = 2500 draws; its sd is about 0.1."""
    draws = stats.genpareto.rvs(k, size=2500, random_state=np.random.default_rng(2))
    assert abs(pareto_tail_shape(draws) - k) < 0.25


def test_pareto_shape_edge_cases():
    assert np.isnan(pareto_tail_shape(np.arange(10.0)))           # tail of 2 points
    assert pareto_tail_shape(np.ones(100)) == 0.0
    assert pareto_tail_shape(np.random.default_rng(3).normal(size=4000)) < 0.2
    with pytest.raises(ValueError, match="finite"):
        pareto_tail_shape([1.0, np.inf] * 20)


def test_warns_for_heavy_tailed_terms_and_not_for_normal_ones():
    rng = np.random.default_rng(4)
    heavy = monte_carlo_mean(stats.genpareto.rvs(1.2, size=(1000, 3), random_state=rng))
    light = monte_carlo_mean(rng.normal(0, 1, (1000, 3)))
    assert not heavy.reliable.any() and light.reliable.all()
    with pytest.warns(SamplingWarning, match="heavy-tailed"):
        assert not check_monte_carlo_error(heavy, "test")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert check_monte_carlo_error(light, "test")
    assert issubclass(SamplingWarning, ProbexWarning) and issubclass(ProbexWarning, UserWarning)


def test_threshold_and_ess_and_input_checks():
    assert reliability_threshold(10) == 0.0 and reliability_threshold(100) == 0.9
    assert reliability_threshold(50) == 1.0
    assert reliability_threshold(200) == reliability_threshold(10**6) == 0.7
    assert importance_ess(np.ones(50)) == pytest.approx(50.0)
    assert importance_ess(np.r_[1.0, np.zeros(9)]) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="n >= 2"):
        monte_carlo_mean(np.ones((1, 3)))
    with pytest.raises(ValueError, match="fewer than 2"):
        monte_carlo_mean(np.ones((5, 2)), [0, 0, 0, 0, 1])
    with pytest.raises(ValueError, match="weights"):
        importance_ess([-1.0, 2.0])
