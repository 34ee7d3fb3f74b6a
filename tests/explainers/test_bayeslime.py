import numpy as np
import pytest
import torch

import probex as px
from probex.inference import NUTSRunner, SVIRunner
from probex.inference.surrogate_posterior import conjugate_posterior
from probex.metrics import interval_coverage
from probex.models.surrogate import center


@pytest.fixture(scope="module")
def explainer(demo_model):
    model, data = demo_model
    bb = px.BlackBox(model, feature_names=data.feature_names)
    return px.BayesLIME(bb, background=data.X_train, seed=0), data


def test_exact_explanation_shapes_names_and_queries(explainer):
    ex, data = explainer
    before = ex.bb.n_queries
    e = ex.explain(data.X_test[0], n_samples=800)
    d = data.n_features
    assert e.mean.shape == (d,) and e.sd.shape == (d,) and e.hdi(0.9).shape == (d, 2)
    assert e.feature_names == data.feature_names
    assert e.n_queries == 800 == ex.bb.n_queries - before
    assert e.inference == "exact" and e.method == "BayesLIME"
    table = e.summary()
    assert list(table.index) == data.feature_names
    assert list(table.columns) == ["mean", "sd", "hdi_2.5%", "hdi_97.5%",  # exact: no MCMC
                                   "uncertainty"]
    assert e.uncertainty == "posterior" and set(table["uncertainty"]) == {"posterior"}
    np.testing.assert_allclose(table["mean"].to_numpy(), e.mean)
    assert np.all(e.hdi(0.5)[:, 1] - e.hdi(0.5)[:, 0] < e.hdi(0.95)[:, 1] - e.hdi(0.95)[:, 0])
    # the prediction stored is the black box at x
    assert float(e.idata.constant_data["prediction"]) == pytest.approx(
        float(ex.bb(data.X_test[:1])[0]))


def test_exact_explanation_is_the_conjugate_posterior_of_its_own_data(explainer):
    ex, data = explainer
    e = ex.explain(data.X_test[1], n_samples=300)
    const = e.idata.constant_data
    z = torch.as_tensor(const["z"].values)
    y = torch.as_tensor(e.idata.observed_data["response"].values)
    w = torch.as_tensor(const["weights"].values)
    posterior = conjugate_posterior(center(z, y, w), ex.prior)
    np.testing.assert_allclose(e.mean, posterior.mean[0].numpy(), rtol=1e-12)
    np.testing.assert_allclose(e.sd, posterior.marginal_sd[0].numpy(), rtol=1e-12)
    np.testing.assert_allclose(e.hdi(0.9), posterior.interval(0.9)[0], rtol=1e-12)
    # iid draws agree with the closed form within Monte Carlo error (4000 draws: 5 se)
    draws = e.idata.posterior["attribution"].values.reshape(-1, data.n_features)
    assert np.all(np.abs(draws.mean(0) - e.mean) < 5 * e.sd / np.sqrt(len(draws)))


def test_same_seed_same_numbers_different_seed_different_perturbations(demo_model):
    model, data = demo_model
    bb = px.BlackBox(model)
    x = data.X_test[2]
    a = px.BayesLIME(bb, background=data.X_train, seed=7).explain(x, n_samples=200)
    b = px.BayesLIME(bb, background=data.X_train, seed=7).explain(x, n_samples=200)
    c = px.BayesLIME(bb, background=data.X_train, seed=8).explain(x, n_samples=200)
    assert np.array_equal(a.mean, b.mean) and np.array_equal(a.sd, b.sd)
    assert np.array_equal(a.idata.posterior["attribution"], b.idata.posterior["attribution"])
    assert not np.array_equal(a.idata.constant_data["z"], c.idata.constant_data["z"])
    assert not np.allclose(a.mean, c.mean)


def test_linear_model_coefficients_are_recovered():
    """For f(x) = c + w.x, BayesLIME's Gaussian coefficients are w * std (one-std effects)
    and BayesSHAP's are the exact Shapley values w * (x - mean)."""
    rng = np.random.default_rng(0)
    background = rng.normal(size=(300, 5)) * [1, 2, 3, 0.5, 1]
    w = np.array([0.3, -0.2, 0.05, 1.0, 0.0])
    bb = px.BlackBox(lambda X: 1.5 + X @ w, task="regression", n_features=5)
    x = rng.normal(size=5)
    lime = px.BayesLIME(bb, background=background, seed=0).explain(x, n_samples=500)
    # ridge shrinkage alpha=1 against ~250 units of weighted information: < 1% bias,
    # which correlated columns can move onto the zero coefficient (1% of the largest)
    expected = w * background.std(0)
    np.testing.assert_allclose(lime.mean, expected, rtol=0.01,
                               atol=0.01 * np.abs(expected).max())
    # no noise, but the conjugate prior phi ~ N(0, sigma^2 I) makes b_n grow by
    # |m_n|^2 / 2 ~ 0.3, so sigma^2 ~ 0.3 / 250 and sd(phi) ~ sigma / sqrt(250) ~ 0.002
    assert np.all(lime.sd < 0.005)
    shap = px.BayesSHAP(bb, background=background, seed=0).explain(x, n_samples=20)
    # an additive game is fitted exactly by any paired design
    np.testing.assert_allclose(shap.mean, w * (x - background.mean(0)), rtol=1e-9, atol=1e-12)


