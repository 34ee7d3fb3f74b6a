"""FEX's networks: the mask policy g(x) and the value baseline v(x).

FEX (Pan, Moniz & Chawla, "Fast Explanations via Policy Gradient-Optimized Explainer",
IJCAI 2025) explains a classifier f with one network per class, g_k(x) in [0, 1]^G: the
probability that each of G mask units (a feature, or a group of features such as an
image patch) is kept. Here the K class explainers share one body and give logits of
shape (n, K, G); ``lambda = sigmoid(logits)``.

The explainers are tied to the model's class probabilities through the class
distribution they imply, ``p_hat(x) = softmax_k(mean_j log g_kj(x))`` (mean over the G
units), which training pulls towards f(x) with ``KL(p_hat || f)``. ``p_hat`` is also
how an explanation picks its class without querying the model.

The networks see standardised inputs: :class:`InputStandardizer` maps x to
(x - mean) / scale with statistics of the fit data (filled by
:meth:`InputStandardizer.fit_`), so a policy on raw features (e.g. a scikit-learn
pipeline's inputs spanning 1e-3 to 1e3) trains as well as on standardised ones.
"""

from __future__ import annotations

import math
from collections import OrderedDict

import torch
import torch.nn.functional as F
from torch import nn

from probex.models.networks import MLP
from probex.perturb.groups import FeatureGroups  # re-exported: its former home

__all__ = [
    "FeatureGroups",
    "InputStandardizer",
    "standardized",
    "input_standardizer",
    "PolicyMLP",
    "PolicyCNN",
    "ValueMLP",
    "build_policy",
    "policy_class_probabilities",
    "kl_to_model",
]


class InputStandardizer(nn.Module):
    """x (n, d) -> (x - mean) / scale, with buffers ``mean`` and ``scale`` of shape (d,)
    (one value each for ``per_feature=False``, e.g. the pixels of an image).

    Starts as the identity (mean 0, scale 1); :meth:`fit_` sets the statistics from data,
    so checkpoints and state dicts hold them with the weights.
    """

    def __init__(self, n_features: int, per_feature: bool = True):
        super().__init__()
        size = int(n_features) if per_feature else 1
        self.per_feature = bool(per_feature)
        self.register_buffer("mean", torch.zeros(size))
        self.register_buffer("scale", torch.ones(size))

    @torch.no_grad()
    def fit_(self, X: torch.Tensor, min_scale: float = 1e-8) -> InputStandardizer:
        """Set mean and scale (the standard deviation; 1 where it is <= ``min_scale``)
        from rows X (n, d), per feature or over all entries; returns ``self``."""
        X = torch.as_tensor(X).to(torch.float64)
        if self.per_feature:
            mean, std = X.mean(0), X.std(0, unbiased=False)
        else:
            mean, std = X.mean().reshape(1), X.std(unbiased=False).reshape(1)
        std = torch.where(std > min_scale, std, torch.ones_like(std))
        self.mean.copy_(mean.to(self.mean))
        self.scale.copy_(std.to(self.scale))
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean.to(x.dtype)) / self.scale.to(x.dtype)


def standardized(network: nn.Module, n_features: int, per_feature: bool = True
                 ) -> nn.Sequential:
    """``network`` behind an :class:`InputStandardizer`: modules ``standardize`` and
    ``network`` (its parameters keep their initialisation)."""
    return nn.Sequential(OrderedDict(standardize=InputStandardizer(n_features, per_feature),
                                     network=network))


def input_standardizer(module: nn.Module) -> InputStandardizer | None:
    """The :class:`InputStandardizer` in front of a network built by :func:`standardized`
    (``None`` for other modules)."""
    if isinstance(module, nn.Sequential) and isinstance(
            getattr(module, "standardize", None), InputStandardizer):
        return module.standardize
    return None


class PolicyMLP(nn.Module):
    """g(x): (n, d) -> mask logits (n, K, G), a ReLU MLP shared by the K class heads.

    The last layer starts at zero, so every unit starts kept with probability 1/2 (the
    maximum-entropy policy).
    """

    def __init__(self, n_features: int, n_classes: int, n_groups: int,
                 hidden: tuple[int, ...] = (128, 128)):
        super().__init__()
        self.n_classes, self.n_groups = int(n_classes), int(n_groups)
        layers: list[nn.Module] = []
        width = n_features
        for h in hidden:
            layers += [nn.Linear(width, h), nn.ReLU()]
            width = h
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(width, self.n_classes * self.n_groups)
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x)).reshape(-1, self.n_classes, self.n_groups)


