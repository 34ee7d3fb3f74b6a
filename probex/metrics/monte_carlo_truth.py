"""High-sample Monte Carlo truths, each with its own standard error, in bounded memory.

- SmoothGrad (Smilkov et al. 2017): phi(x) = E_{z ~ N(0, sigma^2 I)}[grad f(x + z)].
  The truth is the mean of N gradients; its standard error is the sample standard
  deviation over sqrt(N) (the draws are iid), accumulated chunk by chunk with the
  pairwise mean/variance update of Chan, Golub & LeVeque (1983).
- A local linear surrogate over a continuous perturbation distribution (BayesLIME's
  Gaussian default): beta = argmin E_z[pi(z) (f(x'(z)) - beta_0 - z^T beta)^2]. The
  truth is the weighted least-squares fit to N draws; its standard error comes from
  ``n_batches`` independent batch fits (batch means: sd of the batch estimates over
  sqrt(n_batches), Student-t with n_batches - 1 degrees of freedom), which needs no
  model assumption about the residuals.

Every random draw comes from a ``torch.Generator`` seeded by ``seed``; the model is
called once per chunk of at most ``chunk_size`` rows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from probex._evaluate import as_instances, check_chunk_size, evaluate_gradients, evaluate_rows
from probex.metrics.ground_truth import SurrogateTarget

__all__ = ["MonteCarloTruth", "smoothgrad_truth", "surrogate_target_monte_carlo"]


@dataclass(frozen=True)
class MonteCarloTruth:
    """A Monte Carlo estimate of an expectation and its error.

    Attributes:
        mean: the estimate, (B, d) or (d,) for a single instance.
        standard_error: its Monte Carlo standard error, same shape.
        n_samples: draws per instance.
        n_evaluations: model evaluations spent (gradients count one per row).
    """

    mean: np.ndarray
    standard_error: np.ndarray
    n_samples: int
    n_evaluations: int


def _check_count(value, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def smoothgrad_truth(gradient, x, sigma: float, *, n_samples: int = 1_000_000,
                     chunk_size: int = 65536, seed: int = 0) -> MonteCarloTruth:
    """E[grad f(x + z)], z ~ N(0, sigma^2 I) in input units, with its standard error.

    Args:
        gradient: a differentiable ``probex.BlackBox`` (its ``.gradient`` is used: the
            gradient of the target probability or output) or a callable mapping (n, d)
            inputs to (n, d) gradients.
        x: (d,) or (B, d) instances; each gets its own independent noise.
        sigma: noise standard deviation (input units, as ``probex.SmoothGrad``).
        n_samples: gradients per instance.
        chunk_size: rows per call of the gradient.
        seed: seeds the noise.
    """
    instances, single = as_instances(x)
    sigma = float(sigma)
    if not (np.isfinite(sigma) and sigma > 0):
        raise ValueError(f"sigma must be a positive number, got {sigma!r}")
    n_samples = _check_count(n_samples, "n_samples", 2)
    chunk_size = check_chunk_size(chunk_size)
    n_instances, d = instances.shape
    per_chunk = max(1, chunk_size // n_instances)
    generator = torch.Generator().manual_seed(int(seed))
    count, mean, m2 = 0, np.zeros((n_instances, d)), np.zeros((n_instances, d))
    for start in range(0, n_samples, per_chunk):
        n = min(per_chunk, n_samples - start)
        noise = sigma * torch.randn((n_instances, n, d), generator=generator,
                                    dtype=torch.float64).numpy()
        rows = (instances[:, None, :] + noise).reshape(-1, d)
        grads = evaluate_gradients(gradient, rows).reshape(n_instances, n, d)
        chunk_mean = grads.mean(1)
        chunk_m2 = ((grads - chunk_mean[:, None, :]) ** 2).sum(1)
        delta = chunk_mean - mean
        total = count + n
        mean = mean + delta * (n / total)
        m2 = m2 + chunk_m2 + delta**2 * (count * n / total)
        count = total
    se = np.sqrt(m2 / (count - 1) / count)
    if single:
        mean, se = mean[0], se[0]
    return MonteCarloTruth(mean, se, count, count * n_instances)


def surrogate_target_monte_carlo(f, x, perturbation, *, n_samples: int = 1_000_000,
                                 n_batches: int = 32, chunk_size: int = 65536,
                                 seed: int = 0) -> SurrogateTarget:
    """The weighted least-squares target of a linear surrogate under a perturbation scheme.

    beta = argmin E_z[pi(z) (f(x'(z)) - beta_0 - z^T beta)^2], with z drawn by
    ``perturbation.sample_z``, inputs x'(z) = ``perturbation.to_inputs(x, z)`` and
    weights pi(z) = ``perturbation.weights(z)`` (e.g. ``probex.perturb.
    GaussianPerturbation``, BayesLIME's default: z ~ N(0, scale^2 I) in units of each
    feature's standard deviation, LIME's kernel of ||z||). Anchor rows are not included:
    the target is the population fit.

    Args:
        f: callable mapping (n, d) inputs to (n,) outputs (e.g. a ``probex.BlackBox``).
        x: (d,) or (B, d) instances.
        perturbation: the scheme (``sample_z``, ``to_inputs``, ``weights``).
        n_samples: draws per instance, split into ``n_batches`` equal batches.
        n_batches: independent batches for the standard error (>= 2).
        chunk_size: rows per call of ``f``.
        seed: seeds the draws.

    Returns:
        a :class:`~probex.metrics.ground_truth.SurrogateTarget` whose standard errors have
        ``n_batches - 1`` degrees of freedom.
    """
    instances, single = as_instances(x)
    n_batches = _check_count(n_batches, "n_batches", 2)
    n_samples = _check_count(n_samples, "n_samples", 2 * n_batches)
    chunk_size = check_chunk_size(chunk_size)
    for method in ("sample_z", "to_inputs", "weights"):
        if not callable(getattr(perturbation, method, None)):
            raise TypeError(f"perturbation must be a probex.perturb.Perturbation (no {method})")
    n_instances, d = instances.shape
    x_t = torch.as_tensor(instances)
    generator = torch.Generator().manual_seed(int(seed))
    per_batch = n_samples // n_batches
    per_chunk = max(1, chunk_size // n_instances)
    normal = np.zeros((n_batches, n_instances, d + 1, d + 1))
    rhs = np.zeros((n_batches, n_instances, d + 1))
    for batch in range(n_batches):
        for start in range(0, per_batch, per_chunk):
            n = min(per_chunk, per_batch - start)
            z = perturbation.sample_z(n, generator, (n_instances,))
            rows = perturbation.to_inputs(x_t, z).reshape(-1, d).numpy()
            y = evaluate_rows(f, rows).reshape(n_instances, n)
            weights = perturbation.weights(z).numpy()
            design = np.concatenate([np.ones((n_instances, n, 1)), z.numpy()], axis=-1)
            weighted = design * weights[..., None]
            normal[batch] += np.einsum("bni,bnj->bij", weighted, design)
            rhs[batch] += np.einsum("bni,bn->bi", weighted, y)
    estimate = np.linalg.solve(normal.sum(0), rhs.sum(0)[..., None])[..., 0]
    per_batch_estimates = np.linalg.solve(normal, rhs[..., None])[..., 0]
    se = per_batch_estimates.std(0, ddof=1) / np.sqrt(n_batches)
    intercept, coef, intercept_se, coef_se = estimate[:, 0], estimate[:, 1:], se[:, 0], se[:, 1:]
    if single:
        intercept, coef, intercept_se, coef_se = intercept[0], coef[0], intercept_se[0], coef_se[0]
    total = per_batch * n_batches
    return SurrogateTarget(intercept, coef, intercept_se, coef_se, float(n_batches - 1),
                           total * n_instances)