def test_intervals_from_100_perturbations_cover_the_10000_perturbation_attribution(demo_model):
    """BayesLIME's calibration check (Slack et al., 2021, Fig. 3)."""
    model, data = demo_model
    bb = px.BlackBox(model)
    coverage = []
    for i in range(10):
        x = data.X_test[i]
        small = px.BayesLIME(bb, background=data.X_train, seed=i).explain(x, n_samples=100)
        large = px.BayesLIME(bb, background=data.X_train, seed=1000 + i).explain(
            x, n_samples=10_000)
        coverage.append(interval_coverage(small.hdi(0.95), large.mean))
    assert np.mean(coverage) >= 0.9


def test_horseshoe_prior_end_to_end_with_nuts():
    """A custom sparse prior runs through NUTS on the demo instance with clean diagnostics."""
    from probex.datasets import fit_demo_model

    model, data = fit_demo_model()
    bb = px.BlackBox(model, feature_names=data.feature_names)
    # r_hat's own sampling noise: with 2 x 400 draws its maximum over the 30 features ranged
    # 1.005-1.012 across seeds and platforms; with 2 x 1000 it stays near 1.003
    runner = NUTSRunner(num_samples=1000, num_warmup=300, num_chains=2, seed=0)
    e = px.BayesLIME(bb, background=data.X_train, prior=px.priors.Horseshoe(),
                     inference=runner, seed=0).explain(data.X_test[0], n_samples=1000)
    assert e.inference == "nuts" and e.attrs["marginalized"] == 1
    assert e.summary()["r_hat"].max() < 1.01
    assert int(e.idata.sample_stats["diverging"].sum()) == 0
    assert {"global_scale", "local_scale", "coefficient_scale"} <= set(e.idata.posterior)
    # the collapsed sampler needs few leapfrog steps (the joint one needed ~250 per draw)
    assert float(e.idata.sample_stats["n_steps"].mean()) < 40
    # shrinkage: every horseshoe attribution is closer to 0 than the ridge (NIG) one, on
    # average over features
    ridge = px.BayesLIME(bb, background=data.X_train, seed=0).explain(data.X_test[0],
                                                                      n_samples=1000)
    assert np.abs(e.mean).sum() < np.abs(ridge.mean).sum()


def test_svi_explanation_and_auto_inference(explainer):
    ex, data = explainer
    svi = px.BayesLIME(ex.bb, background=data.X_train, inference="svi", seed=0)
    svi.inference = SVIRunner(num_steps=300, num_draws=500, seed=0)
    e = svi.explain(data.X_test[0], n_samples=300)
    assert e.inference == "svi" and e.idata.posterior["attribution"].shape == (1, 500, 30)
    laplace = px.BayesLIME(ex.bb, background=data.X_train, prior=px.priors.Laplace(0.05))
    assert isinstance(laplace.inference, NUTSRunner)  # "auto" for a non-conjugate prior
    with pytest.raises(ValueError, match="needs the conjugate NormalInverseGamma prior"):
        px.BayesLIME(ex.bb, background=data.X_train, prior="laplace", inference="exact")
    with pytest.raises(ValueError, match="unknown inference='vi'"):
        px.BayesLIME(ex.bb, background=data.X_train, inference="vi")


def test_focused_sampling_spends_exactly_the_budget(explainer):
    ex, data = explainer
    before = ex.bb.n_queries
    e = ex.explain(data.X_test[4], n_samples=600, focused=True, initial_samples=100,
                   batch_size=100)
    assert e.n_queries == 600 == ex.bb.n_queries - before
    trace = e.trace
    assert list(trace["n_queries"]) == [100, 200, 300, 400, 500, 600]
    assert trace["max_width"].iloc[-1] < trace["max_width"].iloc[0]


def test_target_width_stops_when_every_interval_is_narrow_enough(explainer):
    ex, data = explainer
    target = 0.02
    e = ex.explain(data.X_test[5], 20_000, target_width=target)
    widths = e.hdi(0.95)[:, 1] - e.hdi(0.95)[:, 0]
    assert widths.max() <= target
    assert e.trace["max_width"].iloc[-1] <= target and e.trace["max_width"].iloc[0] > target
    assert e.n_queries == e.trace["n_queries"].iloc[-1] < 20_000
    capped = ex.explain(data.X_test[5], n_samples=800, target_width=1e-4)
    assert capped.n_queries == 800
    with pytest.warns(DeprecationWarning, match="max_samples=.* is renamed n_samples"):
        old = ex.explain(data.X_test[5], target_width=1e-4, max_samples=800)
    np.testing.assert_array_equal(old.mean, capped.mean)


