"""EAGLE on the demo random forest (breast_cancer) and on black boxes with known answers."""

import math

import numpy as np
import pytest
import torch

import probex as px
from probex.inference import SVIRunner
from probex.inference.design import design_information_gain, design_radius, information_gain_bound
from probex.inference.surrogate_posterior import conjugate_posterior
from probex.models.surrogate import center

TRACE_COLUMNS = {"n_queries", "information_gain", "information_gain_nig", "batch_gain",
                 "information_bound", "max_width", "noise_variance"}


@pytest.fixture(scope="module")
def forest(demo_model):
    model, data = demo_model
    return px.BlackBox(model, feature_names=data.feature_names), data


@pytest.fixture(scope="module")
def explained(forest):
    bb, data = forest
    before = bb.n_queries
    e = px.EAGLE(bb, design="greedy", background=data.X_train, seed=0).explain(
        data.X_test[0], n_samples=300, batch_size=40, pool_size=1000)
    return e, bb.n_queries - before


def test_explanation_carries_the_posterior_and_a_per_round_trace(explained, forest):
    e, spent = explained
    bb, data = forest
    assert e.method == "EAGLE" and e.inference == "exact"
    assert e.n_queries == spent == 300
    assert e.feature_names == data.feature_names and e.mean.shape == (30,)
    assert {"posterior", "closed_form", "design_trace", "constant_data"} <= set(e.idata.groups())
    trace = e.trace
    assert set(trace.columns) == TRACE_COLUMNS
    # start: 2 (d + 1) = 62 space-filling rows, then rounds of 40, the last one cut to fit
    assert trace["n_queries"].tolist() == [62, 102, 142, 182, 222, 262, 300]
    gain = trace["information_gain"].to_numpy()
    assert np.all(np.diff(gain) > 0)
    # each round's predicted batch EIG is the information it actually added
    np.testing.assert_allclose(trace["batch_gain"].to_numpy()[1:], np.diff(gain), rtol=1e-8)
    assert np.all(trace["information_gain_nig"] > gain)
    # the trace's final width and gain are those of the explanation's own posterior
    const = e.idata.constant_data
    z = torch.as_tensor(const["z"].values)
    w = torch.as_tensor(const["weights"].values)
    y = torch.as_tensor(e.idata.observed_data["response"].values)
    posterior = conjugate_posterior(center(z, y, w), px.priors.NormalInverseGamma())
    np.testing.assert_allclose(e.mean, posterior.mean[0].numpy(), rtol=1e-12)
    widths = np.diff(e.hdi(0.95), axis=-1).max()
    assert trace["max_width"].iloc[-1] == pytest.approx(widths, rel=1e-10)
    assert gain[-1] == pytest.approx(float(design_information_gain(z, w)), rel=1e-10)
    assert float(e.idata.constant_data["prediction"]) == pytest.approx(
        float(bb(data.X_test[:1])[0]))


def test_trace_survives_netcdf(explained, tmp_path):
    e, _ = explained
    again = px.Explanation.from_netcdf(e.to_netcdf(tmp_path / "eagle.nc"))
    np.testing.assert_allclose(again.trace.to_numpy(), e.trace.to_numpy())
    np.testing.assert_allclose(again.mean, e.mean)


def test_information_gain_never_exceeds_the_bound_on_the_real_design(explained):
    """After every one of the 300 queries, not only at round ends."""
    e, _ = explained
    z = e.idata.constant_data["z"].values
    w = e.idata.constant_data["weights"].values
    gain = design_information_gain(z, w, cumulative=True)
    radius = design_radius(z, w, cumulative=True)  # Gaussian scheme: c = 0, the instance
    bound = information_gain_bound(torch.arange(1, len(z) + 1), z.shape[-1], radius)
    assert torch.all(gain <= bound)
    trace = e.trace
    assert np.all(trace["information_gain"] <= trace["information_bound"])
    # the LIME kernel caps R at width sqrt(2 / e), whatever the design
    assert float(radius[-1]) <= 0.75 * math.sqrt(30) * math.sqrt(2 / math.e)


def test_eagle_gathers_more_information_than_random_sampling_at_equal_budgets(forest):
    """Must show: on breast_cancer, for every seed, EAGLE's design carries more information
    about the attributions than BayesLIME's random Gaussian design of the same size."""
    bb, data = forest
    for seed in range(3):
        x = data.X_test[seed]
        eagle = px.EAGLE(bb, design="greedy", background=data.X_train, seed=seed).explain(
            x, n_samples=400, batch_size=50, pool_size=1000)
        lime = px.BayesLIME(bb, background=data.X_train, seed=seed).explain(x, n_samples=400)
        assert eagle.n_queries == lime.n_queries == 400
        gains = [float(design_information_gain(e.idata.constant_data["z"].values,
                                               e.idata.constant_data["weights"].values))
                 for e in (eagle, lime)]
        assert gains[0] > gains[1] + 0.2, gains


