"""A classifier whose log-probabilities are divided by a perturbation-level temperature.

ReCalX (Decker, Tresp & Buettner, "Improving Explainability via Perturbation-Aware
Recalibration") replaces a classifier's class probabilities at a query of
perturbation level lambda by ``softmax(s / T(lambda))``, with ``s`` the uncalibrated
log-probabilities and ``T`` a step function of lambda (one temperature per level bin,
:mod:`probex.models.calibration`). :class:`TemperatureScaledBlackBox` is that
classifier as a :class:`~probex.BlackBox`: ``predict`` / ``__call__`` /
``log_probabilities`` take the level of each row (BayesLIME, BayesSHAP and EAGLE pass
it; ``level=None`` means unperturbed, level 0), and every row keeps its argmax exactly.

How the temperatures are fitted lives in :mod:`probex.inference.temperatures`; the
fitted black boxes (:class:`~probex.explainers.recalx.ReCalX`, global temperature
scaling) in :mod:`probex.explainers.recalx`.
"""

from __future__ import annotations

import numpy as np
import torch

from probex._checks import as_tensor
from probex.blackbox import BlackBox, as_blackbox
from probex.models.calibration import assign_bins, bin_edges, temper

__all__ = ["TemperatureScaledBlackBox"]

_LEVEL_SLACK = 1e-9  # rounding of levels computed by a scheme, e.g. 1 - mean(z)


