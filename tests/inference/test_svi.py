import numpy as np
import pyro
import pytest

from probex.inference import SVIRunner


def test_svi_agrees_with_the_exact_posterior(breast_cancer_surrogate):
    model, exact, init = breast_cancer_surrogate
    runner = SVIRunner(num_steps=2500, num_draws=4000, seed=0)
    draws = runner.run(model, init_values=init)
    phi = draws.posterior["attribution"][0, :, 0]
    mean, sd = exact.mean[0].numpy(), exact.marginal_sd[0].numpy()
    # 4000 iid draws: Monte Carlo error of a mean 0.016 sd, of an sd ~1.1%
    assert np.max(np.abs(phi.mean(0) - mean) / sd) < 0.1
    assert np.max(np.abs(phi.std(0, ddof=1) / sd - 1)) < 0.15
    assert draws.info["loss"].shape == (2500,)
    assert draws.info["loss"][-100:].mean() < draws.info["loss"][:100].mean()
    assert len(pyro.get_param_store()) == 0  # the runner scoped its parameters


def test_map_guide_finds_the_posterior_mode(breast_cancer_surrogate):
    model, exact, init = breast_cancer_surrogate
    draws = SVIRunner(guide="delta", num_steps=300, learning_rate=0.01, num_draws=2,
                      seed=0).run(model, init_values=init)
    phi = draws.posterior["attribution"][0, 0, 0]
    # the joint mode of (phi, sigma) has phi at the conjugate posterior mean
    sd = exact.marginal_sd[0].numpy()
    assert np.max(np.abs(phi - exact.mean[0].numpy()) / sd) < 0.05


def test_svi_rejects_unknown_guide():
    with pytest.raises(ValueError, match="unknown guide='flow'"):
        SVIRunner(guide="flow")
