"""The NumPyro backend: same posterior as Pyro and as the closed form, per-instance chains
that do not touch each other, one compilation per shape, seeds, energy diagnostics.

Synthetic surrogates (d = 4 coefficients, n = 200 weighted rows, float64). Tolerances on
posterior means and sds follow from Monte Carlo error: with 4 chains x 1000 draws the
effective sample size of a coefficient is >= ~2000, so a mean is off by ~0.02 posterior
sd and an sd by ~2%; the checks allow 0.1 sd and 10% (brief), or a bound computed from
az.ess where a run is shorter.
"""

from __future__ import annotations

import arviz as az
import numpy as np
import pytest
import torch

import probex as px
from probex.inference import NUTSRunner, to_inference_data
from probex.inference.backends import numpyro_program, sample_surrogate, sample_temperatures
from probex.inference.exact import NormalInverseGammaPosterior
from probex.models.surrogate import SufficientStatistics, bayesian_linear_surrogate, center

D, N_ROWS = 4, 200
SLOW_DRAWS = {"num_samples": 1000, "num_warmup": 1000, "num_chains": 4}


def surrogate_data(n_instances: int, seed: int = 0, pathological: int | None = None):
    """Centred data of B synthetic instances; row ``pathological`` gets two features that
    agree to 1e-3 (a posterior ridge that drives NUTS to its maximum tree depth)."""
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(n_instances, N_ROWS, D, generator=g, dtype=torch.float64)
    beta = 0.5 * torch.randn(n_instances, D, generator=g, dtype=torch.float64)
    noise = 0.3 * torch.randn(n_instances, N_ROWS, generator=g, dtype=torch.float64)
    weights = 0.5 + torch.rand(n_instances, N_ROWS, generator=g, dtype=torch.float64)
    if pathological is not None:
        other = torch.Generator().manual_seed(seed + 99)
        z[pathological, :, 1] = z[pathological, :, 0] + 1e-3 * torch.randn(
            N_ROWS, generator=other, dtype=torch.float64)
    y = (z * beta.unsqueeze(1)).sum(-1) + noise
    return center(z, y, weights)


def exact_posterior(data) -> NormalInverseGammaPosterior:
    start = NormalInverseGammaPosterior.prior(D, batch_shape=(data.n_instances,))
    return start.update(data.design, data.response, data.weights, n_marginalized=1)


def moments(draws) -> tuple[np.ndarray, np.ndarray]:
    """Posterior mean and sd of the attributions, (B, d) each."""
    phi = draws.posterior["attribution"]
    flat = phi.reshape(-1, *phi.shape[2:])
    return flat.mean(0), flat.std(0, ddof=1)


def r_hat(draws) -> float:
    return float(az.rhat(az.convert_to_dataset(
        {"attribution": draws.posterior["attribution"]}))["attribution"].max())


def assert_same_posterior(mean_a, sd_a, mean_b, sd_b, sd_tolerance=0.10, mean_tolerance=0.1):
    assert np.max(np.abs(mean_a - mean_b) / sd_b) < mean_tolerance
    assert np.max(np.abs(sd_a / sd_b - 1)) < sd_tolerance


@pytest.fixture(scope="module")
def numpyro_runner():
    """One runner for the NIG tests: its compiled samplers serve every test below."""
    return NUTSRunner(num_samples=1000, num_warmup=300, num_chains=4, seed=0,
                      backend="numpyro")


@pytest.fixture(scope="module")
def twenty(numpyro_runner):
    data = surrogate_data(20)
    stats = SufficientStatistics.of(data)
    draws = sample_surrogate(stats, px.priors.NormalInverseGamma(), numpyro_runner,
                             marginalize=False)
    return data, stats, draws


