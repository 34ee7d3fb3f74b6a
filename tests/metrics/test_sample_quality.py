"""Sample quality: mean locality weight and log-determinant of the weighted design."""

import numpy as np
import pytest

import probex as px
from probex.metrics import design_log_determinant, mean_locality_weight, sample_quality


def test_log_determinant_by_hand():
    # two rows at -1 and +1 (d = 1), weights 1: z_bar = 0, S = 2 -> log(1 + s0^2 * 2)
    z = np.array([[-1.0], [1.0]])
    assert design_log_determinant(z, np.ones(2)) == pytest.approx(np.log(3.0))
    assert design_log_determinant(z, np.ones(2), prior_scale=2.0) == pytest.approx(np.log(9.0))
    # weights 1 and 3: z_bar = 0.5, S = 1 * 1.5^2 + 3 * 0.5^2 = 3
    assert design_log_determinant(z, np.array([1.0, 3.0])) == pytest.approx(np.log(4.0))
    # shifting every row leaves it unchanged (the intercept is integrated out)
    assert design_log_determinant(z + 7.0, np.array([1.0, 3.0])) == pytest.approx(np.log(4.0))


def test_log_determinant_is_the_exact_d_dimensional_formula(rng):
    z = rng.normal(size=(2, 40, 3))
    w = rng.uniform(0.1, 2.0, size=(2, 40))
    values = design_log_determinant(z, w)
    assert values.shape == (2,)
    for b in range(2):
        zc = z[b] - (w[b, :, None] * z[b]).sum(0) / w[b].sum()
        scatter = zc.T @ (w[b, :, None] * zc)
        assert values[b] == pytest.approx(np.linalg.slogdet(np.eye(3) + scatter)[1], rel=1e-12)


def test_mean_weight_and_validation():
    assert mean_locality_weight([0.2, 0.4]) == pytest.approx(0.3)
    np.testing.assert_allclose(mean_locality_weight(np.array([[1.0, 0.0], [0.5, 0.5]])),
                               [0.5, 0.5])
    with pytest.raises(ValueError, match="non-negative"):
        mean_locality_weight([0.5, -0.1])
    with pytest.raises(ValueError, match="weights"):
        design_log_determinant(np.ones((3, 2)), np.ones(4))


def test_sample_quality_of_an_explanation(demo_model):
    model, data = demo_model
    e = px.BayesLIME(px.BlackBox(model), background=data.X_train, seed=0).explain(
        data.X_test[0], n_samples=200)
    quality = sample_quality(e)
    weights = e.idata.constant_data["weights"].values
    assert quality["n"] == 200
    assert quality["mean_weight"] == pytest.approx(float(weights.mean()))
    z = e.idata.constant_data["z"].values
    assert quality["log_det"] == pytest.approx(design_log_determinant(z, weights))
