"""Exact explanations do not depend on torch's intra-op thread setting, run their small
algebra on one thread, and leave the caller's setting as it was."""

import numpy as np
import torch

import probex as px


def test_exact_results_are_bit_identical_with_1_and_2_threads(demo_model):
    model, data = demo_model
    before = torch.get_num_threads()
    results = {}
    try:
        for threads in (1, 2):
            torch.set_num_threads(threads)
            bb = px.BlackBox(model)
            lime = px.BayesLIME(bb, background=data.X_train, seed=0).explain(data.X_test[:3],
                                                                           n_samples=400)
            shap = px.BayesSHAP(bb, background=data.X_train, seed=0).explain(data.X_test[0],
                                                                           n_samples=400)
            results[threads] = (lime.mean, lime.sd, shap.mean, shap.sd,
                                lime[1].idata.posterior["attribution"].values)
            assert torch.get_num_threads() == threads  # the caller's setting, restored
    finally:
        torch.set_num_threads(before)
    for one, two in zip(results[1], results[2], strict=True):
        np.testing.assert_array_equal(one, two)
