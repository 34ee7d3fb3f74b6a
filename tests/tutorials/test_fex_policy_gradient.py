"""Smoke run of tutorials/fex_policy_gradient.py: its table reproduces from the
attributions it saved, FEX explains without queries and faster than KernelSHAP."""

import json

import numpy as np
import pytest


@pytest.fixture(scope="module")
def tutorial_output(run_tutorial, tmp_path_factory):
    out = tmp_path_factory.mktemp("fex_policy_gradient")
    run_tutorial("fex_policy_gradient", out)
    return out, json.loads((out / "results.json").read_text())


def test_digits_table_reproduces_from_saved_attributions(tutorial_output):
    import probex as px
    from probex.datasets import fit_network
    from probex.metrics import deletion_auc, insertion_auc
    from probex.perturb import FeatureGroups

    out, results = tutorial_output
    assert results["smoke_test"] is True
    table = results["digits"]["table"]
    saved = np.load(out / "attributions_digits.npz")
    net, data = fit_network("digits", "cnn", epochs=3, seed=0)  # the tutorial's network
    bb = px.BlackBox(net, n_features=64)
    groups = FeatureGroups.image_patches(8, 8, 2)
    X = data.X_test[:len(saved["targets"])]
    assert np.array_equal(bb.predict(X).argmax(-1).numpy(), saved["targets"])
    # The network is float32 and is retrained here, so its probabilities (and hence the
    # AUCs) agree with the tutorial's only to float32 rounding, ~1e-8 on CI; a different
    # attribution map would move an AUC by 1e-3 or more.
    for label in ("FEX", "FEX (PPO)", "RISE", "KernelSHAP (BayesSHAP)"):
        kwargs = {"background": data.X_train, "target": saved["targets"],
                  "feature_groups": groups}
        assert deletion_auc(bb, X, saved[label], **kwargs).mean_auc == pytest.approx(
            table[label]["deletion_auc"], abs=1e-6)
        assert insertion_auc(bb, X, saved[label], **kwargs).mean_auc == pytest.approx(
            table[label]["insertion_auc"], abs=1e-6)
    # FEX's lambda is a probability per patch
    fex = saved["FEX"]
    assert fex.min() >= 0 and fex.max() <= 1
    assert np.ptp(fex[:, groups.ids.numpy() == 0], axis=1).max() == 0


def test_fex_is_query_free_and_fastest(tutorial_output):
    _, results = tutorial_output
    for name in ("digits", "breast_cancer"):
        table = results[name]["table"]
        for label in ("FEX", "FEX (PPO)", "FEX (ELBO)"):
            assert table[label]["queries_per_explanation"] == 0
            assert table[label]["n_timed"] == 1000
            assert results[name]["fits"][label]["fit_queries"] > 0
            assert (table[label]["seconds_per_1000"]
                    < table["KernelSHAP (BayesSHAP)"]["seconds_per_1000"])
        assert table["RISE"]["queries_per_explanation"] == 200
        for row in table.values():
            assert 0 <= row["deletion_auc"] <= 1 and 0 <= row["insertion_auc"] <= 1
        # the Shapley baseline orders features better than chance on both curves
        shap, chance = table["KernelSHAP (BayesSHAP)"], table["random"]
        assert shap["deletion_auc"] < chance["deletion_auc"]
        assert shap["insertion_auc"] > chance["insertion_auc"]


def test_ablation_grid_and_query_costs(tutorial_output):
    _, results = tutorial_output
    grid = {(row["trajectory_length"], row["kl_coef"]): row for row in results["ablation"]}
    assert set(grid) == {(1, 0.5), (5, 0.5), (10, 0.5), (5, 0.0), (5, 1.0)}
    # queries: f(X) once (256 rows), then s masks per row and epoch (2 epochs)
    for (s, _), row in grid.items():
        assert row["fit_queries"] == 256 + 2 * 256 * s
    for row in grid.values():
        assert 0 <= row["class_agreement"] <= 1


def test_default_fex_queries_and_fidelity_table(tutorial_output):
    _, results = tutorial_output
    # the default: 256 fit rows, 38 held out; one mask and its 16 patch flips per training
    # row and epoch, 17 curve points per held-out row and epoch, 3 epochs, plus f(X)
    assert results["digits"]["fits"]["FEX"]["fit_queries"] == 256 + 3 * (218 + 38) * 17
    fidelity = results["fidelity"]
    rows = {row["method"]: row for row in fidelity["table"]}
    assert set(rows) == {"FEX", "BayesSHAP", "random"}
    assert rows["random"]["deletion_gain"] == 0
    # the gain over random is the paired difference of the deletion AUCs' means
    for row in rows.values():
        assert row["deletion_gain"] == pytest.approx(
            rows["random"]["deletion_auc"] - row["deletion_auc"], abs=1e-12)
    assert fidelity["attrs"]["clearly_better_than_random"] == (
        rows["FEX"]["deletion_gain"] > 2 * rows["FEX"]["deletion_gain_se"])
