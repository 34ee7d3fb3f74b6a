"""The ReCalX temperature model: bins, prior, shapes under every inference path, and
recovery of known per-level temperatures."""

from functools import partial

import numpy as np
import pyro
import pyro.distributions as dist
import pytest
import torch
from pyro import poutine
from pyro.infer import Predictive, Trace_ELBO
from pyro.infer.autoguide import AutoNormal

from probex.inference import NUTSRunner
from probex.inference.map import MAPRunner
from probex.models.calibration import (
    assign_bins,
    bin_edges,
    random_walk_prior,
    temper,
    temperature_model,
)

TRUE_T = torch.tensor([0.8, 1.5, 2.5, 4.0], dtype=torch.float64)


def miscalibrated_data(temperatures, rows_per_bin, n_classes=3, seed=0):
    """Labels drawn from softmax(s); the model reports softmax(T_b * s) in bin b, so its
    true recalibration temperature in bin b is exactly T_b."""
    generator = torch.Generator().manual_seed(seed)
    n_bins = temperatures.numel()
    bins = torch.arange(n_bins).repeat_interleave(rows_per_bin)
    calibrated = 2.0 * torch.randn(n_bins * rows_per_bin, n_classes, generator=generator,
                                   dtype=torch.float64)
    labels = torch.multinomial(torch.softmax(calibrated, -1), 1, generator=generator)[:, 0]
    log_probs = torch.log_softmax(calibrated * temperatures[bins, None], -1)
    return log_probs, labels, bins


def test_bins_cover_unit_interval_with_edges_in_the_upper_bin():
    edges = bin_edges(10)
    levels = torch.tensor([0.0, 0.05, 0.1, 1 - 27 / 30, 0.55, 0.9999, 1.0], dtype=torch.float64)
    # 1 - 27/30 = 0.0999...98 in floating point: a mask with 3 of 30 features replaced
    assert assign_bins(levels, edges).tolist() == [0, 0, 1, 1, 5, 9, 9]
    with pytest.raises(ValueError, match="n_bins"):
        bin_edges(0)


def test_random_walk_prior_covariance_matches_its_increments():
    prior = random_walk_prior(4, step_scale=0.3, initial_scale=1.2)
    draws = prior.sample((200_000,))
    increments = draws.diff(dim=-1)
    # sd of an sd estimate from 2e5 normal draws is ~0.16%: 2% is > 10 standard errors
    assert float(draws[:, 0].std()) == pytest.approx(1.2, rel=0.02)
    assert increments.std(0).numpy() == pytest.approx(np.full(3, 0.3), rel=0.02)
    correlation = np.corrcoef(increments.T.numpy())
    assert np.abs(correlation[np.triu_indices(3, 1)]).max() < 0.01


def test_temper_keeps_order_and_normalises():
    scores = torch.log_softmax(torch.randn(50, 5, dtype=torch.float64), -1)
    out = temper(scores, torch.full((50,), 3.0, dtype=torch.float64))
    assert torch.allclose(out.exp().sum(-1), torch.ones(50, dtype=torch.float64))
    assert torch.equal(out.argsort(-1), scores.argsort(-1))


def test_shapes_under_vectorized_particles_and_predictive():
    log_probs, labels, bins = miscalibrated_data(TRUE_T, 20)
    model = partial(temperature_model, log_probs, labels, bins, 4)
    guide = AutoNormal(model)
    loss = Trace_ELBO(num_particles=5, vectorize_particles=True, max_plate_nesting=1)
    assert np.isfinite(float(loss.differentiable_loss(model, guide).detach()))
    draws = Predictive(model, guide=guide, num_samples=7, parallel=True,
                       return_sites=["temperature", "label"])()
    assert draws["temperature"].reshape(7, -1).shape == (7, 4)
    assert draws["label"].shape[-1] == labels.numel()
    trace = poutine.trace(model).get_trace()
    assert trace.nodes["log_temperature"]["value"].shape == (4,)
    assert trace.nodes["label"]["fn"].batch_shape == (80,)