def test_vectorized_numpyro_matches_the_exact_posterior_of_every_instance(twenty):
    data, _, draws = twenty
    assert draws.info["backend"] == "numpyro" and draws.posterior["attribution"].shape == (
        4, 1000, 20, D)
    exact = exact_posterior(data)
    mean, sd = moments(draws)
    assert_same_posterior(mean, sd, exact.mean.numpy(), exact.marginal_sd.numpy())
    sigma2 = (draws.posterior["noise_scale"] ** 2).reshape(-1, 20).mean(0)
    np.testing.assert_allclose(sigma2, exact.noise_variance_mean.numpy(), rtol=0.05)
    assert r_hat(draws) < 1.01


def test_vectorized_run_equals_separate_runs_in_distribution(numpyro_runner, twenty):
    data, stats, draws = twenty
    mean, sd = moments(draws)
    prior = px.priors.NormalInverseGamma()
    for i in range(20):
        one = SufficientStatistics.of(center(data.design[i], data.response[i],
                                             data.weights[i]))
        alone = sample_surrogate(one, prior, numpyro_runner, marginalize=False)
        mean_i, sd_i = moments(alone)
        assert_same_posterior(mean_i[0], sd_i[0], mean[i], sd[i])


def test_a_pathological_instance_leaves_the_other_instances_draws_bit_identical(
        numpyro_runner, twenty):
    _, _, draws = twenty
    hard = SufficientStatistics.of(surrogate_data(20, pathological=7))
    compilations = numpyro_runner.n_compilations
    with_hard = sample_surrogate(hard, px.priors.NormalInverseGamma(), numpyro_runner,
                                 marginalize=False)
    assert numpyro_runner.n_compilations == compilations  # same shape: same sampler
    others = np.arange(20) != 7
    for name, value in draws.posterior.items():
        np.testing.assert_array_equal(with_hard.posterior[name][:, :, others],
                                      value[:, :, others])
    depth = with_hard.sample_stats["tree_depth"].mean((0, 1))
    assert depth[7] > depth[others].max() + 2  # the hard row really was hard


def test_compiled_sampler_is_reused_across_data_prior_scales_and_seeds(numpyro_runner, twenty):
    before = numpyro_runner.n_compilations
    other = SufficientStatistics.of(surrogate_data(20, seed=5))
    draws = sample_surrogate(other, px.priors.NormalInverseGamma(scale=3.0), numpyro_runner,
                             seed=11, marginalize=False)
    assert numpyro_runner.n_compilations == before and not draws.info["compiled"]
    assert np.isfinite(draws.posterior["attribution"]).all()


def test_same_seed_same_numbers_other_seed_other_numbers(numpyro_runner, twenty):
    _, stats, draws = twenty
    prior = px.priors.NormalInverseGamma()
    again = sample_surrogate(stats, prior, numpyro_runner, marginalize=False)
    assert all(np.array_equal(again.posterior[k], v) for k, v in draws.posterior.items())
    assert all(np.array_equal(again.sample_stats[k], v) for k, v in draws.sample_stats.items())
    other = sample_surrogate(stats, prior, numpyro_runner, seed=1, marginalize=False)
    assert not np.array_equal(other.posterior["attribution"], draws.posterior["attribution"])
    numpyro_runner.seed = 1  # the constructor's seed is the default of run(seed=...)
    try:
        by_default = sample_surrogate(stats, prior, numpyro_runner, marginalize=False)
    finally:
        numpyro_runner.seed = 0
    assert np.array_equal(by_default.posterior["attribution"], other.posterior["attribution"])


@pytest.fixture(scope="module")
def laplace_runs():
    """Pyro and NumPyro on one Laplace surrogate (joint model): short runs."""
    stats = SufficientStatistics.of(surrogate_data(1, seed=3))
    prior = px.priors.Laplace(0.3)
    settings = {"num_samples": 500, "num_warmup": 300, "num_chains": 2, "seed": 0}
    pyro = sample_surrogate(stats, prior, NUTSRunner(backend="pyro", **settings))
    numpyro_runner = NUTSRunner(backend="auto", **settings)
    numpyro = sample_surrogate(stats, prior, numpyro_runner)
    return stats, pyro, numpyro, numpyro_runner


