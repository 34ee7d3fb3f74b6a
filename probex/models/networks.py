"""Networks shared by several models: a fully connected ReLU MLP.

Used by LEX (selector, predictor and baseline networks), FEX (the value baseline) and the
tutorials' black boxes (re-exported by :mod:`probex.datasets`).
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["MLP"]


class MLP(nn.Module):
    """Fully connected ReLU network: (n, d) -> outputs (n, n_classes) (logits, values).

    ``hidden=()`` gives multinomial logistic regression.
    """

    def __init__(self, n_features: int, n_classes: int, hidden: tuple[int, ...] = (64, 64)):
        super().__init__()
        layers: list[nn.Module] = []
        width = n_features
        for h in hidden:
            layers += [nn.Linear(width, h), nn.ReLU()]
            width = h
        layers.append(nn.Linear(width, n_classes))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)
