"""Memory stays flat across explanations in one process (the NUTS runner compiles
nothing that outlives an explanation)."""

import gc
import warnings

import pytest

import probex as px


def _rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS"):
                return int(line.split()[1]) / 1024
    pytest.skip("no /proc/self/status on this platform")


@pytest.mark.slow
def test_thirty_nuts_explanations_grow_memory_by_less_than_100_mb(demo_model):
    model, data = demo_model
    runner = px.inference.NUTSRunner(num_samples=50, num_warmup=50, num_chains=1)
    explainer = px.BayesLIME(px.BlackBox(model), background=data.X_train,
                             prior=px.priors.Laplace(0.05), inference=runner)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", px.ProbexWarning)
        for i in range(3):  # warm caches, lazy imports and allocator pools
            explainer.explain(data.X_test[i], n_samples=200)
        gc.collect()
        before = _rss_mb()
        for i in range(30):
            explainer.explain(data.X_test[i % len(data.X_test)], n_samples=200)
        gc.collect()
    assert _rss_mb() - before < 100
