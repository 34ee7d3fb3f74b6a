"""Synthetic classification sets with known relevant features (instance-wise ground truth).

The sets of L2X (Chen et al., 2018, Sec. 4.1) and INVASE (Yoon et al., 2019, Sec. 5.1),
on d = 10 standard normal features (the features that drive P(y = 1 | x) are the ground
truth):

* ``xor``: P(y = 1 | x) = 1 / (1 + exp(x1 x2)); relevant {x1, x2}.
* ``orange_skin``: P(y = 1 | x) = 1 / (1 + exp(sum_{j<=4} x_j^2 - 4)); relevant x1..x4.
* ``nonlinear_additive``: P(y = 1 | x) = 1 / (1 + exp(-10 sin(0.2 x1) + |x2| + x3 +
  exp(-x4) - 2.4)) (the constants of INVASE's code; L2X's code multiplies the sine by
  100, which lets x1 alone decide almost every label); relevant x1..x4.
* ``switch``: x10 ~ N(+3, 1) or N(-3, 1) with probability 1/2 each; where x10 > 0 the label
  follows orange-skin on x1..x4, else nonlinear-additive on x5..x8. The switch feature is
  relevant too (it tells which group matters), as in INVASE's Syn4-6 and LEX's sets; the
  group is read from the sign of x10 so that P(y | x) is a function of x.

And a diagonal Gaussian set (LEX, Senetaire et al., 2023, Sec. 5: sets for studying
imputation): x ~ N(mu, diag(sigma^2)) with mu_j = 1 and sigma_j from 0.5 to 2, and
P(y = 1 | x) = sigmoid(4 sum_{j<=k} s_j (x_j - mu_j) / sigma_j) with signs s_j = +-1;
relevant x1..xk. Its non-zero means make zero imputation off the data distribution while
mean imputation is on it, and the diagonal covariance makes the Gaussian conditional
equal the marginal.

Labels are drawn y ~ Bernoulli(P(y = 1 | x)) (``labels="sample"``) or thresholded at 1/2
(``labels="threshold"``, the noise-free variant). Everything is seeded.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from probex._checks import check_choice

__all__ = ["SelectionData", "make_synthetic", "synthetic_probability", "SYNTHETIC_SETS"]

SYNTHETIC_SETS = ("xor", "orange_skin", "nonlinear_additive", "switch", "diagonal_gaussian")


@dataclass(frozen=True)
class SelectionData:
    """Inputs, labels and the ground-truth relevant features of each row.

    Attributes:
        X: (n, d) float64 inputs. y: (n,) int labels in {0, 1}.
        probability: (n,) P(y = 1 | x) of the generating model.
        relevant: (n, d) booleans, True where the feature drives the label of that row.
        feature_names: d names. name: the set's name.
    """

    X: np.ndarray
    y: np.ndarray
    probability: np.ndarray
    relevant: np.ndarray
    feature_names: list[str]
    name: str

    @property
    def n_features(self) -> int:
        return self.X.shape[1]

    def split(self, n_train: int) -> tuple[SelectionData, SelectionData]:
        """The first ``n_train`` rows and the rest (rows are already in random order)."""
        if not 0 < n_train < self.X.shape[0]:
            raise ValueError(f"n_train must be in 1..{self.X.shape[0] - 1}, got {n_train}")
        head, tail = slice(0, n_train), slice(n_train, None)
        return tuple(SelectionData(self.X[s], self.y[s], self.probability[s],
                                   self.relevant[s], self.feature_names, self.name)
                     for s in (head, tail))


def _sigmoid(v):
    return 1.0 / (1.0 + np.exp(-np.clip(v, -500, 500)))


def _xor(X):
    return _sigmoid(-X[:, 0] * X[:, 1])


def _orange(X):
    return _sigmoid(4.0 - np.sum(X[:, :4] ** 2, axis=1))


def _additive(X):
    return _sigmoid(-(-10 * np.sin(0.2 * X[:, 0]) + np.abs(X[:, 1]) + X[:, 2]
                      + np.exp(-X[:, 3]) - 2.4))


_DIAG_K = 3


def _diagonal_scales(d):
    return np.linspace(0.5, 2.0, d)


def _diagonal(X, k=_DIAG_K):
    scales = _diagonal_scales(X.shape[1])
    signs = np.where(np.arange(k) % 2 == 0, 1.0, -1.0)
    return _sigmoid(4.0 * ((X[:, :k] - 1.0) / scales[:k]) @ signs)


def synthetic_probability(name: str, X) -> np.ndarray:
    """P(y = 1 | x) of a synthetic set for rows X (n, d): the Bayes-optimal classifier,
    usable as a black box (``BlackBox(lambda X: synthetic_probability(name, X))``)."""
    check_choice("synthetic set", name, SYNTHETIC_SETS)
    X = np.asarray(X, dtype=float)
    needed = _DIAG_K if name == "diagonal_gaussian" else 10
    if X.ndim != 2 or X.shape[1] < needed:
        raise ValueError(f"{name!r} needs rows with at least {needed} features; got shape "
                         f"{X.shape}")
    if name == "xor":
        return _xor(X)
    if name == "orange_skin":
        return _orange(X)
    if name == "nonlinear_additive":
        return _additive(X)
    if name == "diagonal_gaussian":
        return _diagonal(X)
    on = X[:, 9] > 0
    return np.where(on, _orange(X), _additive(X[:, 4:8]))


def make_synthetic(name: str, n: int = 1000, seed: int = 0, labels: str = "sample",
                   n_features: int = 10) -> SelectionData:
    """Generate ``n`` rows of a synthetic set (see the module docstring).

    Args:
        name: one of ``"xor"``, ``"orange_skin"``, ``"nonlinear_additive"``, ``"switch"``,
            ``"diagonal_gaussian"``.
        labels: ``"sample"`` (Bernoulli draws) or ``"threshold"`` (P > 1/2).
        n_features: d (>= 10; the diagonal Gaussian set accepts d >= 3).
    """
    check_choice("synthetic set", name, SYNTHETIC_SETS)
    check_choice("labels", labels, ("sample", "threshold"))
    n, d = int(n), int(n_features)
    if n < 1:
        raise ValueError(f"n must be a positive integer, got {n}")
    if d < (_DIAG_K if name == "diagonal_gaussian" else 10):
        raise ValueError(f"{name!r} needs n_features >= "
                         f"{_DIAG_K if name == 'diagonal_gaussian' else 10}, got {d}")
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    relevant = np.zeros((n, d), dtype=bool)
    if name == "switch":
        X[:, 9] += np.where(rng.random(n) < 0.5, 3.0, -3.0)
        on = X[:, 9] > 0
        relevant[on, :4] = True
        relevant[~on, 4:8] = True
        relevant[:, 9] = True
    elif name == "diagonal_gaussian":
        X = 1.0 + X * _diagonal_scales(d)
        relevant[:, :_DIAG_K] = True
    else:
        relevant[:, : 2 if name == "xor" else 4] = True
    probability = synthetic_probability(name, X)
    if labels == "sample":
        y = (rng.random(n) < probability).astype(np.int64)
    else:
        y = (probability > 0.5).astype(np.int64)
    names = [f"x{j + 1}" for j in range(d)]
    return SelectionData(X, y, probability, relevant, names, name)
