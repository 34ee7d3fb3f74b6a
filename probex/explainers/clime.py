"""Continuous LIME (C-LIME) as a Bayesian linear surrogate, and its finite-sample bound.

C-LIME (Agarwal et al., "Towards the Unification and Robustness of Perturbation and
Gradient Based Explanations", ICML 2021) queries f at a_i = x + z_i, z_i ~ N(0, sigma^2 I),
and fits y_i = f(a_i) by unweighted least squares on z_i = a_i - x with an intercept.
As n grows the slope converges to

    beta = Cov(z)^-1 Cov(z, f(x + z)) = E[z f(x + z)] / sigma^2 = E[grad f(x + z)]   (Thm. 1)

(Stein's lemma), the SmoothGrad explanation (:mod:`probex.explainers.smoothgrad`).

Here the least-squares fit is the posterior of probex's Bayesian linear surrogate
(:mod:`probex.models.surrogate`) with :class:`~probex.perturb.GaussianPerturbation`
(``std=1``, so z is in raw input units; ``scale=sigma``; ``kernel="none"``, every weight
1) and no anchor row, so the data are exactly Agarwal's. The default prior is
``NormalInverseGamma(scale=10 / sigma)``: phi | s ~ N(0, s^2 (10 / sigma)^2 I). Its
posterior mean is the ridge solution with penalty sigma^2 / 100 against an information of
about n sigma^2 per coefficient, i.e. the least-squares slope shrunk by a relative
1 / (1 + 100 n) -- negligible -- while sigma-free units keep it meaningful for any sigma
(a slope of 1 / sigma moves the output by about one unit across the noise). The posterior
sd is the least-squares standard error under the surrogate's model of residuals with one
variance; a curved model's residuals vary with z, so the intervals can be somewhat narrower
than the estimate's actual Monte Carlo spread (the tutorial measures their coverage).
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats

from probex._checks import check_choice
from probex._deprecation import renamed_arguments
from probex.explainers._smoothing import smoothed_gradient_batch
from probex.explainers._surrogate import SurrogateData, SurrogateExplainer
from probex.explainers.smoothgrad import check_sigma, isotropic_perturbation
from probex.explanation import Explanation
from probex.prior_families import NormalInverseGamma

__all__ = ["CLIME", "clime_prior", "clime_deviation_bound"]

_PRIOR_SCALE_PER_SIGMA = 10.0


def clime_prior(sigma: float) -> NormalInverseGamma:
    """C-LIME's default prior: NormalInverseGamma(scale=10 / sigma) (see module docstring)."""
    return NormalInverseGamma(scale=_PRIOR_SCALE_PER_SIGMA / check_sigma(sigma))


