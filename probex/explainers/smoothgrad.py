"""SmoothGrad (Smilkov et al., 2017) with its Monte Carlo uncertainty, and its theory from
Agarwal et al., "Towards the Unification and Robustness of Perturbation and Gradient Based
Explanations" (ICML 2021).

SmoothGrad explains the target output f (the probability of class ``target`` for
classifiers, the output for regression; see :meth:`probex.BlackBox.gradient`) at x by
the expected gradient under isotropic Gaussian input noise,

    phi(x) = E_{a ~ N(x, sigma^2 I)} [grad f(a)] = grad (f * N(0, sigma^2 I))(x),      (1)

the gradient of the Gaussian-smoothed model. The estimate is the mean of n per-sample
gradients g_i = grad f(x + z_i), z_i ~ N(0, sigma^2 I). Its Monte Carlo error is reported
as the central-limit approximation phi | g_1..g_n ~ N(mean(g), S / n), S the sample
covariance of the g_i: ``mean`` is the SmoothGrad estimate, ``sd`` its standard error,
and the draws of the Explanation come from that normal (the g_i themselves are kept in
``constant_data["gradients"]``). Where the model is saturated (probabilities near 0 or
1) the gradients are tiny and heavy-tailed, and the normal approximation needs a larger n
than usual before its intervals are honest. C-LIME (:class:`probex.CLIME`) estimates the
same phi(x) by least squares on function values (Agarwal et al., Theorem 1).
"""

from __future__ import annotations

import math

import numpy as np
import torch

from probex._checks import as_tensor, resolve_device
from probex.blackbox import BlackBox
from probex.explainers._smoothing import smoothed_gradient_explanation
from probex.explanation import Explanation
from probex.perturb import GaussianPerturbation, PerturbationSet

__all__ = ["SmoothGrad", "isotropic_perturbation", "gaussian_neighbourhood",
           "logistic_smoothgrad", "smoothgrad_deviation_bound", "smoothgrad_sample_size",
           "smoothed_gradient_lipschitz"]


def isotropic_perturbation(n_features: int, sigma: float) -> GaussianPerturbation:
    """a = x + z with z ~ N(0, sigma^2 I) in raw input units (std 1, no locality kernel).

    SmoothGrad and C-LIME share it, so the same seed gives both the same perturbations.
    """
    return GaussianPerturbation(std=torch.ones(int(n_features), dtype=torch.float64),
                                scale=sigma, kernel="none")


def gaussian_neighbourhood(bb: BlackBox, x, n: int, sigma: float, seed: int
                           ) -> tuple[torch.Tensor, bool, PerturbationSet]:
    """The perturbations SmoothGrad and C-LIME both average over: ``n`` draws
    a = x + N(0, sigma^2 I) per instance, seeded by ``seed`` (no anchor row).

    Args:
        bb: the black box (its feature count is bound to x's).
        x: one instance (d,) or B instances (B, d).

    Returns:
        (instances (B, d), whether x was a single instance, perturbations with z and
        inputs of shape (B, n, d)).
    """
    x = as_tensor(x, "x")
    single = x.ndim == 1
    instances = x.unsqueeze(0) if single else x
    if instances.ndim != 2:
        raise ValueError(f"x must have shape (d,) or (n_instances, d); got {tuple(x.shape)}")
    bb.bind_features(instances.shape[1])
    generator = torch.Generator().manual_seed(seed)
    perturbations = isotropic_perturbation(instances.shape[1], sigma).sample(
        instances, n, generator, include_anchors=False)
    return instances, single, perturbations


def check_sigma(sigma) -> float:
    """The noise scale as a positive finite float."""
    sigma = float(sigma)
    if not (math.isfinite(sigma) and sigma > 0):
        raise ValueError(f"sigma must be a positive number (input units), got {sigma!r}")
    return sigma


def check_n_samples(n_samples) -> int:
    if not isinstance(n_samples, (int, np.integer)) or n_samples < 2:
        raise ValueError(f"n_samples must be an integer >= 2, got {n_samples!r}")
    return int(n_samples)


