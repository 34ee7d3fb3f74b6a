"""Calibration error per perturbation level of one or more black boxes.

ReCalX's evaluation (Decker, Tresp & Buettner): every held-out labelled row is perturbed
``n_perturbations`` times in each of B level bins with the explainer's scheme
(:func:`probex.perturb.perturb_by_level`), each black box is queried on the perturbed
rows with their levels (a :class:`~probex.calibrated_blackbox.TemperatureScaledBlackBox`
uses them, a plain :class:`~probex.BlackBox` ignores them), and the KL calibration error
is estimated per bin (:func:`probex.metrics.calibration.calibration_by_level`): CE_AVG
is its mean over bins, CE_MAX its maximum.

All black boxes are scored on the same perturbations, so differences between them are
not perturbation noise.
"""

from __future__ import annotations

from probex._checks import as_matrix, check_count, check_seed
from probex.blackbox import as_blackbox
from probex.metrics.calibration import LevelCalibration, calibration_by_level
from probex.models.calibration import bin_edges
from probex.perturb.levels import (
    check_labels,
    check_level_data_size,
    perturb_by_level,
    resolve_scheme,
)

__all__ = ["perturbed_calibration"]


def perturbed_calibration(bb, X, y, scheme="mask", n_bins: int = 10,
                          n_perturbations: int = 20, background=None, *, seed: int = 1,
                          estimator: str = "kernel", bandwidth=None
                          ) -> LevelCalibration | dict[str, LevelCalibration]:
    """Calibration error per perturbation level on held-out perturbed data.

    Args:
        bb: a black box, or a dict ``{name: black box}`` scored on the same perturbations.
        X: (n, d) held-out inputs (not used for fitting); y: (n,) their labels.
        scheme: ``"mask"``, ``"gaussian"``, a :class:`~probex.perturb.Perturbation` or an
            explainer (its ``.perturbation``); see :func:`probex.perturb.resolve_scheme`.
        n_bins: equal-width level bins on [0, 1].
        n_perturbations: perturbed copies of every row in every bin.
        background: data for a scheme given by name (default X).
        seed: seeds the perturbations (use another one than the calibration's).
        estimator, bandwidth: as for :func:`~probex.metrics.calibration.kl_calibration_error`.

    Returns:
        a :class:`~probex.metrics.calibration.LevelCalibration` (``.table``, ``.ce_avg``,
        ``.ce_max``), or a dict of them for a dict of black boxes.

    Raises:
        ValueError: for sizes :func:`probex.perturb.check_level_data_size` refuses
            (n x n_bins x n_perturbations x d float64 values above its limit).
    """
    boxes = bb if isinstance(bb, dict) else {"model": bb}
    if not boxes:
        raise ValueError("bb must be a black box or a non-empty dict of them")
    boxes = {name: as_blackbox(box) for name, box in boxes.items()}
    first = next(iter(boxes.values()))
    X = as_matrix(X, "X", n_features=first.n_features)
    labels = check_labels(y, X.shape[0])
    n_bins = check_count("n_bins", n_bins)
    n_perturbations = check_count("n_perturbations", n_perturbations)
    check_level_data_size(X.shape[0], n_bins, n_perturbations, X.shape[1])
    scheme = resolve_scheme(scheme, X if background is None else background)
    edges = bin_edges(n_bins)
    data = perturb_by_level(scheme, X, labels, edges, n_perturbations, seed=check_seed(seed))
    results = {}
    for name, box in boxes.items():
        probs = box.predict(data.inputs, level=data.levels)
        results[name] = calibration_by_level(probs, data.labels, data.levels, edges=edges,
                                             estimator=estimator, bandwidth=bandwidth)
    return results if isinstance(bb, dict) else results["model"]
