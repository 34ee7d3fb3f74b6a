"""SmoothGrad / C-LIME with estimator="importance": the honest estimators wired into the
explainers (the statistics are tested in tests/inference/test_smoothed_gradient.py)."""

import warnings

import numpy as np
import pytest

import probex as px
from probex.diagnostics import SamplingWarning
from tests.inference.saturating import N_FEATURES, SIGMA, ProjectedNet, instances


@pytest.fixture(scope="module")
def bb():
    return px.BlackBox(ProjectedNet(), target=1, n_features=N_FEATURES)


@pytest.mark.parametrize("cls", [px.SmoothGrad, px.CLIME])
def test_batch_equals_rows_and_packaging(bb, cls):
    X = instances()[:3]
    explainer = cls(bb, sigma=SIGMA, seed=4)
    batch = explainer.explain(X, n_samples=200, estimator="importance")
    assert batch.inference == "monte_carlo" and batch.mean.shape == (3, N_FEATURES)
    assert batch.n_queries <= 3 * 201 and batch.attrs["estimator"] == "importance"
    single = cls(bb, sigma=SIGMA, seed=4).explain(X[0], n_samples=200, estimator="importance")
    np.testing.assert_array_equal(batch.mean[0], single.mean)  # row 0's stream either way
    np.testing.assert_array_equal(batch.sd[0], single.sd)
    pair = explainer.explain(X[:2], n_samples=200, estimator="importance")
    np.testing.assert_array_equal(batch.mean[1], pair.mean[1])  # row 1's own stream
    hdi = batch.hdi(0.95)
    np.testing.assert_allclose(hdi[..., 1] - hdi[..., 0], 2 * 1.959964 * batch.sd, rtol=1e-6)
    assert "tilted" in batch.attrs["sampler"]
    with pytest.raises(ValueError, match="estimator"):
        explainer.explain(X[0], estimator="stein")


def test_heavy_tails_warn():
    """A model whose gradient is a rare spike (a sharp step far from x under plain
    sampling, regression output so no tilt): the Pareto diagnostic flags it."""
    import torch

    step = px.BlackBox(lambda t: torch.sigmoid(40.0 * (t[:, 0] - 1.5)), task="regression",
                       input_type="torch", n_features=2)
    with pytest.warns(SamplingWarning, match="heavy-tailed"):
        px.SmoothGrad(step, sigma=0.5, seed=0).explain(np.zeros(2), n_samples=1000,
                                                       estimator="importance")
    with warnings.catch_warnings():
        warnings.simplefilter("error", SamplingWarning)
        smooth = px.BlackBox(lambda t: torch.sin(t).sum(-1), task="regression",
                             input_type="torch", n_features=2)
        px.SmoothGrad(smooth, sigma=0.5, seed=0).explain(np.zeros(2), n_samples=1000,
                                                         estimator="importance")
