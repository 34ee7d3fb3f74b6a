"""The exact decomposition of the predictive power of a feature subset (SAGE's value
under the log loss) into the prior's KL divergence, the mutual information between the
prediction and the label, and the KL calibration error, for a discrete input: the
identity behind reading CE_KL as lost predictive power (:mod:`probex.metrics.calibration`)."""

from __future__ import annotations

import numpy as np

__all__ = ["predictive_power_decomposition"]


def predictive_power_decomposition(joint, predictions, baseline) -> dict[str, float]:
    """Exact terms of v(S) = D_KL(P_Y || f_empty) + I(f_S(X); Y) - CE_KL(f_S).

    For a discrete input X with finitely many values x_1..x_m, the identity holds
    exactly with these definitions (all in nats):

    - v(S) = E[-log f_empty(X)_Y] - E[-log f_S(X)_Y], the reduction of the expected
      cross-entropy when the features S are kept (SAGE's value function under the log
      loss), where f_S(x) is the model with the features outside S replaced (by a
      baseline, for mean replacement) and f_empty does not depend on x;
    - I(f_S(X); Y), the mutual information between the label and the *prediction*
      Q = f_S(X) as a random variable (inputs with equal predictions pooled), not
      between the label and the input;
    - CE_KL(f_S) = E_Q[D_KL(P(Y | Q) || Q)], with the calibration map conditioned on
      the prediction as well.

    Proof: E[-log Q_Y] = H(Y | Q) + CE_KL(f_S) by adding and subtracting log P(Y | Q);
    for a constant f_empty, E[-log f_empty_Y] = H(Y) + D_KL(P_Y || f_empty); subtract
    and use H(Y) - H(Y | Q) = I(Q; Y). (With an input-dependent f_empty the first term
    becomes I(f_empty; Y) - CE_KL(f_empty) subtracted instead.)

    Args:
        joint: (m, k) probabilities P(X = x_i, Y = c), summing to 1.
        predictions: (m, k) f_S(x_i), rows on the simplex and strictly positive where
            ``joint`` is.
        baseline: (k,) the constant prediction f_empty.

    Returns:
        ``value``, ``prior_kl``, ``mutual_information``, ``calibration_error`` and
        ``residual`` = value - (prior_kl + mutual_information - calibration_error).
    """
    joint = np.asarray(joint, dtype=np.float64)
    predictions = np.asarray(predictions, dtype=np.float64)
    baseline = np.asarray(baseline, dtype=np.float64)
    if joint.ndim != 2 or predictions.shape != joint.shape or baseline.shape != joint.shape[1:]:
        raise ValueError(f"joint {joint.shape} and predictions {predictions.shape} must be "
                         f"(m, k) and baseline {baseline.shape} must be (k,)")
    for name, array in (("joint", joint), ("predictions", predictions),
                        ("baseline", baseline)):
        if not np.all(np.isfinite(array)) or np.any(array < 0):
            raise ValueError(f"{name} must hold finite non-negative probabilities")
    if abs(joint.sum() - 1) > 1e-9:
        raise ValueError(f"joint must sum to 1, sums to {joint.sum():.12g}")
    if np.abs(predictions.sum(1) - 1).max() > 1e-9 or abs(baseline.sum() - 1) > 1e-9:
        raise ValueError("each prediction and the baseline must sum to 1")
    if np.any((joint > 0) & (predictions == 0)) or np.any((joint.sum(0) > 0) & (baseline == 0)):
        raise ValueError("a prediction gives probability 0 to a possible outcome (infinite loss)")
    with np.errstate(divide="ignore", invalid="ignore"):
        positive = joint > 0
        log_pred = np.where(positive, np.log(np.where(positive, predictions, 1.0)), 0.0)
        log_base = np.log(np.where(baseline > 0, baseline, 1.0))
        value = float((joint * (log_pred - log_base[None])).sum())
        p_y = joint.sum(0)
        prior_kl = float(np.sum(np.where(p_y > 0, p_y * np.log(np.where(p_y > 0, p_y, 1.0)
                                                               / np.where(baseline > 0,
                                                                          baseline, 1.0)),
                                         0.0)))
        unique, group = np.unique(predictions, axis=0, return_inverse=True)
        group = np.asarray(group).reshape(-1)
        p_qy = np.zeros((unique.shape[0], joint.shape[1]))
        np.add.at(p_qy, group, joint)
        p_q = p_qy.sum(1)
        ratio_i = p_qy / (p_q[:, None] * p_y[None, :])
        mutual_information = float(np.sum(np.where(p_qy > 0, p_qy * np.log(
            np.where(p_qy > 0, ratio_i, 1.0)), 0.0)))
        conditional = p_qy / np.where(p_q > 0, p_q, 1.0)[:, None]
        ratio_c = conditional / np.where(unique > 0, unique, 1.0)
        calibration_error = float(np.sum(np.where(p_qy > 0, p_qy * np.log(
            np.where(p_qy > 0, ratio_c, 1.0)), 0.0)))
    return {"value": value, "prior_kl": prior_kl, "mutual_information": mutual_information,
            "calibration_error": calibration_error,
            "residual": value - (prior_kl + mutual_information - calibration_error)}
