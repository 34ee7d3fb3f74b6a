"""C-LIME: exactness on linear models, the least-squares estimator behind the posterior,
the prior's negligible shrinkage, agreement with SmoothGrad (Agarwal et al., Theorem 1)
at the n^(-1/2) rate, the finite-sample bound and the finite-sample Lipschitz bound."""

import numpy as np
import pytest
import torch
from sklearn.linear_model import LogisticRegression

import probex as px
from probex.explainers.clime import clime_deviation_bound, clime_prior
from probex.explainers.smoothgrad import logistic_smoothgrad
from probex.inference import SVIRunner
from probex.priors import NormalInverseGamma

D = 5
W = np.array([0.5, -1.0, 0.25, 0.0, 1.5])
BIAS = 0.3
X0 = np.array([0.2, 0.1, -0.3, 0.5, -0.1])


def logistic_blackbox():
    w = torch.as_tensor(W)
    return px.BlackBox(lambda t: t @ w + BIAS, output="logits", input_type="torch",
                       n_features=D)


def least_squares(z, y):
    """Slope of the ordinary least-squares fit of y on z with an intercept, and the
    heteroscedasticity-robust (sandwich) standard errors of the slope."""
    zc, yc = z - z.mean(0), y - y.mean()
    gram = zc.T @ zc
    slope = np.linalg.solve(gram, zc.T @ yc)
    residual = yc - zc @ slope
    inverse = np.linalg.inv(gram)
    sandwich = inverse @ (zc.T * residual**2) @ zc @ inverse
    return slope, np.sqrt(np.diag(sandwich))


def shrinkage_bound(z, sigma):
    """Relative shrinkage of the default prior's ridge penalty (sigma / 10)^2 against the
    smallest eigenvalue of the centred Gram matrix: ||m - ols|| <= bound * ||ols||."""
    zc = z - z.mean(0)
    return (sigma / 10) ** 2 / np.linalg.eigvalsh(zc.T @ zc)[0]


def test_linear_model_gives_its_weights_up_to_the_negligible_prior_shrinkage():
    """f = c + w.a is fitted exactly by least squares (no Monte Carlo error); the only
    deviation is the prior's ridge, bounded by shrinkage_bound (~2e-5 here)."""
    bb = px.BlackBox(lambda a: 2.0 + a @ W, task="regression", n_features=D)
    e = px.CLIME(bb, estimator="least_squares", sigma=0.1, seed=0).explain(X0, n_samples=1000)
    tolerance = shrinkage_bound(e.idata.constant_data["z"].values, 0.1) * np.linalg.norm(W)
    assert tolerance < 1e-4
    assert np.linalg.norm(e.mean - W) <= tolerance
    assert np.all(e.sd < 1e-3)
    assert e.method == "C-LIME" and e.inference == "exact" and e.n_queries == 1001
    assert float(e.idata.constant_data["prediction"]) == pytest.approx(2.0 + X0 @ W)


def test_posterior_mean_is_the_least_squares_slope_on_smoothgrads_perturbations():
    bb = logistic_blackbox()
    e = px.CLIME(bb, estimator="least_squares", sigma=0.1, seed=7).explain(X0, n_samples=400)
    const = e.idata.constant_data
    z, y = const["z"].values, e.idata.observed_data["response"].values
    assert np.all(const["weights"].values == 1.0)  # no locality kernel, no anchor row
    assert not np.any(np.all(z == 0, axis=1))
    np.testing.assert_allclose(y, bb(X0 + z).numpy())  # z = a - x in raw input units
    slope, _ = least_squares(z, y)
    bound = shrinkage_bound(z, 0.1)
    assert np.linalg.norm(e.mean - slope) <= bound * np.linalg.norm(slope) * 1.0001
    # the same seed and sigma give SmoothGrad the very same perturbations
    sg = px.SmoothGrad(bb, estimator="gaussian", sigma=0.1, seed=7).explain(X0, n_samples=400)
    np.testing.assert_array_equal(sg.idata.constant_data["z"].values, z)
    # the package default prior N(0, s^2 I) is a ridge alpha = 1 against n sigma^2 = 4
    # units of information: it would shrink by ~20%, which is why C-LIME rescales it
    ridge = px.CLIME(bb, estimator="least_squares",
                     sigma=0.1, seed=7, prior=NormalInverseGamma()).explain(X0,
                                                                                n_samples=400)
    assert np.linalg.norm(ridge.mean - slope) > 0.1 * np.linalg.norm(slope)
    assert repr(clime_prior(0.1)) in e.attrs["prior"]


def test_logistic_model_matches_the_exact_smoothed_gradient_within_mc_error():
    """Theorem 1: the slope estimates E[grad f]. Tolerance: 5 sandwich standard errors
    (the least-squares slope is asymptotically normal with that covariance)."""
    phi = logistic_smoothgrad(W, BIAS, X0, sigma=0.5)
    e = px.CLIME(logistic_blackbox(), estimator="least_squares",
                 sigma=0.5, seed=1).explain(X0, n_samples=5000)
    z, y = e.idata.constant_data["z"].values, e.idata.observed_data["response"].values
    _, robust_se = least_squares(z, y)
    assert np.all(np.abs(e.mean - phi) < 5 * robust_se)
    # the same holds for a scikit-learn model, which has no gradients at all
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, D))
    sk = LogisticRegression(C=1.0).fit(X, (X @ W + rng.logistic(size=300)) > 0)
    w_sk, b_sk = sk.coef_[0], sk.intercept_[0]
    e = px.CLIME(px.BlackBox(sk), estimator="least_squares",
                 sigma=0.5, seed=2).explain(X0, n_samples=5000)
    _, robust_se = least_squares(e.idata.constant_data["z"].values,
                                 e.idata.observed_data["response"].values)
    phi = logistic_smoothgrad(w_sk, b_sk, X0, sigma=0.5)
    assert np.all(np.abs(e.mean - phi) < 5 * robust_se)