def test_custom_priors_distribution_and_callable():
    log_probs, labels, bins = miscalibrated_data(TRUE_T, 200)
    wide = dist.Normal(torch.zeros(4), 3.0)  # float32 batch (4,): cast and made an event
    mode = MAPRunner().run(partial(temperature_model, log_probs, labels, bins, 4, wide))
    assert mode.posterior["temperature"].reshape(4) == pytest.approx(TRUE_T.numpy(), rel=0.3)

    def hierarchical(n_bins, like):
        step = pyro.sample("step_scale", dist.HalfNormal(like.new_tensor(1.0)))
        return pyro.sample("log_temperature", dist.Normal(like.new_zeros(n_bins), step)
                           .to_event(1))

    mode = MAPRunner().run(partial(temperature_model, log_probs, labels, bins, 4, hierarchical))
    assert set(mode.posterior) >= {"step_scale", "log_temperature", "temperature"}
    with pytest.raises(ValueError, match="shape"):
        temperature_model(log_probs, labels, bins, 4, dist.Normal(torch.zeros(3), 1.0))
    with pytest.raises(TypeError, match="prior"):
        temperature_model(log_probs, labels, bins, 4, prior=3.0)


def central_interval(draws, prob):
    flat = draws.reshape(-1, draws.shape[-1])
    return np.quantile(flat, [(1 - prob) / 2, (1 + prob) / 2], axis=0)


def test_map_and_laplace_recover_known_temperatures():
    log_probs, labels, bins = miscalibrated_data(TRUE_T, 1500)
    model = partial(temperature_model, log_probs, labels, bins, 4)
    runner = MAPRunner(seed=1)
    mode = np.log(runner.run(model).posterior["temperature"].reshape(4))
    assert runner.converged
    draws = MAPRunner(laplace=True, num_draws=4000, seed=1).run(model)
    log_t = np.log(draws.posterior["temperature"].reshape(-1, 4))
    sd = log_t.std(0)
    # the Laplace approximation is centred at the mode: MC error of a mean of 4000
    # draws is sd / 63, so 5 / 63 sd is > 5 standard errors
    assert np.all(np.abs(log_t.mean(0) - mode) < 0.08 * sd)
    # family-wise: each 99% interval misses with prob 1%, all four cover w.p. ~96%
    low, high = central_interval(np.exp(log_t), 0.99)
    assert np.all((low < TRUE_T.numpy()) & (TRUE_T.numpy() < high)), (low, high)
    assert np.all(high / low < 1.6)  # informative intervals (1500 rows per bin)
    assert np.all(np.abs(mode - np.log(TRUE_T.numpy())) < 3 * sd)


def test_nuts_recovers_known_temperatures_and_matches_laplace():
    log_probs, labels, bins = miscalibrated_data(TRUE_T[:3], 300, seed=3)
    model = partial(temperature_model, log_probs, labels, bins, 3)
    init = {"log_temperature": torch.zeros(3, dtype=torch.float64)}  # T = 1: far from truth
    draws = NUTSRunner(num_samples=300, num_warmup=150, num_chains=2, seed=0).run(
        model, init_values=init)
    temperature = draws.posterior["temperature"].reshape(2, 300, 3)
    low, high = central_interval(temperature, 0.99)
    assert np.all((low < TRUE_T[:3].numpy()) & (TRUE_T[:3].numpy() < high)), (low, high)
    laplace = MAPRunner(laplace=True, num_draws=4000).run(model).posterior["temperature"]
    # posterior sds agree within 25% (the MC error of an sd from ~600 draws is ~5%)
    nuts_sd = np.log(temperature).reshape(-1, 3).std(0)
    laplace_sd = np.log(laplace).reshape(-1, 3).std(0)
    assert nuts_sd == pytest.approx(laplace_sd, rel=0.25)
