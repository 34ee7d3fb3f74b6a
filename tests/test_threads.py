"""Explainers in threads give the serial answers; a shared black box counts each
explanation's own queries; the caller's global torch RNG is never moved."""

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch

import probex as px


def _explainers(model, data, bb=None):
    bb = bb or px.BlackBox(model)
    fast = px.inference.NUTSRunner(num_samples=60, num_warmup=60, num_chains=2)
    return {
        "svi": px.BayesLIME(bb, background=data.X_train, seed=1,
                            inference=px.inference.SVIRunner(num_steps=60, num_draws=50)),
        "nuts": px.BayesLIME(bb, background=data.X_train, seed=2,
                             prior=px.priors.Laplace(0.05), inference=fast),
        "exact": px.BayesLIME(bb, background=data.X_train, seed=3),
        "shap": px.BayesSHAP(bb, background=data.X_train, seed=4),
    }


def _run(explainer, x):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", px.ProbexWarning)  # tiny runs: ESS warnings expected
        return explainer.explain(x, n_samples=200)


def test_threads_give_the_serial_results_and_count_their_own_queries(demo_model):
    model, data = demo_model
    x = data.X_test[0]
    serial = {name: _run(ex, x) for name, ex in _explainers(model, data).items()}
    shared = px.BlackBox(model)
    explainers = _explainers(model, data, shared)
    with ThreadPoolExecutor(max_workers=4) as pool:
        futures = {name: pool.submit(_run, ex, x) for name, ex in explainers.items()}
        threaded = {name: f.result() for name, f in futures.items()}
    for name in serial:
        np.testing.assert_array_equal(threaded[name].mean, serial[name].mean, err_msg=name)
        assert threaded[name].n_queries == serial[name].n_queries, name
    assert shared.n_queries == sum(e.n_queries for e in threaded.values())


def test_the_callers_global_rng_is_untouched(demo_model):
    model, data = demo_model
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    for explainer in _explainers(model, data).values():
        _run(explainer, data.X_test[1])
    np.testing.assert_array_equal(torch.rand(3).numpy(), expected.numpy())