def test_perturbations_to_goal_predicts_the_needed_count(explainer):
    ex, data = explainer
    target = 0.015
    needed = ex.perturbations_to_goal(data.X_test[6], target_width=target, n_initial=300)
    e = ex.explain(data.X_test[6], n_samples=needed)
    widths = e.hdi(0.95)[:, 1] - e.hdi(0.95)[:, 0]
    # the estimate extrapolates the noise level from 300 rows: within 25% of the goal
    assert 0.75 * target < widths.max() < 1.25 * target


def test_many_instances_in_one_vectorized_run(explainer):
    ex, data = explainer
    before = ex.bb.n_queries
    e = ex.explain(data.X_test[:4], n_samples=200)
    assert e.is_batch and len(e) == 4 and e.mean.shape == (4, 30) and e.hdi().shape == (4, 30, 2)
    assert e.n_queries == 800 == ex.bb.n_queries - before
    for i in range(4):
        one = e[i]
        z = torch.as_tensor(one.idata.constant_data["z"].values)
        y = torch.as_tensor(one.idata.observed_data["response"].values)
        w = torch.as_tensor(one.idata.constant_data["weights"].values)
        posterior = conjugate_posterior(center(z, y, w), ex.prior)
        np.testing.assert_allclose(one.mean, posterior.mean[0].numpy(), rtol=1e-10)
    summary = e.summary()
    assert summary.index.names == ["instance", "feature"] and len(summary) == 120


def test_vectorized_nuts_over_instances_matches_exact(explainer):
    ex, data = explainer
    runner = NUTSRunner(num_samples=300, num_warmup=300, num_chains=2, seed=0)
    nuts = px.BayesLIME(ex.bb, background=data.X_train, inference=runner, seed=0)
    e = nuts.explain(data.X_test[:3], n_samples=300)
    exact = ex.explain(data.X_test[:3], n_samples=300)  # same seed: same perturbations
    assert np.array_equal(e.idata.constant_data["z"], exact.idata.constant_data["z"])
    # ESS ~ 600 per coefficient: Monte Carlo error of a mean ~ 0.04 sd
    assert np.max(np.abs(e.mean - exact.mean) / exact.sd) < 0.2
    assert e.summary()["r_hat"].max() < 1.02


def test_bad_calls_are_named(explainer):
    ex, data = explainer
    with pytest.raises(ValueError, match="n_samples must be an integer >= 2, got 1"):
        ex.explain(data.X_test[0], n_samples=1)
    with pytest.raises(ValueError, match="x has 5 features but the model expects 30"):
        ex.explain(data.X_test[0, :5])
    with pytest.raises(ValueError, match="x contains 1 NaN"):
        ex.explain(np.where(np.arange(30) == 3, np.nan, data.X_test[0]))
    with pytest.raises(ValueError, match="target_width must be a positive finite number"):
        ex.explain(data.X_test[0], target_width=-1.0)


def test_adaptive_designs_explain_a_batch_row_by_row(explainer):
    ex, data = explainer
    batch = ex.explain(data.X_test[:2], n_samples=300, focused=True)
    one = ex.explain(data.X_test[0], n_samples=300, focused=True)
    np.testing.assert_array_equal(batch[0].mean, one.mean)
    assert batch.mean.shape == (2, 30) and batch.n_queries == 600


@pytest.mark.gpu
def test_cuda_explanations_match_cpu_ones():
    from probex.datasets import fit_network

    net, data = fit_network("breast_cancer", hidden=(16,), epochs=20, seed=0)
    cpu = px.BayesLIME(px.BlackBox(net), background=data.X_train, seed=0).explain(
        data.X_test[0], n_samples=500)
    bb = px.BlackBox(net.to("cuda"), device="cuda")
    gpu = px.BayesLIME(bb, background=data.X_train, seed=0).explain(data.X_test[0],
                                                                     n_samples=500)
    np.testing.assert_allclose(gpu.mean, cpu.mean, rtol=1e-4, atol=1e-7)
    runner = NUTSRunner(num_samples=200, num_warmup=200, num_chains=2, seed=0, device="cuda")
    nuts = px.BayesLIME(bb, background=data.X_train, prior=px.priors.Laplace(0.05),
                        inference=runner, seed=0).explain(data.X_test[:4], n_samples=500)
    assert nuts.mean.shape == (4, 30) and nuts.summary()["r_hat"].max() < 1.05
