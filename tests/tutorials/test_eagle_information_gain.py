"""Smoke run of tutorials/eagle_information_gain.py: the bound holds, the sample complexity
is linear in d and in log(1/delta), EAGLE's designs carry more information than random
ones, and the figures are written."""

import json
import math

import numpy as np
import pytest


@pytest.fixture(scope="module")
def tutorial_output(run_tutorial, tmp_path_factory):
    out = tmp_path_factory.mktemp("eagle_information_gain")
    stdout = run_tutorial("eagle_information_gain", out)
    return out, json.loads((out / "results.json").read_text()), stdout


def test_figures_are_written(tutorial_output):
    out, results, _ = tutorial_output
    assert results["smoke_test"] is True
    for name in ("information_gain_bound", "sample_complexity", "comparison"):
        data = (out / f"{name}.png").read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000


def test_information_never_exceeds_the_bound_and_grows_like_d_log_t(tutorial_output):
    _, results, stdout = tutorial_output
    rows = results["bound"]
    assert {r["case"] for r in rows} == {"synthetic d=5", "synthetic d=10", "synthetic d=30",
                                         "breast_cancer masks"}
    for row in rows:
        assert row["max_ratio_to_bound"] <= 1.0
        assert row["I_T"] <= row["bound_T"]
    by_case = {}
    for row in rows:
        by_case.setdefault(row["case"], {})[row["design"]] = row
    for case, pair in by_case.items():
        assert pair["EAGLE"]["I_T"] > pair["random"]["I_T"], case
    # the d log t rate: for small d the slope of I_t in log t is d/2 within 10%
    for case in ("synthetic d=5", "synthetic d=10"):
        assert by_case[case]["EAGLE"]["slope_in_d/2_log_t"] == pytest.approx(1.0, abs=0.1)
    assert "max_ratio_to_bound" in stdout


def test_queries_grow_linearly_in_d_and_in_log_inverse_delta(tutorial_output):
    _, results, _ = tutorial_output
    sc = results["sample_complexity"]
    for design in ("EAGLE", "random"):
        per_d = np.array(sc["queries_per_d"][design])
        per_delta = np.array(sc["queries_per_delta"][design])
        assert np.all(np.isfinite(per_d)) and np.all(np.isfinite(per_delta))
        # more features, more queries; tighter confidence, more queries (deltas decrease)
        assert per_d[-1] > per_d[0] and np.all(np.diff(per_delta) >= 0)
        slope, _, r2 = sc["fits"][design]["per_log_inverse_delta"]
        assert slope > 0 and r2 > 0.9
        slope, _, r2 = sc["fits"][design]["per_d"]
        assert slope > 0 and r2 > 0.8
        # logarithmic, not polynomial, in 1/delta: 10^4 times smaller delta, < 3 x queries
        deltas = np.array(sc["deltas"])
        assert per_delta[-1] / per_delta[0] < 3 and deltas[0] / deltas[-1] >= 1e3
    assert np.all(np.array(sc["queries_per_d"]["EAGLE"]) <= np.array(sc["queries_per_d"]["random"]))


def test_comparison_table_holds_valid_numbers(tutorial_output):
    _, results, _ = tutorial_output
    rows = results["comparison"]["rows"]
    assert {(r["dataset"], r["design"]) for r in rows} == {
        (ds, m) for ds in ("breast_cancer", "digits") for m in ("EAGLE", "random", "focused")}
    for row in rows:
        assert 0 <= row["jaccard_top5"] <= 1 and -1 <= row["kendall_tau"] <= 1
        assert 0 <= row["neighbour_jaccard"] <= 1 and 0 < row["mean_weight"] <= 1
        assert math.isnan(row["queries_to_width"]) or row["queries_to_width"] > 0
    for dataset in ("breast_cancer", "digits"):
        log_det = {r["design"]: r["log_det"] for r in rows if r["dataset"] == dataset}
        assert log_det["EAGLE"] > log_det["random"]
