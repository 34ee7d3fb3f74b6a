"""Switching Panels from scikit-learn's 8x8 digits (after LEX, Senetaire et al., 2023).

Each image is two 8x8 digit panels side by side (8 rows x 16 columns, flattened row-major
to 128 features, pixel values in [0, 1]). One panel, on a side drawn at random, holds a
*target* digit, whose class is the label; the other holds a *distractor*. LEX used an
MNIST digit beside a FashionMNIST item; with only the bundled digits, targets and
distractors come from disjoint classes (by default targets 0-4, distractors 5-9), so the
side that matters can be read from the image, and the true selection of a row is its
target panel (64 pixels). Train and test panels are built from the two halves of a
stratified split of the digits, so test panels show unseen digits.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["PanelData", "make_switching_panels", "PANEL_SHAPE"]

PANEL_SHAPE = (8, 16)


@dataclass(frozen=True)
class PanelData:
    """Switching Panels, split into train and test.

    Attributes:
        X_train, X_test: (n, 128) images in [0, 1], rows of the 8x16 picture.
        y_train, y_test: (n,) labels 0..C-1 (index into ``target_classes``).
        relevant_train, relevant_test: (n, 128) booleans, True on the target panel.
        side_train, side_test: (n,) 0 when the target is on the left, 1 on the right.
        target_classes: the digit classes the labels name.
        feature_names: ``"r{row}c{col}"`` for the 128 pixels.
    """

    X_train: np.ndarray
    X_test: np.ndarray
    y_train: np.ndarray
    y_test: np.ndarray
    relevant_train: np.ndarray
    relevant_test: np.ndarray
    side_train: np.ndarray
    side_test: np.ndarray
    target_classes: tuple[int, ...]
    feature_names: list[str]

    image_shape = PANEL_SHAPE

    @property
    def n_classes(self) -> int:
        return len(self.target_classes)


def _panels(images, labels, targets, rng, n, noise):
    """n panels from digit images (N, 8, 8): (X (n, 128), y, relevant, side)."""
    is_target = np.isin(labels, targets)
    target_index = rng.choice(np.flatnonzero(is_target), size=n)
    other_index = rng.choice(np.flatnonzero(~is_target), size=n)
    side = rng.integers(0, 2, size=n)
    left = np.where(side[:, None, None] == 0, images[target_index], images[other_index])
    right = np.where(side[:, None, None] == 0, images[other_index], images[target_index])
    pictures = np.concatenate([left, right], axis=2)  # (n, 8, 16)
    if noise > 0:
        pictures = pictures + noise * rng.standard_normal(pictures.shape)
    relevant = np.zeros((n, 8, 16), dtype=bool)
    relevant[side == 0, :, :8] = True
    relevant[side == 1, :, 8:] = True
    lookup = {c: i for i, c in enumerate(targets)}
    y = np.array([lookup[int(c)] for c in labels[target_index]], dtype=np.int64)
    return pictures.reshape(n, -1), y, relevant.reshape(n, -1), side.astype(np.int64)


def make_switching_panels(n_train: int = 2000, n_test: int = 500, seed: int = 0,
                          target_classes=(0, 1, 2, 3, 4), noise: float = 0.0,
                          test_fraction: float = 0.3) -> PanelData:
    """Build Switching Panels (see the module docstring).

    Args:
        n_train, n_test: number of panel images.
        seed: seeds the digit split, the pairing, the sides and the noise.
        target_classes: digit classes whose panel carries the label; the others are
            distractors.
        noise: sd of Gaussian pixel noise added to every pixel (REAL-X added 0.1 to MNIST).
        test_fraction: fraction of the digits reserved for test panels.
    """
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    targets = tuple(sorted({int(c) for c in target_classes}))
    if not targets or not set(targets) < set(range(10)):
        raise ValueError(f"target_classes must be a non-empty proper subset of 0..9, got "
                         f"{target_classes!r}")
    if int(n_train) < 1 or int(n_test) < 1:
        raise ValueError("n_train and n_test must be positive integers")
    if noise < 0:
        raise ValueError(f"noise must be non-negative, got {noise}")
    digits = load_digits()
    images = digits.images / 16.0
    labels = digits.target
    train_idx, test_idx = train_test_split(np.arange(len(labels)), test_size=test_fraction,
                                           random_state=seed, stratify=labels)
    rng = np.random.default_rng(seed)
    train = _panels(images[train_idx], labels[train_idx], targets, rng, int(n_train), noise)
    test = _panels(images[test_idx], labels[test_idx], targets, rng, int(n_test), noise)
    names = [f"r{r}c{c}" for r in range(PANEL_SHAPE[0]) for c in range(PANEL_SHAPE[1])]
    return PanelData(train[0], test[0], train[1], test[1], train[2], test[2], train[3],
                     test[3], targets, names)
