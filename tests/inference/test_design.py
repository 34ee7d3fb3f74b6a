"""Expected information gain and greedy batches on the centred Bayesian linear surrogate,
checked against Pyro's nested Monte Carlo EIG and against posteriors recomputed from data."""

import math

import numpy as np
import pyro
import pyro.distributions as dist
import pytest
import torch
from pyro.contrib.oed.eig import nmc_eig
from scipy import stats

from probex.inference import design, greedy_design, information_gain
from probex.inference.design import (
    credible_region_diameter,
    design_information_gain,
    design_radius,
    information_gain_bound,
    perturbations_to_goal,
)
from probex.inference.exact import NormalInverseGammaPosterior
from probex.inference.greedy_design import DesignState, OnlineSurrogatePosterior, greedy_batch
from probex.inference.information_gain import (
    effective_weight,
    expected_information_gain,
    nig_expected_information_gain,
    nig_information_offset,
)
from probex.models.surrogate import center
from probex.perturb import lime_kernel

D64 = torch.float64


def _posterior(z, w, y, scale=1.0, shape=1.0, rate=1e-3):
    """Centred data and the conjugate posterior (single instance) of a design."""
    data = center(z, y, w)
    prior = NormalInverseGammaPosterior.prior(z.shape[-1], scale=scale, shape=shape, rate=rate,
                                              batch_shape=(1,))
    return data, prior.update(data.design, data.response, data.weights, n_marginalized=1)


def _single(posterior):
    return NormalInverseGammaPosterior(posterior.mean[0], posterior.precision[0],
                                       posterior.shape[0], posterior.rate[0])


@pytest.fixture(scope="module")
def small_design():
    """Five weighted rows in d = 3 (W ~ 3, so a new row's weight is far from w W / (W + w)
    = w), a NIG posterior with a = 4, and three candidates of moderate EIG."""
    g = torch.Generator().manual_seed(3)
    z = torch.randn(5, 3, generator=g, dtype=D64)
    w = torch.tensor([0.9, 0.4, 0.7, 0.6, 0.5], dtype=D64)
    y = torch.randn(5, generator=g, dtype=D64)
    data, post = _posterior(z, w, y, shape=2.0, rate=0.5)
    candidates = torch.tensor([[1.5, -0.5, 0.3], [-0.8, 1.2, -1.0], [0.2, 0.1, 2.0]], dtype=D64)
    cand_w = torch.tensor([1.5, 0.8, 0.3], dtype=D64)
    return data, _single(post), candidates, cand_w


def _nmc(model, candidates, replicates=8):
    """Mean and standard error of ``replicates`` independent nmc_eig runs."""
    runs = []
    for r in range(replicates):
        pyro.set_rng_seed(100 + r)
        runs.append(nmc_eig(model, candidates, ["y"], ["phi"], N=1000, M=400, M_prime=100))
    runs = torch.stack(runs)
    return runs.mean(0), runs.std(0) / math.sqrt(replicates)


@pytest.mark.parametrize("noise", ["known", "unknown"])
def test_closed_form_eig_matches_pyro_nested_monte_carlo(small_design, noise):
    """The generative model keeps the intercept b explicit (b | phi, sigma^2, data ~
    N(y_bar - phi.z_bar, sigma^2 / W)), so the check covers the centring. With sigma^2
    unknown, sigma^2 | phi ~ InvGamma(a + d/2, b + q/2) is sampled after phi, which is
    what nmc_eig's nuisance resampling (M_prime) needs."""
    data, post, cand, cand_w = small_design
    d = post.mean.shape[-1]
    m, lam, a, b = post.mean, post.precision, float(post.shape), float(post.rate)
    scale_tril = torch.linalg.cholesky(post.covariance_unit)
    z_bar, W, y_bar = data.z_mean[0], float(data.weight_sum[0]), float(data.y_mean[0])

    def model(design):
        batch = design.shape[:-1]
        if noise == "known":
            phi = pyro.sample("phi", dist.MultivariateNormal(m.expand(*batch, d),
                                                             scale_tril=scale_tril))
            variance = torch.ones(batch, dtype=D64)
        else:
            phi = pyro.sample("phi", dist.MultivariateStudentT(
                torch.tensor(2 * a, dtype=D64), m.expand(*batch, d), scale_tril * math.sqrt(b / a)))
            q = ((phi - m) @ lam * (phi - m)).sum(-1)
            variance = pyro.sample("sigma2", dist.InverseGamma(
                torch.full(batch, a + d / 2, dtype=D64), b + q / 2))
        intercept = pyro.sample("b", dist.Normal(y_bar - (phi * z_bar).sum(-1),
                                                 (variance / W).sqrt()))
        return pyro.sample("y", dist.Normal(intercept + (phi * design).sum(-1),
                                            (variance / cand_w).sqrt()))

    if noise == "known":
        closed = expected_information_gain(post.covariance_unit, cand, cand_w, 1.0, z_bar, W)
    else:
        closed = nig_expected_information_gain(post, cand, cand_w, z_bar, W)
    estimate, se = _nmc(model, cand)
    # 8 replicates: |t_7| > 4 has probability 0.5%; NMC's O(1/M) bias is < 0.005 here
    assert torch.all((estimate - closed).abs() < 4 * se + 0.005), (estimate, closed, se)
    # the same tolerance rejects the formula without the intercept (u = z, w_eff = w)
    naive = expected_information_gain(post.covariance_unit, cand, cand_w)
    assert torch.any((estimate - naive).abs() > 4 * se + 0.005)