class CLIME(SurrogateExplainer):
    """Continuous LIME: a Bayesian linear surrogate on isotropic Gaussian perturbations.

    Args:
        model: the :class:`~probex.BlackBox` (any model: no gradients needed), or a model.
        sigma: noise standard deviation in input units (the same sigma as SmoothGrad).
        n_samples: default perturbations per instance.
        prior: ``None`` for :func:`clime_prior` (negligible shrinkage), or any prior
            accepted by BayesLIME (a :class:`probex.priors.Prior`, a name, a Pyro
            distribution).
        inference: ``"auto"``, ``"exact"``, ``"svi"``, ``"nuts"`` or a runner, as in
            BayesLIME.
        estimator: ``"importance"`` (default) or ``"least_squares"``, see :meth:`explain`.
        seed: seeds perturbations and inference; with SmoothGrad's ``seed`` and ``sigma``
            the perturbations are identical (``least_squares`` against ``gaussian``).
        n_draws, n_chains, keep_data, predictive, prior_predictive, device, progress,
            blackbox_options: as for BayesLIME (the model-checking groups belong to the
            least-squares surrogate).

    The coefficients are in output units per input unit (probability per unit of x_j for
    classifiers); there is no locality kernel and no anchor row.
    """

    method = "C-LIME"

    @renamed_arguments(num_draws="n_draws", num_chains="n_chains")
    def __init__(self, model, sigma: float = 1.0, n_samples: int = 1000, prior=None,
                 inference="auto", *, estimator: str = "importance", n_draws: int = 1000,
                 n_chains: int = 4, keep_data: bool | None = None,
                 predictive: bool | None = None,
                 prior_predictive: bool = False, seed: int = 0, device=None,
                 progress: bool | None = None, blackbox_options: dict | None = None):
        self.sigma = check_sigma(sigma)
        check_choice("estimator", estimator, ("importance", "least_squares"))
        self.estimator = estimator
        super().__init__(model, None, prior=clime_prior(self.sigma) if prior is None else prior,
                         inference=inference, n_samples=n_samples, n_draws=n_draws,
                         n_chains=n_chains, keep_data=keep_data, predictive=predictive,
                         prior_predictive=prior_predictive, seed=seed, device=device,
                         progress=progress, blackbox_options=blackbox_options)

    def _make_perturbation(self, perturbation, background, kernel, kernel_width):
        if self.bb.n_features is None:  # no background: the width comes with the data
            return None
        return isotropic_perturbation(self.bb.n_features, self.sigma)

    def explain(self, x, n_samples: int | None = None, *, target=None,
                estimator: str | None = None) -> Explanation:
        """C-LIME of one instance (d,) or a batch (B, d), each from its own ``n_samples``
        function values.

        Args:
            estimator: ``"importance"`` (the constructor's default;
                :mod:`probex.explainers._smoothing`): the slope's estimand
                E[grad f(x + z)] by Stein's identity, E[z (f(x + z) - f(x))] / sigma^2,
                with draws importance-sampled towards the decision boundary, stratified
                standard errors and a :class:`~probex.SamplingWarning` for heavy tails
                (mean squared z 1.21 / 1.03 at n = 100 / 1,000 on a saturating MLP,
                6-13x more accurate than least squares there); ``prior``, ``inference``
                and the model-checking groups do not apply (no likelihood).
                ``"least_squares"``: Agarwal et al.'s least-squares slope as the posterior
                of the Bayesian surrogate (``prior``, ``inference``); with the same seed
                and sigma it queries the same points as
                ``SmoothGrad(estimator="gaussian")``.
        """
        estimator = self.estimator if estimator is None else estimator
        check_choice("estimator", estimator, ("importance", "least_squares"))
        return super().explain(x, n_samples, target=target, estimator=estimator)

    def _explain(self, X, targets, n_samples, streams, *, estimator="importance",
                 keep_data=None) -> Explanation:
        if estimator == "importance":
            e = smoothed_gradient_batch(
                self.bb, X, targets, n_samples, self.sigma, streams, method=self.method,
                from_gradients=False, n_draws=self.n_draws, n_chains=self.n_chains,
                keep_data=keep_data)
            return e.with_attrs(uncertainty="monte_carlo_error",
                                predictive_groups="none: a Monte Carlo estimator has no "
                                                  "likelihood")
        return super()._explain(X, targets, n_samples, streams, keep_data=keep_data)

    def _surrogate_data(self, X, targets, n_samples, streams) -> SurrogateData:
        """``n_samples`` perturbations per instance plus one query of f(x) (stored as
        ``prediction``); for exact inference ``mean`` is the (negligibly shrunk)
        least-squares slope."""
        if self.perturbation is None:
            self.perturbation = isotropic_perturbation(X.shape[1], self.sigma)
        perturbations = self._sample(X, n_samples, streams, include_anchors=False)
        y = self._query(perturbations, targets)
        prediction = self.bb(X, target=targets)
        attrs = {"kernel": "none", "sigma": self.sigma,
                 "perturbation": "GaussianPerturbation(std=1, scale=sigma)",
                 "n_samples": n_samples}
        return SurrogateData(perturbations, y, prediction, attrs=attrs)


# ---------------------------------------------------------------------- theory
# sub-Gaussian constant: for |X| <= |Z|, Z ~ N(0, s^2), and mu = E X (|mu| <= s sqrt(2/pi)),
# E exp((X - mu)^2 / K^2) <= exp(3 mu^2 / K^2) (1 - 3 s^2 / K^2)^(-1/2) <= 2 for
# K^2 = 5.81 s^2 (using (a + b)^2 <= 1.5 a^2 + 3 b^2), hence E exp(l (X - mu)) <= exp(l^2 K^2).
_SUBGAUSSIAN_K2 = 5.81


def _product_rate(r: np.ndarray) -> np.ndarray:
    """Chernoff rate I(r) = sup_l [l r + log(1 - l^2) / 2] of the product of two
    independent standard normals (MGF (1 - l^2)^(-1/2)); P(mean >= r) <= exp(-n I(r))."""
    lam = (np.sqrt(1.0 + 4.0 * r**2) - 1.0) / (2.0 * r)
    return lam * r + 0.5 * np.log1p(-lam**2)


def _invert_product_rate(level: np.ndarray) -> np.ndarray:
    """r with I(r) = level (I increases from 0), by bisection, elementwise."""
    low, high = np.zeros_like(level), np.ones_like(level)
    while np.any(_product_rate(high) < level):
        high = np.where(_product_rate(high) < level, 2.0 * high, high)
    for _ in range(80):
        mid = 0.5 * (low + high)
        below = _product_rate(np.maximum(mid, 1e-300)) < level
        low, high = np.where(below, mid, low), np.where(below, high, mid)
    return high


