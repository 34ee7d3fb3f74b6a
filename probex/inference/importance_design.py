"""EAGLE's adaptive design, made honest under misspecification: selection by sampling with
known probabilities, importance weights, and a sandwich posterior.

The explanation a surrogate method promises is its fit over the whole perturbation
distribution p with the locality weights pi (:mod:`probex.inference.surrogate_target`).
Picking the rows of maximal expected information gain (greedy EIG) changes which local
linear approximation a least-squares fit converges to whenever the black box is not
linear, and a posterior that assumes a linear model with one noise level then narrows
around the wrong answer. Here the design stays adaptive but every row keeps a known
probability of having been chosen:

1. a space-filling start from p (:mod:`probex.inference.space_filling`; randomised
   quasi-Monte Carlo, so unbiased for p), importance weight 1;
2. rounds of growing size b_r (``growth`` times the rows so far, doubling by default,
   so the number of model calls grows like log(budget)): a pool of m >= 4 b_r
   candidates Z_1..Z_m ~ p, their EIG g_i under the current posterior (one O(m d^2) pass,
   :func:`information_scores`), and b_r picks drawn with replacement with probabilities

       q_i = (1 - epsilon) g_i / sum_j g_j + epsilon / m        (defensive mixture),

   each with importance weight v = 1 / (m q_i) <= 1 / epsilon. Given the pool a pick
   estimates the pool mean of any h without bias (E[v h(Z)] = (1/m) sum_i h(Z_i)) and
   the pool mean estimates E_p[h], so the weighted rows estimate every moment of p.
   The b picks are independent given the pool, but share it: a round's sum has variance
   b Var_q(v h | pool) + (b^2 / m) Var_p(h), and since E_q[v h^2] = E_p[h^2] the second
   part is estimated by giving each pick the meat factor 1 + b q_i in the sandwich;
3. the fit: weighted least squares with weights pi v, which converges to the target
   for any black box, with the sandwich covariance (HC3,
   :mod:`probex.inference.sandwich`) that accounts for the misfit; the posterior
   reported is N(phi_hat, V) (Mueller, 2013: the sandwich posterior). Under the Shapley
   kernel the empty and full coalitions are exact constraints, so the target is the
   Shapley values.

The EIG scores use the conjugate surrogate posterior of the rows so far, weighted by
pi v (:class:`probex.inference.greedy_design.OnlineSurrogatePosterior`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch

from probex.inference.greedy_design import DesignState, OnlineSurrogatePosterior
from probex.inference.sandwich import (
    LeastSquaresFit,
    constrained_least_squares,
    weighted_least_squares,
)
from probex.inference.space_filling import space_filling_z
from probex.perturb import MaskPerturbation, Perturbation, PerturbationSet

__all__ = ["information_scores", "SampledBatch", "sample_batch", "round_sizes",
           "importance_weighted_fit", "ImportanceDesign", "importance_design"]


def information_scores(pool_z: torch.Tensor, pool_weights: torch.Tensor, state: DesignState
                       ) -> torch.Tensor:
    """EIG (sigma^2 known, nats) of each candidate joining the design: 1/2 log(1 + w_eff
    u^T Lambda^-1 u), u = z - z_bar, w_eff = w W / (W + w) (see
    :mod:`probex.inference.information_gain`). pool_z (m, d), pool_weights (m,) -> (m,)."""
    cov = state.covariance_unit
    u = pool_z.to(cov) - state.z_mean.to(cov)
    quad = ((u @ cov) * u).sum(-1).clamp_min(0.0)
    w = pool_weights.to(cov)
    total = state.weight_sum.to(cov)
    return 0.5 * torch.log1p(w * total / (total + w) * quad)


@dataclass(frozen=True)
class SampledBatch:
    """Picks from a pool: ``index`` (b,) (with replacement), the probability ``q`` (b,)
    of each pick and its importance weight 1 / (m q) (b,)."""

    index: torch.Tensor
    q: torch.Tensor
    importance: torch.Tensor


def sample_batch(scores: torch.Tensor, batch_size: int, generator: torch.Generator,
                 defensive: float = 0.2) -> SampledBatch:
    """Draw ``batch_size`` pool rows with q = (1 - defensive) scores / sum + defensive / m."""
    scores = torch.as_tensor(scores, dtype=torch.float64).cpu()
    m = scores.shape[0]
    if not 0 < defensive <= 1:
        raise ValueError(f"defensive must be in (0, 1], got {defensive}")
    if batch_size < 1 or m < 1:
        raise ValueError(f"need a non-empty pool and batch_size >= 1, got {m}, {batch_size}")
    if not bool(torch.isfinite(scores).all()) or bool((scores < 0).any()):
        raise ValueError("scores must be finite and non-negative")
    total = float(scores.sum())
    share = scores / total if total > 0 else torch.full_like(scores, 1.0 / m)
    q = (1.0 - defensive) * share + defensive / m
    index = torch.multinomial(q, int(batch_size), replacement=True, generator=generator)
    return SampledBatch(index, q[index], 1.0 / (m * q[index]))


def _leverage_scores(pool_z, pool_weights, state):
    cov = state.covariance_unit
    u = pool_z.to(cov) - state.z_mean.to(cov)
    return pool_weights.to(cov) * ((u @ cov) * u).sum(-1).clamp_min(0.0).sqrt()


def round_sizes(budget: int, initial: int, minimum: int, growth: float = 0.5) -> list[int]:
    """Sizes of the rounds after a start of ``initial`` rows: each max(minimum, growth x
    rows so far); the last takes what is left of the budget (a remainder smaller than
    ``minimum`` joins the round before it)."""
    if initial < 1 or minimum < 1 or growth <= 0:
        raise ValueError("initial, minimum and growth must be positive")
    sizes, n = [], initial
    while n < budget:
        size = min(max(minimum, math.ceil(growth * n)), budget - n)
        if budget - n - size < minimum:          # no runt round at the end
            size = budget - n
        sizes.append(size)
        n += size
    return sizes


def importance_weighted_fit(z, y, weights, anchors=None, anchor_values=None,
                            kind: str = "HC3", variance_factor=None) -> LeastSquaresFit:
    """The weighted least-squares fit with sandwich covariance; with anchors (Shapley
    kernel) the anchor rows are exact constraints. ``variance_factor``: per-row
    multipliers of the sandwich's meat (1 + b q for a pick, module docstring)."""
    if anchors is None:
        return weighted_least_squares(z, y, weights, kind=kind,
                                      variance_factor=variance_factor)
    return constrained_least_squares(z, y, weights, anchors, anchor_values, kind=kind,
                                     variance_factor=variance_factor)