class PolicyCNN(nn.Module):
    """g(x) for row-major images given as flat rows (n, H * W) -> logits (n, K, G).

    Two 3x3 convolutions keep the spatial layout; a 1x1 convolution gives K per-pixel
    logit maps that are averaged over each mask unit (so patches get one logit each). A
    global branch (mean-pooled features -> K offsets) lets a class head shift all its
    logits at once, which is what the class tie KL(p_hat || f) asks for.
    """

    def __init__(self, height: int, width: int, n_classes: int, groups: FeatureGroups,
                 channels: int = 32):
        super().__init__()
        self.height, self.width = int(height), int(width)
        self.n_classes, self.n_groups = int(n_classes), groups.n_groups
        self.body = nn.Sequential(
            nn.Conv2d(1, channels, 3, padding=1), nn.ReLU(),
            nn.Conv2d(channels, channels, 3, padding=1), nn.ReLU(),
        )
        self.head = nn.Conv2d(channels, self.n_classes, 1)
        self.offset = nn.Linear(channels, self.n_classes)
        for layer in (self.head, self.offset):
            nn.init.zeros_(layer.weight)
            nn.init.zeros_(layer.bias)
        pooling = groups.membership / groups.sizes[:, None]  # (G, d) averages per unit
        self.register_buffer("pooling", pooling.to(torch.float32).T.contiguous())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        image = x.reshape(-1, 1, self.height, self.width)
        features = self.body(image)
        maps = self.head(features).flatten(2)  # (n, K, d)
        offsets = self.offset(features.mean((2, 3)))[..., None]  # (n, K, 1)
        return maps @ self.pooling.to(maps.dtype) + offsets


class ValueMLP(MLP):
    """v(x): (n, d) -> expected reward of each class head (n, K), the policy's baseline:
    a ReLU :class:`~probex.models.networks.MLP` with one hidden layer of 64 by default."""

    def __init__(self, n_features: int, n_classes: int, hidden: tuple[int, ...] = (64,)):
        super().__init__(n_features, n_classes, hidden)


def build_policy(spec, n_features: int, n_classes: int, groups: FeatureGroups,
                 hidden: tuple[int, ...] = (128, 128), image_shape=None,
                 standardize: bool = False) -> nn.Module:
    """The policy network from ``spec``: ``"mlp"``, ``"cnn"`` (needs ``image_shape`` or a
    square number of features) or a user ``nn.Module`` returning (n, K, G) or (n, K * G)
    logits. ``standardize`` puts an :class:`InputStandardizer` in front of the built-in
    networks (per feature for the MLP, one mean and scale for the CNN's pixels); a user
    module gets the inputs as they are."""
    if isinstance(spec, nn.Module):
        return spec
    if spec == "mlp":
        policy = PolicyMLP(n_features, n_classes, groups.n_groups, hidden)
        return standardized(policy, n_features) if standardize else policy
    if spec == "cnn":
        if image_shape is None:
            side = math.isqrt(n_features)
            if side * side != n_features:
                raise ValueError(f"explainer='cnn' needs image_shape=(H, W) for {n_features} "
                                 "features (not a square number)")
            image_shape = (side, side)
        height, width = (int(s) for s in image_shape)
        if height * width != n_features:
            raise ValueError(f"image_shape={tuple(image_shape)} does not hold {n_features} "
                             "features")
        policy = PolicyCNN(height, width, n_classes, groups)
        return standardized(policy, n_features, per_feature=False) if standardize else policy
    raise ValueError(f"unknown explainer={spec!r}; expected 'mlp', 'cnn' or a torch nn.Module")


def policy_logits(policy: nn.Module, x: torch.Tensor, n_classes: int, n_groups: int
                  ) -> torch.Tensor:
    """Run the policy and check its output: logits (n, K, G)."""
    logits = policy(x)
    if logits.shape[-2:] != (n_classes, n_groups):
        if logits.ndim == 2 and logits.shape[-1] == n_classes * n_groups:
            logits = logits.reshape(-1, n_classes, n_groups)
        else:
            raise ValueError(f"the explainer network returned shape {tuple(logits.shape)}; "
                             f"expected (n, {n_classes}, {n_groups}) or "
                             f"(n, {n_classes * n_groups})")
    return logits


def policy_class_probabilities(logits: torch.Tensor) -> torch.Tensor:
    """The class distribution the K explainers imply: softmax_k(mean_j log g_kj), (n, K)."""
    return torch.softmax(F.logsigmoid(logits).mean(-1), dim=-1)


def kl_to_model(logits: torch.Tensor, model_probs: torch.Tensor) -> torch.Tensor:
    """KL(p_hat || f) per instance, (n,), with p_hat from :func:`policy_class_probabilities`
    and f the model's class probabilities (n, K) (clamped away from 0)."""
    log_p_hat = torch.log_softmax(F.logsigmoid(logits).mean(-1), dim=-1)
    log_f = torch.log(model_probs.clamp_min(1e-12)).to(log_p_hat.dtype)
    return (log_p_hat.exp() * (log_p_hat - log_f)).sum(-1)