def test_nig_offset_is_a_positive_information_that_vanishes_with_data():
    d = 10
    offsets = nig_information_offset(torch.tensor([1.0, 2.0, 10.0, 100.0, 1000.0]), d)
    assert torch.all(offsets > 0) and torch.all(offsets[1:] < offsets[:-1])
    # O(d / a^2): 100 times less per 10-fold increase of a, within 20%
    ratio = offsets[3] / offsets[4]
    assert 80 < ratio < 120


def test_greedy_batch_equals_exact_log_det_gain_of_the_recentred_design():
    """The batch's summed gains equal 1/2 log det(Lambda_after / Lambda_before) with
    Lambda_after recomputed by NormalInverseGammaPosterior.update on the re-centred,
    enlarged design; the rank-one state matches that posterior."""
    g = torch.Generator().manual_seed(0)
    d, n, b = 6, 20, 40
    z = torch.randn(n, d, generator=g, dtype=D64)
    w = torch.rand(n, generator=g, dtype=D64) + 0.3
    y = torch.randn(n, generator=g, dtype=D64)
    data, post = _posterior(z, w, y)
    pool = 1.3 * torch.randn(500, d, generator=g, dtype=D64)
    pool_w = lime_kernel(pool.norm(dim=-1), 0.75 * math.sqrt(d))
    state = DesignState.of(post, data.z_mean, data.weight_sum)
    selection = greedy_batch(pool, pool_w, state, b)
    z2, w2 = torch.cat([z, pool[selection.index]]), torch.cat([w, pool_w[selection.index]])
    y2 = torch.cat([y, torch.randn(b, generator=g, dtype=D64)])
    data2, post2 = _posterior(z2, w2, y2)
    exact = 0.5 * (torch.logdet(post2.precision[0]) - torch.logdet(post.precision[0]))
    assert selection.total_gain == pytest.approx(float(exact), rel=1e-10)
    torch.testing.assert_close(selection.state.covariance_unit, post2.covariance_unit[0],
                               rtol=1e-9, atol=1e-12)
    torch.testing.assert_close(selection.state.z_mean, data2.z_mean[0])
    assert float(selection.state.weight_sum) == pytest.approx(float(data2.weight_sum[0]))
    assert float(selection.state.shape) == pytest.approx(float(post2.shape[0]))
    # sigma^2 unknown: plus K(a + j/2, d) for the j-th pick (independent of the answers)
    offsets = nig_information_offset(post.shape[0] + 0.5 * torch.arange(b), d)
    assert selection.total_nig_gain == pytest.approx(float(exact + offsets.sum()), rel=1e-10)
    # ... and the same design's gain from scratch
    assert float(design_information_gain(z2, w2) - design_information_gain(z, w)) == (
        pytest.approx(float(exact), rel=1e-10))
    # with a fixed centre (no intercept) the gain would be different: the check has teeth
    fixed = post.precision[0] + (pool[selection.index] - data.z_mean[0]).T @ (
        pool_w[selection.index].unsqueeze(-1) * (pool[selection.index] - data.z_mean[0]))
    assert abs(0.5 * float(torch.logdet(fixed) - torch.logdet(post.precision[0]))
               - selection.total_gain) > 1e-3


