import warnings

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.linear_model import LinearRegression, LogisticRegression

import probex as px


@pytest.fixture(scope="module")
def logistic():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 4))
    y = (X[:, 0] - X[:, 1] > 0).astype(int)
    return LogisticRegression().fit(X, y), X


def test_sklearn_classifier_outputs_and_query_count(logistic):
    model, X = logistic
    calls = []

    class Spy:
        n_features_in_ = 4

        def predict_proba(self, rows):
            calls.append(len(rows))
            return model.predict_proba(rows)

    bb = px.BlackBox(Spy(), target=1, batch_size=7)
    out = bb(X[:20])
    np.testing.assert_allclose(out.numpy(), model.predict_proba(X[:20])[:, 1], rtol=1e-12)
    assert calls == [7, 7, 6]
    assert bb.n_queries == 20
    assert bb.predict(X[:3]).shape == (3, 2)
    assert bb.n_queries == 23
    assert out.dtype == torch.float64


def test_feature_names_from_dataframe_fit_and_no_sklearn_warning():
    rng = np.random.default_rng(1)
    frame = pd.DataFrame(rng.normal(size=(50, 3)), columns=["age", "bmi", "bp"])
    model = LinearRegression().fit(frame, frame["age"] * 2 - frame["bp"])
    bb = px.BlackBox(model, task="regression")
    assert bb.feature_names == ["age", "bmi", "bp"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # sklearn warns on nameless input to a named model
        values = bb(frame.to_numpy()[:5])
    np.testing.assert_allclose(values.numpy(), model.predict(frame[:5]), rtol=1e-12)


def test_torch_module_logits_are_softmaxed():
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(3, 5), torch.nn.Tanh(), torch.nn.Linear(5, 3))
    bb = px.BlackBox(net, target=2)
    X = np.random.default_rng(2).normal(size=(10, 3))
    probs = bb.predict(X)
    expected = torch.softmax(net(torch.as_tensor(X, dtype=torch.float32)), -1).double()
    torch.testing.assert_close(probs, expected, rtol=1e-6, atol=1e-7)
    torch.testing.assert_close(probs.sum(1), torch.ones(10, dtype=torch.float64))
    log_probs = bb.log_probabilities(X)
    assert torch.equal(log_probs.argmax(1), probs.argmax(1))
    assert bb.differentiable


def test_callables_numpy_and_torch_and_single_probability_column():
    weights = np.array([0.5, -1.0])

    def positive_probability(rows):
        return 1 / (1 + np.exp(-rows @ weights))

    bb = px.BlackBox(positive_probability, n_features=2, target=1)
    X = np.array([[1.0, 0.0], [0.0, 2.0]])
    np.testing.assert_allclose(bb(X).numpy(), positive_probability(X))
    np.testing.assert_allclose(bb.predict(X).sum(1).numpy(), 1.0)

    bb_torch = px.BlackBox(lambda t: torch.stack([t.sum(1), -t.sum(1)], 1), task="classification",
                           output="logits", input_type="torch", target=0, n_features=2)
    expected = torch.sigmoid(2 * torch.as_tensor(X).sum(1))
    torch.testing.assert_close(bb_torch(X), expected)


def test_regression_single_output():
    bb = px.BlackBox(lambda rows: rows.sum(1), task="regression", n_features=3, target=None)
    np.testing.assert_allclose(bb(np.ones((4, 3))).numpy(), 3.0)


def test_the_task_defaults_to_regression_for_scikit_learn_regressors(logistic):
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import LinearSVC

    _, X = logistic
    y = X @ np.array([1.0, -2.0, 0.5, 0.0])
    for model in (LinearRegression().fit(X, y),
                  make_pipeline(StandardScaler(), LinearRegression()).fit(X, y)):
        bb = px.BlackBox(model)
        assert bb.task == "regression"
        np.testing.assert_allclose(bb(X[:5]).numpy(), model.predict(X[:5]))
    assert px.BlackBox(logistic[0]).task == "classification"
    assert px.BlackBox(lambda rows: rows.sum(1), n_features=4).task == "classification"
    # a classifier without probabilities is not taken for a regressor
    svc = LinearSVC().fit(X, (y > 0).astype(int))
    with pytest.raises(ValueError, match="needs a model with predict_proba"):
        px.BlackBox(svc)