def test_tol_stops_once_every_interval_is_narrow_enough(forest):
    bb, data = forest
    tol = 0.03
    e = px.EAGLE(bb, design="greedy", background=data.X_train, seed=1).explain(
        data.X_test[1], n_samples=2000, batch_size=50, target_width=tol, pool_size=500)
    widths = e.trace["max_width"].to_numpy()
    assert widths[-1] <= tol < widths[-2]
    assert e.n_queries == e.trace["n_queries"].iloc[-1] < 2000
    assert np.all(np.diff(e.hdi(0.95), axis=-1) <= tol)


@pytest.mark.parametrize("kernel", ["lime", "shap"])
def test_mask_perturbations_with_both_kernels(forest, kernel):
    bb, data = forest
    e = px.EAGLE(bb, design="greedy", background=data.X_train, perturbation="mask", kernel=kernel,
                 seed=0).explain(data.X_test[2], n_samples=200, batch_size=30, pool_size=600)
    assert e.n_queries == 200 and e.idata.posterior.attrs["kernel"] == kernel
    z = e.idata.constant_data["z"].values
    assert set(np.unique(z)) <= {0.0, 1.0}
    trace = e.trace
    assert np.all(np.diff(trace["information_gain"]) > 0)
    assert np.all(trace["information_gain"] <= trace["information_bound"])
    if kernel == "shap":  # the empty and full coalitions anchor the design
        assert np.all(z[0] == 1) and np.all(z[1] == 0)


def test_linear_black_box_coefficients_are_recovered():
    """The selection only decides where to query: for f(x) = c + w.x the attributions are
    still the one-std effects w * std."""
    rng = np.random.default_rng(0)
    background = rng.normal(size=(300, 5)) * [1, 2, 3, 0.5, 1]
    w = np.array([0.3, -0.2, 0.05, 1.0, 0.0])
    bb = px.BlackBox(lambda X: 1.5 + X @ w, task="regression", n_features=5)
    e = px.EAGLE(bb, design="greedy",
                 background=background, seed=0).explain(rng.normal(size=5), n_samples=300)
    np.testing.assert_allclose(e.mean, w * background.std(0), rtol=0.01, atol=1e-4)


def test_same_seed_same_numbers(forest):
    bb, data = forest
    x = data.X_test[3]
    runs = [px.EAGLE(bb, design="greedy",
                     background=data.X_train, seed=s).explain(x, n_samples=150, batch_size=30,
                                                                  pool_size=300)
            for s in (5, 5, 6)]
    assert np.array_equal(runs[0].mean, runs[1].mean)
    np.testing.assert_array_equal(runs[0].trace.to_numpy(), runs[1].trace.to_numpy())
    assert not np.array_equal(runs[0].idata.constant_data["z"], runs[2].idata.constant_data["z"])


def test_non_conjugate_prior_uses_its_own_inference(forest):
    bb, data = forest
    ex = px.EAGLE(bb, design="greedy", background=data.X_train, prior=px.priors.Laplace(0.05),
                  inference=SVIRunner(num_steps=200, num_draws=300, seed=0), seed=0)
    e = ex.explain(data.X_test[0], n_samples=120, batch_size=30, pool_size=300)
    assert e.inference == "svi" and e.trace is not None and len(e.trace) == 3
    assert e.idata.posterior["attribution"].shape == (1, 300, 30)


def test_bad_arguments_are_named(forest):
    bb, data = forest
    ex = px.EAGLE(bb, design="greedy", background=data.X_train)
    x = data.X_test[0]
    with pytest.raises(ValueError, match="n_samples must be an integer >= 2"):
        ex.explain(x, 1)
    with pytest.warns(DeprecationWarning, match="'budget' is renamed 'n_samples'"), \
            pytest.raises(ValueError, match="n_samples must be an integer >= 2"):
        ex.explain(x, budget=1)
    with pytest.raises(ValueError, match="pool_size"):
        ex.explain(x, 100, batch_size=50, pool_size=10)
    with pytest.raises(ValueError, match="target_width must be a positive finite number"):
        ex.explain(x, target_width=0.0)
    with pytest.raises(ValueError, match="batch_size"):
        ex.explain(x, batch_size=2.5)
    with pytest.raises(ValueError, match="kernel"):
        px.EAGLE(bb, design="greedy", background=data.X_train, kernel="gauss")