class SmoothGrad:
    """SmoothGrad of a differentiable model, with the Monte Carlo error as uncertainty.

    Args:
        model: a :class:`~probex.BlackBox` whose model is differentiable, or a torch
            ``nn.Module`` / torch callable (wrapped with ``device`` and
            ``blackbox_options``, e.g. ``task=``, ``target=``, ``feature_names=``).
        sigma: standard deviation of the Gaussian noise, in input units (for standardized
            data: in standard deviations).
        n_samples: default number of noisy gradients per instance (= queries).
        device: where gradients are computed; defaults to the BlackBox's device (CPU when
            wrapping). Noise is drawn on the CPU from a seeded generator, so CPU and GPU
            runs use the same perturbations.
        seed: seeds the perturbations (and the normal draws); same seed, same numbers.
        num_draws, num_chains: size of the draws stored in the Explanation.

    The explained output is the BlackBox's target output: a probability for classifiers.
    With the same ``sigma`` and ``seed``, :class:`probex.CLIME` queries the model at the
    very same points, and both estimate the same phi(x) (Eq. 1).
    """

    method = "SmoothGrad"

    def __init__(self, model, sigma: float = 1.0, n_samples: int = 1000, device=None, *,
                 seed: int = 0, num_draws: int = 1000, num_chains: int = 4,
                 **blackbox_options):
        if isinstance(model, BlackBox):
            if blackbox_options:
                raise ValueError(f"options {sorted(blackbox_options)} apply when wrapping a "
                                 "model, not to an existing BlackBox")
            if device is not None and resolve_device(device) != model.device:
                raise ValueError(f"device={str(device)!r} but the BlackBox lives on "
                                 f"{model.device}; build the BlackBox with that device")
            self.bb = model
        else:
            self.bb = BlackBox(model, device=device or "cpu", **blackbox_options)
        if not self.bb.differentiable:
            raise ValueError(
                f"SmoothGrad needs gradients: pass a torch nn.Module or a callable with "
                f"input_type='torch', not a {self.bb.kind} model (use px.CLIME for the "
                "same explanation from function values)")
        self.sigma = check_sigma(sigma)
        self.n_samples = check_n_samples(n_samples)
        self.seed = int(seed)
        if num_draws < 1 or num_chains < 1:
            raise ValueError("num_draws and num_chains must be positive")
        self.num_draws, self.num_chains = int(num_draws), int(num_chains)

    @property
    def device(self) -> torch.device:
        return self.bb.device

    def explain(self, x, n_samples: int | None = None, *, estimator: str = "gaussian"
                ) -> Explanation:
        """SmoothGrad of one instance x (d,) or of B instances (B, d), each from its own
        ``n_samples`` noisy gradients (n_samples + 1 queries: the last is f(x), stored as
        ``prediction``).

        ``estimator="importance"``: the same phi(x) with an honest Monte Carlo error
        (importance sampling towards the decision boundary for classifiers, stratified
        standard errors, a SamplingWarning for heavy tails; see
        :mod:`probex.inference.smoothed_gradient`). ``"gaussian"``: plain draws from the
        noise and the normal (central-limit) error, too small for saturated models.

        Returns:
            an Explanation: ``mean`` (d,) or (B, d) is the SmoothGrad estimate, ``sd`` its
            Monte Carlo standard error, ``hdi`` the normal interval;
            ``constant_data`` holds ``z`` (= a - x), ``gradients`` and ``x``,
            ``observed_data`` the outputs f(a).
        """
        n = self.n_samples if n_samples is None else check_n_samples(n_samples)
        if estimator not in ("gaussian", "importance"):
            raise ValueError(f"estimator must be 'gaussian' or 'importance', got {estimator!r}")
        if estimator == "importance":
            return smoothed_gradient_explanation(
                self.bb, x, n, self.sigma, self.seed, method=self.method, from_gradients=True,
                num_draws=self.num_draws, num_chains=self.num_chains)
        instances, single, perturbations = gaussian_neighbourhood(self.bb, x, n, self.sigma,
                                                                  self.seed)
        d = instances.shape[1]
        before = self.bb.n_queries
        values, gradients = self.bb.gradient(perturbations.inputs.reshape(-1, d))
        gradients = gradients.cpu().reshape(-1, n, d)
        prediction = self.bb(instances).cpu()
        mean, covariance = gradients.mean(1), _sample_covariance(gradients)
        standard_error = torch.diagonal(covariance, dim1=-2, dim2=-1).div(n).sqrt()
        draw_generator = torch.Generator().manual_seed(self.seed + 1)
        draws = normal_draws(mean, covariance / n, self.num_chains * self.num_draws,
                             draw_generator).reshape(self.num_chains, self.num_draws, -1, d)
        data = {"z": perturbations.z, "gradients": gradients,
                "response": values.cpu().reshape(-1, n), "x": instances,
                "prediction": prediction}
        data = {k: v.numpy() for k, v in data.items()}
        if single:
            draws, mean, standard_error = draws[:, :, 0], mean[0], standard_error[0]
            data = {k: v[0] for k, v in data.items()}
        lead = [] if single else ["instance"]
        return Explanation.from_draws(
            draws.numpy(), self.bb.feature_names, method=self.method, inference="monte_carlo",
            n_queries=self.bb.n_queries - before,
            closed_form={"loc": mean.numpy(), "sd": standard_error.numpy(),
                         "distribution": "normal"},
            observed_data={"response": data["response"]},
            constant_data={k: data[k] for k in ("z", "gradients", "x", "prediction")},
            dims={"z": [*lead, "perturbation", "feature"],
                  "gradients": [*lead, "perturbation", "feature"],
                  "response": [*lead, "perturbation"], "x": [*lead, "feature"],
                  "prediction": lead},
            coords={"perturbation": np.arange(n)},
            attrs={"sigma": self.sigma, "n_samples": n, "seed": self.seed,
                   "target": -1 if self.bb.target is None else self.bb.target,
                   "output": "probability" if self.bb.task == "classification" else "value"})


def _sample_covariance(samples: torch.Tensor) -> torch.Tensor:
    """Unbiased covariance over axis -2: (..., n, d) -> (..., d, d)."""
    centred = samples - samples.mean(-2, keepdim=True)
    return centred.transpose(-1, -2) @ centred / (samples.shape[-2] - 1)


