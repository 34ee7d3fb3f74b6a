"""Switching Panels: each picture is a target digit beside a distractor digit."""

import numpy as np
import pytest
from sklearn.datasets import load_digits

from probex.datasets import make_switching_panels


@pytest.fixture(scope="module")
def panels():
    return make_switching_panels(n_train=300, n_test=100, seed=0)


def _panel(rows, side):
    return rows.reshape(-1, 8, 16)[:, :, 8 * side: 8 * side + 8].reshape(-1, 64)


def test_target_panel_holds_a_digit_of_the_label_and_the_other_a_distractor(panels):
    digits = load_digits()
    images = digits.images.reshape(-1, 64) / 16.0
    lookup = {row.tobytes(): label for row, label in zip(images, digits.target, strict=True)}
    for X, y, side, relevant in ((panels.X_train, panels.y_train, panels.side_train,
                                  panels.relevant_train),
                                 (panels.X_test, panels.y_test, panels.side_test,
                                  panels.relevant_test)):
        assert X.shape[1] == 128 and relevant.sum(1).tolist() == [64] * len(y)
        for i in range(len(y)):
            target = _panel(X[i], side[i])[0]
            other = _panel(X[i], 1 - side[i])[0]
            assert lookup[target.tobytes()] == panels.target_classes[y[i]]
            assert lookup[other.tobytes()] not in panels.target_classes
            assert relevant[i].reshape(8, 16)[:, 8 * side[i]: 8 * side[i] + 8].all()
    assert 0.3 < panels.side_train.mean() < 0.7
    assert set(panels.y_train) == set(range(5)) and panels.n_classes == 5


def test_test_panels_use_digits_unseen_in_training(panels):
    def digits_of(X):
        return {p.tobytes() for side in (0, 1) for p in _panel(X, side)}

    assert not digits_of(panels.X_train) & digits_of(panels.X_test)


def test_seeding_noise_and_errors():
    a = make_switching_panels(50, 10, seed=1)
    np.testing.assert_array_equal(a.X_train, make_switching_panels(50, 10, seed=1).X_train)
    noisy = make_switching_panels(50, 10, seed=1, noise=0.1)
    residual = noisy.X_train - a.X_train
    assert abs(residual.std() - 0.1) < 0.01
    custom = make_switching_panels(50, 10, seed=1, target_classes=(7, 3))
    assert custom.target_classes == (3, 7)
    with pytest.raises(ValueError, match="proper subset"):
        make_switching_panels(10, 10, target_classes=range(10))
    with pytest.raises(ValueError, match="positive"):
        make_switching_panels(0, 10)
