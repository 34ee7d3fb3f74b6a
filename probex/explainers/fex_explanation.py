"""FEX's outputs: the policy's forward pass and the Explanation built from lambda.

:func:`policy_forward` computes the policy's logits in chunks and in float64, so that a
row's explanation does not depend on its batch; :func:`lambda_explanation` turns the
per-unit keep-probabilities lambda into an :class:`~probex.Explanation` (closed-form
Bernoulli moments, InferenceData built on first use). Both serve
:class:`probex.explainers.fex.FEX`.
"""

from __future__ import annotations

import numpy as np
import torch
import xarray as xr

from probex.explanation import Explanation
from probex.inference.idata import netcdf_attrs
from probex.models.fex_policy import policy_logits

__all__ = ["policy_forward", "lambda_explanation"]

_CHUNK = 8192  # rows per policy forward pass in explain


def policy_forward(policy: torch.nn.Module, X: torch.Tensor, n_classes: int, n_groups: int,
                   device) -> torch.Tensor:
    """Policy logits (n, K, G) of ``X`` on ``device``, in chunks of rows, without gradients
    and in float64 (with the float32 weights' exact values): see ``FEX._forward``."""
    state = {name: t.double() if t.is_floating_point() else t
             for name, t in [*policy.named_parameters(), *policy.named_buffers()]}

    def network(x):
        return torch.func.functional_call(policy, state, (x,))

    X = X.to(device, torch.float64)
    with torch.no_grad():
        return torch.cat([policy_logits(network, X[i:i + _CHUNK], n_classes, n_groups)
                          for i in range(0, X.shape[0], _CHUNK)])


def lambda_explanation(fex, unit_lam: torch.Tensor, p_hat: torch.Tensor, streams, *,
                       n_draws: int) -> Explanation:
    """The deferred :class:`~probex.Explanation` of ``fex`` from per-unit lambda (n, G)
    and p_hat (n, K): mean lambda, sd sqrt(lambda (1 - lambda)) per feature; the draws are
    lambda itself or, with ``n_draws``, Bernoulli masks from each row's stream."""
    lam = fex.groups.expand(unit_lam).numpy()
    sd = np.sqrt(lam * (1.0 - lam))
    names = fex.bb.feature_names
    classes = (fex.bb.class_names if fex.bb.class_names is not None
               and len(fex.bb.class_names) == fex.n_classes else
               [str(k) for k in range(fex.n_classes)])
    inference = f"amortized-{fex.settings.objective}"
    attrs = {"objective": fex.settings.objective, "reward": fex.reward_kind,
             "trajectory_length": fex.settings.trajectory_length,
             "entropy_coef": fex.settings.entropy_coef, "kl_coef": fex.settings.kl_coef,
             "standardize": int(fex.standardize), "n_groups": fex.groups.n_groups,
             "n_queries_fit": fex.n_queries_fit_, "n_draws": n_draws}
    meta = netcdf_attrs({"inference": inference, "method": fex.method,
                         "n_instances": lam.shape[0], **attrs})
    dims = ["instance", "feature"]
    closed = xr.Dataset({"loc": (dims, lam), "sd": (dims, sd)},
                        coords={"feature": names, "instance": np.arange(lam.shape[0])},
                        attrs={"distribution": "bernoulli"})

    def build():
        if n_draws:
            masks = torch.stack([torch.bernoulli(
                unit_lam[i].expand(n_draws, -1), generator=streams.generator(i))
                for i in range(unit_lam.shape[0])], dim=1)
            draws = fex.groups.expand(masks).numpy()[None]
        else:
            draws = lam[None, None]
        return Explanation.from_draws(
            draws, names, method=fex.method, inference=inference,
            closed_form={"loc": lam, "sd": sd, "distribution": "bernoulli"},
            constant_data={"class_probabilities": p_hat.numpy(),
                           "feature_group": fex.groups.ids.numpy()},
            dims={"class_probabilities": ["instance", "class"],
                  "feature_group": ["feature"]},
            coords={"class": classes}, attrs=attrs).idata

    return Explanation.deferred(closed, meta, build)
