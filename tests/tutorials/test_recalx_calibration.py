"""Quick run of tutorials/recalx_calibration.py: the tables it prints follow from the
predictions and attributions it saved, the decomposition closes, figures are written."""

import itertools
import json

import numpy as np
import pytest
from scipy import stats

from probex.metrics import calibration_by_level
from probex.models.calibration import bin_edges

METHODS = ("uncalibrated", "temperature scaling", "ReCalX")


@pytest.fixture(scope="module")
def tutorial_output(run_tutorial, tmp_path_factory):
    out = tmp_path_factory.mktemp("recalx_calibration")
    stdout = run_tutorial("recalx_calibration", out)
    return out, json.loads((out / "results.json").read_text()), stdout


def test_calibration_tables_follow_from_saved_predictions(tutorial_output):
    out, results, stdout = tutorial_output
    assert results["smoke_test"] is True
    summary = {(row["data"], row["method"]): row for row in results["summary"]}
    for name in ("breast_cancer", "digits"):
        saved = np.load(out / f"{name}_evaluation.npz")
        n_classes = 2 if name == "breast_cancer" else 10
        argmax = None
        for method in METHODS:
            probs = saved[method.replace(" ", "_")]
            assert probs.shape[1] == n_classes
            if argmax is None:
                argmax = probs.argmax(1)
            assert np.array_equal(probs.argmax(1), argmax)  # calibration keeps decisions
            score = calibration_by_level(probs, saved["labels"], saved["levels"],
                                         edges=bin_edges(10))
            row = summary[(name, method)]
            assert row["CE_MAX"] == pytest.approx(score.ce_max, abs=1e-12)
            assert row["CE_AVG"] == pytest.approx(score.ce_avg, abs=1e-12)
            assert results["per_level"][name][method] == pytest.approx(
                score.table["ce_kl"].tolist(), abs=1e-12)
            assert np.all(score.ce_kl >= 0)
        recalx, temperatures = summary[(name, "ReCalX")], results["temperatures"][name]
        assert len(temperatures["recalx_map"]) == 10 and len(temperatures["global"]) == 1
        assert min(temperatures["recalx_map"]) > 0
        assert recalx["CE_MAX change %"] == pytest.approx(
            100 * (recalx["CE_MAX"] / summary[(name, "uncalibrated")]["CE_MAX"] - 1))
    assert "CE_MAX" in stdout and "temperature scaling" in stdout


def test_decomposition_closes_and_tempering_keeps_information(tutorial_output):
    _, results, stdout = tutorial_output
    decomposition = results["decomposition"]
    assert decomposition["max_residual"] < 1e-12
    rows = decomposition["rows"]
    assert len(rows) == 8  # every subset of three features
    for row in rows:
        closed = row["KL(P_Y||f_empty)"] + row["I(f_S;Y)"] - row["CE_KL(f_S)"]
        assert row["v(S)"] == pytest.approx(closed, abs=1e-12)
        assert abs(row["I change"]) < 1e-12  # tempering is a bijection of predictions
    assert "largest |residual|" in stdout


def test_stability_follows_from_saved_attributions(tutorial_output):
    out, results, _ = tutorial_output
    saved = np.load(out / "bayesshap_attributions.npz")
    for row in results["stability"]:
        values = saved[row["method"]]
        assert values.shape == (3, 3, 30)  # seeds x rows x features (quick run)
        pairs = [[stats.spearmanr(values[a, r], values[b, r])[0]
                  for a, b in itertools.combinations(range(3), 2)] for r in range(3)]
        assert row["rank stability"] == pytest.approx(np.mean(pairs), abs=1e-12)
        assert row["mean |attribution|"] == pytest.approx(np.abs(values).mean(), abs=1e-12)
    assert not np.allclose(saved["uncalibrated"], saved["ReCalX"])


def test_figures_are_written(tutorial_output):
    out, _, _ = tutorial_output
    for name in ("calibration_error_by_level.png", "temperature_by_level.png",
                 "bayesshap_before_after.png"):
        path = out / name
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert path.stat().st_size > 10_000
