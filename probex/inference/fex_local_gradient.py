"""Local-expectation policy gradient for FEX's factorised Bernoulli mask policy.

FEX's policy keeps mask unit j with probability lambda_j = sigmoid(l_j), independently
(:mod:`probex.models.fex`). Because the units are independent, the exact gradient of the
expected reward with respect to one logit is a one-dimensional expectation,

    d E_q[c(m)] / d l_j = lambda_j (1 - lambda_j) E_{m ~ q}[ Delta_j(m) ],
    Delta_j(m) = c(m with m_j = 1) - c(m with m_j = 0)

(the local expectation gradient of Titsias & Lazaro-Gredilla, NeurIPS 2015). Estimating
E[Delta_j] from a drawn mask m and its G single-unit flips costs G + 1 reward queries per
mask but removes the other units' contributions from each unit's credit, which the
score-function estimators (PPO, REINFORCE) carry as noise: on small tabular models the
trained PPO policy stays far from its stationary point (see the FEX diagnosis note).

Functions here take a reward callable with :class:`probex.models.fex.MaskReward`'s
signature ``reward(masks (..., n, G), x (n, d), targets (n,)) -> (..., n)``.

Shapes: masks (s, n, G) with s masks per instance; differences (s, n, G).
"""

from __future__ import annotations

import torch

__all__ = ["flipped_masks", "local_differences", "normalise_differences",
           "local_expectation_surrogate"]


def flipped_masks(masks: torch.Tensor) -> torch.Tensor:
    """Each mask followed by its G single-unit flips: (s, n, G) -> (s, G + 1, n, G).

    Index 0 along dim 1 is the mask itself; index 1 + j has unit j flipped.
    """
    if masks.ndim != 3:
        raise ValueError(f"masks must have shape (s, n, G), got {tuple(masks.shape)}")
    n_units = masks.shape[-1]
    eye = torch.eye(n_units, dtype=masks.dtype, device=masks.device)
    flips = (masks[:, None] - eye[None, :, None, :]).abs()  # (s, G, n, G)
    return torch.cat([masks[:, None], flips], dim=1)


def local_differences(reward, masks: torch.Tensor, x: torch.Tensor, targets: torch.Tensor
                      ) -> tuple[torch.Tensor, torch.Tensor]:
    """Delta_j(m) = c(m, m_j = 1) - c(m, m_j = 0) for every drawn mask and unit.

    Args:
        reward: the reward callable (queries the black box once per mask row).
        masks: (s, n, G) binary masks; x: (n, d) instances; targets: (n,) classes.

    Returns:
        differences (s, n, G) and the rewards of the drawn masks themselves (s, n).
        Costs s * n * (G + 1) reward evaluations.
    """
    c = reward(flipped_masks(masks), x, targets)  # (s, G + 1, n)
    c = c.to(masks.dtype) if c.is_floating_point() else c.to(torch.float64)
    base = c[:, 0]  # (s, n)
    flipped = c[:, 1:].permute(0, 2, 1)  # (s, n, G)
    sign = 1.0 - 2.0 * masks.to(flipped.dtype)  # +1 where the flip adds the unit
    return sign * (flipped - base[..., None]), base


def normalise_differences(differences: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """Divide each instance's differences by their mean absolute value over masks and
    units, (s, n, G) -> (s, n, G): the entropy weight then acts as a temperature in units
    of the instance's typical unit effect, the same for confident and uncertain rows."""
    scale = differences.abs().mean(dim=(0, 2), keepdim=True)
    return differences / (scale + eps)


def local_expectation_surrogate(head_logits: torch.Tensor, differences: torch.Tensor
                                ) -> torch.Tensor:
    """A scalar whose gradient w.r.t. the logits (n, G) is minus the local-expectation
    estimate of d E_q[c] / d l, averaged over instances: minimise it together with the
    entropy and KL terms. ``differences`` (s, n, G) are treated as constants."""
    lam = torch.sigmoid(head_logits)
    return -(differences.detach().mean(0) * lam).sum(-1).mean()
