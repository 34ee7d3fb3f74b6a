"""MAPRunner: the mode and the Laplace approximation against closed forms."""

import numpy as np
import pyro
import pyro.distributions as dist
import pytest
import torch

from probex.inference.map import MAPRunner


def normal_mean_model(y, prior_sd=2.0, noise_sd=0.5):
    mu = pyro.sample("mu", dist.Normal(torch.zeros(2, dtype=torch.float64), prior_sd)
                     .to_event(1))
    pyro.deterministic("mu_sum", mu.sum(-1))
    with pyro.plate("rows", y.shape[0]):
        pyro.sample("y", dist.Normal(mu, noise_sd).to_event(1), obs=y)


def test_map_and_laplace_are_exact_for_a_gaussian_posterior():
    y = torch.randn(40, 2, generator=torch.Generator().manual_seed(0),
                    dtype=torch.float64) + torch.tensor([1.0, -3.0], dtype=torch.float64)
    precision = 1 / 2.0**2 + 40 / 0.5**2
    mean = (y.sum(0) / 0.5**2 / precision).numpy()
    runner = MAPRunner()
    mode = runner.run(normal_mean_model, y)
    assert runner.converged and mode.method == "map"
    assert mode.posterior["mu"].reshape(2) == pytest.approx(mean, abs=1e-8)
    assert float(mode.posterior["mu_sum"].reshape(())) == pytest.approx(mean.sum(), abs=1e-8)
    laplace = MAPRunner(laplace=True, num_draws=20_000, seed=3).run(normal_mean_model, y)
    draws = laplace.posterior["mu"].reshape(-1, 2)
    sd = precision**-0.5
    # MC error of a mean of 2e4 draws is sd / 141; of an sd, sd / 200
    assert draws.mean(0) == pytest.approx(mean, abs=5 * sd / 141)
    assert draws.std(0) == pytest.approx(np.full(2, sd), rel=5 / 200)
    assert laplace.method == "laplace" and laplace.n_draws == 20_000


def test_positive_sites_are_optimised_in_the_unconstrained_space():
    y = torch.tensor([0.3, -1.2, 2.0, 0.7, -0.4], dtype=torch.float64)

    def model():
        scale = pyro.sample("scale", dist.HalfNormal(torch.tensor(3.0, dtype=torch.float64)))
        with pyro.plate("rows", 5):
            pyro.sample("y", dist.Normal(0.0, scale), obs=y)

    # the mode of log(scale) maximises log p(y | s) + log p(s) + log s:
    # d/ds [-n log s - S/(2 s^2) - s^2/18 + log s] = 0
    n, total = 5, float((y**2).sum())
    grid = np.linspace(0.05, 5, 200_001)
    objective = -(n - 1) * np.log(grid) - total / (2 * grid**2) - grid**2 / 18
    expected = grid[np.argmax(objective)]
    mode = MAPRunner().run(model)
    assert float(mode.posterior["scale"].reshape(())) == pytest.approx(expected, abs=1e-4)


def test_rejects_models_without_latent_sites():
    def model():
        pyro.sample("y", dist.Normal(0.0, 1.0), obs=torch.tensor(0.0))

    with pytest.raises(ValueError, match="no latent"):
        MAPRunner().run(model)
