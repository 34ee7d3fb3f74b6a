"""FEX's post-fit fidelity check: quiet on a trained policy, a FidelityWarning on broken
ones, and a table whose numbers are the curves' own."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

import probex as px
from probex.metrics import deletion_auc, random_reference

D, RELEVANT = 8, [5, 6, 7]  # the last three features decide the class


def _rows(n, seed):
    rng = np.random.default_rng(seed)
    sign = rng.choice([-1.0, 1.0], size=n)
    X = rng.normal(size=(n, D))
    X[:, RELEVANT] = sign[:, None] * np.abs(rng.normal(1.0, 0.5, size=(n, len(RELEVANT))))
    return X


def _model(X, relevant=RELEVANT):
    return 1.0 / (1.0 + np.exp(-2.0 * X[:, relevant].sum(1)))


@pytest.fixture(scope="module")
def data():
    return _rows(256, 0), _rows(200, 1)


def _fex(model=_model, **options):
    return px.FEX(px.BlackBox(model, n_features=D), 2, seed=0, hidden=(32,), **options)


def test_a_trained_policy_passes_quietly_and_the_table_is_the_curves(data):
    X, X_new = data
    fex = _fex().fit(X, epochs=8, batch_size=32)
    bb = fex.bb
    before = bb.n_queries
    with warnings.catch_warnings():
        warnings.simplefilter("error", px.FidelityWarning)
        table = fex.fidelity(X_new, n_rows=40, n_samples=300, n_repeats=3, seed=5)
    spent = bb.n_queries - before
    assert list(table.index) == ["FEX", "BayesSHAP", "random"]
    assert table.attrs["clearly_better_than_random"] and table.attrs["n_rows"] == 40
    fex_row, shap_row = table.loc["FEX"], table.loc["BayesSHAP"]
    # a trained policy is far better than chance, and close to BayesSHAP's curve
    assert fex_row["deletion_gain"] > 10 * fex_row["deletion_gain_se"]
    assert fex_row["deletion_auc"] < 1.1 * shap_row["deletion_auc"]
    assert fex_row["insertion_auc"] > table.loc["random", "insertion_auc"]
    # the same rows, classes and baseline reproduce FEX's and random's deletion AUC
    rows = np.sort(np.random.default_rng([5, 29]).choice(200, 40, replace=False))
    sample = X_new[rows]
    classes = (_model(sample) > 0.5).astype(int)
    lam, _ = fex.attributions(sample, target=classes)
    kwargs = {"baseline": fex.baseline_, "target": classes}
    assert fex_row["deletion_auc"] == pytest.approx(
        deletion_auc(bb, sample, lam, **kwargs).mean_auc, abs=1e-12)
    assert table.loc["random", "deletion_auc"] == pytest.approx(
        random_reference(bb, sample, "deletion", n_repeats=3, seed=5, **kwargs).mean_auc,
        abs=1e-12)
    # queries: the classes, BayesSHAP (all 2^8 coalitions fit in 300), and the curves
    # (D + 1 points each: deletion and insertion for FEX, BayesSHAP and 3 orderings)
    assert table.attrs["n_queries"] == spent == 40 + 40 * 2**D + 40 * (D + 1) * (2 + 2 + 2 * 3)


@pytest.mark.parametrize("broken", ["untrained", "another model"])
def test_a_broken_policy_raises_a_fidelity_warning(data, broken):
    """Untrained: lambda = 1/2 everywhere, so units are removed in index order (the
    decisive ones last); trained for another model: it ranks the wrong features first.
    Both are worse than random orderings, and the check says so."""
    X, X_new = data
    if broken == "untrained":  # FEX's policy before training: a zero last layer
        fex = _fex().fit(X, epochs=1, batch_size=32)
        head = fex.program.policy.network.head
        torch.nn.init.zeros_(head.weight)
        torch.nn.init.zeros_(head.bias)
    else:
        fex = _fex(lambda Z: _model(Z, [0, 1, 2])).fit(X, epochs=8, batch_size=32)
        fex.bb = px.BlackBox(_model, n_features=D)  # now asked about the real model
    with pytest.warns(px.FidelityWarning, match="not clearly better than random") as record:
        table = fex.fidelity(X_new, n_rows=40, seed=5)
    assert not table.attrs["clearly_better_than_random"]
    assert table.loc["FEX", "deletion_gain"] < 0  # worse than chance, not just equal
    assert f"{table.loc['FEX', 'deletion_auc']:.3f}" in str(record[0].message)
    assert issubclass(px.FidelityWarning, px.ProbexWarning)
    # the table is returned either way; warn=False keeps it quiet
    with warnings.catch_warnings():
        warnings.simplefilter("error", px.FidelityWarning)
        fex.fidelity(X_new, n_rows=20, seed=5, warn=False)


def test_fidelity_needs_a_fitted_explainer_and_checks_its_arguments(data):
    X, X_new = data
    with pytest.raises(ValueError, match="not fitted"):
        _fex().fidelity(X_new)
    fex = _fex().fit(X[:64], epochs=1, batch_size=32)
    with pytest.raises(ValueError, match="n_rows must be an integer >= 1"):
        fex.fidelity(X_new, n_rows=0)
    with pytest.raises(ValueError, match="margin must be a non-negative number"):
        fex.fidelity(X_new, margin=-1.0)
    with pytest.raises(ValueError, match="x has 3 features but the model expects 8|X has 3"):
        fex.fidelity(X_new[:, :3])
