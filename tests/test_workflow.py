"""compare_priors and prior_sensitivity: every prior is fitted to the same queries, the
LOO table is ArviZ's on those explanations and ranks an over-shrinking prior last, the
sensitivity table follows from the explanations."""

from __future__ import annotations

import arviz as az
import matplotlib.pyplot as plt
import numpy as np
import pytest

import probex as px
from probex.inference import NUTSRunner
from probex.priors import NormalInverseGamma

NAMES = [f"x{j}" for j in range(5)]


@pytest.fixture(scope="module")
def setting(smooth_setting):
    return smooth_setting


SCALES = {"scale 1": NormalInverseGamma(1.0), "scale 0.01": NormalInverseGamma(0.01),
          "scale 100": NormalInverseGamma(100.0)}


def same_data(explanations) -> bool:
    first = next(iter(explanations.values())).idata
    return all(np.array_equal(e.idata.constant_data["z"], first.constant_data["z"])
               and np.array_equal(e.idata.observed_data["response"],
                                  first.observed_data["response"])
               for e in explanations.values())


def test_compare_priors_queries_once_and_ranks_by_loo(setting):
    bb, background, x = setting
    before = bb.n_queries
    result = px.compare_priors(px.BayesLIME(bb, background=background, seed=0), x, SCALES,
                               n_samples=300)
    assert bb.n_queries - before == 300 == result.n_queries
    assert list(result.explanations) == list(SCALES) and same_data(result.explanations)
    table = result.table
    assert set(table.index) == set(SCALES) and table["weight"].sum() == pytest.approx(1)
    for name, e in result.explanations.items():
        assert table.loc[name, "elpd_loo"] == pytest.approx(az.loo(e.idata).elpd_loo)
        assert e.attrs["prior"] == repr(SCALES[name]) and e.n_queries == 300
    # shrinking every slope to ~0 predicts the answers far worse (measured: 171 nats,
    # dse 14); a prior 100x wider than the default cannot be told apart from it
    # (0.09 nats, dse 0.35)
    worst = table.loc["scale 0.01"]
    assert result.best != "scale 0.01" and worst["elpd_diff"] > 4 * worst["dse"]
    wide = table.loc[["scale 1", "scale 100"]]
    assert abs(wide["elpd_loo"].diff().iloc[-1]) < 2 * wide["dse"].max()
    frame = result.attributions(0.9)
    assert frame.shape == (15, 4) and frame.loc[("scale 1", "x0"), "mean"] == pytest.approx(
        result.explanations["scale 1"].mean[0])
    assert result.plot() is not None
    plt.close("all")


def test_bayesshap_and_eagle_are_compared_on_their_own_designs(setting):
    bb, background, x = setting
    priors = {"default": None, "tight": NormalInverseGamma(0.1)}
    shap = px.compare_priors(px.BayesSHAP(bb, background=background, seed=0), x, priors,
                             n_samples=200)
    assert same_data(shap.explanations)
    for e in shap.explanations.values():  # the Bayesian surrogate on KernelSHAP masks
        assert e.uncertainty == "posterior" and e.attrs["perturbation"] == "MaskPerturbation"
        assert "log_likelihood" in e.idata.groups()
    eagle = px.compare_priors(px.EAGLE(bb, background=background, seed=0), x, priors,
                              n_samples=80)
    assert same_data(eagle.explanations) and eagle.n_queries == 80
    assert "design_trace" in eagle.explanations["tight"].idata.groups()


