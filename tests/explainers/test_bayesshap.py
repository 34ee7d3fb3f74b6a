"""BayesSHAP against exact Shapley values enumerated over every coalition: efficiency,
accuracy per query against shap's KernelExplainer, and coverage of its intervals."""

import numpy as np
import pytest
from sklearn.ensemble import RandomForestClassifier

import probex as px
from probex.metrics import exact_shapley_values, interval_coverage, mean_squared_z

D = 10


@pytest.fixture(scope="module")
def forest():
    """A random forest on the first 10 features of wine (classes 0 vs rest): a model and
    data set the function-level tests of the estimator do not use."""
    from sklearn.datasets import load_wine

    X, y = load_wine(return_X_y=True)
    X = X[:, :D]
    model = RandomForestClassifier(n_estimators=30, max_depth=4, random_state=0)
    model.fit(X, (y == 0).astype(int))
    return model, X


def _truth(bb, X, rows):
    baseline = X.mean(0)
    return exact_shapley_values(lambda A: bb(A).cpu().numpy(), X[rows], baseline).values


def test_efficiency_is_exact_and_the_design_reports_its_cost(forest):
    model, X = forest
    bb = px.BlackBox(model)
    e = px.BayesSHAP(bb, background=X, seed=1).explain(X[:4], n_samples=200)
    gap = e.idata.constant_data["prediction"].values - bb(X.mean(0, keepdims=True)).numpy()
    np.testing.assert_allclose(e.mean.sum(-1), gap, atol=1e-8)
    draws = e.idata.posterior["attribution"].values  # every draw is efficient too
    np.testing.assert_allclose(draws.sum(-1), np.broadcast_to(gap, draws.shape[:-1]),
                               atol=1e-8)
    assert e.n_queries == 4 * int(e.attrs["n_evaluations"]) and e.n_queries <= 4 * 200
    assert e.uncertainty == "monte_carlo_error" and e.inference == "monte_carlo"


def test_a_budget_above_all_coalitions_gives_the_exact_values(forest):
    model, X = forest
    bb = px.BlackBox(model)
    e = px.BayesSHAP(bb, background=X, seed=0).explain(X[:2], n_samples=2**D + 10)
    np.testing.assert_allclose(e.mean, _truth(bb, X, [0, 1]), atol=1e-10)
    assert e.sd.max() < 1e-8 and e.n_queries == 2 * 2**D


@pytest.mark.parametrize("n_samples", [200, 1000])
def test_intervals_cover_the_exact_values(forest, n_samples):
    """Pooled over 6 instances x 3 seeds x 10 features = 180 intervals: at nominal 0.95
    the binomial sd of the coverage is 0.016, so 0.9 is 3 sd below."""
    model, X = forest
    bb = px.BlackBox(model)
    rows = [0, 20, 60, 80, 120, 150]
    truth = _truth(bb, X, rows)
    intervals, z = [], []
    for seed in range(3):
        e = px.BayesSHAP(bb, background=X, seed=seed).explain(X[rows], n_samples=n_samples)
        intervals.append(e.hdi(0.95))
        z.append(mean_squared_z(e.mean, e.sd, truth))
    coverage = interval_coverage(np.concatenate(intervals), np.concatenate([truth] * 3))
    assert coverage >= 0.9, coverage
    assert 0.3 < np.mean(z) < 2.0, z  # honest spread: mean squared z near 1


def test_as_accurate_as_shap_kernel_explainer_per_evaluation(forest):
    shap = pytest.importorskip("shap")
    model, X = forest
    bb = px.BlackBox(model)
    rows = [5, 50, 100, 140]
    truth = _truth(bb, X, rows)
    baseline = X.mean(0, keepdims=True)
    f = lambda A: model.predict_proba(A)[:, 1]  # noqa: E731
    ours, theirs = [], []
    for seed in range(3):
        e = px.BayesSHAP(bb, background=X, seed=seed).explain(X[rows], n_samples=300)
        ours.append(np.linalg.norm(e.mean - truth, axis=1) / np.linalg.norm(truth, axis=1))
        np.random.seed(seed)
        kernel = shap.KernelExplainer(f, baseline)
        values = np.array([kernel.shap_values(X[r], nsamples=299, silent=True) for r in rows])
        theirs.append(np.linalg.norm(values - truth, axis=1) / np.linalg.norm(truth, axis=1))
    assert np.mean(ours) <= 1.1 * np.mean(theirs), (np.mean(ours), np.mean(theirs))
