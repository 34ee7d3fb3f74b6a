"""Runs the SmoothGrad / C-LIME unification tutorial in quick mode and checks its numbers."""

import json

import numpy as np


def test_tutorial_reproduces_the_unification_results(run_tutorial, tmp_path):
    run_tutorial("smoothgrad_clime_unification", tmp_path)
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["smoke_test"] is True
    for name in ("a_convergence_rate", "b_deviation_vs_bound_logistic",
                 "b_deviation_vs_bound_mlp", "c_robustness", "d_linear_model"):
        assert (tmp_path / f"{name}.png").stat().st_size > 10_000
    # (a) the two estimates meet at about the Monte Carlo rate n^(-1/2)
    for kind, rows in results["a_convergence"].items():
        assert -0.8 < rows["slope_sg_vs_clime"] < -0.3, kind
        assert rows["sg_vs_clime"][-1] < 0.5 * rows["sg_vs_clime"][0]
    # (b) no cell of any (model, d, n, method, eps) exceeds its finite-sample bound, and
    # SmoothGrad's Hoeffding bound is informative (< 0.05) somewhere in every panel
    assert results["b_bound_violations"] == 0
    cells = results["b_deviation"]["cells"]
    assert len(cells) == 2 * 2 * 2 * 2
    for cell in cells:
        assert np.all(np.asarray(cell["empirical"]) <= np.asarray(cell["bound"]) + 1e-12)
        if cell["method"] == "SmoothGrad":
            assert cell["eps_bound_005"] is not None and cell["eps_bound_005"] < 0.2
            assert cell["eps_observed_005"] <= cell["eps_bound_005"]
    # (c) every observed change stays within the theory's constants; it is not vacuous
    for kind, rows in results["c_robustness"].items():
        for L, L_path, sg, cl in zip(rows["L_theory"], rows["clime_pathwise_L"],
                                     rows["sg_max_ratio"], rows["clime_max_ratio"],
                                     strict=True):
            assert sg <= L and cl <= L_path, kind
            assert sg > 0.05 * L and cl > 0.05 * L, kind
        assert rows["sg_max_ratio"][0] > rows["sg_max_ratio"][-1]  # shrinks as sigma grows
    # (d) the linear model's weights, exactly for SmoothGrad, to ~1/(100 n) for C-LIME
    linear = results["d_linear"]
    assert linear["sg_logit_max_abs_error"] < 1e-6 * linear["weights_max_abs"] + 1e-7
    assert linear["clime_logit_max_abs_error"] < 1e-4 * linear["weights_max_abs"]
    assert linear["sg_prob_max_abs_error"] < 5 * linear["sg_prob_max_sd"] + 1e-12
    assert linear["clime_prob_max_abs_error"] < 8 * linear["clime_prob_max_sd"]