def normal_draws(mean: torch.Tensor, covariance: torch.Tensor, num: int,
                 generator: torch.Generator) -> torch.Tensor:
    """``num`` draws from N(mean, covariance) for a batch: mean (B, d), covariance (B, d, d)
    positive semi-definite (singular allowed) -> (num, B, d), via a symmetric square root."""
    eigenvalues, eigenvectors = torch.linalg.eigh(covariance)
    root = eigenvectors * eigenvalues.clamp_min(0.0).sqrt().unsqueeze(-2)
    noise = torch.randn((num, *mean.shape), generator=generator, dtype=mean.dtype)
    return mean + (root @ noise.unsqueeze(-1)).squeeze(-1)


# ---------------------------------------------------------------------- theory
def smoothgrad_deviation_bound(n_samples: int, eps: float, grad_bound) -> float:
    """Finite-sample bound on P(||phi_n - phi||_inf >= eps) for SmoothGrad.

    Each coordinate of a per-sample gradient lies in [-G_j, G_j], G_j = sup |d f / d a_j|,
    so Hoeffding's inequality and a union bound over the d coordinates give

        P(max_j |phi_n,j - phi_j| >= eps) <= sum_j 2 exp(-n eps^2 / (2 G_j^2))
                                          <= 2 d exp(-n eps^2 / (2 G^2)),

    G = max_j G_j (Agarwal et al., 2021: n = O((G / eps)^2 log(d / delta)) samples).

    Args:
        grad_bound: (d,) bounds G_j (or a scalar G, taken for d = 1; pass ``[G] * d``).

    Returns:
        the bound, clipped to 1.
    """
    bounds = np.atleast_1d(np.asarray(grad_bound, dtype=float))
    if n_samples < 1 or eps <= 0 or np.any(bounds < 0):
        raise ValueError("n_samples and eps must be positive, grad_bound non-negative")
    with np.errstate(divide="ignore"):
        exponents = -n_samples * eps**2 / (2.0 * bounds**2)
    return float(min(1.0, np.sum(2.0 * np.exp(exponents))))


def smoothgrad_sample_size(eps: float, delta: float, grad_bound: float, n_features: int) -> int:
    """Samples that make the bound of :func:`smoothgrad_deviation_bound` at most delta with
    a common bound G: n = ceil(2 G^2 log(2 d / delta) / eps^2)."""
    if eps <= 0 or not 0 < delta < 1 or grad_bound < 0 or n_features < 1:
        raise ValueError("need eps > 0, 0 < delta < 1, grad_bound >= 0, n_features >= 1")
    return max(1, math.ceil(2.0 * grad_bound**2 * math.log(2.0 * n_features / delta) / eps**2))


def smoothed_gradient_lipschitz(grad_norm_bound: float, sigma: float) -> float:
    """Lipschitz constant of x -> phi(x) = E[grad f(x + z)], z ~ N(0, sigma^2 I) (Eq. 1).

    Stein's lemma gives the Hessian of the smoothed model as E[grad f(x + z) z^T] / sigma^2,
    so for unit vectors u, v: |u^T H v| <= G E|v.z| / sigma^2 = sqrt(2 / pi) G / sigma,
    with G = sup ||grad f||_2. Hence, for SmoothGrad and C-LIME in expectation,

        ||phi(x) - phi(x')||_2 <= sqrt(2 / pi) (G / sigma) ||x - x'||_2

    (Agarwal et al., 2021: robustness of order max ||grad f|| / sigma).
    """
    if grad_norm_bound < 0:
        raise ValueError("grad_norm_bound must be non-negative")
    return math.sqrt(2.0 / math.pi) * float(grad_norm_bound) / check_sigma(sigma)


def logistic_smoothgrad(weights, bias: float, x, sigma: float, n_nodes: int = 80) -> np.ndarray:
    """Exact Eq. (1) for a logistic model f(a) = s(w.a + b), s the logistic function.

    grad f(a) = s'(w.a + b) w and w.(x + z) + b ~ N(w.x + b, sigma^2 ||w||^2), so
    phi(x) = E[s'(u)] w, the expectation by Gauss-Hermite quadrature (``n_nodes`` nodes,
    accurate to ~1e-12 for sigma ||w|| up to ~10). The reference answer for SmoothGrad and
    C-LIME on logistic regression (and, with w = w_1 - w_0, two-class softmax regression).

    Args:
        weights: (d,); x: (d,) or (B, d). Returns (d,) or (B, d).
    """
    w = np.asarray(weights, dtype=float)
    x = np.asarray(x, dtype=float)
    nodes, node_weights = np.polynomial.hermite_e.hermegauss(int(n_nodes))
    u = (x @ w + float(bias))[..., None] + check_sigma(sigma) * np.linalg.norm(w) * nodes
    s = 0.5 * (1.0 + np.tanh(0.5 * u))                      # stable logistic
    slope = (s * (1.0 - s)) @ node_weights / math.sqrt(2.0 * math.pi)
    return np.asarray(slope)[..., None] * w
