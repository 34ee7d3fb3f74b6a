"""Small torch classifiers trained on the bundled data: the black boxes of the tutorials.

All networks take flat rows (n, d) so that :class:`probex.BlackBox` can query them like
any tabular model, and return logits (n, n_classes). Training is minibatch Adam with
a seeded generator, so the same seed gives the same weights on CPU.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from probex._checks import as_matrix, resolve_device
from probex.datasets.bundled import TabularData, load_tabular
from probex.models.networks import MLP  # re-exported: the MLP lives with the models

__all__ = ["MLP", "DigitsCNN", "train_classifier", "fit_network"]


class DigitsCNN(nn.Module):
    """A small CNN for 8x8 images given as flat rows (n, 64 * channels) -> logits (n, 10)."""

    def __init__(self, n_classes: int = 10, side: int = 8, width: int = 16):
        super().__init__()
        self.side = side
        self.features = nn.Sequential(
            nn.Conv2d(1, width, 3, padding=1), nn.ReLU(),
            nn.Conv2d(width, 2 * width, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        )
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(2 * width * (side // 2) ** 2, 64),
                                  nn.ReLU(), nn.Linear(64, n_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        image = x.reshape(-1, 1, self.side, x.shape[-1] // self.side)
        return self.head(self.features(image))


def train_classifier(module: nn.Module, X, y, epochs: int = 100, batch_size: int = 64,
                     learning_rate: float = 1e-3, weight_decay: float = 1e-4, seed: int = 0,
                     device="cpu") -> nn.Module:
    """Fit ``module`` by cross-entropy with Adam; returns it in eval mode on ``device``.

    Args:
        X: (n, d) inputs; y: (n,) integer labels in 0..n_classes-1.
    """
    device = resolve_device(device)
    X = as_matrix(X, "X", dtype=torch.float32, device=device)
    y = torch.as_tensor(np.asarray(y), dtype=torch.long, device=device)
    if y.shape != (X.shape[0],):
        raise ValueError(f"y must have shape ({X.shape[0]},), got {tuple(y.shape)}")
    generator = torch.Generator().manual_seed(int(seed))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed))
        module = module.to(device).train()
        for layer in module.modules():  # seeded re-initialisation
            if hasattr(layer, "reset_parameters"):
                layer.reset_parameters()
    optimizer = torch.optim.Adam(module.parameters(), lr=learning_rate,
                                 weight_decay=weight_decay)
    loss_fn = nn.CrossEntropyLoss()
    for _ in range(int(epochs)):
        order = torch.randperm(X.shape[0], generator=generator).to(device)
        for start in range(0, X.shape[0], batch_size):
            index = order[start : start + batch_size]
            optimizer.zero_grad()
            loss_fn(module(X[index]), y[index]).backward()
            optimizer.step()
    return module.eval()


def fit_network(name: str = "breast_cancer", architecture: str = "mlp",
                hidden: tuple[int, ...] = (64, 64), epochs: int = 100, seed: int = 0,
                device="cpu") -> tuple[nn.Module, TabularData]:
    """A torch classifier on a bundled data set, standardized: (network, TabularData).

    ``architecture``: ``"mlp"`` (``hidden`` widths; ``()`` for logistic regression) or
    ``"cnn"`` (digits only, on 8x8 images). The data are standardized with the training
    mean and std (digits: divided by 16 instead, so a blank pixel stays 0).
    """
    if architecture not in ("mlp", "cnn"):
        raise ValueError(f"unknown architecture={architecture!r}; expected 'mlp' or 'cnn'")
    if architecture == "cnn" and name != "digits":
        raise ValueError("architecture='cnn' needs the 8x8 digits images (name='digits')")
    data = load_tabular(name, seed=seed, standardize=name != "digits")
    if name == "digits":
        data = TabularData(data.X_train / 16.0, data.X_test / 16.0, data.y_train, data.y_test,
                           data.feature_names, data.target_names, data.task, data.name)
    if data.task != "classification":
        raise ValueError(f"fit_network trains classifiers; {name!r} is a regression set")
    n_classes = len(data.target_names)
    module = (DigitsCNN(n_classes) if architecture == "cnn"
              else MLP(data.n_features, n_classes, hidden))
    return train_classifier(module, data.X_train, data.y_train, epochs=epochs, seed=seed,
                            device=device), data
