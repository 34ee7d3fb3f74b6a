"""The checks of a fitted FEX: :class:`FEXDiagnostics`, a base of
:class:`probex.explainers.fex.FEX`, adds the fidelity check against BayesSHAP and random
orderings (:mod:`probex.explainers.fex_fidelity`) and the plot of the training history
with its held-out convergence signal (:mod:`probex.explainers.fex_holdout`).
"""

from __future__ import annotations

__all__ = ["FEXDiagnostics"]


class FEXDiagnostics:
    """FEX's diagnostics of a fit (a mixin: needs the fitted explainer's ``history_``,
    ``best_epoch_``, ``holdout_rows_`` and what :mod:`~probex.explainers.fex_fidelity`
    reads)."""

    def fidelity(self, X, *, n_rows: int = 50, n_samples: int = 300, n_repeats: int = 3,
                 margin: float = 2.0, seed: int | None = None, warn: bool = True):
        """Check the fitted explainer on a sample of rows X: deletion and insertion AUC of
        FEX, BayesSHAP with ``n_samples`` coalitions per row, and ``n_repeats`` random
        orderings, for the model's predicted class with ``baseline_``; a
        :class:`~probex.diagnostics.FidelityWarning` when FEX's deletion AUC is not below
        random's by more than ``margin`` paired standard errors. Returns the table (a
        DataFrame by method; see :func:`probex.explainers.fex_fidelity.fidelity_table`).
        Spends about ``n_rows * (n_samples + (G + 1) * (4 + 2 n_repeats))`` queries."""
        from probex.explainers.fex_fidelity import fidelity_table

        return fidelity_table(self, X, n_rows=n_rows, n_samples=n_samples,
                              n_repeats=n_repeats, margin=margin, seed=seed, warn=warn)

    def plot_history(self, *, ax=None, path=None):
        """The training reward per step and the held-out deletion AUC per epoch, with the
        epoch whose weights were kept (:func:`probex.plots.plot_training`); returns the
        Axes, and writes a PNG to ``path`` when given."""
        from probex.plots import plot_training

        self._check_fitted()
        return plot_training(self.history_, score="holdout_deletion_auc",
                             best_epoch=self.best_epoch_ if self.holdout_rows_ else None,
                             ax=ax, path=path)
