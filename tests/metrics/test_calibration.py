"""Calibration metrics: the exact decomposition of predictive power, the KL calibration
error estimators against known calibration maps, top-label ECE, per-level tables."""

import itertools

import numpy as np
import pytest
from scipy.special import softmax

from probex.metrics.calibration import (
    calibration_by_level,
    conditional_entropy,
    kl_calibration_error,
    predictive_power_decomposition,
    top_label_ece,
)


def discrete_problem(seed=0):
    """X uniform-ish on {0,1,2}^3 (27 states), 3 classes, P(y | x) a softmax of a
    nonlinear score; the model is a miscalibrated linear softmax of x."""
    rng = np.random.default_rng(seed)
    states = np.array(list(itertools.product(range(3), repeat=3)), dtype=float)
    p_x = rng.dirichlet(np.full(len(states), 2.0))
    true_scores = states @ rng.normal(size=(3, 3)) + 0.5 * np.sin(states.sum(1))[:, None]
    joint = p_x[:, None] * softmax(true_scores, axis=1)
    weights, bias = 1.7 * rng.normal(size=(3, 3)), rng.normal(size=3)

    def model(x):
        return softmax(x @ weights + bias, axis=-1)

    baseline = p_x @ states  # mean replacement
    return states, joint, model, baseline


def masked_predictions(states, model, baseline, subset):
    kept = np.zeros(states.shape[1], dtype=bool)
    kept[list(subset)] = True
    return model(np.where(kept, states, baseline))


@pytest.mark.parametrize("subset", [s for r in range(4) for s in
                                    itertools.combinations(range(3), r)])
def test_decomposition_identity_is_exact(subset):
    states, joint, model, baseline = discrete_problem()
    predictions = masked_predictions(states, model, baseline, subset)
    f_empty = model(baseline)
    terms = predictive_power_decomposition(joint, predictions, f_empty)
    # each term is computed from its own definition; the identity must close to rounding
    assert abs(terms["residual"]) < 1e-12
    # the value v(S) computed directly, independently of the function
    p_y = joint.sum(0)
    direct = np.sum(joint * np.log(predictions)) - np.sum(p_y * np.log(f_empty))
    assert terms["value"] == pytest.approx(direct, abs=1e-13)
    assert terms["prior_kl"] > 0 and terms["calibration_error"] > 0
    if len(subset) == 0:  # f_S = f_empty: no information, the error is the prior KL
        assert terms["mutual_information"] == pytest.approx(0.0, abs=1e-14)
        assert terms["calibration_error"] == pytest.approx(terms["prior_kl"], abs=1e-14)
        assert terms["value"] == pytest.approx(0.0, abs=1e-14)
    else:
        assert terms["mutual_information"] > 0


def test_decomposition_pools_inputs_with_equal_predictions():
    states, joint, model, baseline = discrete_problem()
    predictions = masked_predictions(states, model, baseline, (0,))
    assert len(np.unique(predictions, axis=0)) == 3  # 27 inputs, 3 distinct predictions
    terms = predictive_power_decomposition(joint, predictions, model(baseline))
    # I(f_S(X); Y) by hand: group the 27 inputs by the value of the kept feature
    p_qy = np.stack([joint[states[:, 0] == v].sum(0) for v in range(3)])
    p_q, p_y = p_qy.sum(1, keepdims=True), p_qy.sum(0, keepdims=True)
    assert terms["mutual_information"] == pytest.approx(
        np.sum(p_qy * np.log(p_qy / (p_q * p_y))), abs=1e-14)
    # the per-input mutual information I(X; Y) is larger: pooling matters
    p_x = joint.sum(1, keepdims=True)
    assert np.sum(joint * np.log(joint / (p_x * p_y))) > terms["mutual_information"] + 0.01


def test_decomposition_rejects_bad_input():
    states, joint, model, baseline = discrete_problem()
    predictions = model(states)
    with pytest.raises(ValueError, match="sum to 1"):
        predictive_power_decomposition(joint * 2, predictions, model(baseline))
    with pytest.raises(ValueError, match="shape|must be"):
        predictive_power_decomposition(joint, predictions[:-1], model(baseline))
    zero = predictions.copy()
    zero[0] = [1.0, 0.0, 0.0]
    with pytest.raises(ValueError, match="probability 0"):
        predictive_power_decomposition(joint, zero, model(baseline))


def tempered_sample(n, n_classes, temperature, seed=0, scale=2.0):
    """Labels from softmax(s); predictions softmax(temperature * s). Returns predictions,
    labels and the true calibration probabilities."""
    rng = np.random.default_rng(seed)
    scores = scale * rng.normal(size=(n, n_classes))
    truth = softmax(scores, axis=1)
    labels = (rng.random(n)[:, None] > truth.cumsum(1)).sum(1).clip(0, n_classes - 1)
    return softmax(temperature * scores, axis=1), labels, truth


