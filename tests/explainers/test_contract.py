"""The explainer contract, checked for every registered method on small data (CPU).

A new method gets all of this by adding itself to ``probex.explainers.METHODS`` and one
factory to ``FACTORIES`` below.
"""

import numpy as np
import pandas as pd
import pytest
import torch

import probex as px
from probex.explainers import METHODS

D = 5
NAMES = [f"f{j}" for j in range(D)]


class Logistic(torch.nn.Module):
    """A fixed two-class logistic model with an interaction (differentiable)."""

    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.tensor([1.5, -1.0, 0.5, 0.0, 2.0]))

    def forward(self, x):
        score = x @ self.w + 0.8 * x[:, 0] * x[:, 1]
        return torch.stack([torch.zeros_like(score), score], dim=1)  # logits


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    return rng.normal(size=(300, D))


def blackbox():
    return px.BlackBox(Logistic().double(), feature_names=NAMES)


FACTORIES = {
    "bayeslime": lambda bb, X, seed: px.BayesLIME(bb, background=X, n_samples=64, seed=seed),
    "bayesshap": lambda bb, X, seed: px.BayesSHAP(bb, background=X, n_samples=24, seed=seed),
    "eagle": lambda bb, X, seed: px.EAGLE(bb, background=X, n_samples=40, seed=seed),
    "clime": lambda bb, X, seed: px.CLIME(bb, sigma=0.5, n_samples=64, seed=seed),
    "smoothgrad": lambda bb, X, seed: px.SmoothGrad(bb, sigma=0.5, n_samples=32, seed=seed),
    "rise": lambda bb, X, seed: px.RISE(bb, background=X, n_samples=40, seed=seed),
    "lex": lambda bb, X, seed: px.LEX(bb, "lex", seed=seed, batch_size=100).fit(X, epochs=1),
    "fex": lambda bb, X, seed: px.FEX(bb, n_classes=2, seed=seed, hidden=(16,)).fit(
        X, epochs=1, batch_size=100),
}


def test_every_registered_method_has_a_factory():
    assert set(FACTORIES) == set(METHODS)


@pytest.fixture(scope="module", params=sorted(METHODS))
def method(request, data):
    name = request.param
    bb = blackbox()
    return name, FACTORIES[name](bb, data, 0), bb


