"""LEX's Pyro model, selectors, imputations and gradient estimators against exact answers.

Exact references: enumeration over all 2^d masks (small d), closed-form Gaussian
conditionals, scipy densities. Monte Carlo tolerances are 4 standard errors, the standard
error estimated from the draws themselves (a false alarm has probability ~6e-5 per check).
"""

import math

import numpy as np
import pyro
import pytest
import torch
from pyro import poutine
from pyro.infer import TraceGraph_ELBO
from scipy import stats
from torch import nn

from probex.inference.selection_estimators import lex_loss, make_baseline
from probex.models.imputation import (
    ConstantImputation,
    FactorMixtureImputation,
    GaussianMixtureImputation,
    MarginalImputation,
    make_imputation,
)
from probex.models.lex import LEXModel, LogSoftmax, expected_log_likelihood
from probex.models.selectors import (
    ConvSelectorNet,
    KSubset,
    MaskSelector,
    RelaxedKSubset,
    all_masks,
)


def _random_spd(d, seed):
    g = torch.Generator().manual_seed(seed)
    a = torch.randn(d, d, generator=g, dtype=torch.float64)
    return a @ a.T + 0.5 * torch.eye(d, dtype=torch.float64)


def _closed_form_conditional(mu, sigma, x, selected):
    """Textbook conditional N(mu_u + S_us S_ss^-1 (x_s - mu_s), S_uu - S_us S_ss^-1 S_su)."""
    s, u = selected, ~selected
    gain = sigma[np.ix_(u, s)] @ np.linalg.inv(sigma[np.ix_(s, s)])
    return mu[u] + gain @ (x[s] - mu[s]), sigma[np.ix_(u, u)] - gain @ sigma[np.ix_(s, u)]


# ---------------------------------------------------------------------- selectors
@pytest.mark.parametrize("d,k", [(5, 1), (5, 2), (6, 3), (4, 4), (3, 5)])
def test_ksubset_log_prob_sums_to_one_and_gives_inclusion_probabilities(d, k):
    torch.manual_seed(d + k)
    subset = KSubset(torch.randn(3, d), k)
    masks = all_masks(d)
    prob = subset.log_prob(masks[:, None, :]).exp()  # (2^d, 3)
    torch.testing.assert_close(prob.sum(0), torch.ones(3), atol=1e-5, rtol=0)
    torch.testing.assert_close((prob[:, :, None] * masks[:, None, :]).sum(0),
                               subset.inclusion_probabilities, atol=1e-5, rtol=0)
    size = masks.sum(-1)
    assert float(prob[(size == 0) | (size > k)].sum()) == 0.0


def test_ksubset_samples_follow_log_prob():
    torch.manual_seed(0)
    subset = KSubset(torch.tensor([1.0, 0.0, -0.5, 0.3]), 2)
    draws = subset.sample((40_000,))
    codes = (draws * 2 ** torch.arange(4)).sum(-1).long()
    freq = torch.bincount(codes, minlength=16).double() / draws.shape[0]
    exact = subset.log_prob(all_masks(4)).exp().double()
    se = (exact * (1 - exact) / draws.shape[0]).sqrt()
    assert bool(((freq - exact).abs() <= 4 * se + 1e-12).all())


def test_ksubset_with_one_draw_is_the_categorical():
    logits = torch.tensor([[0.2, -1.0, 0.7]])
    one_hot = torch.eye(3)
    torch.testing.assert_close(KSubset(logits, 1).log_prob(one_hot),
                               torch.log_softmax(logits, -1)[0])


def test_relaxed_ksubset_straight_through_is_a_hard_subset_with_relaxed_gradient():
    torch.manual_seed(0)
    logits = torch.randn(8, 6, requires_grad=True)
    z = RelaxedKSubset(logits, 3, temperature=0.5, straight_through=True).rsample((5,))
    assert set(torch.unique(z.detach()).tolist()) <= {0.0, 1.0}
    size = z.detach().sum(-1)
    assert bool(((size >= 1) & (size <= 3)).all())
    (z * torch.arange(6.0)).sum().backward()
    assert logits.grad.abs().sum() > 0 and torch.isfinite(logits.grad).all()
    soft = RelaxedKSubset(logits.detach(), 3, temperature=0.5).rsample((5,))
    assert bool(((soft > 0) & (soft <= 1)).all())


