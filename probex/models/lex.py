"""LEX: explanation as statistical inference (Senetaire et al., ICML 2023).

The generative model of a label y given an input x (n instances, d features, C classes):

    z       ~ p_gamma(z | x)                 selector (:mod:`probex.models.selectors`)
    x_tilde ~ p_iota(x_tilde | x_z, z)       imputation (:mod:`probex.models.imputation`)
    y       ~ p_theta(y | x_tilde)           predictor (a network or a fixed black box)

so p(y | x) = E_z[ p(y | x, z) ] with p(y | x, z) = E_{x_tilde}[ p_theta(y | x_tilde) ]
(LEX Eq. 3). Fitting gamma (and theta in situ) by maximum likelihood with a sparsity
penalty gives an instance-wise feature selection. The training objective is LEX's
Monte Carlo lower bound (Jensen over masks; M imputations inside the log):

    J(x, y) = E_{z ~ p_gamma}[ log (1/M) sum_m p_theta(y | x_tilde_m) ] - lambda R(x),

with R(x) = sum_j pi_j(x), the expected number of selected features (nats per feature),
for Bernoulli selectors (k-subsets fix the size instead). With target probabilities t
(a black box's p(. | x), post hoc) the likelihood term is sum_c t_c log p(c | x, z).

In Pyro, :meth:`LEXModel.model` is this generative model with the selector as the prior
of the latent mask, and :meth:`LEXModel.guide` is the same selector. With guide = prior
the ELBO is exactly E_z[log p(y | x, z)]; the model holds the prior at the current
(detached) selector so that the KL term, identically zero, adds no gradient noise, and
the score-function (REINFORCE) or pathwise (relaxed) gradient of the ELBO is the gradient
of J (:mod:`probex.inference.selection_estimators`). The imputation draws are integrated
by Monte Carlo inside the likelihood (they have no learnable parameters).

Shapes: ``x`` (n, d); targets (n,) class labels (long) or (n, C) probabilities; mask
samples add a leading ``masks`` plate (L, n, d); predictors map (B, d) -> log-probabilities
(B, C).
"""

from __future__ import annotations

import math

import pyro
import pyro.distributions as dist
import torch
from torch import nn

from probex.models.imputation_base import Imputation
from probex.models.selectors import MaskSelector, all_masks

__all__ = ["LEXModel", "LogSoftmax", "BlackBoxPredictor", "expected_log_likelihood"]


class LogSoftmax(nn.Module):
    """Wrap a logits network as a predictor of log-probabilities (B, C)."""

    def __init__(self, network: nn.Module):
        super().__init__()
        self.network = network

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.log_softmax(self.network(x), dim=-1)


class BlackBoxPredictor(nn.Module):
    """A fixed black box as the predictor p_theta (post hoc LEX).

    Queries go through :class:`probex.BlackBox` (batched, validated, counted). With
    ``differentiable=True`` a torch-module or torch-callable black box is called directly
    so that relaxed masks receive gradients (rows are still added to ``bb.n_queries``).
    """

    def __init__(self, bb, differentiable: bool = False):
        super().__init__()
        if differentiable and not bb.differentiable:
            raise ValueError(
                "estimator='relaxed' with a fixed black-box predictor needs gradients of the "
                "model: wrap a torch module (or a callable with input_type='torch'), or use "
                "estimator='reinforce'")
        self.bb = bb
        self.differentiable = bool(differentiable)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.differentiable:
            return self.bb.log_probabilities(x.detach()).to(dtype=x.dtype, device=x.device)
        model = self.bb.model
        param = next(iter(model.parameters()), None) if isinstance(model, nn.Module) else None
        inputs = x if param is None else x.to(dtype=param.dtype, device=param.device)
        out = model(inputs)
        self.bb.n_queries += x.shape[0]
        if out.ndim != 2 or out.shape[0] != x.shape[0]:
            raise ValueError(f"the black box returned shape {tuple(out.shape)} for "
                             f"{x.shape[0]} rows; expected (n, n_classes)")
        if self.bb.output == "logits":
            out = torch.log_softmax(out, dim=-1)
        else:
            out = torch.log(out.clamp_min(torch.finfo(out.dtype).tiny))
        return out.to(dtype=x.dtype, device=x.device)