def test_one_row_and_a_batch_have_the_right_shapes_and_names(method, data):
    name, explainer, bb = method
    one = explainer.explain(data[0])
    assert one.mean.shape == (D,) and one.sd.shape == (D,) and one.hdi(0.9).shape == (D, 2)
    assert one.feature_names == NAMES and not one.is_batch
    batch = explainer.explain(data[:3])
    assert batch.mean.shape == (3, D) and batch.hdi(0.9).shape == (3, D, 2)
    assert len(batch) == 3 and batch.feature_names == NAMES
    # an instance's explanation does not depend on the batch it came in
    np.testing.assert_allclose(batch[0].mean, one.mean, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(batch[0].sd, one.sd, rtol=1e-12, atol=1e-14)
    assert one.method == explainer.method
    assert one.uncertainty in ("posterior", "monte_carlo_error", "selection_spread")
    assert one.attrs["seed"] == 0 and "target" in one.attrs
    assert set(one.summary()["uncertainty"]) == {one.uncertainty}


def test_queries_are_counted_per_explanation(method, data):
    name, explainer, bb = method
    before = bb.n_queries
    e = explainer.explain(data[:2])
    assert e.n_queries == bb.n_queries - before
    if METHODS[name].family == "local":
        assert e.n_queries >= 2 * 2
    else:
        assert e.n_queries == 0


def test_a_dataframe_is_aligned_by_column_name(method, data):
    name, explainer, bb = method
    frame = pd.DataFrame(data[:2], columns=NAMES)
    shuffled = frame[NAMES[::-1]]
    np.testing.assert_allclose(explainer.explain(shuffled).mean,
                               explainer.explain(data[:2]).mean, rtol=1e-12)
    series = frame.iloc[1][NAMES[::-1]]
    np.testing.assert_allclose(explainer.explain(series).mean,
                               explainer.explain(data[1]).mean, rtol=1e-12)
    with pytest.raises(ValueError, match=r"missing \['f4'\].*not features of the model \['z'\]"):
        explainer.explain(frame.rename(columns={"f4": "z"}))


def test_same_seed_same_numbers_other_seed_other_numbers(method, data):
    name, explainer, bb = method
    again = FACTORIES[name](blackbox(), data, 0)
    other = FACTORIES[name](blackbox(), data, 1)
    first = explainer.explain(data[:2])
    np.testing.assert_array_equal(again.explain(data[:2]).mean, first.mean)
    assert not np.array_equal(other.explain(data[:2]).mean, first.mean)


def test_netcdf_round_trip_is_lossless(method, data, tmp_path):
    name, explainer, bb = method
    e = explainer.explain(data[3])
    back = px.Explanation.from_netcdf(e.to_netcdf(tmp_path / f"{name}.nc"))
    np.testing.assert_array_equal(back.mean, e.mean)
    np.testing.assert_array_equal(back.sd, e.sd)
    np.testing.assert_array_equal(back.hdi(0.9), e.hdi(0.9))
    assert back.feature_names == NAMES and back.uncertainty == e.uncertainty
    assert back.n_queries == e.n_queries and back.method == e.method


@pytest.mark.parametrize("bad, message", [
    (np.zeros(D + 1), "x has 6 features but the model expects 5"),
    (np.full(D, np.nan), "x contains 5 NaN"),
    (np.array(["1.5"] * D), "x must be numeric, got strings"),
    (np.zeros(D, dtype=complex), "x must be real-valued"),
    (np.zeros((0, D)), "x has no rows"),
])
def test_bad_instances_are_refused_by_name(method, bad, message):
    name, explainer, bb = method
    with pytest.raises(ValueError, match=message):
        explainer.explain(bad)


def test_bad_targets_and_budgets_are_refused_by_name(method, data):
    name, explainer, bb = method
    if name == "lex":  # the selection explains p(y | x_S) as a whole
        with pytest.raises(ValueError, match="LEX .* takes no target"):
            explainer.explain(data[0], target=1)
    else:
        with pytest.raises(ValueError, match="target must be a non-negative integer"):
            explainer.explain(data[0], target=True)
        with pytest.raises(ValueError, match="target=7 but the model has 2 classes"):
            explainer.explain(data[:2], target=7)
    if METHODS[name].family == "local":
        for bad in (0, 2.5, "10"):
            with pytest.raises(ValueError, match="n_samples must be an integer"):
                explainer.explain(data[0], n_samples=bad)


def test_bad_seeds_are_refused_by_name(method, data):
    name, _, _ = method
    for bad in (-1, 2**32, 1.5):
        with pytest.raises(ValueError, match="seed must be an integer in"):
            FACTORIES[name](blackbox(), data, bad)


# ---------------------------------------------------------------------- a new method
# What a newcomer writes to add a method: a perturbation scheme (the model is the shared
# Bayesian surrogate) and a 4-line explainer class; registering it in METHODS and giving
# it a factory puts it through every contract test above.
from probex.explainers import BayesLIME  # noqa: E402
from probex.perturb import MaskPerturbation  # noqa: E402


class CosineMasks(MaskPerturbation):
    """Uniform masks weighted by their cosine similarity to the all-ones mask (x itself)."""

    def weights(self, z):
        cosine = z.sum(-1) / (self.n_features ** 0.5 * z.norm(dim=-1).clamp_min(1e-12))
        return cosine.clamp_min(1e-3)


class CosineLIME(BayesLIME):
    method = "CosineLIME"

    def _make_perturbation(self, perturbation, background, kernel, kernel_width):
        return CosineMasks(background, kernel="lime")


def test_a_new_method_plugs_in_through_the_registry(monkeypatch, data):
    from probex.explainers.registry import MethodSpec, make_explainer

    monkeypatch.setitem(METHODS, "cosinelime", MethodSpec(
        "cosinelime", CosineLIME, "local", "LIME masks with a cosine kernel"))
    monkeypatch.setitem(FACTORIES, "cosinelime", lambda bb, X, seed: CosineLIME(
        bb, background=X, n_samples=64, seed=seed))
    explainer = make_explainer("cosinelime", blackbox(), background=data, seed=0, n_samples=64)
    e = explainer.explain(pd.DataFrame(data[:2], columns=NAMES))
    assert e.method == "CosineLIME" and e.mean.shape == (2, D) and e.n_queries == 128
    assert e.uncertainty == "posterior" and e.feature_names == NAMES
    np.testing.assert_array_equal(e[0].mean, explainer.explain(data[0]).mean)
