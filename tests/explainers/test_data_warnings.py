"""Degenerate data are named, not answered with a confident zero."""

import numpy as np
import pytest

import probex as px

NAMES = list("abcd")


def _bb():
    return px.BlackBox(lambda X: X @ np.array([1.0, -2.0, 0.5, 3.0]), task="regression",
                       n_features=4, feature_names=NAMES)


def test_a_background_equal_to_x_is_named(rng):
    X = rng.normal(size=(20, 4))
    with pytest.warns(px.DataWarning, match=r"4 feature\(s\) equal the replacement baseline"
                                            r" .*'a', 'b', 'c', 'd'.* 0 by construction"):
        e = px.BayesSHAP(_bb(), background=X[:1]).explain(X[0], n_samples=30)
    np.testing.assert_allclose(e.mean, 0.0, atol=1e-12)
    with pytest.warns(px.DataWarning, match="'b'"):
        px.RISE(px.BlackBox(lambda A: np.c_[1 - 1 / (1 + np.exp(-A.sum(1))),
                                            1 / (1 + np.exp(-A.sum(1)))],
                            n_features=4, feature_names=NAMES),
                background=X, replacement="zero", n_samples=20, n_draws=1).explain(
            np.r_[1.0, 0.0, 1.0, 1.0])


def test_a_feature_without_spread_in_the_background_is_named(rng):
    background = np.c_[rng.normal(size=(20, 3)), np.ones(20)]
    with pytest.warns(px.DataWarning, match=r"1 feature\(s\) do not vary .*'d'"):
        px.BayesLIME(_bb(), background=background)


def test_a_classifier_wrapped_as_regression_is_refused():
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression().fit(np.eye(4), [0, 1, 0, 1])
    with pytest.raises(ValueError, match="would explain its hard class labels"):
        px.BlackBox(model, task="regression")
    px.BlackBox(model.predict, task="regression", n_features=4)  # asked for explicitly


def test_outputs_too_large_for_float64_are_named(rng):
    bb = px.BlackBox(lambda X: 1e160 * X[:, 0], task="regression", n_features=4)
    with pytest.raises(ValueError, match="posterior is not finite .* rescale them"):
        px.BayesLIME(bb, background=rng.normal(size=(20, 4))).explain(np.zeros(4),
                                                                        n_samples=50)
