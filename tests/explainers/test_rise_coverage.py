"""RISE's standard error is the Monte Carlo error of a mean of bounded terms f M_j / p: its
normal intervals cover a 100,000-mask reference at the nominal rate."""

import numpy as np
from sklearn.linear_model import LogisticRegression

import probex as px
from probex.datasets import load_tabular


def test_rise_standard_error_is_honest_against_a_high_sample_reference():
    """30 seeds x 5 instances x 30 features at N = 100 masks: mean z^2 near 1 (its sd over
    150 independent runs is about 0.12 per pooled feature block) and coverage within 3
    binomial sd (runs, not features, are independent: 150) of 0.95."""
    data = load_tabular("breast_cancer", seed=0, standardize=True)
    model = LogisticRegression(C=10.0, max_iter=1000).fit(data.X_train, data.y_train)
    bb = px.BlackBox(model)
    X = data.X_test[:5]
    reference = px.RISE(bb, background=data.X_train, n_samples=100_000, seed=999).explain(X)
    z2 = []
    for seed in range(30):
        e = px.RISE(bb, background=data.X_train, n_samples=100, seed=seed).explain(X)
        z2.append((e.mean - reference.mean) ** 2 / (e.sd**2 + reference.sd**2))
    z2 = np.array(z2)
    assert 0.75 < z2.mean() < 1.3
    assert abs(np.mean(z2 < 1.96**2) - 0.95) < 3 * np.sqrt(0.95 * 0.05 / 150)
