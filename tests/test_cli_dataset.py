"""probex explain-dataset: chunk files, a CSV summary and an errors table; resumable."""

from __future__ import annotations

import json

import joblib
import numpy as np
import pandas as pd
import pytest

from probex.cli import main
from probex.inference.shapley_design import allocate_strata


@pytest.fixture
def files(demo_model, tmp_path):
    model, data = demo_model
    frame = pd.DataFrame(data.X_test[:9], columns=data.feature_names)
    frame.iloc[4, 2] = np.nan
    frame.to_csv(tmp_path / "rows.csv", index=False)
    joblib.dump(model, tmp_path / "model.joblib")
    return tmp_path


def _command(files, *extra):
    return ["explain-dataset", "--model", str(files / "model.joblib"), "--trust-model",
            "--data", str(files / "rows.csv"), "--out", str(files / "out"),
            "--chunk-size", "3", "--n-samples", "140", *extra]


def test_explain_dataset_writes_chunks_summary_and_errors(files, capsys):
    assert main(_command(files, "--rows", "1:9", "--method", "bayesshap")) == 0
    out = files / "out"
    summary = pd.read_csv(out / "summary.csv")
    assert sorted(set(summary["instance"])) == [1, 2, 3, 5, 6, 7, 8]  # row 4 has a NaN
    assert len(summary) == 7 * 30
    assert {"mean", "sd", "hdi_2.5%", "hdi_97.5%"} <= set(summary.columns)
    errors = pd.read_csv(out / "errors.csv")
    assert errors["row"].tolist() == [4] and "mean perimeter" in errors["message"][0]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["complete"] and manifest["method"] == "BayesSHAP"
    assert manifest["rows"] == [1, 9] and len(manifest["chunks"]) == 3
    assert "7 rows explained" in capsys.readouterr().out
    # each row: its predicted class (1 query) and 100 perturbations
    design = allocate_strata(30, 140).n_evaluations  # BayesSHAP's coalitions per row
    assert sum(c["n_queries"] for c in manifest["chunks"]) == 7 * (design + 1)  # + f(x)


def test_explain_dataset_resumes_and_refuses_a_changed_run(files, capsys):
    assert main(_command(files)) == 0
    first = (files / "out" / "summary.csv").read_text()
    written = {p: p.stat().st_mtime_ns for p in (files / "out" / "chunks").iterdir()}
    assert main(_command(files)) == 0  # resumed: no chunk rewritten, the same numbers
    assert {p: p.stat().st_mtime_ns for p in (files / "out" / "chunks").iterdir()} == written
    assert (files / "out" / "summary.csv").read_text() == first
    capsys.readouterr()
    assert main(_command(files, "--seed", "5")) == 2
    assert "seed: 0 -> 5" in capsys.readouterr().err
    assert main(_command(files, "--seed", "5", "--restart")) == 0


def test_explain_dataset_needs_trust_for_pickles(files, capsys):
    command = [c for c in _command(files) if c != "--trust-model"]
    assert main(command) == 2
    assert "--trust-model" in capsys.readouterr().err
