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

:func:`local_update` is one training step of FEX with this estimator (FEX's default,
``objective="local"``), run by :func:`probex.inference.policy_gradient.train_policy`.
"""

from __future__ import annotations

import torch

from probex.models.fex_policy import kl_to_model

__all__ = ["flipped_masks", "local_differences", "normalise_differences",
           "local_expectation_surrogate", "local_update"]


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


def local_update(program, optimizer: torch.optim.Optimizer, x: torch.Tensor,
                 targets: torch.Tensor, model_probs: torch.Tensor, settings) -> dict:
    """One training step of FEX with the local-expectation gradient on a minibatch.

    Draws s = ``settings.trajectory_length`` masks per instance from the current policy,
    queries each mask and its G unit flips (s * n * (G + 1) black-box rows), normalises
    the differences per instance (:func:`normalise_differences`) and takes
    ``settings.ppo_epochs`` gradient steps on

        L = local_expectation_surrogate(head, Delta)          (minus E_q[c] / scale)
            - c_H sum_j H(lambda_j)                           (entropy, nats)
            + c_KL KL(p_hat || f)                             (class tie)

    averaged over instances; no value network. ``c_H`` is a temperature in units of the
    instance's mean absolute unit effect.

    Args:
        program: a :class:`probex.models.fex.FEXProgram` (its ``reward`` queries f).
        x: (n, d) instances; targets: (n,) classes explained; model_probs: (n, K) f(x).
        settings: a :class:`probex.inference.policy_gradient.FEXSettings`.

    Returns floats: the drawn masks' mean reward, mask size, mean |Delta| before
    normalising (``mean_abs_delta``, reward units), and the last step's loss parts.
    """
    with torch.no_grad():
        head = program.target_logits(x, targets)
        lam = torch.sigmoid(head)
        masks = torch.bernoulli(lam.expand(settings.trajectory_length, *lam.shape))
        delta, rewards = local_differences(program.reward, masks, x, targets)
        scale = delta.abs().mean()
        delta = normalise_differences(delta).to(x.dtype)
    parameters = [p for group in optimizer.param_groups for p in group["params"]]
    for _ in range(settings.ppo_epochs):
        logits = program.logits(x)
        head = program.target_logits(x, targets, logits)
        policy_loss = local_expectation_surrogate(head, delta)
        entropy = torch.distributions.Bernoulli(logits=head).entropy().sum(-1).mean()
        kl = kl_to_model(logits, model_probs).mean()
        loss = policy_loss - settings.entropy_coef * entropy + settings.kl_coef * kl
        optimizer.zero_grad()
        loss.backward()
        if settings.max_grad_norm is not None:
            torch.nn.utils.clip_grad_norm_(parameters, settings.max_grad_norm)
        optimizer.step()
    return {"reward": float(rewards.mean()), "mask_size": float(masks.sum(-1).mean()),
            "mean_abs_delta": float(scale), "loss": float(loss.detach()),
            "policy_loss": float(policy_loss.detach()), "entropy": float(entropy.detach()),
            "kl": float(kl.detach())}
