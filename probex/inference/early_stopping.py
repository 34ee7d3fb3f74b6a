"""Early stopping on a held-out score, for the shared training loop.

:class:`EarlyStopping` is a ``monitor`` of :func:`probex.inference.training.train`: after
every epoch the loop calls :meth:`EarlyStopping.end_of_epoch`, which scores the current
networks on held-out rows (a per-row score, lower is better: e.g. FEX's deletion AUC of
held-out rows), keeps a copy of the best weights, and decides whether to stop:

    diff_i  = best_i - score_i                  (paired over the m held-out rows)
    se      = sd(diff) / sqrt(m)                (recorded in the history)
    gain    = mean(diff) > min_gain_se * se     (default 0: any new best)
    gain    -> best := this epoch (scores and weights), epochs_without_gain := 0
    else    -> epochs_without_gain += 1
    stop    <- epoch + 1 >= min_epochs and epochs_without_gain >= patience

Any new best counts by default. Requiring a gain of one paired standard error
(``min_gain_se=1``) stopped FEX too early on small tabular sets, whose held-out curves
still fall slowly after 30 epochs: with 20-64 held-out rows, patience 10 and at least 15
epochs it stopped 4 of 14 fits (7 pairs x 2 seeds) at 15-21 epochs, costing up to +0.09
in test deletion AUC (bc_mlp 0.446 -> 0.530), while "any new best" with patience 5 stops
only once the curve is flat. A training reward is not used: a policy that saturates its
masks earns more reward while its ranking gets worse (FEX diagnosis, issue 17).

The state (best scores and weights, counters) is saved in checkpoints with the
rest of the loop, so a resumed fit stops where an uninterrupted one would.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Mapping

import numpy as np
import torch

__all__ = ["EarlyStopping"]


class EarlyStopping:
    """Score held-out rows after every epoch; stop when the score stops improving.

    Args:
        evaluate: ``evaluate() -> (m,)`` per-row scores of the current networks (numpy or
            torch; lower is better), m >= 2.
        modules: the networks whose best weights are kept and restored, by name.
        patience: epochs without a gain (module docstring) before stopping.
        min_epochs: never stop before this many epochs.
        min_gain_se: a gain must exceed this many paired standard errors (0: any new
            best counts).
        name: the history column of the mean score; ``name + "_se"`` holds the paired
            standard error of its difference to the best epoch so far.
    """

    def __init__(self, evaluate: Callable[[], object], modules: Mapping[str, torch.nn.Module],
                 *, patience: int = 5, min_epochs: int = 0, min_gain_se: float = 0.0,
                 name: str = "holdout_score"):
        if int(patience) < 1:
            raise ValueError(f"patience must be a positive integer, got {patience!r}")
        if int(min_epochs) < 0:
            raise ValueError(f"min_epochs must be >= 0, got {min_epochs!r}")
        if not min_gain_se >= 0:
            raise ValueError(f"min_gain_se must be >= 0, got {min_gain_se!r}")
        self.evaluate = evaluate
        self.modules = dict(modules)
        self.patience, self.min_epochs = int(patience), int(min_epochs)
        self.min_gain_se = float(min_gain_se)
        self.name = name
        self.best_scores: torch.Tensor | None = None
        self.best_score = math.inf
        self.best_epoch = -1
        self.best_state: dict | None = None
        self.without_gain = 0
        self.stopped = False
        self.epochs_seen = 0

    def end_of_epoch(self, epoch: int) -> dict[str, float]:
        """Score the networks after epoch ``epoch`` (0-based); returns the history stats."""
        scores = torch.as_tensor(np.asarray(self.evaluate(), dtype=np.float64)).reshape(-1)
        if scores.numel() < 2 or not bool(torch.isfinite(scores).all()):
            raise ValueError("early stopping needs finite scores of at least 2 held-out rows")
        mean = float(scores.mean())
        se, gain = math.nan, True
        if self.best_scores is not None:
            diff = self.best_scores - scores
            se = float(diff.std(unbiased=True) / math.sqrt(diff.numel()))
            gain = float(diff.mean()) > self.min_gain_se * se
        if gain:
            self.best_scores, self.without_gain = scores, 0
            self.best_score, self.best_epoch = mean, int(epoch)
            self.best_state = {name: copy.deepcopy(module.state_dict())
                               for name, module in self.modules.items()}
        else:
            self.without_gain += 1
        self.epochs_seen = int(epoch) + 1
        self.stopped = (self.epochs_seen >= self.min_epochs
                        and self.without_gain >= self.patience)
        return {self.name: mean, f"{self.name}_se": se}

    def restore_best(self) -> None:
        """Load the best epoch's weights into the modules (nothing before any epoch)."""
        if self.best_state is not None:
            for name, module in self.modules.items():
                module.load_state_dict(self.best_state[name])

    # ------------------------------------------------------------------ checkpoints
    def state_dict(self) -> dict:
        """Tensors and numbers only (safe for ``torch.load(weights_only=True)``)."""
        return {"best_scores": self.best_scores, "best_score": self.best_score,
                "best_epoch": self.best_epoch, "best_state": self.best_state,
                "without_gain": self.without_gain, "stopped": self.stopped,
                "epochs_seen": self.epochs_seen}

    def load_state_dict(self, state: Mapping) -> None:
        self.best_scores = state["best_scores"]
        self.best_score = float(state["best_score"])
        self.best_epoch = int(state["best_epoch"])
        self.best_state = state["best_state"]
        self.without_gain = int(state["without_gain"])
        self.stopped = bool(state["stopped"])
        self.epochs_seen = int(state["epochs_seen"])