def test_pyro_and_numpyro_laplace_posteriors_agree_within_monte_carlo_error(laplace_runs):
    _, pyro, numpyro, _ = laplace_runs
    assert (pyro.info["backend"], numpyro.info["backend"]) == ("pyro", "numpyro")
    (mean_p, sd_p), (mean_n, sd_n) = moments(pyro), moments(numpyro)
    ess = [az.ess(az.convert_to_dataset({"a": d.posterior["attribution"]}))["a"].values
           for d in (pyro, numpyro)]
    error = sd_p * np.sqrt(1 / ess[0] + 1 / ess[1])  # sd of the difference of two means
    assert np.all(np.abs(mean_p - mean_n) < 4.5 * error)
    # relative error of an sd estimate ~ 1 / sqrt(2 ess)
    assert np.all(np.abs(sd_n / sd_p - 1) < 4.5 * np.sqrt(1 / (2 * ess[0]) + 1 / (2 * ess[1])))
    assert max(r_hat(pyro), r_hat(numpyro)) < 1.02


def test_a_numpyro_distribution_as_prior_is_the_built_in_laplace(laplace_runs):
    import numpyro.distributions as nd

    stats, _, numpyro, runner = laplace_runs
    as_distribution = sample_surrogate(stats, nd.Laplace(0.0, 0.3), runner)
    assert as_distribution.info["backend"] == "numpyro"
    np.testing.assert_allclose(as_distribution.posterior["attribution"],
                               numpyro.posterior["attribution"], rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("backend", ["pyro", "numpyro"])
def test_energy_is_the_hamiltonian_and_arviz_reads_it(laplace_runs, backend):
    _, pyro, numpyro, _ = laplace_runs
    draws = pyro if backend == "pyro" else numpyro
    energy, lp = draws.sample_stats["energy"], draws.sample_stats["lp"]
    if backend == "pyro":  # H(z_{t-1}, r_t): minus the previous draw's log density
        kinetic = energy[:, 1:] + lp[:, :-1]
    else:  # H at the selected point, per instance
        kinetic = (energy + lp)[..., 0]
    # momentum r ~ N(0, M): the kinetic energy is chi^2 with D + 1 dof, halved
    dof = D + 1
    assert kinetic.mean() == pytest.approx(dof / 2, abs=6 * np.sqrt(dof / 2 / kinetic.size))
    idata = to_inference_data(draws)
    if backend == "numpyro":
        assert idata.sample_stats["energy"].dims == ("chain", "draw", "instance")
        idata = idata.isel(instance=0)
    bfmi = az.bfmi(idata)
    assert bfmi.shape == (2,) and np.all(bfmi > 0.5)
    assert az.plot_energy(idata) is not None


def test_runner_routes_models_to_their_backend(laplace_runs):
    import pyro.distributions as dist

    stats = laplace_runs[0]
    custom = px.priors.CustomPrior(dist.Laplace(0.0, 0.3))
    assert numpyro_program(bayesian_linear_surrogate, (stats, custom)) is None
    assert numpyro_program(bayesian_linear_surrogate, (stats, px.priors.Laplace())) is not None
    with pytest.raises(ValueError, match="no NumPyro"):
        sample_surrogate(stats, custom, NUTSRunner(num_samples=5, num_warmup=5,
                                                   num_chains=1, backend="numpyro"))
    small = NUTSRunner(num_samples=20, num_warmup=20, num_chains=1, backend="auto")
    assert sample_surrogate(stats, custom, small).info["backend"] == "pyro"
    with pytest.raises(ValueError, match="backend"):
        NUTSRunner(backend="stan")


def test_pyro_run_seed_keyword_overrides_the_constructor_seed(laplace_runs):
    stats = laplace_runs[0]
    settings = {"num_samples": 15, "num_warmup": 15, "num_chains": 1, "backend": "pyro"}
    prior = px.priors.Laplace(0.3)
    a = sample_surrogate(stats, prior, NUTSRunner(seed=0, **settings), seed=4)
    b = sample_surrogate(stats, prior, NUTSRunner(seed=4, **settings))
    assert np.array_equal(a.posterior["attribution"], b.posterior["attribution"])
    assert np.array_equal(a.sample_stats["energy"], b.sample_stats["energy"])


def test_temperatures_run_on_numpyro_and_recover_the_truth():
    g = torch.Generator().manual_seed(0)
    n, k, truth = 1500, 3, torch.tensor([1.0, 2.0, 4.0], dtype=torch.float64)
    bins = torch.randint(0, 3, (n,), generator=g)
    logits = 3.0 * torch.randn(n, k, generator=g, dtype=torch.float64)
    labels = torch.distributions.Categorical(logits=logits / truth[bins, None]).sample()
    runner = NUTSRunner(num_samples=400, num_warmup=300, num_chains=2, seed=0)
    draws = sample_temperatures(torch.log_softmax(logits, -1), labels, bins, 3, None, runner)
    assert draws.info["backend"] == "numpyro"
    temperature = draws.posterior["temperature"]
    assert temperature.shape == (2, 400, 3) and draws.sample_stats["energy"].shape == (2, 400)
    log_t = np.log(temperature).reshape(-1, 3)
    z = (log_t.mean(0) - np.log(truth.numpy())) / log_t.std(0)
    assert np.all(np.abs(z) < 3.5)  # the truth is within the posterior's bulk


@pytest.mark.slow
@pytest.mark.parametrize("prior", [px.priors.NormalInverseGamma(), px.priors.Laplace(0.3),
                                   px.priors.Horseshoe(0.1)], ids=lambda p: p.name)
def test_pyro_and_numpyro_agree_on_the_same_statistics(prior):
    data = surrogate_data(1, seed=3)
    stats = SufficientStatistics.of(data)
    pyro = sample_surrogate(stats, prior, NUTSRunner(backend="pyro", seed=0, **SLOW_DRAWS))
    numpyro = sample_surrogate(stats, prior,
                               NUTSRunner(backend="numpyro", seed=0, **SLOW_DRAWS))
    (mean_p, sd_p), (mean_n, sd_n) = moments(pyro), moments(numpyro)
    assert_same_posterior(mean_n, sd_n, mean_p, sd_p)
    assert max(r_hat(pyro), r_hat(numpyro)) < 1.01
    if isinstance(prior, px.priors.NormalInverseGamma):
        exact = exact_posterior(data)
        for mean, sd in ((mean_p, sd_p), (mean_n, sd_n)):
            assert_same_posterior(mean, sd, exact.mean.numpy(), exact.marginal_sd.numpy())


@pytest.mark.slow
@pytest.mark.parametrize("prior", [px.priors.StudentT(3.0, 0.3), px.priors.Normal(0.5)],
                         ids=lambda p: p.name)
def test_collapsed_and_joint_models_give_the_same_posterior(prior):
    """Two parametrisations of one posterior: coefficients sampled, or integrated out and
    drawn from their Gaussian conditional (the Student-t's scale mixture)."""
    stats = SufficientStatistics.of(surrogate_data(1, seed=3))
    runner = NUTSRunner(backend="numpyro", seed=0, **SLOW_DRAWS)
    joint = sample_surrogate(stats, prior, runner, marginalize=False)
    collapsed = sample_surrogate(stats, prior, runner, marginalize=True)
    assert not joint.info["marginalized"] and collapsed.info["marginalized"]
    (mean_j, sd_j), (mean_c, sd_c) = moments(joint), moments(collapsed)
    assert_same_posterior(mean_c, sd_c, mean_j, sd_j)
    assert max(r_hat(joint), r_hat(collapsed)) < 1.01