def test_conv_selector_shape_and_translation_equivariance():
    torch.manual_seed(0)
    net = ConvSelectorNet((8, 32))
    left = torch.zeros(1, 8, 32)
    left[0, 2:6, 10:14] = 1.0
    right = torch.roll(left, 8, dims=2)
    out_left = net(left.reshape(1, -1)).reshape(8, 32)
    out_right = net(right.reshape(1, -1)).reshape(8, 32)
    assert net(torch.zeros(3, 8 * 32)).shape == (3, 8 * 32)
    # where no receptive field (about 7 columns each way) reaches a left or right border,
    # an even shift of the input shifts the output
    torch.testing.assert_close(out_left[:, 9:15], out_right[:, 17:23])
    assert not torch.allclose(out_left[:, 9:15], out_left[:, 17:23])


# ---------------------------------------------------------------------- imputations
def test_gaussian_conditional_imputation_matches_closed_form_moments():
    d = 5
    sigma = _random_spd(d, 1)
    mu = torch.linspace(-1, 1, d, dtype=torch.float64)
    imputation = GaussianMixtureImputation(np.ones(1), mu[None], sigma[None])
    x = torch.randn(2, d, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    mask = torch.tensor([[1, 0, 1, 0, 0], [0, 1, 1, 1, 0]], dtype=torch.bool)
    mean, cov = imputation.conditional_moments(x, mask)
    torch.manual_seed(3)
    draws = imputation.sample(x, mask.float(), n_imputations=40_000)
    for b in range(2):
        s = mask[b].numpy()
        ref_mean, ref_cov = _closed_form_conditional(mu.numpy(), sigma.numpy(), x[b].numpy(), s)
        np.testing.assert_allclose(mean[b].numpy()[~s], ref_mean, atol=1e-10)
        np.testing.assert_allclose(cov[b].numpy()[np.ix_(~s, ~s)], ref_cov, atol=1e-10)
        np.testing.assert_array_equal(draws[:, b][:, s].numpy(),
                                      np.broadcast_to(x[b].numpy()[s], (40_000, s.sum())))
        u = draws[:, b][:, ~s].numpy()
        se_mean = np.sqrt(np.diag(ref_cov) / u.shape[0])
        assert np.all(np.abs(u.mean(0) - ref_mean) < 4 * se_mean)
        # sd of a sample variance of normal draws: sqrt(2 / n) times the variance
        se_var = np.sqrt(2.0 / u.shape[0]) * np.diag(ref_cov)
        assert np.all(np.abs(u.var(0) - np.diag(ref_cov)) < 4 * se_var)


def test_factor_imputation_is_the_gaussian_with_low_rank_covariance():
    g = torch.Generator().manual_seed(4)
    d, r = 7, 2
    loadings = torch.randn(d, r, generator=g, dtype=torch.float64)
    psi = torch.rand(d, generator=g, dtype=torch.float64) + 0.1
    mean = torch.randn(d, generator=g, dtype=torch.float64)
    factor = FactorMixtureImputation(np.ones(1), mean, loadings, psi)
    full = GaussianMixtureImputation(np.ones(1), mean[None], factor.covariances)
    x = torch.randn(3, d, generator=g, dtype=torch.float64)
    mask = torch.rand(3, d, generator=g) < 0.5
    for got, ref in zip(factor.conditional_moments(x, mask), full.conditional_moments(x, mask),
                        strict=True):
        torch.testing.assert_close(got, ref, atol=1e-10, rtol=0)
    torch.manual_seed(5)
    draws = factor.sample(x, mask.float(), 40_000)
    ref_mean, ref_cov = full.conditional_moments(x, mask)
    se = (torch.diagonal(ref_cov, dim1=-2, dim2=-1) / 40_000).sqrt()
    assert bool(((draws.mean(0) - ref_mean).abs() <= 4 * se + 1e-12).all())


def test_mixture_responsibilities_and_conditional_mean():
    mus = np.array([[2.0, 0.0, 1.0], [-2.0, 1.0, -1.0]])
    covs = np.stack([_random_spd(3, 6).numpy(), _random_spd(3, 7).numpy()])
    weights = np.array([0.3, 0.7])
    mixture = GaussianMixtureImputation(weights, mus, covs)
    x = torch.tensor([[0.5, 0.2, -0.3]], dtype=torch.float64)
    mask = torch.tensor([[True, False, True]])
    s = mask[0].numpy()
    dens = np.array([stats.multivariate_normal(mus[k][s], covs[k][np.ix_(s, s)]).pdf(
        x[0].numpy()[s]) for k in range(2)])
    ref_resp = weights * dens / (weights * dens).sum()
    np.testing.assert_allclose(mixture.responsibilities(x, mask)[0].numpy(), ref_resp,
                               rtol=1e-10)
    ref_mean = sum(ref_resp[k] * _closed_form_conditional(mus[k], covs[k], x[0].numpy(), s)[0]
                   for k in range(2))
    torch.manual_seed(8)
    draws = mixture.sample(x, mask.float(), 60_000)[:, 0, 1].numpy()
    assert abs(draws.mean() - ref_mean[0]) < 4 * draws.std() / math.sqrt(draws.size)


def test_factor_mixture_conditional_equals_the_full_covariance_mixture():
    g = torch.Generator().manual_seed(9)
    k, d, r = 3, 6, 2
    means = 2 * torch.randn(k, d, generator=g, dtype=torch.float64)
    loadings = torch.randn(k, d, r, generator=g, dtype=torch.float64)
    psi = torch.rand(k, d, generator=g, dtype=torch.float64) + 0.2
    weights = np.array([0.2, 0.5, 0.3])
    factor = FactorMixtureImputation(weights, means, loadings, psi)
    full = GaussianMixtureImputation(weights, means, factor.covariances)
    x = torch.randn(4, d, generator=g, dtype=torch.float64)
    mask = torch.rand(4, d, generator=g) < 0.5
    mask[0] = False  # nothing selected: the responsibilities are the weights
    torch.testing.assert_close(factor.responsibilities(x, mask),
                               full.responsibilities(x, mask), atol=1e-10, rtol=0)
    torch.testing.assert_close(factor.responsibilities(x, mask)[0],
                               torch.as_tensor(weights), atol=1e-12, rtol=0)
    torch.manual_seed(10)
    a = factor.sample(x[1:2], mask[1:2].float(), 60_000)[:, 0]
    b = full.sample(x[1:2], mask[1:2].float(), 60_000)[:, 0]
    se = ((a.var(0) + b.var(0)) / 60_000).sqrt()
    assert bool(((a.mean(0) - b.mean(0)).abs() <= 4 * se + 1e-12).all())
    fitted = make_imputation("factor_mixture", torch.randn(300, d, generator=g),
                             n_components=2, rank=2)
    assert fitted.n_components == 2 and abs(float(fitted.weights.sum()) - 1) < 1e-12


def test_mixture_fit_recovers_sample_moments_for_one_component(rng):
    X = rng.normal(size=(500, 4)) @ rng.normal(size=(4, 4))
    fitted = GaussianMixtureImputation.fit(X, 1, ridge=0.0)
    np.testing.assert_allclose(fitted.means[0].numpy(), X.mean(0), atol=1e-12)
    np.testing.assert_allclose(fitted.covariances[0].numpy(), np.cov(X.T, bias=True),
                               atol=1e-10)
    assert make_imputation("gmm", X, n_components=2).n_components == 2


def test_constant_and_marginal_imputation():
    x = torch.tensor([[1.0, 2.0, 3.0]])
    z = torch.tensor([[1.0, 0.0, 1.0]])
    constant = ConstantImputation([9.0, 8.0, 7.0])
    torch.testing.assert_close(constant.sample(x, z, 5), torch.tensor([[[1.0, 8.0, 3.0]]]))
    rows = torch.tensor([[10.0, 20.0, 30.0], [40.0, 50.0, 60.0]])
    torch.manual_seed(0)
    draws = MarginalImputation(rows).sample(x, z, 200)[:, 0]
    assert set(draws[:, 1].tolist()) == {20.0, 50.0}
    torch.testing.assert_close(draws[:, [0, 2]], x[:, [0, 2]].expand(200, 2))
    with pytest.raises(ValueError, match="unknown imputation"):
        make_imputation("median", rows)


# ---------------------------------------------------------------------- the model
def _small_lex(d=3, sparsity=0.1, imputation=None, family="bernoulli", k=None, seed=0):
    torch.manual_seed(seed)
    selector = MaskSelector(nn.Linear(d, d), family, k)
    predictor = LogSoftmax(nn.Sequential(nn.Linear(d, 4), nn.Tanh(), nn.Linear(4, 2)))
    imputation = imputation or ConstantImputation(torch.full((d,), 0.5))
    return LEXModel(selector, predictor, imputation, sparsity=sparsity)


def test_model_log_likelihood_of_a_mask_and_its_enumerated_marginal():
    lex = _small_lex()
    x = torch.tensor([[0.3, -1.2, 0.8], [1.5, 0.1, -0.4]])
    y = torch.tensor([1, 0])
    masks = all_masks(3)
    joint = []
    for z in masks:
        zz = z.expand(1, 2, 3)
        trace = poutine.trace(poutine.condition(lex.model, {"z": zz})).get_trace(x, y)
        trace.compute_log_prob()
        x_tilde = z * x + (1 - z) * 0.5
        direct = torch.log_softmax(lex.predictor.network(x_tilde), -1)[torch.arange(2), y]
        torch.testing.assert_close(trace.nodes["y"]["log_prob"][0], direct)
        probs = torch.sigmoid(lex.selector.logits(x))
        log_prior = (z * probs.log() + (1 - z) * (-probs).log1p()).sum(-1)
        torch.testing.assert_close(trace.nodes["z"]["log_prob"][0], log_prior)
        torch.testing.assert_close(trace.nodes["sparsity"]["log_prob"], -0.1 * probs.sum(-1))
        joint.append(trace.nodes["z"]["log_prob"][0] + trace.nodes["y"]["log_prob"][0])
    exact = torch.logsumexp(torch.stack(joint), 0)
    torch.testing.assert_close(lex.exact_log_likelihood(x, y), exact)


def test_importance_estimate_converges_to_enumerated_likelihood():
    lex = _small_lex(d=4)
    x = torch.tensor([[0.3, -1.2, 0.8, 0.1]])
    y = torch.tensor([1])
    torch.manual_seed(0)
    with torch.no_grad():
        z = lex.selector.distribution(x).sample((50_000,))  # (S, 1, d)
        lik = expected_log_likelihood(lex.log_predictive(x, z), y).exp()[:, 0]
    estimate, se = float(lik.mean()), float(lik.std() / math.sqrt(lik.numel()))
    exact = float(lex.exact_log_likelihood(x, y).exp()[0])
    assert abs(estimate - exact) < 4 * se


def _gradient(lex, loss):
    params = list(lex.parameters())
    grads = torch.autograd.grad(loss, params, allow_unused=True)
    return torch.cat([torch.zeros(p.numel()) if g is None else g.reshape(-1)
                      for p, g in zip(params, grads, strict=True)])


@pytest.mark.parametrize("baseline,n_masks", [("loo", 4), ("none", 1)])
def test_reinforce_gradient_is_unbiased_for_the_enumerated_objective(baseline, n_masks):
    lex = _small_lex(d=3, sparsity=0.2)
    x = torch.tensor([[0.3, -1.2, 0.8], [1.5, 0.1, -0.4]])
    y = torch.tensor([1, 0])
    exact = _gradient(lex, -lex.exact_objective(x, y).mean())
    control = make_baseline(baseline, 3, 2)
    torch.manual_seed(0)
    draws = torch.stack([_gradient(lex, lex_loss(lex, x, y, n_masks, "reinforce", control)[0])
                         for _ in range(400)])
    se = draws.std(0) / math.sqrt(draws.shape[0])
    assert bool(((draws.mean(0) - exact).abs() <= 4 * se + 1e-6).all())
    # power: the selector's exact gradient is far outside the Monte Carlo error
    assert float((draws.mean(0) - exact).abs().max()) < 0.25 * float(exact.abs().max())


def test_ksubset_reinforce_gradient_is_unbiased():
    lex = _small_lex(d=4, family="subset", k=2)
    x = torch.tensor([[0.3, -1.2, 0.8, 0.1]])
    y = torch.tensor([1])
    exact = _gradient(lex, -lex.exact_objective(x, y).mean())
    torch.manual_seed(1)
    control = make_baseline("loo", 4, 2)
    draws = torch.stack([_gradient(lex, lex_loss(lex, x, y, 4, "reinforce", control)[0])
                         for _ in range(300)])
    se = draws.std(0) / math.sqrt(draws.shape[0])
    assert bool(((draws.mean(0) - exact).abs() <= 4 * se + 1e-6).all())


def test_reinforce_surrogate_equals_pyro_tracegraph_elbo():
    """Without a baseline the surrogate is Pyro's TraceGraph_ELBO on the same draws
    (TraceGraph sums over the data plate, we average)."""
    lex = _small_lex(d=3, sparsity=0.2, imputation=MarginalImputation(torch.randn(20, 3)))
    x = torch.tensor([[0.3, -1.2, 0.8], [1.5, 0.1, -0.4], [0.0, 0.4, 2.0]])
    y = torch.tensor([1, 0, 1])
    pyro.set_rng_seed(11)
    ours = _gradient(lex, lex_loss(lex, x, y, 1, "reinforce", make_baseline("none", 3, 2))[0])
    pyro.set_rng_seed(11)
    for p in lex.parameters():
        p.grad = None
    TraceGraph_ELBO().loss_and_grads(lex.model, lex.guide, x, y)
    theirs = torch.cat([p.grad.reshape(-1) for p in lex.parameters()]) / x.shape[0]
    torch.testing.assert_close(ours, theirs)


def test_straight_through_rewards_are_exact_bernoulli_draws():
    """Straight-through masks are hard Bernoulli(pi) draws in the forward pass, so their mean
    reward is the enumerated objective (only the gradient is relaxed)."""
    lex = _small_lex(d=3, sparsity=0.0)
    lex.relaxed = True
    x = torch.tensor([[0.3, -1.2, 0.8]])
    y = torch.tensor([1])
    torch.manual_seed(2)
    with torch.no_grad():
        z = lex.selector.distribution(x, relaxed=True, temperature=0.5).rsample((40_000,))
        reward = expected_log_likelihood(lex.log_predictive(x, z), y)[:, 0]
    assert set(torch.unique(z).tolist()) == {0.0, 1.0}
    exact = float(lex.exact_objective(x, y)[0])
    assert abs(float(reward.mean()) - exact) < 4 * float(reward.std()) / math.sqrt(40_000)
    loss, _ = lex_loss(lex, x, y, 2, "relaxed")
    loss.backward()
    assert lex.selector.network.weight.grad.abs().sum() > 0


def test_estimator_must_match_the_model():
    lex = _small_lex()
    with pytest.raises(ValueError, match="does not match"):
        lex_loss(lex, torch.zeros(2, 3), torch.tensor([0, 1]), 2, "relaxed")
    with pytest.raises(ValueError, match="n_masks >= 2"):
        lex_loss(lex, torch.zeros(2, 3), torch.tensor([0, 1]), 1, "reinforce",
                 make_baseline("loo", 3, 2))


def test_soft_targets_weight_the_class_log_likelihoods():
    lex = _small_lex()
    x = torch.tensor([[0.3, -1.2, 0.8]])
    z = torch.tensor([[1.0, 0.0, 1.0]])
    log_p = lex.log_predictive(x, z)
    t = torch.tensor([[0.25, 0.75]])
    torch.testing.assert_close(expected_log_likelihood(log_p, t),
                               0.25 * log_p[..., 0] + 0.75 * log_p[..., 1])


# ---------------------------------------------------------------------- mask units
def test_unit_masks_draw_one_value_per_unit_with_an_unbiased_gradient():
    """Units {0, 2} and {1, 3}: the logits are the unit means, every draw keeps or drops a
    unit whole, and REINFORCE's gradient matches the exact objective enumerated over the
    2^2 unit masks (sparsity charged per feature) within 4 standard errors."""
    from probex.perturb import FeatureGroups

    units = FeatureGroups([[0, 2], [1, 3]], 4)
    torch.manual_seed(0)
    selector = MaskSelector(nn.Linear(4, 4), units=units, unit_draws="unit")
    predictor = LogSoftmax(nn.Sequential(nn.Linear(4, 4), nn.Tanh(), nn.Linear(4, 2)))
    lex = LEXModel(selector, predictor, ConstantImputation(torch.full((4,), 0.5)),
                   sparsity=0.2)
    x = torch.tensor([[0.3, -1.2, 0.8, 0.1], [1.5, 0.1, -0.4, -0.9]])
    y = torch.tensor([1, 0])
    raw, logits = selector.network(x), selector.logits(x)
    torch.testing.assert_close(logits[:, [0, 2]], ((raw[:, 0] + raw[:, 2]) / 2)[:, None]
                               .expand(2, 2))
    torch.testing.assert_close(logits[:, [1, 3]], ((raw[:, 1] + raw[:, 3]) / 2)[:, None]
                               .expand(2, 2))
    with torch.no_grad():
        draws = selector.distribution(x).sample((4000,))  # (S, n, 4)
    assert torch.equal(draws[..., 0], draws[..., 2]) and torch.equal(draws[..., 1], draws[..., 3])
    p = torch.sigmoid(logits.detach())
    se = torch.sqrt(p * (1 - p) / 4000)
    assert bool(((draws.mean(0) - p).abs() <= 4 * se).all())
    one = draws[0]
    unit_log_prob = selector.distribution(x).log_prob(one)  # (n,)
    expected = (one[:, [0, 1]] * p[:, [0, 1]].log()
                + (1 - one[:, [0, 1]]) * (-p[:, [0, 1]]).log1p()).sum(-1)
    torch.testing.assert_close(unit_log_prob, expected)

    def exact_objective():
        pi = torch.sigmoid(selector.logits(x))[:, [0, 1]]  # (n, G): one value per unit
        total = torch.zeros(2)
        for u in all_masks(2):
            q = (u * pi + (1 - u) * (1 - pi)).prod(-1)
            z = u[units.ids].expand(2, 4)
            total = total + q * expected_log_likelihood(lex.log_predictive(x, z), y)
        return total - lex.penalty(x)  # 0.2 per expected selected feature

    exact = _gradient(lex, -exact_objective().mean())
    torch.testing.assert_close(lex.penalty(x), 0.2 * torch.sigmoid(logits).sum(-1))
    control = make_baseline("loo", 4, 2)
    torch.manual_seed(1)
    estimates = torch.stack([_gradient(lex, lex_loss(lex, x, y, 4, "reinforce", control)[0])
                             for _ in range(400)])
    se = estimates.std(0) / math.sqrt(estimates.shape[0])
    assert bool(((estimates.mean(0) - exact).abs() <= 4 * se + 1e-6).all())
    assert float((estimates.mean(0) - exact).abs().max()) < 0.25 * float(exact.abs().max())


def test_initial_inclusion_starts_the_selector_near_it_and_options_are_checked():
    from probex.models.lex_config import LEXConfig, build_lex_model
    from probex.perturb import FeatureGroups

    X = torch.randn(200, 16, generator=torch.Generator().manual_seed(0))
    torch.manual_seed(0)
    config = LEXConfig(initial_inclusion=0.1, imputation="zero", n_imputations=1,
                       mask_units=FeatureGroups.image_patches(4, 4, 2))
    lex = build_lex_model(config, X, 2, black_box=None)
    with torch.no_grad():
        pi = lex.selector.inclusion_probabilities(X)
    assert abs(float(pi.mean()) - 0.1) < 0.01 and float((pi - 0.1).abs().max()) < 0.05
    assert lex.selector.units.n_groups == 4
    # the default draws: every feature with its unit's probability (not whole units)
    with torch.no_grad():
        draws = lex.selector.distribution(X[:1]).sample((2000,))[:, 0]  # (S, d)
    ids = lex.selector.units.ids
    assert float((draws[:, ids == 0].std(1) > 0).float().mean()) > 0.1  # mixed units
    freq, p = draws.mean(0), pi[0]
    assert bool(((freq - p).abs() <= 4 * torch.sqrt(p * (1 - p) / 2000)).all())
    with pytest.raises(ValueError, match="unknown unit_draws='patch'"):
        LEXConfig(unit_draws="patch")
    with pytest.raises(ValueError, match="initial_inclusion must be in"):
        LEXConfig(initial_inclusion=1.0)
    with pytest.raises(ValueError, match="apply to the Bernoulli selector"):
        LEXConfig(selector="subset", k=2, mask_units=[[0, 1], [2, 3]])
    with pytest.raises(ValueError, match="mask_units cover 9 features, X has 16"):
        build_lex_model(LEXConfig(mask_units=FeatureGroups(None, 9)), X, 2)
