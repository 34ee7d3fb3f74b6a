"""ReCalX: perturbation-aware recalibration of a classifier before explaining it.

Decker, Tresp & Buettner, "Improving Explainability via Perturbation-Aware
Recalibration" (ReCalX). Perturbation-based explainers query the model far from its
training data, where its probabilities are miscalibrated; ReCalX divides the model's
log-probabilities by a temperature that depends on the perturbation level of the query,
fitted on perturbed copies of held-out labelled samples drawn with the explainer's own
scheme. Here the per-level log-temperatures are latent variables, estimated by MAP (the
paper's estimate), a Laplace approximation, SVI or NUTS.

The result *is* the calibrated black box (a :class:`TemperatureScaledBlackBox`): pass it
to BayesLIME, BayesSHAP or EAGLE in place of the model.

This module only wires things together, one job per module:

- :mod:`probex.calibrated_blackbox`: :class:`TemperatureScaledBlackBox`;
- :mod:`probex.perturb.levels`: the level-controlled perturbations
  (:func:`perturb_by_level`);
- :mod:`probex.models.calibration`: the temperature model;
- :mod:`probex.inference.temperatures`: :func:`fit_temperatures`, :class:`TemperatureFit`
  (and its per-bin summary);
- :mod:`probex.plots`: :func:`plot_temperatures`;
- :mod:`probex.metrics.calibration_by_perturbation`: :func:`perturbed_calibration`.

Their public names are re-exported here, so ``from probex.explainers.recalx import ...``
keeps working.
"""

from __future__ import annotations

import arviz as az
import pandas as pd
import torch

from probex._checks import as_matrix, check_count, check_seed
from probex._deprecation import deprecated_alias, renamed_arguments
from probex._version import __version__
from probex.blackbox import as_blackbox
from probex.calibrated_blackbox import TemperatureScaledBlackBox
from probex.inference.temperatures import TemperatureFit, fit_temperatures
from probex.metrics.calibration_by_perturbation import perturbed_calibration
from probex.models.calibration import bin_edges
from probex.perturb.levels import (
    check_labels,
    check_level_data_size,
    perturb_by_level,
    resolve_scheme,
)
from probex.plots import plot_temperatures

__all__ = ["TemperatureScaledBlackBox", "ReCalX", "TemperatureScaling", "fit_temperatures",
           "TemperatureFit", "perturbed_calibration", "plot_temperatures", "perturb_by_level"]


class _FittedTemperatures(TemperatureScaledBlackBox):
    """A temperature-scaled black box whose temperatures were fitted: ``fit``, ``idata``,
    ``inference``, ``summary()``, ``plot()`` and ``n_queries_fit_``."""

    method = "TemperatureScaling"
    fit: TemperatureFit
    n_queries_fit_: int

    n_calibration_queries = deprecated_alias("n_queries_fit_")

    def _finish(self, bb, fit: TemperatureFit, edges: torch.Tensor, n_queries: int,
                seed: int, **attrs) -> None:
        """Become the calibrated black box and stamp the fit's metadata on every group."""
        super().__init__(bb, fit.point, edges)
        self.fit = fit
        self.seed = seed
        self.n_queries_fit_ = int(n_queries)
        for group in fit.idata.groups():
            fit.idata[group].attrs.update(
                method=self.method, inference=fit.inference, seed=seed,
                n_queries_fit=self.n_queries_fit_, probex_version=__version__, **attrs)

    @property
    def idata(self) -> az.InferenceData:
        """Posterior of the temperatures as ArviZ InferenceData."""
        return self.fit.idata

    @property
    def inference(self) -> str:
        return self.fit.inference

    def summary(self, prob: float = 0.9) -> pd.DataFrame:
        """One row per level bin (see :meth:`TemperatureFit.summary`)."""
        return self.fit.summary(prob)

    def plot(self, *, prob: float = 0.9, truth=None, reference: dict | None = None, ax=None,
             path=None):
        """Temperature against perturbation level with a central ``prob`` band; see
        :func:`probex.plots.plot_temperatures`."""
        return plot_temperatures(self, prob=prob, truth=truth, reference=reference, ax=ax,
                                 path=path)


def _subsample(X: torch.Tensor, y: torch.Tensor, n_rows: int | None, seed: int):
    if n_rows is None or X.shape[0] <= n_rows:
        return X, y
    chosen = torch.randperm(X.shape[0], generator=torch.Generator().manual_seed(seed))
    chosen = chosen[:n_rows].sort().values
    return X[chosen], y[chosen]


def _check_classes(log_probs: torch.Tensor, labels: torch.Tensor) -> None:
    if int(labels.max()) >= log_probs.shape[1]:
        raise ValueError(f"labels go up to {int(labels.max())} but the model has "
                         f"{log_probs.shape[1]} classes")