@dataclass
class ImportanceDesign:
    """The rows an honest design queried and its fit.

    Attributes:
        perturbations: the queried rows (a PerturbationSet with a leading instance axis
            of 1), anchors excluded.
        y: answers (n,); importance: importance weights v (n,); locality: pi (n,).
        anchors, anchor_values: the constraint rows (Shapley kernel) or ``None``.
        fit: the final :class:`~probex.inference.sandwich.LeastSquaresFit`.
        trace: per-round lists (``n_queries``, ``max_width``, ``batch_gain``,
            ``importance_ess``).
        n_queries: model queries, anchors included.
    """

    perturbations: PerturbationSet
    y: torch.Tensor
    importance: torch.Tensor
    locality: torch.Tensor
    anchors: torch.Tensor | None
    anchor_values: torch.Tensor | None
    fit: LeastSquaresFit
    n_queries: int
    trace: dict = field(default_factory=dict)


def importance_design(perturbation: Perturbation, x: torch.Tensor, query, budget: int,
                      generator: torch.Generator, *, batch_size: int, pool_size: int = 200,
                      initial_size: int | None = None, defensive: float = 0.2,
                      growth: float = 1.0, prior_scale: float = 1.0, tol: float | None = None,
                      prob: float = 0.95, score: str = "information") -> ImportanceDesign:
    """Run the honest adaptive design for one instance x (d,) (module docstring).

    Args:
        query: PerturbationSet (1, n rows) -> answers (1, n).
        budget: queries in all (anchors included).
        batch_size: the smallest round (and no round smaller than the start); rounds
            grow by ``growth`` times the rows so far.
        pool_size: candidates per round at least (4 x the round's size if larger).
        initial_size: space-filling rows (default max(2 (d + 1), budget / 8): with
            doubling rounds, about four model calls whatever the budget).
        defensive: epsilon, the share of each pick drawn uniformly from the pool (= p).
        prior_scale: the NIG prior scale behind the EIG scores.
        tol: stop once every ``prob`` interval is narrower than this (the fit is then
            made after every round; otherwise only at the end, and the trace's
            ``max_width`` is NaN before the last round).
        score: ``"information"`` (EIG, EAGLE's criterion) or ``"leverage"``
            (pi sqrt(u^T Lambda^-1 u), the variance-optimal shape for a misspecified
            fit with even residuals).
    """
    d = perturbation.n_features
    instances = x.reshape(1, d)
    shapley = isinstance(perturbation, MaskPerturbation) and perturbation.kernel == "shap"
    anchors = anchor_values = None
    used = 0
    if shapley:
        anchors = perturbation.anchors()
        anchor_values = query(perturbation.complete(instances, anchors.unsqueeze(0)))[0]
        used = anchors.shape[0]
    initial = min(budget - used, initial_size or max(2 * (d + 1), budget // 8))
    if initial < d + 2:
        raise ValueError(f"budget {budget} leaves {initial} rows: need at least d + 2 = {d + 2}")
    batch = perturbation.complete(instances, space_filling_z(perturbation, initial,
                                                             generator).unsqueeze(0))
    importance = torch.ones(initial, dtype=torch.float64)
    factor = torch.ones(initial, dtype=torch.float64)
    online = OnlineSurrogatePosterior(d, prior_scale)
    parts, answers, weights, factors = [], [], [], []
    trace = {"n_queries": [], "max_width": [], "batch_gain": [], "importance_ess": []}
    gain = math.nan
    sizes = iter(round_sizes(budget - used, initial, max(batch_size, initial), growth))
    while True:
        y = query(batch)[0].cpu()
        parts.append(batch)
        answers.append(y)
        weights.append(importance)
        factors.append(factor)
        locality = batch.weights[0].cpu()
        online.add(batch.z[0], y, locality * importance)
        size = next(sizes, None)
        fit, width = None, math.nan
        if size is None or tol is not None:            # the fit only where it is needed
            try:
                fit = _fit(parts, answers, weights, factors, anchors, anchor_values)
                width = float(np.max(np.diff(fit.interval(prob), axis=-1)))
            except np.linalg.LinAlgError:              # too few distinct rows so far
                width = math.inf
        all_importance = torch.cat(weights)
        trace["n_queries"].append(used + len(all_importance))
        trace["max_width"].append(width)
        trace["batch_gain"].append(gain)
        trace["importance_ess"].append(float(all_importance.sum() ** 2
                                             / (all_importance**2).sum()))
        if size is None or (tol is not None and width <= tol):
            break
        pool = perturbation.sample_z(max(pool_size, 4 * size), generator)
        scores = information_scores(pool, perturbation.weights(pool), online.state())
        if score == "leverage":
            scores = _leverage_scores(pool, perturbation.weights(pool), online.state())
        picks = sample_batch(scores, size, generator, defensive)
        gain = float(scores[picks.index].sum())
        batch = perturbation.complete(instances, pool[picks.index].unsqueeze(0))
        importance = picks.importance
        factor = 1.0 + size * picks.q                  # the shared pool's share of the variance
    if fit is None:
        raise ValueError(f"the {trace['n_queries'][-1]} rows queried do not determine the "
                         "surrogate (singular design): raise the budget")
    return ImportanceDesign(PerturbationSet.concat(parts), torch.cat(answers),
                            torch.cat(weights), torch.cat([p.weights[0] for p in parts]),
                            anchors, anchor_values, fit, trace["n_queries"][-1], trace)


def _fit(parts, answers, weights, factors, anchors, anchor_values) -> LeastSquaresFit:
    z = torch.cat([p.z[0] for p in parts]).cpu().numpy()
    locality = torch.cat([p.weights[0] for p in parts]).cpu()
    w = (locality * torch.cat(weights)).numpy()
    y = torch.cat(answers).numpy()
    factor = torch.cat(factors).numpy()
    if anchors is None:
        return importance_weighted_fit(z, y, w, variance_factor=factor)
    return importance_weighted_fit(z, y, w, anchors.cpu().numpy(),
                                   anchor_values.cpu().numpy(), variance_factor=factor)
