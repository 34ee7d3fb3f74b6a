"""Smoke run of tutorials/lex_imputation.py: the tables it prints agree with the
selections it saved, and its figures are written."""

import json

import numpy as np
import pytest

from probex.metrics import selection_f1, selection_report


@pytest.fixture(scope="module")
def tutorial_output(run_tutorial, tmp_path_factory):
    out = tmp_path_factory.mktemp("lex_imputation")
    return out, run_tutorial("lex_imputation", out)


def test_tables_match_saved_selections(tutorial_output):
    out, stdout = tutorial_output
    results = json.loads((out / "results.json").read_text())
    assert results["smoke_test"] is True
    relevant = np.load(out / "panels_relevant.npy")
    rows = results["panels"]["rows"]
    assert [(r["label"], r["imputation"], r["units"]) for r in rows] == [
        ("zero", "zero", "4x4 patches"), ("factor", "factor", "4x4 patches"),
        ("factor_pixels", "factor", "pixels")]
    for row in rows:
        selected = np.load(out / f"panels_selected_{row['label']}.npy")
        report = selection_report(selected, relevant)
        for key in ("tpr", "fdr", "f1", "size"):
            assert row[key] == pytest.approx(report[key], abs=1e-12)
        assert 0 <= row["side_accuracy"] <= 1
        if row["units"] == "4x4 patches":  # whole patches are selected or not
            patches = selected.reshape(-1, 2, 4, 4, 4)  # (n, row, pixel, column, pixel)
            assert np.all(patches == patches[:, :, :1, :, :1])
    f1 = {row["label"]: selection_f1(np.load(out / f"panels_selected_{row['label']}.npy"),
                                     relevant, average=False)
          for row in rows}
    assert results["panels"]["f1_difference"] == pytest.approx(
        (f1["factor"] - f1["zero"]).mean(), abs=1e-12)
    sets = {row["set"] for row in results["synthetic"]}
    assert sets == {"xor", "orange_skin", "nonlinear_additive", "switch", "diagonal_gaussian"}
    for row in results["synthetic"] + results["special_cases"]:
        assert 0 <= row["tpr"] <= 1 and 0 <= row["fdr"] <= 1 and 0 <= row["accuracy"] <= 1
    assert {row["config"] for row in results["special_cases"]} == {"l2x", "invase", "realx",
                                                                   "lex"}
    assert "F1(multiple) - F1(zero)" in stdout


def test_figures_are_written(tutorial_output):
    out, _ = tutorial_output
    for name in ("switch_selections.png", "panel_selection_maps.png"):
        path = out / name
        assert path.stat().st_size > 5_000
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