def test_smoothgrad_and_clime_converge_to_each_other_at_the_root_n_rate():
    """||SmoothGrad - C-LIME|| for a smooth nonlinear network: the average over 4 seeded
    repetitions at n = 40,000 is at most half of that at n = 2,500 (n^(-1/2) predicts 1/4)."""
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(D, 16), torch.nn.Tanh(), torch.nn.Linear(16, 16),
                              torch.nn.Tanh(), torch.nn.Linear(16, 2))
    bb = px.BlackBox(net)
    X = np.tile(X0, (4, 1))
    distance = {}
    for n in (2_500, 40_000):
        sg = px.SmoothGrad(bb, estimator="gaussian", sigma=0.5, seed=11).explain(X, n_samples=n)
        cl = px.CLIME(bb, estimator="least_squares",
                      sigma=0.5, seed=11, num_draws=100).explain(X, n_samples=n)
        distance[n] = np.linalg.norm(sg.mean - cl.mean, axis=1).mean()
    assert distance[40_000] <= 0.5 * distance[2_500]
    # and the gap is of the size the two Monte Carlo errors predict, not a bias
    assert distance[40_000] < 5 * np.linalg.norm(np.hypot(sg.sd, cl.sd), axis=1).mean()


def test_deviation_frequency_stays_under_the_finite_sample_bound():
    """The bound of clime_deviation_bound (Davidson-Szarek, sub-Gaussian, chi-square and
    product-normal tails) is ~0.2 here; over 100 seeded repetitions the frequency of
    ||beta_n - phi||_inf >= eps must stay below it (a biased fit would deviate always)."""
    eps, n, sigma = 0.25, 10_000, 0.5
    bound = clime_deviation_bound(n, D, eps, sigma)
    assert 0.05 < bound < 0.5
    assert clime_deviation_bound(n, D, eps / 4, sigma) == 1.0      # vacuous at small eps
    assert clime_deviation_bound(n, D, eps, sigma, norm="2") >= bound
    phi = logistic_smoothgrad(W, BIAS, X0, sigma=sigma)
    e = px.CLIME(logistic_blackbox(), estimator="least_squares", sigma=sigma, seed=3, num_draws=50,
                 num_chains=1).explain(np.tile(X0, (100, 1)), n_samples=n)
    assert np.mean(np.abs(e.mean - phi).max(1) >= eps) <= bound


def test_finite_sample_explanations_are_lipschitz_pathwise():
    """With common perturbations, beta(x) - beta(x') = (Z'Z + aI)^-1 Z'(y - y'), whose
    norm is <= ||y - y'|| / s_min(Z) <= sqrt(n) G ||x - x'|| / s_min(Z) for every draw."""
    bb = logistic_blackbox()
    explainer = px.CLIME(bb, estimator="least_squares",
                         sigma=0.3, seed=5, num_draws=10, num_chains=1)
    rng = np.random.default_rng(1)
    base = explainer.explain(X0, n_samples=500)
    z = base.idata.constant_data["z"].values
    s_min = np.linalg.svd(z - z.mean(0), compute_uv=False)[-1]
    constant = np.sqrt(500) * (np.linalg.norm(W) / 4) / s_min
    ratios = []
    for _ in range(20):
        dx = rng.normal(size=D) * rng.uniform(0.01, 1.0)
        moved = explainer.explain(X0 + dx, n_samples=500)
        ratios.append(np.linalg.norm(moved.mean - base.mean) / np.linalg.norm(dx))
    assert max(ratios) <= constant
    assert max(ratios) > 0.02 * constant


def test_prior_and_inference_options_and_errors():
    bb = logistic_blackbox()
    exact = px.CLIME(bb, estimator="least_squares", sigma=0.5, seed=0).explain(X0, n_samples=300)
    svi = px.CLIME(bb, estimator="least_squares", sigma=0.5, seed=0, prior="laplace",
                   inference=SVIRunner(num_steps=300, num_draws=200)).explain(X0, n_samples=300)
    assert svi.inference == "svi" and "Laplace" in svi.attrs["prior"]
    # Laplace(0.1) pulls small slopes a little; the fit stays within a few posterior sds
    assert np.all(np.abs(svi.mean - exact.mean) < 0.02 + 4 * exact.sd)
    with pytest.raises(ValueError, match="sigma"):
        px.CLIME(bb, estimator="least_squares", sigma=0)
    with pytest.raises(ValueError, match="inference"):
        px.CLIME(bb, estimator="least_squares", sigma=1.0, inference="magic")
    with pytest.raises(ValueError, match="n_samples"):
        px.CLIME(bb, estimator="least_squares", sigma=1.0).explain(X0, n_samples=1)
    with pytest.raises(ValueError, match="shape"):
        px.CLIME(bb, estimator="least_squares", sigma=1.0).explain(np.zeros((2, 2, D)))
    with pytest.raises(ValueError, match="norm"):
        clime_deviation_bound(100, D, 0.1, 1.0, norm="1")
