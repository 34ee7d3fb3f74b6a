import re
import shutil
import subprocess
import sys
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

import probex as px
from probex.cli import main


@pytest.fixture(scope="module")
def user_files(tmp_path_factory):
    """A user's fitted model (trained on a DataFrame) and a CSV of rows to explain."""
    folder = tmp_path_factory.mktemp("user")
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(120, 4)), columns=["age", "bmi", "bp", "s1"])
    label = (frame["age"] - 2 * frame["bp"] + 0.3 * rng.normal(size=120) > 0).astype(int)
    model = LogisticRegression().fit(frame, label)
    joblib.dump(model, folder / "model.joblib")
    frame.assign(note=1.0).to_csv(folder / "rows.csv", index=False)  # an extra column
    return folder, model, frame


def test_demo_prints_the_table_and_writes_both_files(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--n-samples", "300"]) == 0
    printed = capsys.readouterr().out
    assert "BayesLIME explanation of a random forest on breast_cancer" in printed
    assert "worst" in printed and "hdi_97.5%" in printed
    assert f"wrote {(out / 'explanation.nc').resolve()} (" in printed
    e = px.Explanation.from_netcdf(out / "explanation.nc")
    assert e.n_queries == 300 and len(e.feature_names) == 30
    assert (out / "explanation.png").read_bytes()[:4] == b"\x89PNG"


def test_compact_output_keeps_the_numbers_in_a_small_file(tmp_path, capsys):
    full, small = tmp_path / "full", tmp_path / "small"
    assert main(["demo", "--out", str(full), "--n-samples", "300"]) == 0
    assert main(["demo", "--out", str(small), "--n-samples", "300", "--compact"]) == 0
    a = px.Explanation.from_netcdf(full / "explanation.nc")
    b = px.Explanation.from_netcdf(small / "explanation.nc")
    np.testing.assert_array_equal(a.mean, b.mean)
    np.testing.assert_array_equal(a.hdi(), b.hdi())
    assert "log_likelihood" in a.idata.groups()
    size = (small / "explanation.nc").stat().st_size
    assert size < (full / "explanation.nc").stat().st_size / 10


def test_explain_a_users_model_matches_the_api(user_files, tmp_path, capsys):
    folder, model, frame = user_files
    out = tmp_path / "out"
    code = main(["explain", "--model", str(folder / "model.joblib"), "--trust-model", "--data",
                 str(folder / "rows.csv"), "--row", "2", "--method", "bayesshap",
                 "--n-samples", "400", "--seed", "3", "--out", str(out)])
    assert code == 0
    assert "BayesSHAP (monte_carlo)" in capsys.readouterr().out
    e = px.Explanation.from_netcdf(out / "explanation.nc")
    assert e.feature_names == ["age", "bmi", "bp", "s1"]
    target = int(model.predict_proba(frame.iloc[[2]]).argmax())
    bb = px.BlackBox(model, target=target)
    direct = px.BayesSHAP(bb, background=frame.to_numpy(), seed=3).explain(
        frame.to_numpy()[2], n_samples=400)
    np.testing.assert_allclose(e.mean, direct.mean, rtol=1e-10)


@pytest.mark.parametrize("change, message", [
    (lambda f: {"--model": str(f / "nope.joblib")}, "model file .* does not exist"),
    (lambda f: {"--data": str(f / "nope.csv")}, "data file .* does not exist"),
    (lambda f: {"--row": "500"}, r"--row 500 is out of range: .* has 120 rows \(0..119\)"),
    (lambda f: {"--data": str(f / "missing_column.csv")}, "lacks columns the model was "
                                                          "trained on: s1"),
    (lambda f: {"--data": str(f / "with_nan.csv")}, "missing or infinite values in: bmi"),
    (lambda f: {"--data": str(f / "text.csv")}, "non-numeric columns: bp"),
    (lambda f: {"--model": str(f / "not_a_model.joblib")}, "holds a dict, not a fitted "
                                                           "estimator"),
    (lambda f: {"--model": str(f / "rows.csv")}, "could not load a model from .*rows.csv.*: it "
                                                 "looks like a data file, not a saved model"),
])
def test_explain_errors_are_named_without_traceback(user_files, tmp_path, capsys, change,
                                                     message):
    folder, _, frame = user_files
    frame.drop(columns="s1").to_csv(folder / "missing_column.csv", index=False)
    frame.assign(bmi=np.where(np.arange(120) == 5, np.nan, frame["bmi"])).to_csv(
        folder / "with_nan.csv", index=False)
    frame.assign(bp="high").to_csv(folder / "text.csv", index=False)
    joblib.dump({"weights": [1, 2]}, folder / "not_a_model.joblib")
    args = {"--model": str(folder / "model.joblib"), "--data": str(folder / "rows.csv"),
            "--row": "0", "--out": str(tmp_path / "o"), "--n-samples": "50"}
    args.update(change(folder))
    assert main(["explain", "--trust-model",
                 *[item for pair in args.items() for item in pair]]) == 2
    err = capsys.readouterr().err
    assert err.startswith("probex: error: ")
    assert re.search(message, err), err
    assert "Traceback" not in err


def test_the_console_script_is_installed_and_reports_usage():
    script = shutil.which("probex", path=str(Path(sys.executable).parent))
    assert script is not None
    result = subprocess.run([script, "explain"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and "the following arguments are required" in result.stderr


@pytest.mark.parametrize("method", ["eagle", "clime", "rise", "fex", "lex"])
def test_every_registered_method_runs_from_the_command_line(user_files, tmp_path, capsys,
                                                            method):
    folder, _, _ = user_files
    out = tmp_path / method
    args = ["explain", "--model", str(folder / "model.joblib"), "--trust-model", "--data",
            str(folder / "rows.csv"), "--row", "1", "--method", method, "--n-samples", "60",
            "--epochs", "1", "--fit-rows", "0:100", "--out", str(out)]
    assert main(args) == 0
    printed = capsys.readouterr().out
    e = px.Explanation.from_netcdf(out / "explanation.nc")
    assert e.feature_names == ["age", "bmi", "bp", "s1"] and e.mean.shape == (4,)
    assert f"sd and intervals: {px.explanation.UNCERTAINTY[e.uncertainty]}" in printed
    assert main(args) == 2  # a second run into the same folder is refused
    assert "--overwrite" in capsys.readouterr().err
    assert main([*args, "--overwrite"]) == 0


def test_a_pickle_needs_trust_and_the_methods_are_listed(user_files, tmp_path, capsys):
    folder, _, _ = user_files
    code = main(["explain", "--model", str(folder / "model.joblib"), "--data",
                 str(folder / "rows.csv"), "--row", "0", "--out", str(tmp_path / "o")])
    assert code == 2 and "runs the code it contains" in capsys.readouterr().err
    assert main(["methods"]) == 0
    listed = capsys.readouterr().out
    assert all(name in listed for name in px.METHODS)