def expected_log_likelihood(log_probs: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """log p(y) for labels (long, shape (...)) or sum_c t_c log p(c) for probabilities
    (shape (..., C)); ``log_probs`` (..., C)."""
    if target.dtype in (torch.int64, torch.int32):
        index = target.expand(log_probs.shape[:-1])[..., None]
        return torch.gather(log_probs, -1, index)[..., 0]
    return (target * log_probs).sum(-1)


class LEXModel(nn.Module):
    """Selector, imputation and predictor of LEX, with the Pyro model and guide.

    Args:
        selector: :class:`~probex.models.selectors.MaskSelector`.
        predictor: module (B, d) -> log-probabilities (B, C).
        imputation: :class:`~probex.models.imputation_base.Imputation`.
        n_imputations: M, imputations per mask (stochastic imputations only).
        sparsity: lambda, the penalty per expected selected feature (nats).
        relaxed: sample relaxed masks in the guide (pathwise gradients).
        temperature, straight_through: of the relaxed masks.
    """

    def __init__(self, selector: MaskSelector, predictor: nn.Module, imputation: Imputation,
                 n_imputations: int = 1, sparsity: float = 0.0, relaxed: bool = False,
                 temperature: float = 0.5, straight_through: bool = True):
        super().__init__()
        if int(n_imputations) < 1:
            raise ValueError(f"n_imputations must be a positive integer, got {n_imputations}")
        if sparsity < 0 or not math.isfinite(sparsity):
            raise ValueError(f"sparsity must be a finite non-negative number, got {sparsity}")
        self.selector = selector
        self.predictor = predictor
        self.imputation = imputation
        self.n_imputations = int(n_imputations)
        self.sparsity = float(sparsity)
        self.relaxed = bool(relaxed)
        self.temperature = float(temperature)
        self.straight_through = bool(straight_through)

    # ------------------------------------------------------------------ likelihood
    def log_predictive(self, x: torch.Tensor, z: torch.Tensor,
                       n_imputations: int | None = None) -> torch.Tensor:
        """log p(c | x, z) = log (1/M) sum_m p_theta(c | x_tilde_m), shape (..., C) for
        masks z (..., d) broadcasting against x."""
        m = self.n_imputations if n_imputations is None else int(n_imputations)
        x_tilde = self.imputation.sample(x, z, m)  # (M', ..., d)
        flat = x_tilde.reshape(-1, x_tilde.shape[-1])
        log_probs = self.predictor(flat)
        log_probs = log_probs.reshape(*x_tilde.shape[:-1], log_probs.shape[-1])
        return torch.logsumexp(log_probs, dim=0) - math.log(x_tilde.shape[0])

    def penalty(self, x: torch.Tensor, logits: torch.Tensor | None = None) -> torch.Tensor:
        """lambda R(x) = lambda sum_j pi_j(x) for Bernoulli selectors (0 for k-subsets),
        shape (n,); ``logits`` saves a selector pass when they are at hand."""
        if self.selector.family == "subset" or self.sparsity == 0:
            return torch.zeros(x.shape[:-1], dtype=x.dtype, device=x.device)
        logits = self.selector.logits(x) if logits is None else logits
        return self.sparsity * self.selector.inclusion_from_logits(logits).sum(-1)

    # ------------------------------------------------------------------ Pyro program
    def model(self, x: torch.Tensor, target: torch.Tensor, n_masks: int = 1):
        """p(z | x) p(y | x, z) with the sparsity factor; ``n_masks`` masks per instance."""
        logits = self.selector.logits(x)
        with pyro.plate("data", x.shape[0], dim=-1):
            if self.sparsity > 0 and self.selector.family == "bernoulli":
                pyro.factor("sparsity", -self.penalty(x, logits))
            prior = self.selector.distribution_from_logits(
                logits.detach(), relaxed=self.relaxed, temperature=self.temperature,
                straight_through=self.straight_through)
            with pyro.plate("masks", int(n_masks), dim=-2):
                z = pyro.sample("z", prior)
                log_probs = self.log_predictive(x, z)
                if target.dtype in (torch.int64, torch.int32):
                    pyro.sample("y", dist.Categorical(logits=log_probs), obs=target)
                else:
                    pyro.factor("y", expected_log_likelihood(log_probs, target))
        return z

    def guide(self, x: torch.Tensor, target: torch.Tensor, n_masks: int = 1):
        """q(z | x) = p_gamma(z | x): the selector is the amortized guide."""
        with pyro.plate("data", x.shape[0], dim=-1):
            q = self.selector.distribution(x, relaxed=self.relaxed,
                                           temperature=self.temperature,
                                           straight_through=self.straight_through)
            with pyro.plate("masks", int(n_masks), dim=-2):
                return pyro.sample("z", q)

    # ------------------------------------------------------------------ exact answers
    def _enumerated(self, x: torch.Tensor, target: torch.Tensor):
        """log p_gamma(z | x) (2^d, n) and log p(y | x, z) (2^d, n) over all masks."""
        masks = all_masks(x.shape[-1], dtype=x.dtype).to(x.device)  # (2^d, d)
        prior = self.selector.distribution(x)
        log_prior = prior.log_prob(masks[:, None, :])  # (2^d, n)
        log_lik = expected_log_likelihood(self.log_predictive(x, masks[:, None, :]), target)
        return log_prior, log_lik

    def exact_log_likelihood(self, x: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """log p(y | x) = log sum_z p_gamma(z | x) p(y | x, z), enumerating all 2^d masks
        (small d; exact for deterministic imputations), shape (n,). Hard labels only."""
        log_prior, log_lik = self._enumerated(x, target)
        return torch.logsumexp(log_prior + log_lik, dim=0)

    def exact_objective(self, x: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """J(x, y) = sum_z p_gamma(z | x) log p(y | x, z) - lambda R(x) by enumeration,
        shape (n,); differentiable in gamma and theta (the estimators' target)."""
        log_prior, log_lik = self._enumerated(x, target)
        return (log_prior.exp() * log_lik).sum(0) - self.penalty(x)
