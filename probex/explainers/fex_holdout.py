"""FEX's convergence signal: held-out rows of the fit data scored by deletion AUC.

The training reward is no convergence signal for FEX: a policy whose keep-probabilities
saturate earns more reward per mask while its ranking of the units gets worse (FEX
diagnosis, issue 17). What a user wants of the explainer is a faithful ranking, so
``FEX.fit`` holds out a fraction of its rows, and after every epoch computes their
deletion AUC (:func:`probex.metrics.deletion_auc`) for the model's predicted class, with
the explainer's stored replacement baseline ``baseline_`` (the curves of a tree model
move when the baseline moves, so every evaluation must use the same one). The scores
feed :class:`probex.inference.early_stopping.EarlyStopping`.

Cost: n_hold * (G + 1) black-box rows per epoch, counted in ``n_queries_fit_``.
"""

from __future__ import annotations

import numpy as np
import torch

from probex.inference.early_stopping import EarlyStopping
from probex.metrics import deletion_auc

__all__ = ["split_holdout", "holdout_monitor", "MIN_HOLDOUT_ROWS", "MAX_HOLDOUT_ROWS"]

#: fewer held-out rows than this: no early stopping (the paired error would be too coarse)
MIN_HOLDOUT_ROWS = 16
#: held-out rows are capped: 200 rows give a standard error of ~0.005 in deletion AUC
MAX_HOLDOUT_ROWS = 200


def split_holdout(n_rows: int, fraction: float, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Training and held-out row indices (long tensors, each in increasing order).

    ``round(fraction * n_rows)`` rows (at most :data:`MAX_HOLDOUT_ROWS`) are drawn without
    replacement with the seed; fewer than :data:`MIN_HOLDOUT_ROWS`, or no training row
    left, hold out nothing.
    """
    n_hold = min(MAX_HOLDOUT_ROWS, int(round(float(fraction) * n_rows)))
    if n_hold < MIN_HOLDOUT_ROWS or n_hold >= n_rows:
        return torch.arange(n_rows), torch.zeros(0, dtype=torch.long)
    rng = np.random.default_rng([int(seed), 17])
    held = np.zeros(n_rows, dtype=bool)
    held[rng.choice(n_rows, n_hold, replace=False)] = True
    return (torch.as_tensor(np.flatnonzero(~held)), torch.as_tensor(np.flatnonzero(held)))


def holdout_monitor(fex, X_hold: torch.Tensor, targets: torch.Tensor, *, patience: int,
                    min_epochs: int) -> EarlyStopping:
    """An :class:`EarlyStopping` scoring the current policy's lambda on ``X_hold``
    (n_hold, d) for the classes ``targets`` (n_hold,) by per-row deletion AUC, with
    ``fex.baseline_`` and ``fex.groups``; history column ``holdout_deletion_auc``."""
    X_hold = X_hold.to(torch.float64)
    targets = torch.as_tensor(targets).long().cpu()

    def evaluate() -> np.ndarray:
        unit_lam, _ = fex._lambda(X_hold, targets)
        curve = deletion_auc(fex.bb, X_hold, unit_lam.numpy(), baseline=fex.baseline_,
                             target=targets.numpy(), feature_groups=fex.groups)
        return curve.auc

    return EarlyStopping(evaluate, fex.program.networks(), patience=patience, min_epochs=min_epochs,
                         name="holdout_deletion_auc")
