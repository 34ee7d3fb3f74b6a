"""The model-checking groups of surrogate explanations and of ReCalX: ArviZ's LOO, WAIC,
compare, predictive checks and sampler plots run on them with feature names as
coordinates, and PSIS-LOO agrees with the closed-form leave-one-out predictive of the
conjugate model, from exact draws and from NUTS draws alike."""

from __future__ import annotations

import arviz as az
import matplotlib.pyplot as plt
import numpy as np
import pytest
from scipy import stats

import probex as px
from probex.inference import NUTSRunner

NAMES = [f"x{j}" for j in range(5)]


@pytest.fixture(scope="module")
def setting(smooth_setting):
    return smooth_setting


@pytest.fixture(scope="module")
def exact(setting):
    bb, background, x = setting
    return px.BayesLIME(bb, background=background, seed=0).explain(x, n_samples=300)


@pytest.fixture(scope="module")
def nuts(setting):
    """The conjugate prior sampled by NUTS (NumPyro backend, compiled once here)."""
    bb, background, x = setting
    runner = NUTSRunner(num_samples=1000, num_warmup=300, num_chains=4, backend="numpyro")
    return px.BayesLIME(bb, background=background, seed=0, inference=runner).explain(
        x, n_samples=300)


def closed_form_loo(z, y, w, prior) -> np.ndarray:
    """log p(y_i | y_-i) of the weighted linear model with a flat intercept and the NIG
    prior on the slopes, by refitting without row i: a Student-t with 2 a_-i degrees of
    freedom, location x_i^T m_-i and scale^2 (b_-i / a_-i) (1 / w_i + x_i^T Lambda^-1 x_i)
    (x_i = (1, z_i); Murphy 2007, Sec. 7.6, with weights)."""
    n, d = z.shape
    X = np.hstack([np.ones((n, 1)), z])
    prior_precision = np.diag([0.0] + [1 / prior.scale**2] * d)  # flat intercept
    out = np.empty(n)
    for i in range(n):
        keep = np.arange(n) != i
        Xk, yk, wk = X[keep], y[keep], w[keep]
        precision = prior_precision + Xk.T @ (wk[:, None] * Xk)
        m = np.linalg.solve(precision, Xk.T @ (wk * yk))
        a = prior.noise_shape + (len(yk) - 1) / 2   # one flat location integrated out
        b = prior.noise_rate + 0.5 * (np.sum(wk * (yk - Xk @ m) ** 2) + m @ prior_precision @ m)
        scale = np.sqrt(b / a * (1 / w[i] + X[i] @ np.linalg.solve(precision, X[i])))
        out[i] = stats.t.logpdf(y[i], 2 * a, X[i] @ m, scale)
    return out


def test_exact_explanations_build_the_groups_only_when_asked(setting):
    bb, background, x = setting
    e = px.BayesLIME(bb, background=background, seed=0).explain(x, n_samples=200)
    assert e._idata is None  # explaining drew nothing
    assert e.attrs["predictive_groups"] == "log_likelihood, posterior_predictive"
    idata = e.idata
    assert {"log_likelihood", "posterior_predictive"} <= set(idata.groups())
    assert idata.log_likelihood["response"].dims == ("chain", "draw", "perturbation")
    assert idata.posterior_predictive["response"].shape == (4, 1000, 200)
    assert list(idata.posterior["attribution"].coords["feature"].values) == NAMES


