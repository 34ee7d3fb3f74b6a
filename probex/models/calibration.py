"""ReCalX: perturbation-level temperatures as latent variables.

Perturbation-based explainers query a classifier on inputs unlike its training data,
where its probabilities are often miscalibrated. ReCalX (Decker, Tresp & Buettner,
"Improving Explainability via Perturbation-Aware Recalibration") rescales the model's
log-probabilities by a temperature that depends on the perturbation level lambda in
[0, 1] (the fraction of features replaced, or an equivalent severity). Here the
temperatures are latent variables of a Pyro model:

    u = (log T_1, ..., log T_B)  ~ prior        (default: Gaussian random walk over bins)
    y_i | s_i, b_i, u            ~ Categorical(softmax(s_i / T_{b_i}))   i = 1..N

with s_i (k,) the model's log-probabilities (log-softmax of logits for torch modules,
log ``predict_proba`` for scikit-learn) on a perturbed copy of a held-out sample whose
true label is y_i, and b_i the bin of its level. Dividing scores by T > 0 preserves
their order, so every argmax is kept; T > 1 softens overconfident predictions.

The default prior is a Gaussian random walk in log T: log T_1 ~ N(0, initial_scale^2)
and log T_b - log T_{b-1} ~ N(0, step_scale^2), so neighbouring levels share strength
and a bin without data is interpolated. It is written in centred form, as one
multivariate normal with covariance initial_scale^2 + step_scale^2 min(b, b') (bins
counted from 0): with many rows per bin the posterior of (log T_b) is then close to
independent across b, which suits NUTS and mean-field guides.

Shapes: ``log_probs`` (N, k) float, ``labels`` (N,) long, ``bins`` (N,) long in
0..B-1. The model's sites are ``log_temperature`` (B,) (default prior), the
deterministic ``temperature`` (B,), and the observed ``label`` inside the plate
``calibration_rows`` (dim -1).
"""

from __future__ import annotations

import pyro
import pyro.distributions as dist
import torch

from probex.prior_base import cast_distribution

__all__ = [
    "LEVEL_TOLERANCE",
    "bin_edges",
    "assign_bins",
    "random_walk_prior",
    "temperature_model",
    "temper",
]

LEVEL_TOLERANCE = 1e-9
"""Levels within this distance below a bin edge count as on the edge (so 1 - 27/30,
which is 0.09999999999999998 in floating point, falls in the bin starting at 0.1)."""


def bin_edges(n_bins: int, dtype=torch.float64) -> torch.Tensor:
    """B + 1 equally spaced edges of the level bins [e_b, e_{b+1}) on [0, 1]."""
    if int(n_bins) < 1:
        raise ValueError(f"n_bins must be a positive integer, got {n_bins!r}")
    return torch.linspace(0.0, 1.0, int(n_bins) + 1, dtype=dtype)


def assign_bins(levels: torch.Tensor, edges: torch.Tensor) -> torch.Tensor:
    """Bin index (long, same shape as ``levels``) of each level in [0, 1].

    Bin b is [e_b, e_{b+1}); the last bin also holds its right edge (level 1). A level
    within :data:`LEVEL_TOLERANCE` below an edge belongs to the bin above it.
    """
    inner = edges[1:-1].to(levels)
    index = torch.searchsorted(inner, (levels + LEVEL_TOLERANCE).contiguous(), right=True)
    return index.clamp(0, edges.numel() - 2)