def test_a_sampled_prior_shares_the_queries(setting):
    """A non-conjugate prior gets a NUTS runner (the explainer's); the conjugate one
    stays exact; both on the same queries."""
    bb, background, x = setting
    runner = NUTSRunner(num_samples=300, num_warmup=200, num_chains=2, backend="pyro",
                        progress=False)
    result = px.compare_priors(
        px.BayesLIME(bb, background=background, seed=0, inference=runner), x,
        {"NIG": None, "Laplace": px.priors.Laplace(1.0)}, n_samples=100)
    assert result.explanations["NIG"].inference == "exact"
    assert result.explanations["Laplace"].inference == "nuts"
    assert same_data(result.explanations)
    # on the same data the two posteriors agree where the likelihood dominates
    a, b = (result.explanations[k] for k in ("NIG", "Laplace"))
    assert np.all(np.abs(a.mean - b.mean) < 2 * np.maximum(a.sd, b.sd))


def test_prior_sensitivity_over_scales(setting, tmp_path):
    bb, background, x = setting
    scales = [0.001, 0.1, 1.0, 100.0]
    result = px.prior_sensitivity(px.BayesLIME(bb, background=background, seed=0), x,
                                  lambda s: NormalInverseGamma(s), scales=scales,
                                  n_samples=200)
    assert list(result.explanations) == ["0.001", "0.1", "1", "100"]
    assert same_data(result.explanations) and result.n_queries == 200
    means = np.stack([e.mean for e in result.explanations.values()])
    table = result.table.loc[NAMES]
    np.testing.assert_allclose(table["shift"], means.max(0) - means.min(0), rtol=1e-12)
    sds = np.stack([e.sd for e in result.explanations.values()])
    np.testing.assert_allclose(table["shift_in_sd"], (means.max(0) - means.min(0))
                               / np.median(sds, axis=0), rtol=1e-12)
    # scale 0.001 shrinks every slope to ~0 while wide scales give the least-squares
    # slope: every feature moves by many posterior sds, and whether its interval
    # excludes 0 depends on the scale
    assert np.all(np.abs(means[0]) < 0.01) and result.table["moves"].all()
    intervals = np.stack([e.hdi(0.95) for e in result.explanations.values()])
    excludes = (intervals[..., 0] > 0) | (intervals[..., 1] < 0)
    np.testing.assert_array_equal(table["excludes_zero"], excludes.sum(0))
    np.testing.assert_array_equal(table["sensitive"], excludes.any(0) & ~excludes.all(0))
    assert result.robust_features == [f for f in result.table.index
                                      if result.table.loc[f, "excludes_zero"] == 4]
    sweep = result.plot(path=tmp_path / "sweep.png")
    assert sweep.shape == (2, 4) and (tmp_path / "sweep.png").stat().st_size > 20_000
    plt.close("all")


def test_prior_sensitivity_flags_only_what_moves(setting):
    bb, background, x = setting
    result = px.prior_sensitivity(bb, x, {"scale 10": NormalInverseGamma(10.0),
                                          "scale 100": NormalInverseGamma(100.0)},
                                  n_samples=300, background=background)
    # two wide priors: the least-squares answer under both
    assert not result.table["sensitive"].any() and result.sensitive_features == []
    assert (result.table["shift_in_sd"] < 0.05).all() and not result.table["moves"].any()
    assert result.plot() is not None
    plt.close("all")


def test_bad_requests(setting):
    bb, background, x = setting
    explainer = px.BayesLIME(bb, background=background, seed=0)
    with pytest.raises(ValueError, match="at least two"):
        px.compare_priors(explainer, x, {"one": None})
    with pytest.raises(ValueError, match="one instance"):
        px.compare_priors(explainer, np.stack([x, x]), SCALES)
    with pytest.raises(TypeError, match="function"):
        px.prior_sensitivity(explainer, x, SCALES, scales=[0.1, 1.0])
    class Saliency:  # an explainer without a surrogate
        def explain(self, x):
            return x

    with pytest.raises(TypeError, match="no prior"):
        px.compare_priors(Saliency(), x, SCALES)
    with pytest.raises(ValueError, match="background"):
        px.compare_priors(bb.model, x, SCALES)
    with pytest.raises(ValueError, match="ic"):
        px.compare_priors(explainer, x, SCALES, ic="bic")