class ReCalX(_FittedTemperatures):
    """Perturbation-aware recalibration: a temperature per bin of perturbation level.

    ``ReCalX(bb, X_cal, y_cal)`` fits the temperatures and *is* the calibrated black box
    (a :class:`TemperatureScaledBlackBox`): pass it to BayesLIME, BayesSHAP or EAGLE in
    place of ``bb``.

    Calibration data: ``n_rows`` held-out labelled rows (a seeded subsample of X_cal),
    each perturbed ``n_perturbations`` times in every one of the ``n_bins`` level bins
    with ``scheme`` (see :mod:`probex.perturb.levels`); the uncalibrated model is
    queried once on all of them (``n_queries_fit_`` rows) and never during inference.

    Args:
        bb: the classifier to calibrate (:class:`~probex.BlackBox` or a model).
        X_cal: (n, d) held-out inputs, not used to train the model; y_cal: (n,) labels.
        scheme: ``"mask"`` (replacement by ``background``'s mean), ``"gaussian"``, a
            :class:`~probex.perturb.Perturbation`, or the explainer whose perturbations
            will be calibrated (its ``.perturbation`` is used).
        n_bins: number B of equal-width level bins on [0, 1] (at most 1000).
        inference: ``"map"`` (default; the paper's estimate), ``"laplace"`` (MAP plus a
            normal approximation), ``"svi"`` (full-rank normal guide), ``"nuts"`` or a
            configured runner (``MAPRunner``, ``SVIRunner``, ``NUTSRunner``; it runs with
            this object's ``seed``).
        prior: prior of the log-temperatures (default: Gaussian random walk over bins,
            :func:`probex.models.calibration.random_walk_prior`); a Pyro distribution
            over the (B,) vector or a callable, see
            :func:`probex.models.calibration.temperature_model`.
        n_rows: calibration rows drawn from X_cal (``None``: all of them); calibration
            queries = n_rows * n_bins * n_perturbations at most. Formerly ``n_samples``
            (which in probex means queries per instance; the old name still works, with
            a DeprecationWarning, for one release).
        n_perturbations: perturbed copies of every row in every bin.
        background: data for a scheme given by name (default X_cal).
        predictive: add ``log_likelihood`` (log p(label | T) per draw and calibration
            row) and ``posterior_predictive`` (replicated labels) to ``idata``, for
            ``az.loo`` / ``az.compare`` of priors and ``az.plot_ppc``: ``None`` (default)
            while each holds at most 2^22 values (draws x calibration rows), ``True``
            always, ``False`` never; a MAP point (the default inference) has none.
        prior_predictive: add ``prior`` and ``prior_predictive`` (labels drawn with
            temperatures from the prior; no queries).
        seed: seeds the subsample, the perturbations and the inference.
        progress: progress bars for SVI / NUTS (``None``: only on a terminal).

    Raises:
        ValueError: when the calibration data would not fit in memory (n_rows x n_bins x
            n_perturbations x d float64 values above
            :data:`probex.perturb.levels.MAX_LEVEL_DATA_BYTES`, 2 GiB; the message states
            the estimate), before anything is allocated.

    Attributes:
        temperatures, bin_edges, idata, fit, scheme, n_queries_fit_ (black-box rows spent
        fitting; ``n_calibration_queries`` is its deprecated alias), base, seed.
        ``idata``'s attributes carry ``method``, ``inference``, ``seed``,
        ``n_queries_fit``, ``scheme`` and ``probex_version``.
    """

    method = "ReCalX"

    @renamed_arguments(n_samples="n_rows")
    def __init__(self, bb, X_cal, y_cal, scheme="mask", n_bins: int = 10, inference="map",
                 prior=None, n_rows: int | None = 200, n_perturbations: int = 10,
                 background=None, *, predictive: bool | None = None,
                 prior_predictive: bool = False, seed: int = 0,
                 progress: bool | None = None):
        seed = check_seed(seed)
        n_bins = check_count("n_bins", n_bins)
        n_perturbations = check_count("n_perturbations", n_perturbations)
        n_rows = None if n_rows is None else check_count("n_rows", n_rows)
        bb = as_blackbox(bb)
        X = as_matrix(X_cal, "X_cal", n_features=bb.n_features)
        y = check_labels(y_cal, X.shape[0])
        check_level_data_size(X.shape[0] if n_rows is None else min(n_rows, X.shape[0]),
                              n_bins, n_perturbations, X.shape[1])
        scheme = resolve_scheme(scheme, X if background is None else background)
        bb.bind_features(scheme.n_features)
        edges = bin_edges(n_bins)
        X, y = _subsample(X, y, n_rows, seed)
        data = perturb_by_level(scheme, X, y, edges, n_perturbations, seed=seed)
        with bb.counting() as counter:
            log_probs = bb.log_probabilities(data.inputs, level=data.levels)
        _check_classes(log_probs, data.labels)
        fit = fit_temperatures(log_probs, data.labels, data.bins, edges, prior, inference,
                               seed=seed, progress=progress, levels=data.levels,
                               predictive=predictive, prior_predictive=prior_predictive)
        self._finish(bb, fit, edges, counter.n, seed, scheme=type(scheme).__name__)
        self.scheme = scheme


class TemperatureScaling(_FittedTemperatures):
    """Global temperature scaling (Guo et al., 2017): one temperature, fitted on the
    *unperturbed* held-out data and applied at every perturbation level. The baseline
    ReCalX is compared with; same model and inference options with a single bin.

    Args:
        bb: the classifier; X_cal, y_cal: held-out data; inference, prior, predictive,
            prior_predictive, seed, progress: as for :class:`ReCalX`.
    """

    method = "TemperatureScaling"

    def __init__(self, bb, X_cal, y_cal, inference="map", prior=None, *,
                 predictive: bool | None = None, prior_predictive: bool = False,
                 seed: int = 0, progress: bool | None = None):
        seed = check_seed(seed)
        bb = as_blackbox(bb)
        X = as_matrix(X_cal, "X_cal", n_features=bb.n_features)
        y = check_labels(y_cal, X.shape[0])
        with bb.counting() as counter:
            log_probs = bb.log_probabilities(X)
        _check_classes(log_probs, y)
        edges = bin_edges(1)
        fit = fit_temperatures(log_probs, y, torch.zeros_like(y), edges, prior, inference,
                               seed=seed, progress=progress,
                               levels=torch.zeros(y.shape[0], dtype=torch.float64),
                               predictive=predictive, prior_predictive=prior_predictive)
        self._finish(bb, fit, edges, counter.n, seed)