def random_walk_prior(n_bins: int, step_scale: float = 0.5, initial_scale: float = 1.0,
                      initial_loc: float = 0.0, like: torch.Tensor | None = None
                      ) -> dist.MultivariateNormal:
    """Gaussian random walk over bins for the log-temperatures, as one normal (B,).

    log T_1 ~ N(initial_loc, initial_scale^2); each step log T_b - log T_{b-1} ~
    N(0, step_scale^2). ``step_scale`` is in nats of log-temperature per bin: 0.5 lets
    the temperature change by a factor e^{0.5} ~ 1.65 between neighbouring bins at one
    prior standard deviation. ``like`` sets dtype and device.
    """
    if not (step_scale > 0 and initial_scale > 0):
        raise ValueError("step_scale and initial_scale must be positive")
    like = torch.zeros((), dtype=torch.float64) if like is None else like
    index = torch.arange(int(n_bins), dtype=like.dtype, device=like.device)
    covariance = initial_scale**2 + step_scale**2 * torch.minimum(index[:, None],
                                                                  index[None, :])
    loc = torch.full((int(n_bins),), float(initial_loc), dtype=like.dtype, device=like.device)
    return dist.MultivariateNormal(loc, covariance_matrix=covariance)


def temper(log_probs: torch.Tensor, temperature: torch.Tensor) -> torch.Tensor:
    """Calibrated log-probabilities log softmax(s / T): s (..., k), T broadcastable to
    s[..., 0]. Order-preserving in s for every T > 0."""
    return torch.log_softmax(log_probs / temperature.unsqueeze(-1), dim=-1)


def _log_temperature_site(prior, n_bins: int, like: torch.Tensor) -> torch.Tensor:
    if prior is None:
        prior = random_walk_prior(n_bins, like=like)
    if isinstance(prior, dist.Distribution):
        prior = cast_distribution(prior, like)
        shape = tuple(prior.batch_shape) + tuple(prior.event_shape)
        if shape != (n_bins,):
            raise ValueError(
                f"the log-temperature prior has shape {shape} (batch + event); it must "
                f"describe the ({n_bins},) log-temperatures of the {n_bins} bins"
            )
        if len(prior.event_shape) == 0:
            prior = prior.to_event(1)
        return pyro.sample("log_temperature", prior)
    if callable(prior):
        value = prior(n_bins, like)
        if not isinstance(value, torch.Tensor) or value.shape[-1:] != (n_bins,):
            raise ValueError(
                f"a callable prior must return the log-temperatures as a tensor (..., "
                f"{n_bins}); got {getattr(value, 'shape', type(value).__name__)}"
            )
        return value
    raise TypeError(
        "prior must be None, a Pyro distribution over the (n_bins,) log-temperatures, or "
        "a callable prior(n_bins, like) that samples them and returns a tensor"
    )


def temperature_model(log_probs: torch.Tensor, labels: torch.Tensor | None,
                      bins: torch.Tensor, n_bins: int, prior=None) -> torch.Tensor:
    """Pyro model of ReCalX's per-level temperatures (see the module docstring).

    Args:
        log_probs: (N, k) log-probabilities of the uncalibrated model on the calibration
            rows (precomputed once: the model is never queried during inference).
        labels: (N,) true labels, or ``None`` to sample them (prior predictive).
        bins: (N,) level bin of each row, in 0..n_bins-1.
        n_bins: number of level bins B.
        prior: ``None`` (:func:`random_walk_prior` with its defaults), a Pyro
            distribution whose batch + event shape is (B,), or a callable
            ``prior(n_bins, like)`` that samples any sites it needs (e.g. a hierarchical
            step scale) and returns the (B,) log-temperatures.

    Returns:
        the temperatures (..., B).
    """
    log_temperature = _log_temperature_site(prior, int(n_bins), log_probs)
    temperature = pyro.deterministic("temperature", log_temperature.exp(), event_dim=1)
    per_row = temperature.index_select(-1, bins)  # (..., N)
    if temperature.dim() > 1 and temperature.shape[-2] == 1:
        # vectorized particles / predictive draws add batch dims left of the rows plate
        per_row = per_row.squeeze(-2)
    with pyro.plate("calibration_rows", log_probs.shape[0]):
        pyro.sample("label", dist.Categorical(logits=log_probs / per_row.unsqueeze(-1)),
                    obs=labels)
    return temperature
