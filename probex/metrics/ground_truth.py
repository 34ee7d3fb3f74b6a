"""Exact targets of masked games, by querying the model on every coalition.

The masked game of an instance x (d,) with a baseline b (d,) is

    v(z) = f(z * x + (1 - z) * b),   z in {0, 1}^d,                                  (1)

the game BayesSHAP's and KernelSHAP's mask scheme defines (``probex.perturb.
MaskPerturbation``; with b the background mean, shap's KernelExplainer with a single mean
row as background plays the same game). Enumerating all 2^d coalitions gives, with no
sampling error:

- the Shapley values (Shapley 1953; Lundberg & Lee 2017, eq. 8)

      phi_j = sum_{S not containing j} |S|! (d - |S| - 1)! / d! [v(S + j) - v(S)];   (2)

- the target of the LIME-kernel mask surrogate: the weighted least-squares fit of
  v(z) ~ beta_0 + z^T beta over all 2^d masks (each equally likely, the uniform mask
  distribution of ``MaskPerturbation(kernel="lime")``) with LIME's weights
  pi(z) = exp(-||1 - z||^2 / (2 w^2)), w the kernel width (Ribeiro et al. 2016, eq. 2).

Coalitions are coded as integers c in [0, 2^d): bit j of c set means feature j is kept.
The model is called once per chunk of ``chunk_size`` rows, so memory stays bounded; the
cost, B 2^d evaluations for B instances, is reported as ``n_evaluations``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from probex._evaluate import as_baseline, as_instances, check_chunk_size, evaluate_rows

__all__ = ["MAX_ENUMERATED_FEATURES", "MaskedGame", "ShapleyTruth", "SurrogateTarget",
           "coalition_masks", "masked_game", "shapley_from_game", "exact_shapley_values",
           "lime_mask_target_from_game", "lime_mask_target"]

MAX_ENUMERATED_FEATURES = 20  # 2^20 ~ 1e6 model evaluations per instance


@dataclass(frozen=True)
class MaskedGame:
    """Values of the masked game (1) on every coalition.

    Attributes:
        values: (B, 2^d); column c is v of the coalition with integer code c.
        n_evaluations: model evaluations spent (B 2^d).
    """

    values: np.ndarray
    n_evaluations: int

    @property
    def n_features(self) -> int:
        return int(round(math.log2(self.values.shape[1])))


@dataclass(frozen=True)
class ShapleyTruth:
    """Exact Shapley values of the masked game; arrays lose the instance axis for x (d,).

    Attributes:
        values: phi, (B, d) or (d,); sums to ``prediction - base_value``.
        base_value: v(empty coalition) = f(baseline), (B,) or scalar.
        prediction: v(full coalition) = f(x), (B,) or scalar.
        n_evaluations: model evaluations spent.
    """

    values: np.ndarray
    base_value: np.ndarray
    prediction: np.ndarray
    n_evaluations: int


@dataclass(frozen=True)
class SurrogateTarget:
    """The coefficients a local linear surrogate converges to, with their error.

    Attributes:
        intercept: (B,) or scalar.
        coef: (B, d) or (d,).
        intercept_se, coef_se: Monte Carlo standard errors (zeros for an enumerated target).
        df: degrees of freedom of the standard errors (inf for an enumerated target).
        n_evaluations: model evaluations spent.
    """

    intercept: np.ndarray
    coef: np.ndarray
    intercept_se: np.ndarray
    coef_se: np.ndarray
    df: float
    n_evaluations: int


def _check_enumerable(n_features: int) -> None:
    if n_features > MAX_ENUMERATED_FEATURES:
        raise ValueError(
            f"exact enumeration needs 2^d model evaluations per instance; d={n_features} is "
            f"more than {MAX_ENUMERATED_FEATURES} features"
        )


def coalition_masks(n_features: int, codes=None) -> np.ndarray:
    """Binary masks (len(codes), d) of integer coalition codes (default: all 2^d)."""
    _check_enumerable(n_features)
    codes = np.arange(2**n_features) if codes is None else np.asarray(codes, dtype=np.int64)
    return ((codes[:, None] >> np.arange(n_features)) & 1).astype(np.float64)


def masked_game(f, x, baseline, *, chunk_size: int = 65536) -> MaskedGame:
    """Evaluate the masked game (1) of each instance on all 2^d coalitions.

    Args:
        f: callable mapping (n, d) inputs to (n,) outputs (e.g. a ``probex.BlackBox``).
        x: (d,) or (B, d) instances.
        baseline: (d,) values that replace masked features (e.g. the background mean).
        chunk_size: rows per call of ``f``.
    """
    instances, _ = as_instances(x)
    n_instances, d = instances.shape
    base = as_baseline(baseline, d)
    chunk_size = check_chunk_size(chunk_size)
    _check_enumerable(d)
    n_coalitions = 2**d
    total = n_instances * n_coalitions
    values = np.empty(total)
    for start in range(0, total, chunk_size):
        index = np.arange(start, min(start + chunk_size, total))
        masks = coalition_masks(d, index % n_coalitions)
        rows = masks * instances[index // n_coalitions] + (1.0 - masks) * base
        values[index] = evaluate_rows(f, rows)
    return MaskedGame(values.reshape(n_instances, n_coalitions), total)


def shapley_from_game(values) -> np.ndarray:
    """Shapley values (2) of games given on all coalitions: (B, 2^d) -> (B, d)."""
    values = np.asarray(values, dtype=np.float64)
    d = int(round(math.log2(values.shape[-1])))
    if values.ndim != 2 or 2**d != values.shape[-1] or d < 1:
        raise ValueError(f"values must have shape (B, 2^d), got {values.shape}")
    codes = np.arange(2**d)
    sizes = np.bitwise_count(codes)
    # |S|! (d - |S| - 1)! / d! = 1 / (d C(d - 1, |S|))
    weight = np.array([1.0 / (d * math.comb(d - 1, s)) for s in range(d)])
    phi = np.empty((values.shape[0], d))
    for j in range(d):
        without = codes[((codes >> j) & 1) == 0]
        gains = values[:, without | (1 << j)] - values[:, without]
        phi[:, j] = gains @ weight[sizes[without]]
    return phi


def exact_shapley_values(f, x, baseline, *, chunk_size: int = 65536) -> ShapleyTruth:
    """Exact Shapley values (2) of the masked game (1), by enumerating every coalition.

    Costs B 2^d evaluations of ``f`` (d <= 20), ``chunk_size`` rows per call. For x (d,)
    the instance axis is dropped from every array.
    """
    _, single = as_instances(x)
    game = masked_game(f, x, baseline, chunk_size=chunk_size)
    phi = shapley_from_game(game.values)
    base, prediction = game.values[:, 0], game.values[:, -1]
    if single:
        return ShapleyTruth(phi[0], base[0], prediction[0], game.n_evaluations)
    return ShapleyTruth(phi, base, prediction, game.n_evaluations)


def lime_mask_target_from_game(values, kernel_width: float | None = None
                               ) -> tuple[np.ndarray, np.ndarray]:
    """Weighted least squares of v(z) on (1, z) over all 2^d masks with LIME's kernel.

    Args:
        values: (B, 2^d) game values (see :func:`masked_game`).
        kernel_width: LIME kernel width w; default 0.75 sqrt(d), as ``MaskPerturbation``.

    Returns:
        (intercept (B,), coef (B, d)).
    """
    values = np.asarray(values, dtype=np.float64)
    d = int(round(math.log2(values.shape[-1])))
    if values.ndim != 2 or 2**d != values.shape[-1] or d < 1:
        raise ValueError(f"values must have shape (B, 2^d), got {values.shape}")
    width = 0.75 * math.sqrt(d) if kernel_width is None else float(kernel_width)
    if not width > 0:
        raise ValueError(f"kernel_width must be positive, got {kernel_width!r}")
    masks = coalition_masks(d)
    weights = np.exp(-(d - masks.sum(1)) / (2.0 * width**2))  # ||1 - z||^2 = d - |z|
    design = np.hstack([np.ones((masks.shape[0], 1)), masks])
    normal = design.T @ (weights[:, None] * design)
    solution = np.linalg.solve(normal, design.T @ (weights[:, None] * values.T))
    return solution[0], solution[1:].T


def lime_mask_target(f, x, baseline, *, kernel_width: float | None = None,
                     chunk_size: int = 65536) -> SurrogateTarget:
    """The exact target of the LIME-kernel mask surrogate (uniform masks, LIME weights,
    weighted least squares with an intercept), by enumerating all 2^d masks.

    This is what BayesLIME with ``perturbation="mask"`` converges to as n grows (its
    prior's pull vanishes). Costs B 2^d evaluations; for x (d,) the instance axis is
    dropped.
    """
    _, single = as_instances(x)
    game = masked_game(f, x, baseline, chunk_size=chunk_size)
    intercept, coef = lime_mask_target_from_game(game.values, kernel_width)
    if single:
        intercept, coef = intercept[0], coef[0]
    return SurrogateTarget(intercept, coef, np.zeros_like(intercept), np.zeros_like(coef),
                           math.inf, game.n_evaluations)