def test_every_greedy_pick_is_the_best_by_brute_force():
    """Each pick maximises the exact log-det gain over the remaining pool (recomputed from
    scratch for every candidate), so the rank-one updates lose nothing."""
    g = torch.Generator().manual_seed(1)
    d = 4
    z = torch.randn(6, d, generator=g, dtype=D64)
    w = torch.rand(6, generator=g, dtype=D64) + 0.2
    pool = torch.randn(40, d, generator=g, dtype=D64) * 1.5
    pool_w = torch.rand(40, generator=g, dtype=D64) * 2
    data, post = _posterior(z, w, torch.zeros(6, dtype=D64))
    selection = greedy_batch(pool, pool_w, DesignState.of(post, data.z_mean, data.weight_sum), 6)
    chosen = []
    for pick, gain in zip(selection.index.tolist(), selection.gains.tolist(), strict=True):
        base = design_information_gain(torch.cat([z, pool[chosen]]), torch.cat([w, pool_w[chosen]]))
        exact = [float(design_information_gain(torch.cat([z, pool[chosen + [k]]]),
                                               torch.cat([w, pool_w[chosen + [k]]])) - base)
                 if k not in chosen else -math.inf for k in range(40)]
        assert pick == int(np.argmax(exact))
        assert gain == pytest.approx(max(exact), rel=1e-9)
        chosen.append(pick)
    assert len(set(chosen)) == 6


def test_a_batch_is_not_copies_of_the_best_point():
    g = torch.Generator().manual_seed(2)
    d = 5
    z = torch.randn(12, d, generator=g, dtype=D64)
    w = torch.ones(12, dtype=D64)
    data, post = _posterior(z, w, torch.zeros(12, dtype=D64))
    pool = torch.randn(300, d, generator=g, dtype=D64)
    pool_w = torch.ones(300, dtype=D64)
    state = DesignState.of(post, data.z_mean, data.weight_sum)
    selection = greedy_batch(pool, pool_w, state, 10)
    single = expected_information_gain(state.covariance_unit, pool, pool_w, 1.0, state.z_mean,
                                       state.weight_sum)
    assert int(selection.index[0]) == int(single.argmax())
    best = pool[int(single.argmax())].expand(10, d)
    copies = design_information_gain(torch.cat([z, best]), torch.ones(22, dtype=D64))
    assert selection.total_gain > 1.5 * float(copies - design_information_gain(z, w))
    # the selected points spread over directions: no two are nearly parallel
    u = pool[selection.index] - data.z_mean[0]
    cosine = (u / u.norm(dim=-1, keepdim=True)) @ (u / u.norm(dim=-1, keepdim=True)).T
    assert float((cosine - torch.eye(10, dtype=D64)).abs().max()) < 0.95


def _random_design(kind, n, d, g):
    if kind == "gaussian-lime":
        z = torch.randn(n, d, generator=g, dtype=D64)
        return z, lime_kernel(z.norm(dim=-1), 0.75 * math.sqrt(d)), None
    if kind == "mask-lime":
        z = torch.bernoulli(torch.full((n, d), 0.5, dtype=D64), generator=g)
        return z, lime_kernel((1 - z).norm(dim=-1), 0.75 * math.sqrt(d)), torch.ones(d, dtype=D64)
    z = 2.0 * torch.randn(n, d, generator=g, dtype=D64)  # arbitrary weights in (0, 3)
    return z, 3 * torch.rand(n, generator=g, dtype=D64) + 1e-3, None


@pytest.mark.parametrize("kind", ["gaussian-lime", "mask-lime", "arbitrary"])
@pytest.mark.parametrize("d", [5, 30])
def test_cumulative_information_gain_never_exceeds_the_bound(kind, d):
    """(d/2) log(1 + t R_t^2 / (d sigma^2)) >= gain after t rows for every t, with R_t the
    running max of sqrt(w) ||z - c|| (c the instance) and sigma^2 = 1 / prior_scale^2."""
    g = torch.Generator().manual_seed(d)
    z, w, c = _random_design(kind, 400, d, g)
    for prior_scale in (1.0, 0.3):
        gain = design_information_gain(z, w, prior_scale, cumulative=True)
        radius = design_radius(z, w, c, cumulative=True)
        t = torch.arange(1, len(z) + 1)
        bound = information_gain_bound(t, d, radius, 1.0 / prior_scale**2)
        assert torch.all(gain <= bound + 1e-9)
        # not vacuous: with half the radius it fails for large t
        assert torch.any(gain > information_gain_bound(t, d, radius / 2, 1.0 / prior_scale**2))
    if kind != "arbitrary":  # the LIME kernel caps sqrt(w) r at width sqrt(2 / e)
        assert float(radius[-1]) <= 0.75 * math.sqrt(d) * math.sqrt(2 / math.e) + 1e-12


