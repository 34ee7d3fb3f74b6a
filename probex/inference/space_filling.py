"""Space-filling starting designs for adaptive perturbation schemes (EAGLE's first round).

A design of n interpretable rows that follows a scheme's sampling distribution but covers
it more evenly than independent draws, so that the first posterior, which the
information-gain criterion then relies on, is not skewed by an unlucky draw:

- Gaussian perturbations: a scrambled Sobol sequence mapped through the normal inverse
  CDF (randomised quasi-Monte Carlo; every one-dimensional margin is stratified).
- Binary masks, LIME kernel (uniform bits): Sobol coordinates thresholded at 1/2, so each
  feature is kept in (almost exactly) half of the rows.
- Binary masks, Shapley kernel: coalition sizes at stratified quantiles of KernelSHAP's
  size distribution, uniform subsets of those sizes, each followed by its complement
  (the size distribution is symmetric in k <-> d - k, so pairs keep it; every pair keeps
  each feature exactly once).

Other schemes fall back to their own ``sample_z``. Every draw is seeded by the generator.
"""

from __future__ import annotations

import math

import torch

from probex.perturb import GaussianPerturbation, MaskPerturbation, Perturbation

__all__ = ["space_filling_z", "space_filling_design"]


def _sobol(n: int, d: int, generator: torch.Generator) -> torch.Tensor:
    seed = int(torch.randint(2**31 - 1, (1,), generator=generator))
    engine = torch.quasirandom.SobolEngine(d, scramble=True, seed=seed)
    return engine.draw(n, dtype=torch.float64)


def _shapley_pairs(n: int, d: int, generator: torch.Generator) -> torch.Tensor:
    k = torch.arange(1, d, dtype=torch.float64)
    probs = (d - 1) / (k * (d - k))
    cdf = (probs / probs.sum()).cumsum(0)
    n_pairs = math.ceil(n / 2)
    levels = (torch.arange(n_pairs, dtype=torch.float64)
              + torch.rand(n_pairs, generator=generator, dtype=torch.float64)) / n_pairs
    sizes = torch.searchsorted(cdf, levels.clamp(max=cdf[-1].item() - 1e-12)) + 1
    noise = torch.rand(n_pairs, d, generator=generator, dtype=torch.float64)
    masks = (noise.argsort(-1).argsort(-1) < sizes.unsqueeze(-1)).to(torch.float64)
    order = torch.randperm(n_pairs, generator=generator)
    pairs = torch.stack([masks, 1.0 - masks], dim=1)[order]
    return pairs.reshape(2 * n_pairs, d)[:n]


def space_filling_z(perturbation: Perturbation, n: int, generator: torch.Generator
                    ) -> torch.Tensor:
    """n interpretable rows (n, d) spread evenly over the scheme's distribution."""
    if n < 1:
        raise ValueError(f"the number of perturbations must be positive, got {n}")
    d = perturbation.n_features
    if isinstance(perturbation, GaussianPerturbation):
        u = _sobol(n, d, generator).clamp(1e-12, 1 - 1e-12)
        return perturbation.scale * math.sqrt(2.0) * torch.special.erfinv(2.0 * u - 1.0)
    if isinstance(perturbation, MaskPerturbation):
        if perturbation.kernel == "lime":
            return (_sobol(n, d, generator) < 0.5).to(torch.float64)
        return _shapley_pairs(n, d, generator)
    return perturbation.sample_z(n, generator)


def space_filling_design(perturbation: Perturbation, x: torch.Tensor, n: int,
                         generator: torch.Generator):
    """The scheme's anchors followed by space-filling rows: a PerturbationSet of n rows
    for instances ``x`` (B, d), the same interpretable design for every instance."""
    anchors = perturbation.anchors()
    rows = space_filling_z(perturbation, max(n - anchors.shape[0], 1), generator)
    z = torch.cat([anchors, rows])[:n]
    return perturbation.complete(x, z.expand(*x.shape[:-1], -1, -1))