@pytest.mark.parametrize("temperature", [2.5, 0.5])
def test_kernel_estimate_is_conservative_and_close_for_two_classes(temperature):
    probs, labels, truth = tempered_sample(2000, 2, temperature)
    true_error = np.mean(np.sum(truth * (np.log(truth) - np.log(probs)), axis=1))
    # the oracle gain log C(q)[y] - log q[y] has mean CE_KL; its standard error
    rows = np.arange(len(labels))
    gain = np.log(truth[rows, labels]) - np.log(probs[rows, labels])
    oracle, se = gain.mean(), gain.std() / np.sqrt(len(gain))
    estimate = kl_calibration_error(probs, labels)
    assert estimate <= oracle + 3 * se  # a held-out gain is (up to noise) a lower bound
    assert estimate >= 0.75 * true_error  # and a tight one for k = 2 at n = 2000
    binned = kl_calibration_error(probs, labels, estimator="binned")
    assert abs(binned - true_error) < 0.35 * true_error


def test_kernel_estimate_of_a_calibrated_model_is_near_zero():
    probs, labels, _ = tempered_sample(1500, 4, 1.0, seed=1)
    estimate = kl_calibration_error(probs, labels)
    assert 0.0 <= estimate < 0.01
    entropy, (bandwidth, shrinkage) = conditional_entropy(probs, labels)
    nll = -np.mean(np.log(probs[np.arange(len(labels)), labels]))
    assert nll - entropy == pytest.approx(estimate, abs=1e-12)
    assert shrinkage >= 0.5 and bandwidth > 0  # mostly trusts the model's own prediction


def test_kernel_estimate_detects_multiclass_miscalibration():
    calibrated = kl_calibration_error(*tempered_sample(1500, 4, 1.0, seed=2)[:2])
    probs, labels, truth = tempered_sample(1500, 4, 2.5, seed=2)
    true_error = np.mean(np.sum(truth * (np.log(truth) - np.log(probs)), axis=1))
    estimate = kl_calibration_error(probs, labels)
    assert calibrated + 0.1 < estimate < 1.1 * true_error


def test_top_label_ece_matches_a_direct_loop():
    probs, labels, _ = tempered_sample(500, 3, 2.0, seed=3)
    confidence, predicted = probs.max(1), probs.argmax(1)
    total = 0.0
    for b in range(10):
        inside = (confidence >= b / 10) & (confidence < (b + 1) / 10 if b < 9 else True)
        if inside.any():
            total += inside.sum() * abs((predicted[inside] == labels[inside]).mean()
                                        - confidence[inside].mean())
    assert top_label_ece(probs, labels, n_bins=10) == pytest.approx(total / 500, abs=1e-12)


def test_calibration_by_level_scores_each_bin_separately():
    rng = np.random.default_rng(4)
    parts = [tempered_sample(300, 2, t, seed=s) for s, t in enumerate([1.0, 2.0, 4.0])]
    probs = np.concatenate([p[0] for p in parts])
    labels = np.concatenate([p[1] for p in parts])
    levels = np.concatenate([rng.uniform(lo, lo + 0.1, 300) for lo in (0.0, 0.5, 0.9)])
    result = calibration_by_level(probs, labels, levels, n_bins=10)
    table = result.table
    assert list(table["n"]) == [300, 0, 0, 0, 0, 300, 0, 0, 0, 300]
    per_bin = [kl_calibration_error(p[0], p[1]) for p in parts]
    assert table["ce_kl"].dropna().to_numpy() == pytest.approx(per_bin, abs=1e-12)
    assert result.ce_max == pytest.approx(max(per_bin))
    assert result.ce_avg == pytest.approx(np.mean(per_bin))
    assert per_bin[0] < per_bin[1] < per_bin[2]  # more overconfident, larger error
    assert table.index[-1] == "[0.90, 1.00]"


def test_metrics_reject_bad_input():
    probs, labels, _ = tempered_sample(20, 3, 1.0)
    with pytest.raises(ValueError, match="sum to 1"):
        kl_calibration_error(probs * 0.9, labels)
    with pytest.raises(ValueError, match="labels must lie"):
        kl_calibration_error(probs, labels + 3)
    with pytest.raises(ValueError, match="NaN"):
        top_label_ece(np.where(probs > 0.5, np.nan, probs), labels)
    with pytest.raises(ValueError, match="estimator"):
        kl_calibration_error(probs, labels, estimator="histogram")
    with pytest.raises(ValueError, match="levels"):
        calibration_by_level(probs, labels, np.full(20, 1.5))
