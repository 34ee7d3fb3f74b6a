import numpy as np
import pytest
import torch

import probex as px
from probex.datasets import DigitsCNN, fit_network, load_tabular, train_classifier


def test_mlp_on_breast_cancer_is_accurate_and_reproducible():
    net, data = fit_network("breast_cancer", hidden=(16,), epochs=30, seed=0)
    logits = net(torch.as_tensor(data.X_test, dtype=torch.float32))
    accuracy = float((logits.argmax(1).numpy() == data.y_test).mean())
    assert accuracy > 0.93  # a linear model already reaches ~0.95 on this split
    again, _ = fit_network("breast_cancer", hidden=(16,), epochs=30, seed=0)
    for a, b in zip(net.parameters(), again.parameters(), strict=True):
        assert torch.equal(a, b)
    np.testing.assert_allclose(data.X_train.mean(0), 0, atol=1e-10)  # standardized
    bb = px.BlackBox(net, feature_names=data.feature_names)
    assert bb(data.X_test[:5]).shape == (5,) and bb.output == "logits"


def test_cnn_reads_flat_digit_rows():
    net = DigitsCNN()
    assert net(torch.zeros(7, 64)).shape == (7, 10)
    data = load_tabular("digits")
    trained = train_classifier(DigitsCNN(), data.X_train[:300] / 16, data.y_train[:300],
                               epochs=3, seed=0)
    assert not trained.training


def test_bad_requests_are_named():
    with pytest.raises(ValueError, match="unknown architecture='rnn'"):
        fit_network("digits", architecture="rnn")
    with pytest.raises(ValueError, match="needs the 8x8 digits images"):
        fit_network("breast_cancer", architecture="cnn")
    with pytest.raises(ValueError, match="regression set"):
        fit_network("diabetes")
    with pytest.raises(ValueError, match=r"y must have shape \(4,\)"):
        train_classifier(torch.nn.Linear(2, 2), np.zeros((4, 2)), np.zeros(3))