def test_effective_weight_and_validation():
    w = torch.tensor([1.0, 2.0], dtype=D64)
    torch.testing.assert_close(effective_weight(w, 2.0), torch.tensor([2 / 3, 1.0], dtype=D64))
    torch.testing.assert_close(effective_weight(w, 0.0), torch.zeros(2, dtype=D64))
    torch.testing.assert_close(effective_weight(w, None), w)
    cov = torch.eye(3, dtype=D64)
    with pytest.raises(ValueError, match="both z_mean and weight_sum"):
        expected_information_gain(cov, torch.ones(2, 3, dtype=D64), w, z_mean=torch.zeros(3))
    with pytest.raises(ValueError, match="expected z"):
        expected_information_gain(cov, torch.ones(2, 4, dtype=D64), w)
    state = DesignState(cov, torch.zeros(3, dtype=D64), torch.tensor(1.0, dtype=D64),
                        torch.tensor(2.0, dtype=D64))
    with pytest.raises(ValueError, match="batch_size"):
        greedy_batch(torch.ones(2, 3, dtype=D64), w, state, 3)
    empty = DesignState(cov, torch.zeros(3, dtype=D64), torch.tensor(0.0, dtype=D64),
                        torch.tensor(2.0, dtype=D64))
    with pytest.raises(ValueError, match="weight_sum > 0"):
        greedy_batch(torch.ones(2, 3, dtype=D64), w, empty, 1)
    with pytest.raises(ValueError, match="target_width"):
        perturbations_to_goal(cov, 10, 1.0, 0.0)


def test_credible_region_has_its_probability_under_posterior_draws():
    g = torch.Generator().manual_seed(4)
    d = 4
    z = torch.randn(30, d, generator=g, dtype=D64)
    y = z @ torch.tensor([1.0, -0.5, 0.2, 0.0], dtype=D64) + 0.3 * torch.randn(30, generator=g,
                                                                                 dtype=D64)
    _, post = _posterior(z, torch.ones(30, dtype=D64), y)
    single = _single(post)
    prob = 0.9
    diameter = float(credible_region_diameter(single, prob))
    _, draws = single.sample(20000, seed=0)
    dev = draws - single.mean
    q = (dev @ single.precision * dev).sum(-1) / float(single.rate / single.shape)
    inside = float((q <= d * stats.f.ppf(prob, d, float(single.df))).double().mean())
    # 20000 draws: binomial sd sqrt(0.9 * 0.1 / 20000) = 0.002
    assert inside == pytest.approx(prob, abs=0.008)
    # the region's widest extent along the least-informed axis is the diameter
    lam_min, vec = torch.linalg.eigh(single.precision)
    along = (dev[(q <= d * stats.f.ppf(prob, d, float(single.df)))] @ vec[:, 0]).abs().max()
    assert 2 * float(along) <= diameter and 2 * float(along) > 0.8 * diameter


def test_online_posterior_equals_the_batch_posterior_of_the_centred_rows():
    g = torch.Generator().manual_seed(5)
    d = 4
    z = torch.bernoulli(torch.full((90, d), 0.5, dtype=D64), generator=g)  # masks: z_bar != 0
    w = torch.rand(90, generator=g, dtype=D64) + 0.1
    y = 0.8 + 0.05 * torch.randn(90, generator=g, dtype=D64)  # probabilities near 0.8
    online = OnlineSurrogatePosterior(d, scale=0.5, shape=2.0, rate=0.01)
    for rows in (slice(0, 7), slice(7, 40), slice(40, 90)):
        online.add(z[rows], y[rows], w[rows])
        data, exact = _posterior(z[: rows.stop], w[: rows.stop], y[: rows.stop], scale=0.5,
                                 shape=2.0, rate=0.01)
        got = online.posterior()
        for name in ("mean", "precision", "shape", "rate"):
            torch.testing.assert_close(getattr(got, name), getattr(exact, name), rtol=1e-9,
                                       atol=1e-12)
        torch.testing.assert_close(online.z_mean, data.z_mean[0])
    with pytest.raises(ValueError, match="positive"):
        online.add(z[:2], y[:2], torch.zeros(2, dtype=D64))


def test_every_name_is_still_importable_from_the_design_module():
    homes = {**vars(information_gain), **vars(greedy_design)}
    moved = set(information_gain.__all__) | set(greedy_design.__all__)
    assert moved <= set(design.__all__)
    for name in moved:
        assert getattr(design, name) is homes[name], name
