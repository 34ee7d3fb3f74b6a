"""EAGLE(design="importance"): the honest design wired into the explainer."""

import numpy as np
import pytest

import probex as px
from tests.inference.test_importance_design import BACKGROUND, X0, nonlinear


@pytest.fixture(scope="module")
def explanation():
    bb = px.BlackBox(nonlinear, task="regression")
    return px.EAGLE(bb, background=BACKGROUND, seed=3).explain(X0, n_samples=400,
                                                               design="importance")


def test_packaging_of_the_sandwich_posterior(explanation):
    e = explanation
    assert e.method == "EAGLE" and e.inference == "laplace" and e.n_queries == 400
    assert e.attrs["design"] == "importance" and e.attrs["covariance"] == "sandwich (HC3)"
    trace = e.trace
    assert trace["n_queries"].iloc[-1] == 400 and trace["n_queries"].is_monotonic_increasing
    assert len(trace) <= 6                                   # rounds double: few model calls
    z = e.idata.constant_data["z"].values
    importance = e.idata.constant_data["importance"].values
    assert z.shape == (400, 6) and importance.shape == (400,) and np.all(importance > 0)
    draws = e.idata.posterior["attribution"].values.reshape(-1, 6)
    np.testing.assert_allclose(draws.mean(0), e.mean, atol=4 * e.sd.max() / np.sqrt(len(draws)))
    hdi = e.hdi(0.95)
    np.testing.assert_allclose(hdi[:, 1] - hdi[:, 0], 2 * 1.959964 * e.sd, rtol=1e-6)


def test_same_seed_same_numbers_and_bad_design_name():
    bb = px.BlackBox(nonlinear, task="regression")
    runs = [px.EAGLE(bb, background=BACKGROUND, perturbation="mask", kernel="shap", seed=1)
            .explain(X0, n_samples=150, design="importance") for _ in range(2)]
    np.testing.assert_array_equal(runs[0].mean, runs[1].mean)
    assert runs[0].n_queries == 150
    with pytest.raises(ValueError, match="design"):
        px.EAGLE(bb, background=BACKGROUND).explain(X0, n_samples=100, design="random")


def test_tol_stops_early():
    bb = px.BlackBox(nonlinear, task="regression")
    e = px.EAGLE(bb, background=BACKGROUND, seed=0).explain(X0, n_samples=5000, target_width=0.2,
                                                            design="importance")
    assert e.n_queries < 5000 and e.trace["max_width"].iloc[-1] <= 0.2