def _clime_deviation(p: np.ndarray, n: int, d: int, sigma: float, output_range: float,
                     grad_norm: float, norm: str) -> np.ndarray:
    """Deviation guaranteed on the event where each of the 1 + 4 d tail events of the
    proof fails with probability p (elementwise in p)."""
    log_term = np.log(2.0 / p)
    t1 = np.sqrt(2.0 * log_term)                                  # Gaussian singular values
    gap = math.sqrt(n - 1) - math.sqrt(d) - t1
    low = np.where(gap > 0, np.maximum(gap, 0) ** 2 / n, np.nan)
    high = (math.sqrt(n - 1) + math.sqrt(d) + t1) ** 2 / n
    half = output_range / 2.0
    a = np.sqrt(4.0 * _SUBGAUSSIAN_K2 * (sigma * half) ** 2 * log_term / n)   # mean z y'
    chi_upper = stats.chi2.isf(p / 2.0, n) / n - 1.0
    chi_lower = 1.0 - stats.chi2.ppf(p / 2.0, n) / n
    q1 = sigma**2 * grad_norm * np.maximum(chi_upper, chi_lower)             # g_j (z_j^2 - s^2)
    q2 = sigma**2 * grad_norm * _invert_product_rate(log_term / n)          # z_j h
    b = sigma * stats.norm.isf(p / 2.0) / math.sqrt(n)                      # mean z_j
    v = a + q1 + q2 + b * (half + math.sqrt(d) * b * grad_norm)             # ||v||_inf
    if norm == "2":
        return math.sqrt(d) * v / (sigma**2 * low)
    eta = np.maximum(1.0 / low - 1.0, 1.0 - 1.0 / high)
    return v * (1.0 + eta * math.sqrt(d)) / sigma**2


def clime_deviation_bound(n_samples: int, n_features: int, eps: float, sigma: float,
                          output_range: float = 1.0, grad_norm: float | None = None,
                          norm: str = "inf") -> float:
    """A finite-sample bound on P(||beta_n - phi||>= eps) for C-LIME's least-squares slope.

    Setting: z_i ~ N(0, sigma^2 I_d), outputs y_i = f(x + z_i) in an interval of length
    ``output_range`` B (1 for probabilities), phi = E[z y] / sigma^2 (= E[grad f]) with
    ||phi||_2 <= G (``grad_norm``; by default B / (sigma sqrt(2 pi)), true for any such f).
    With S the sample covariance of the z_i and y' = y - midpoint,

        beta_n - phi = S^-1 v,  v = A - Q - zbar (ybar' - zbar.phi),
        A = mean(z_i y'_i) - sigma^2 phi,  Q = mean(z_i z_i^T) phi - sigma^2 phi.

    Tail events, each given probability p: the singular values of the centred Gaussian
    design (Davidson-Szarek: sqrt(n-1) +- (sqrt(d) + t)); per coordinate, A_j
    (sub-Gaussian, |z_j y'| <= B |z_j| / 2), Q_j = phi_j (mean z_j^2 - sigma^2) (exact
    chi-square tails) + mean(z_j h), h independent of z_j (Chernoff for a product of
    normals), and zbar_j (normal). On their complement
    ||beta_n - phi||_inf <= ||v||_inf (1 + eta sqrt(d)) / sigma^2 with
    eta = ||sigma^2 S^-1 - I||, and ||beta_n - phi||_2 <= sqrt(d) ||v||_inf / lambda_min(S).
    The bound is (1 + 4 d) p for the smallest p whose guaranteed deviation is eps: of
    order (B / (sigma eps))^2 log(d / delta) samples, like SmoothGrad's with G ~ B / sigma.

    Args:
        norm: ``"inf"`` (max over features, as for SmoothGrad) or ``"2"``.

    Returns:
        the bound in [0, 1] (1 when it is vacuous).
    """
    norm = str(norm)
    if norm not in ("inf", "2"):
        raise ValueError(f"unknown norm={norm!r}; expected 'inf' or '2'")
    sigma = check_sigma(sigma)
    if n_samples < 2 or n_features < 1 or eps <= 0 or output_range <= 0:
        raise ValueError("need n_samples >= 2, n_features >= 1, eps > 0, output_range > 0")
    if grad_norm is None:
        grad_norm = output_range / (sigma * math.sqrt(2.0 * math.pi))
    args = (int(n_samples), int(n_features), sigma, float(output_range), float(grad_norm),
            norm)
    terms = 1 + 4 * int(n_features)

    def deviation(log_p: float) -> float:
        value = float(_clime_deviation(np.array([math.exp(log_p)]), *args)[0])
        return math.inf if math.isnan(value) else value

    log_high = math.log(1.0 / terms)                # total bound 1: anything above is vacuous
    if deviation(log_high) > eps:
        return 1.0
    log_low = -700.0
    if deviation(log_low) <= eps:
        return 0.0
    for _ in range(100):                            # deviation decreases as p grows
        mid = 0.5 * (log_low + log_high)
        if deviation(mid) > eps:
            log_low = mid
        else:
            log_high = mid
    return float(min(1.0, terms * math.exp(log_high)))