def test_loo_of_exact_and_nuts_draws_is_the_closed_form_leave_one_out(exact, nuts):
    data = exact.idata.constant_data
    truth = closed_form_loo(data["z"].values, exact.idata.observed_data["response"].values,
                            data["weights"].values, px.priors.NormalInverseGamma())
    for e in (exact, nuts):
        loo = az.loo(e.idata, pointwise=True)
        assert float(loo.pareto_k.max()) < 0.7
        # Monte Carlo error of PSIS with 4000 draws: measured 0.03 (exact) and 0.16 (NUTS)
        # nats on the sum, 0.015 per row; the sum's standard error is 14
        assert abs(loo.elpd_loo - truth.sum()) < 0.5 < loo.se
        assert np.max(np.abs(loo.loo_i.values - truth)) < 0.1
    table = az.compare({"exact": exact.idata, "nuts": nuts.idata})
    assert abs(table["elpd_loo"].iloc[0] - table["elpd_loo"].iloc[1]) < table["se"].min()
    assert set(table.index) == {"exact", "nuts"} and table["weight"].sum() == pytest.approx(1)


def test_arviz_reads_a_nuts_explanation_with_feature_names(nuts):
    idata = nuts.idata
    assert set(idata.sample_stats) >= {"diverging", "energy", "tree_depth", "n_steps",
                                       "step_size", "acceptance_rate", "lp"}
    assert az.waic(idata).elpd_waic == pytest.approx(az.loo(idata).elpd_loo, abs=1.0)
    assert np.all(az.bfmi(idata) > 0.3)
    chosen = {"feature": ["x0", "x3"]}
    for plot in (lambda: az.plot_energy(idata),
                 lambda: az.plot_trace(idata, var_names=["attribution"], coords=chosen),
                 lambda: az.plot_rank(idata, var_names=["attribution"], coords=chosen),
                 lambda: az.plot_pair(idata, var_names=["attribution"], coords=chosen,
                                      divergences=True),
                 lambda: az.plot_ppc(idata, num_pp_samples=20)):
        assert plot() is not None
        plt.close("all")
    axes = az.plot_trace(idata, var_names=["attribution"], coords=chosen, compact=False)
    assert [ax.get_title() for ax in axes[:, 0]] == ["attribution\nx0", "attribution\nx3"]
    plt.close("all")


def test_arviz_reads_an_exact_explanation(exact):
    idata = exact.idata
    assert np.isfinite(az.loo(idata).elpd_loo) and np.isfinite(az.waic(idata).elpd_waic)
    assert az.plot_ppc(idata, num_pp_samples=20) is not None
    assert az.plot_trace(idata, var_names=["attribution"],
                         coords={"feature": ["x1"]}) is not None
    plt.close("all")


def test_posterior_predictive_replicates_have_the_models_spread(exact):
    """Across draws, replicated answers of each row scatter around the surrogate's line
    with the model's variance: PIT values of the observed answers are uniform-ish."""
    idata = exact.idata
    y = idata.observed_data["response"].values
    replicated = idata.posterior_predictive["response"].values.reshape(-1, y.size)
    pit = (replicated < y).mean(0)
    assert 0.4 < pit.mean() < 0.6 and stats.kstest(pit, "uniform").statistic < 0.2


def test_prior_groups_on_request_and_their_prior_predictive_check(setting):
    bb, background, x = setting
    prior = px.priors.NormalInverseGamma(scale=2.0)
    e = px.BayesLIME(bb, background=background, prior=prior, seed=0, n_draws=300,
                     prior_predictive=True).explain(x, n_samples=150)
    idata = e.idata
    assert {"prior", "prior_predictive"} <= set(idata.groups())
    ratio = (idata.prior["attribution"] / idata.prior["noise_scale"]).values.ravel()
    assert stats.kstest(ratio, stats.norm(0, 2.0).cdf).pvalue > 1e-3
    assert idata.prior_predictive["response"].shape == (4, 300, 150)
    assert az.plot_ppc(idata, group="prior", num_pp_samples=20) is not None
    plt.close("all")


