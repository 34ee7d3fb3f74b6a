import numpy as np
import pytest

from probex.inference import NUTSRunner


@pytest.fixture(scope="module", params=["pyro", "numpyro"])
def nuts_draws(breast_cancer_surrogate, request):
    model, exact, init = breast_cancer_surrogate
    runner = NUTSRunner(num_samples=500, num_warmup=400, num_chains=2, seed=0,
                        backend=request.param)
    draws = runner.run(model, init_values=init)
    assert draws.info["backend"] == request.param
    return draws, exact


def test_nuts_agrees_with_the_exact_posterior(nuts_draws):
    draws, exact = nuts_draws
    phi = draws.posterior["attribution"][:, :, 0].reshape(-1, exact.mean.shape[-1])
    mean, sd = exact.mean[0].numpy(), exact.marginal_sd[0].numpy()
    # with ESS ~ 1000 the Monte Carlo error of a mean is ~0.03 sd; of an sd ~2-3%
    assert np.max(np.abs(phi.mean(0) - mean) / sd) < 0.1
    assert np.max(np.abs(phi.std(0, ddof=1) / sd - 1)) < 0.15
    sigma2 = draws.posterior["noise_scale"].ravel() ** 2
    assert sigma2.mean() == pytest.approx(float(exact.noise_variance_mean[0]), rel=0.05)


def test_nuts_records_sampler_statistics(nuts_draws):
    draws, _ = nuts_draws
    stats = draws.sample_stats
    assert set(stats) >= {"diverging", "step_size", "tree_depth", "n_steps", "acceptance_rate",
                          "lp", "energy"}
    # NumPyro: every instance is its own chain, so its statistics carry the instance axis
    shape = (2, 500) if draws.info["backend"] == "pyro" else (2, 500, 1)
    assert all(value.shape == shape for value in stats.values())
    assert not stats["diverging"].any()
    assert np.all(stats["n_steps"] >= 1) and np.all(stats["n_steps"] <= 2 ** 10)
    assert np.all(2 ** stats["tree_depth"] >= stats["n_steps"] + 1)
    # adapted to target_accept_prob = 0.8: mean acceptance within [0.6, 0.99]
    assert 0.6 < stats["acceptance_rate"].mean() < 0.99
    acceptance = stats["acceptance_rate"]
    assert np.all(acceptance >= -1e-9) and np.all(acceptance <= 1 + 1e-9)
    assert np.isfinite(stats["lp"]).all()
    # the Hamiltonian is the potential (-lp) plus a kinetic energy >= 0
    assert np.isfinite(stats["energy"]).all()
    if draws.info["backend"] == "numpyro":
        assert np.all(stats["energy"] + stats["lp"] >= 0)


def test_nuts_is_reproducible(breast_cancer_surrogate):
    """Pyro's seeds (NumPyro's: tests/inference/test_numpyro_backend.py)."""
    model, _, init = breast_cancer_surrogate
    backend = "pyro"
    small = NUTSRunner(num_samples=20, num_warmup=20, num_chains=1, seed=5, backend=backend)
    a = small.run(model, init_values=init).posterior["attribution"]
    b = small.run(model, init_values=init).posterior["attribution"]
    c = small.run(model, init_values=init, seed=6).posterior["attribution"]
    d = NUTSRunner(num_samples=20, num_warmup=20, num_chains=1, seed=6, backend=backend).run(
        model, init_values=init).posterior["attribution"]
    assert np.array_equal(a, b) and not np.array_equal(a, c) and np.array_equal(c, d)


def test_runner_rejects_bad_settings():
    with pytest.raises(ValueError, match="target_accept_prob"):
        NUTSRunner(target_accept_prob=1.2)
    with pytest.raises(ValueError, match="num_samples and num_chains must be positive"):
        NUTSRunner(num_samples=0)


def test_hessian_diagonal_is_exact_for_separable_potentials_and_unbiased_otherwise():
    import torch

    from probex.inference.nuts import hessian_diagonal

    scales = torch.tensor([0.02, 1.0, 30.0], dtype=torch.float64)

    def separable(p):
        return 0.5 * ((p["a"] / scales) ** 2).sum() + p["b"].pow(4).sum()

    params = {"a": torch.ones(3, dtype=torch.float64),
              "b": torch.tensor([0.5], dtype=torch.float64)}
    diag = hessian_diagonal(separable, params, probes=1,
                            generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(diag["a"], 1 / scales**2)
    torch.testing.assert_close(diag["b"], torch.tensor([12 * 0.25], dtype=torch.float64))

    hessian = torch.tensor([[2.0, 0.5], [0.5, 1.0]], dtype=torch.float64)

    def correlated(p):
        return 0.5 * p["x"] @ hessian @ p["x"]

    x = {"x": torch.zeros(2, dtype=torch.float64)}
    n = 4000
    estimate = hessian_diagonal(correlated, x, probes=n,
                                generator=torch.Generator().manual_seed(1))
    # each probe gives H_ii +- |H_ij|: standard error 0.5 / sqrt(n); 5 standard errors
    assert torch.all((estimate["x"] - torch.diagonal(hessian)).abs() < 5 * 0.5 / n**0.5)


def test_curvature_start_needs_fewer_warmup_gradients_than_identity(breast_cancer_surrogate):
    model, _, init = breast_cancer_surrogate
    counts = {}
    for start in ("curvature", "identity"):
        runner = NUTSRunner(num_samples=1, num_warmup=60, num_chains=1, init_mass=start, seed=0,
                            backend="pyro")
        counts[start] = int(runner.run(model, init_values=init).info["warmup_gradients"][0])
    assert counts["curvature"] < counts["identity"]