class TemperatureScaledBlackBox(BlackBox):
    """A classifier whose log-probabilities are divided by a level-dependent temperature.

    ``predict(X, level)`` returns ``softmax(s / T_b)`` with ``s`` the uncalibrated
    log-probabilities (log-softmax of logits for torch modules, log ``predict_proba``
    for scikit-learn models and probability callables) and ``b`` the bin of each row's
    perturbation level. It queries the same model as ``bb`` with the same options
    (target, batch size, device, feature names), counts its own queries from 0 and
    validates inputs, outputs and levels.

    Args:
        bb: the uncalibrated classifier (a :class:`~probex.BlackBox` or a model).
        temperatures: (B,) positive temperatures, one per level bin.
        edges: (B + 1,) bin edges from 0 to 1 (default: B equal-width bins).

    Argmax: T > 0 keeps the order of each row's scores; where floating-point rounding
    would merge the top score with another one, the originally largest entry is raised
    by one unit in the last place, so ``predict(X, level).argmax(1)`` equals the
    uncalibrated ``predict(X).argmax(1)`` for every row (ties resolved as
    ``torch.argmax`` does, to the first index, in both).
    """

    def __init__(self, bb, temperatures, edges=None):
        bb = as_blackbox(bb)
        if isinstance(bb, TemperatureScaledBlackBox):
            raise ValueError("this black box is already temperature-scaled; calibrate its "
                             "uncalibrated .base instead")
        if bb.task != "classification":
            raise ValueError("temperature scaling needs a classifier (task='classification')")
        super().__init__(bb.model, task=bb.task, target=bb.target, batch_size=bb.batch_size,
                         device=bb.device, feature_names=bb._feature_names,
                         n_features=bb.n_features, output=bb.output,
                         input_type=bb.input_type, class_names=bb.class_names)
        self.n_outputs = bb.n_outputs
        self.base = bb
        temperatures = as_tensor(temperatures, "temperatures").reshape(-1)
        if temperatures.numel() == 0 or bool((temperatures <= 0).any()):
            raise ValueError("temperatures must be positive, one per level bin")
        edges = bin_edges(temperatures.numel()) if edges is None else as_tensor(edges, "edges")
        if (edges.ndim != 1 or edges.numel() != temperatures.numel() + 1
                or float(edges[0]) != 0.0 or float(edges[-1]) != 1.0
                or bool((edges.diff() <= 0).any())):
            raise ValueError(f"edges must increase from 0 to 1 with {temperatures.numel() + 1} "
                             f"entries (one more than the temperatures); got {edges.tolist()}")
        self._temperatures = temperatures.cpu()
        self._edges = edges.cpu()

    # ------------------------------------------------------------------ properties
    @property
    def temperatures(self) -> np.ndarray:
        """The temperature of each level bin, (B,)."""
        return self._temperatures.numpy().copy()

    @property
    def bin_edges(self) -> np.ndarray:
        """Edges of the level bins [e_b, e_{b+1}), (B + 1,)."""
        return self._edges.numpy().copy()

    @property
    def n_bins(self) -> int:
        return self._temperatures.numel()

    def __repr__(self) -> str:
        return (f"{type(self).__name__}({self.kind}, target={self.target}, n_bins={self.n_bins}"
                f", n_queries={self.n_queries})")

    def temperature(self, level=None) -> np.ndarray:
        """Temperature applied at each level (array or scalar; ``None`` = 0)."""
        levels = self._levels(level, None if level is None or np.ndim(level) == 0
                              else np.size(level))
        return self._temperatures[assign_bins(levels, self._edges)].numpy()

    # ------------------------------------------------------------------ queries
    def predict(self, X, level=None) -> torch.Tensor:
        """Calibrated class probabilities (n, k) at the given perturbation levels."""
        raw = self._query(X)
        reference = (torch.softmax(raw, -1) if self.output == "logits" else raw).argmax(-1)
        probs = self._calibrated_log_probs(raw, level).exp()
        return _keep_argmax(probs, reference)

    def log_probabilities(self, X, level=None) -> torch.Tensor:
        """Calibrated log class probabilities (n, k) at the given perturbation levels."""
        raw = self._query(X)
        log_probs = self._calibrated_log_probs(raw, level)
        return _keep_argmax(log_probs, _log_scores(raw, self.output).argmax(-1))

    def _calibrated_log_probs(self, raw: torch.Tensor, level) -> torch.Tensor:
        levels = self._levels(level, raw.shape[0]).to(raw.device)
        temperature = self._temperatures.to(raw)[assign_bins(levels, self._edges.to(raw))]
        return temper(_log_scores(raw, self.output), temperature)

    @staticmethod
    def _levels(level, n_rows: int | None) -> torch.Tensor:
        """Levels (n_rows,) in [0, 1]: ``None`` -> 0, a scalar -> repeated."""
        if level is None:
            return torch.zeros(n_rows or 1, dtype=torch.float64)
        levels = as_tensor(level, "level")
        if levels.ndim == 0:
            levels = levels.expand(n_rows or 1)
        if levels.ndim != 1 or (n_rows is not None and levels.shape[0] != n_rows):
            raise ValueError(f"level must be a scalar or have one entry per input row "
                             f"({n_rows}); got shape {tuple(levels.shape)}")
        if float(levels.min()) < -_LEVEL_SLACK or float(levels.max()) > 1.0 + _LEVEL_SLACK:
            raise ValueError(f"perturbation levels must lie in [0, 1]; got values from "
                             f"{float(levels.min()):.4g} to {float(levels.max()):.4g}")
        return levels.clamp(0.0, 1.0)


def _log_scores(raw: torch.Tensor, output: str) -> torch.Tensor:
    """Uncalibrated log-probabilities from validated model outputs (as BlackBox does)."""
    if output == "logits":
        return torch.log_softmax(raw, dim=-1)
    return torch.log(raw.clamp_min(torch.finfo(raw.dtype).tiny))


def _keep_argmax(values: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    """Raise ``values[i, reference[i]]`` by the least amount that makes it the first
    maximum of row i, in the rare rows where rounding made another entry win."""
    wrong = torch.nonzero(values.argmax(-1) != reference)[:, 0]
    if wrong.numel() == 0:
        return values
    rows, target = values[wrong], reference[wrong]
    index = torch.arange(values.shape[-1], device=values.device)
    before = index[None, :] < target[:, None]
    after = index[None, :] > target[:, None]
    low = torch.full_like(rows, -torch.inf)
    need = torch.maximum(
        torch.nextafter(torch.where(before, rows, low).amax(-1),
                        torch.full_like(rows[:, 0], torch.inf)),
        torch.where(after, rows, low).amax(-1))
    current = rows.gather(1, target[:, None])[:, 0]
    rows = rows.scatter(1, target[:, None], torch.maximum(current, need)[:, None])
    values = values.clone()
    values[wrong] = rows
    return values