def test_large_calls_skip_the_groups_unless_asked(setting):
    bb, background, x = setting
    X = np.stack([x, x + 0.1, x - 0.1])
    e = px.BayesLIME(bb, background=background, seed=0).explain(X, n_samples=1500)
    assert "none" in e.attrs["predictive_groups"] and "predictive=True" in e.attrs[
        "predictive_groups"]
    assert "log_likelihood" not in e.idata.groups()
    small = px.BayesLIME(bb, background=background, seed=0, n_draws=100, n_chains=2,
                         predictive=True).explain(X, n_samples=200)
    full = small.idata.log_likelihood["response"]
    assert full.dims == ("chain", "draw", "instance", "perturbation")
    # an instance of the batch carries its own slice (and survives netCDF)
    np.testing.assert_array_equal(small[1].idata.log_likelihood["response"].values,
                                  full.isel(instance=1).values)
    assert px.BayesLIME(bb, background=background, predictive=False).explain(
        x, n_samples=50).idata.groups().count("log_likelihood") == 0
    with pytest.raises(ValueError, match="keep_data=False"):
        px.BayesLIME(bb, background=background, keep_data=False, predictive=True)


def test_groups_survive_netcdf(exact, tmp_path):
    path = exact.to_netcdf(tmp_path / "e.nc")
    back = px.Explanation.from_netcdf(path)
    np.testing.assert_array_equal(back.idata.log_likelihood["response"].values,
                                  exact.idata.log_likelihood["response"].values)


def test_every_surrogate_method_has_them_but_the_design_based_ones(setting):
    bb, background, x = setting
    for e in (px.CLIME(bb, sigma=0.5, seed=0, n_draws=200, estimator="least_squares")
              .explain(x, n_samples=100),
              px.EAGLE(bb, background=background, seed=0, n_draws=200, design="greedy")
              .explain(x, n_samples=60)):
        assert np.isfinite(az.loo(e.idata).elpd_loo)
    # the design-based estimators (their defaults and BayesSHAP's) have no likelihood
    for e in (px.BayesSHAP(bb, background=background, seed=0).explain(x, n_samples=64),
              px.CLIME(bb, sigma=0.5, seed=0, n_draws=200).explain(x, n_samples=100),
              px.EAGLE(bb, background=background, seed=0, n_draws=200).explain(
                  x, n_samples=60)):
        assert "no likelihood" in e.attrs["predictive_groups"]
        assert "log_likelihood" not in e.idata.groups()


def test_pyro_backend_explanations_carry_the_same_groups_and_statistics(setting):
    bb, background, x = setting
    runner = NUTSRunner(num_samples=150, num_warmup=150, num_chains=2, backend="pyro",
                        progress=False)
    with pytest.warns(px.SamplingWarning):  # 150 draws per chain: ESS below 100 per chain
        e = px.BayesLIME(bb, background=background, prior=px.priors.Laplace(1.0),
                         inference=runner, seed=0).explain(x, n_samples=100)
    idata = e.idata
    assert set(idata.sample_stats) >= {"diverging", "energy", "tree_depth", "n_steps",
                                       "step_size", "acceptance_rate", "lp"}
    assert np.isfinite(az.loo(idata).elpd_loo) and np.all(np.isfinite(az.bfmi(idata)))
    assert az.plot_energy(idata) is not None
    plt.close("all")


def test_recalx_temperatures_have_the_groups(demo_model):
    model, data = demo_model
    recalx = px.ReCalX(px.BlackBox(model), data.X_test, data.y_test, n_bins=3, n_rows=30,
                       n_perturbations=2, inference="laplace", prior_predictive=True,
                       seed=0)
    idata = recalx.idata
    assert {"log_likelihood", "posterior_predictive", "prior", "prior_predictive"} <= set(
        idata.groups())
    assert idata.log_likelihood["label"].dims == ("chain", "draw", "calibration_row")
    assert np.isfinite(az.loo(idata).elpd_loo)
    assert az.plot_ppc(idata, num_pp_samples=10) is not None
    plt.close("all")
    point = px.ReCalX(px.BlackBox(model), data.X_test, data.y_test, n_bins=3, n_rows=30,
                      n_perturbations=2, seed=0)
    assert "log_likelihood" not in point.idata.groups()  # a MAP point: nothing to score
