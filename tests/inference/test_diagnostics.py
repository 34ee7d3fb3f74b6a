"""Sampling problems are never silent: each failed check warns, naming what failed."""

import numpy as np
import pytest

import probex as px
from probex.inference.diagnostics import diagnose
from probex.inference.draws import PosteriorDraws


def _draws(rng, n_chains=4, n_draws=500, shift=0.0, **stats):
    values = rng.normal(size=(n_chains, n_draws, 3))
    values[0] += shift  # one chain off the others: r_hat > 1
    return PosteriorDraws({"attribution": values}, "nuts", sample_stats=stats)


def test_healthy_draws_pass_and_each_failure_is_named(rng):
    ok = diagnose(_draws(rng, diverging=np.zeros((4, 500), bool)))
    assert ok.ok and ok.summary() == "ok" and ok.figures["n_divergent"] == 0
    assert ok.figures["max_r_hat"] < 1.01 and ok.figures["min_ess_bulk"] > 400
    diverging = np.zeros((4, 500), bool)
    diverging[1, :23] = True
    bad = diagnose(_draws(rng, shift=0.5, diverging=diverging))
    text = bad.summary()
    assert "23 of 2000 draws diverged (per chain: 0, 23, 0, 0)" in text
    assert "attribution[" in text and "r_hat" in text
    few = diagnose(_draws(rng, n_draws=40))
    assert "bulk ESS" in few.summary() and "< 400 (100 per chain)" in few.summary()


def test_low_energy_fraction_of_missing_information_is_flagged(rng):
    walk = np.cumsum(rng.normal(size=(4, 500)) * 0.05, axis=1)  # energy barely moves
    verdict = diagnose(_draws(rng, energy=walk))
    assert verdict.figures["min_bfmi"] < 0.3 and "E-BFMI" in verdict.summary()
    fresh = diagnose(_draws(rng, energy=rng.normal(size=(4, 500))))
    assert fresh.figures["min_bfmi"] > 1.0 and "E-BFMI" not in fresh.summary()


def test_svi_that_has_not_converged_is_flagged():
    still_falling = PosteriorDraws({}, "svi", info={"loss": 1000.0 - 10 * np.arange(200)})
    assert "still moved" in diagnose(still_falling).summary()
    flat = PosteriorDraws({}, "svi", info={"loss": 5.0 + 0.001 * np.sin(np.arange(200))})
    assert diagnose(flat).ok
    assert "only 3 steps" in diagnose(PosteriorDraws({}, "svi", info={"loss": [3, 2, 1]})
                                      ).summary()


def test_an_explanation_warns_and_records_the_verdict(demo_model):
    model, data = demo_model
    runner = px.inference.NUTSRunner(num_samples=30, num_warmup=15, num_chains=2,
                                     init_mass="identity")
    explainer = px.BayesLIME(px.BlackBox(model), background=data.X_train, seed=0,
                             prior=px.priors.Laplace(0.05), inference=runner)
    with pytest.warns(px.SamplingWarning, match=r"nuts results may not be trusted: .*ESS"):
        e = explainer.explain(data.X_test[0], n_samples=300)
    assert e.diagnostics != "ok" and "ESS" in e.diagnostics
    assert e.summary().attrs["diagnostics"] == e.diagnostics
    assert e.attrs["diagnostics_min_ess_bulk"] < 200
    svi = px.BayesLIME(px.BlackBox(model), background=data.X_train, seed=0,
                       inference=px.inference.SVIRunner(num_steps=3, num_draws=50))
    with pytest.warns(px.ConvergenceWarning, match="SVI ran only 3 steps"):
        e = svi.explain(data.X_test[0], n_samples=300)
    assert "only 3 steps" in e.diagnostics
    exact = px.BayesLIME(px.BlackBox(model), background=data.X_train, seed=0)
    assert exact.explain(data.X_test[0], n_samples=100).diagnostics == "none needed"
