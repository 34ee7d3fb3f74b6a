"""Quick run of tutorials/prior_workflow.py: the numbers it prints follow from the
explanations and tables it saved; the priors were compared on the same queries."""

import json

import arviz as az
import numpy as np
import pandas as pd
import pytest

import probex as px


@pytest.fixture(scope="module")
def tutorial_output(run_tutorial, tmp_path_factory):
    out = tmp_path_factory.mktemp("prior_workflow")
    stdout = run_tutorial("prior_workflow", out)
    return out, json.loads((out / "results.json").read_text()), stdout


def test_diagnostics_are_the_saved_explanations(tutorial_output):
    out, results, stdout = tutorial_output
    assert results["smoke_test"] is True
    e = px.Explanation.from_netcdf(out / "custom_prior.nc")
    assert e.inference == "nuts" and "CustomPrior" in e.attrs["prior"]
    diagnostics = results["diagnostics"]
    assert diagnostics["verdict"] == e.diagnostics
    assert bool(diagnostics["warnings"]) == (e.diagnostics != "ok")
    summary = e.summary()
    assert diagnostics["max_r_hat"] == pytest.approx(summary["r_hat"].max(), rel=1e-12)
    assert diagnostics["min_ess_tail"] == pytest.approx(summary["ess_tail"].min(), rel=1e-12)
    assert diagnostics["bfmi"] == pytest.approx(list(az.bfmi(e.idata)), rel=1e-12)
    assert diagnostics["divergent"] == int(e.idata.sample_stats["diverging"].sum())
    saved = pd.read_csv(out / "custom_prior_summary.csv", index_col=0)
    np.testing.assert_allclose(saved["mean"], e.mean, rtol=1e-12)
    assert "diagnostics:" in stdout and "E-BFMI" in stdout


def test_prior_predictive_spreads_follow_from_the_saved_groups(tutorial_output):
    out, results, _ = tutorial_output
    for name, file in (("default NIG", "default_prior.nc"),
                       ("Student-t + half-normal", "custom_prior.nc")):
        idata = px.Explanation.from_netcdf(out / file).idata
        replicated = idata.prior_predictive["response"].std("perturbation").values
        check = results["prior_predictive"][name]
        assert check["observed_sd"] == pytest.approx(
            float(idata.observed_data["response"].std()), rel=1e-12)
        assert check["prior_sd_median"] == pytest.approx(np.median(replicated), rel=1e-12)
    default, custom = (results["prior_predictive"][k] for k in ("default NIG",
                                                                 "Student-t + half-normal"))
    # the default prior predicts answers that hardly move; ours covers the observed spread
    assert default["prior_sd_95%"] < 0.1 * default["observed_sd"]
    assert custom["prior_sd_5%"] <= custom["observed_sd"] <= custom["prior_sd_95%"]


def test_comparison_is_arvizs_loo_on_the_same_queries(tutorial_output):
    out, results, stdout = tutorial_output
    comparison = results["comparison"]
    names = comparison["names"]
    explanations = [px.Explanation.from_netcdf(out / f"comparison_{i}.nc")
                    for i in range(len(names))]
    z = explanations[0].idata.constant_data["z"].values
    for e in explanations:
        assert np.array_equal(e.idata.constant_data["z"].values, z)
        assert e.n_queries == comparison["n_queries"] == z.shape[0]
    table = {row["prior"]: row for row in comparison["table"]}
    for name, e in zip(names, explanations, strict=True):
        assert table[name]["elpd_loo"] == pytest.approx(az.loo(e.idata).elpd_loo, rel=1e-9)
    assert sum(row["weight"] for row in table.values()) == pytest.approx(1.0)
    assert comparison["best"] == max(table, key=lambda k: table[k]["elpd_loo"])
    assert "not distinguishable" in stdout or "distinguishable" in stdout


def test_sensitivity_follows_from_the_saved_attributions(tutorial_output):
    out, results, _ = tutorial_output
    long = pd.read_csv(out / "sensitivity_attributions.csv", index_col=[0, 1])
    table = pd.read_csv(out / "sensitivity.csv", index_col=0)
    scales = results["sensitivity"]["scales"]
    means = long["mean"].unstack("feature")
    np.testing.assert_allclose(table.loc[means.columns, "shift"],
                               means.max() - means.min(), rtol=1e-9)
    excludes = ((long["lower"] > 0) | (long["upper"] < 0)).unstack("feature")
    assert sorted(results["sensitivity"]["robust"]) == sorted(
        excludes.columns[excludes.sum() == len(scales)])
    assert sorted(results["sensitivity"]["sensitive"]) == sorted(
        excludes.columns[(excludes.sum() > 0) & (excludes.sum() < len(scales))])


def test_figures_are_written(tutorial_output):
    out, _, _ = tutorial_output
    for name in ("trace.png", "rank.png", "energy.png", "pair.png", "prior_predictive.png",
                 "posterior_predictive.png", "loo_pit.png", "comparison.png",
                 "sensitivity.png"):
        path = out / name
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert path.stat().st_size > 10_000
