"""RISE against a direct computation and against exact conditional expectations."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import probex as px
from probex.perturb import FeatureGroups

W = np.array([2.0, -1.0, 0.5, 1.5])


def _model(X):
    return 1.0 / (1.0 + np.exp(-(X @ W)))


def _blackbox():
    return px.BlackBox(_model, n_features=4)


def _background():
    return np.zeros((3, 4))  # replacement baseline 0


def test_estimate_matches_direct_computation_and_counts_queries():
    bb = _blackbox()
    rise = px.RISE(bb, _background(), n_samples=200, p_keep=0.4, n_draws=10, seed=3)
    x = np.array([[1.0, 2.0, -1.0, 0.5], [0.5, -0.5, 1.0, 1.0]])
    e = rise.explain(x, target=1)
    assert bb.n_queries == 2 * 200 and e.n_queries == 400
    masks = rise.masks().numpy()
    for i in range(2):
        f = _model(masks * x[i])  # baseline 0
        terms = f[:, None] * masks / 0.4
        assert np.allclose(e.mean[i], terms.mean(0))
        assert np.allclose(e.sd[i], terms.std(0, ddof=1) / np.sqrt(200))
        draws = e.idata.posterior["attribution"].values[0, :, i]
        assert draws.shape == (10, 4) and np.allclose(draws.mean(0), terms.mean(0))
    again = px.RISE(_blackbox(), _background(), n_samples=200, p_keep=0.4, n_draws=10, seed=3)
    assert np.array_equal(again.explain(x, target=1).mean, e.mean)
    # predicted class costs one query per instance more; class 0 is 1 - class 1 here
    e0 = rise.explain(x[:1], target="predicted")
    assert e0.n_queries == 201 and e0[0].attrs["target"] == 1
    with pytest.warns(DeprecationWarning, match="'n_masks' is renamed 'n_samples'"):
        old = px.RISE(_blackbox(), _background(), n_masks=200, p_keep=0.4, n_draws=10, seed=3)
    assert np.array_equal(old.explain(x, target=1).mean, e.mean)


def test_standard_errors_are_calibrated_against_enumeration():
    """E[f(M x) M_j] / p = p(1) E[f | M_j = 1] exactly, by enumerating the 16 masks; the
    z-scores of 40 seeded estimates with their reported sd have mean ~0 and sd ~1."""
    x = np.array([1.0, 2.0, -1.0, 0.5])
    p = 0.5
    masks = np.array(list(itertools.product([0.0, 1.0], repeat=4)))
    prob = np.prod(np.where(masks == 1, p, 1 - p), axis=1)
    exact = (prob[:, None] * _model(masks * x)[:, None] * masks).sum(0) / p
    z = []
    for seed in range(40):
        e = px.RISE(_blackbox(), _background(), n_samples=100, p_keep=p, seed=seed).explain(
            x, target=1)
        z.append((e.mean - exact) / e.sd)
    z = np.array(z).ravel()  # 160 z-scores; their mean has sd ~0.08, their sd ~0.06
    assert abs(z.mean()) < 0.35 and 0.7 < z.std() < 1.35, (z.mean(), z.std())


def test_feature_groups_share_one_value_and_errors():
    groups = FeatureGroups([[0, 3], [1, 2]], 4)
    e = px.RISE(_blackbox(), _background(), n_samples=100, feature_groups=groups).explain(
        np.ones((3, 4)))
    assert np.allclose(e.mean[:, 0], e.mean[:, 3]) and np.allclose(e.mean[:, 1], e.mean[:, 2])
    with pytest.raises(ValueError, match="divisible"):
        px.RISE(_blackbox(), _background(), n_samples=100, n_draws=7)
    with pytest.raises(ValueError, match="p_keep"):
        px.RISE(_blackbox(), _background(), p_keep=1.0)
    with pytest.raises(ValueError, match="target must be one index, 'predicted' or 2 indices"):
        px.RISE(_blackbox(), _background(), n_samples=10, n_draws=1).explain(
            np.ones((2, 4)), target=[0, 1, 1])


def test_bad_target_groups_and_device():
    with pytest.raises(ValueError, match="target=2 but the model has 2 classes"):
        px.RISE(_blackbox(), _background(), n_samples=10, n_draws=1).explain(
            np.ones((2, 4)), target=2)
    with pytest.raises(ValueError, match="feature_groups cover 5 features, the data have 4"):
        px.RISE(_blackbox(), _background(), feature_groups=FeatureGroups(None, 5))
    with pytest.raises(ValueError, match="overlaps"):
        px.RISE(_blackbox(), _background(), feature_groups=[[0, 1], [1, 2, 3]])
    with pytest.raises(ValueError, match="x contains 1 NaN"):
        px.RISE(_blackbox(), _background(), n_samples=10, n_draws=1).explain(
            np.array([1.0, np.nan, 0.0, 0.0]))
    with pytest.raises(ValueError, match="not a valid torch device"):
        px.RISE(_blackbox(), _background(), device="tpu")
    # feature names of the black box label the explanation
    named = px.BlackBox(_model, feature_names=["a", "b", "c", "d"])
    e = px.RISE(named, _background(), n_samples=10, n_draws=1, device="cpu").explain(
        np.ones((2, 4)), target=1)
    assert e.idata.posterior["attribution"].coords["feature"].values.tolist() == list("abcd")


@pytest.mark.gpu
def test_rise_on_cuda_matches_cpu():
    x = np.array([[1.0, 2.0, -1.0, 0.5]])
    cpu = px.RISE(_blackbox(), _background(), n_samples=200, seed=1).explain(x, target=1)
    gpu = px.RISE(_blackbox(), _background(), n_samples=200, seed=1, device="cuda").explain(
        x, target=1)
    assert np.allclose(cpu.mean, gpu.mean) and np.allclose(cpu.sd, gpu.sd)