@pytest.mark.parametrize("bad, message", [
    (np.array([[np.nan, 0, 0, 0]]), "model input contains 1 NaN"),
    (np.array([[np.inf, 0, 0, 0]]), "model input contains 0 NaN and 1 infinite"),
    (np.zeros((2, 3)), "has 3 columns but the model expects 4"),
    (np.zeros(4), "must be 2-D"),
    (np.array([["a", "b", "c", "d"]]), "must be numeric, got strings"),
])
def test_bad_inputs_are_named(logistic, bad, message):
    bb = px.BlackBox(logistic[0])
    with pytest.raises(ValueError, match=message):
        bb(bad)
    assert bb.n_queries == 0


@pytest.mark.parametrize("output, message", [
    (lambda X: np.full((len(X), 2), np.nan), "model output contains"),
    (lambda X: np.tile([np.inf, 0.0], (len(X), 1)), "model output contains 0 NaN and"),
    (lambda X: np.tile([1.5, -0.5], (len(X), 1)), r"probabilities outside \[0, 1\]"),
    (lambda X: np.tile([0.2, 0.2], (len(X), 1)), "do not sum to 1"),
    (lambda X: np.ones((len(X) + 1, 2)) / 2, "model output has shape"),
    (lambda X: np.ones((len(X), 2, 2)) / 2, "model output has shape"),
    (lambda X: np.ones((len(X), 1)), "one column per class"),
    (lambda X: np.full(len(X), 1.2), r"outside \[0, 1\]"),
])
def test_bad_outputs_are_named(output, message):
    bb = px.BlackBox(output, n_features=2)
    with pytest.raises(ValueError, match=message):
        bb(np.zeros((3, 2)))


def test_target_out_of_range_and_bad_options(logistic):
    model, X = logistic
    with pytest.raises(ValueError, match="target=5 but the model has 2 classes"):
        px.BlackBox(model, target=5)(X[:2])
    with pytest.raises(ValueError, match="unknown task='ranking'"):
        px.BlackBox(model, task="ranking")
    with pytest.raises(ValueError, match="unknown output='scores'"):
        px.BlackBox(model, output="scores")
    with pytest.raises(ValueError, match="does not fit task"):
        px.BlackBox(model, task="regression", output="logits")
    with pytest.raises(ValueError, match="needs a model with predict_proba"):
        px.BlackBox(LinearRegression(), task="classification")
    with pytest.raises(TypeError, match="cannot explain a int"):
        px.BlackBox(3)
    with pytest.raises(ValueError, match="batch_size must be a positive"):
        px.BlackBox(model, batch_size=0)
    with pytest.raises(ValueError, match="target must be a non-negative integer"):
        px.BlackBox(model, target=-1)
    with pytest.raises(ValueError, match="feature_names has 2 entries for 4 features"):
        px.BlackBox(model, feature_names=["a", "b"])
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            px.BlackBox(model, device="cuda")


def test_as_blackbox_passes_through(logistic):
    bb = px.BlackBox(logistic[0])
    assert px.as_blackbox(bb) is bb
    with pytest.raises(ValueError, match="apply when wrapping"):
        px.as_blackbox(bb, target=0)


@pytest.mark.gpu
def test_torch_module_on_cuda_returns_cuda_outputs_and_counts():
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 2))
    cpu = px.BlackBox(net, target=1)(np.ones((5, 4)))
    bb = px.BlackBox(net.to("cuda"), target=1, device="cuda", batch_size=2)
    out = bb(np.ones((5, 4)))
    assert out.device.type == "cuda" and bb.n_queries == 5
    torch.testing.assert_close(out.cpu(), cpu, rtol=1e-5, atol=1e-6)
