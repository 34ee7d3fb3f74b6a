"""The ``probex`` command: a demo, and explanations of a user's fitted scikit-learn model.

    probex demo [--out DIR]
    probex explain --model MODEL.joblib --data ROWS.csv --row N
                   --method bayeslime|bayesshap [--inference exact|svi|nuts] [--out DIR]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

__all__ = ["main"]

_METHODS = ("bayeslime", "bayesshap")
_INFERENCE = ("auto", "exact", "svi", "nuts")


class CLIError(Exception):
    """A problem with the user's files or options, reported without a traceback."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="probex", description="Post-hoc explanations with honest uncertainty.")
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser("demo", help="explain a random forest on breast_cancer (bundled)")
    demo.add_argument("--out", default="probex-demo-output", help="output directory")
    demo.add_argument("--row", type=int, default=0, help="test row to explain")
    demo.add_argument("--n-samples", type=int, default=1000, help="perturbations")
    demo.add_argument("--seed", type=int, default=0)

    explain = sub.add_parser("explain", help="explain one row for a fitted scikit-learn model")
    explain.add_argument("--model", required=True, help="a fitted estimator saved with joblib")
    explain.add_argument("--data", required=True, help="CSV with a header row of feature names")
    explain.add_argument("--row", type=int, required=True, help="0-based row of --data")
    explain.add_argument("--method", choices=_METHODS, default="bayeslime")
    explain.add_argument("--inference", choices=_INFERENCE, default="auto")
    explain.add_argument("--target", type=int, default=None,
                         help="class index to explain (default: the predicted class)")
    explain.add_argument("--background", default=None,
                         help="CSV of reference rows (default: all rows of --data)")
    explain.add_argument("--n-samples", type=int, default=1000, help="perturbations")
    explain.add_argument("--seed", type=int, default=0)
    explain.add_argument("--out", default="probex-output", help="output directory")
    return parser


def main(argv=None) -> int:
    """Entry point; returns the process exit code (2 for usage and input errors)."""
    args = _parser().parse_args(argv)
    try:
        if args.command == "demo":
            return _demo(args)
        return _explain(args)
    except CLIError as err:
        print(f"probex: error: {err}", file=sys.stderr)
        return 2


def _write_outputs(explanation, out: Path) -> tuple[Path, Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise CLIError(f"cannot create output directory {str(out)!r}: {err}") from None
    nc = explanation.to_netcdf(out / "explanation.nc")
    png = out / "explanation.png"
    explanation.plot(path=png)
    plt.close("all")
    return nc, png


def _report(explanation, title: str, out: Path) -> None:
    import pandas as pd

    table = explanation.summary()
    table = table.reindex(table["mean"].abs().sort_values(ascending=False).index)
    with pd.option_context("display.width", 120, "display.max_columns", 12):
        print(title)
        print(table.round(4).to_string())
    nc, png = _write_outputs(explanation, out)
    print(f"\nwrote {nc.resolve()}\nwrote {png.resolve()}")
    print(f"{explanation.n_queries} black-box queries; read it back with "
          f"probex.Explanation.from_netcdf({str(nc)!r})")


def _demo(args) -> int:
    import probex as px
    from probex.datasets import fit_demo_model

    model, data = fit_demo_model("breast_cancer", seed=args.seed)
    if not 0 <= args.row < len(data.X_test):
        raise CLIError(f"--row {args.row} is out of range: the test set has "
                       f"{len(data.X_test)} rows (0..{len(data.X_test) - 1})")
    bb = px.BlackBox(model, target=1, feature_names=data.feature_names)
    explainer = px.BayesLIME(bb, background=data.X_train, seed=args.seed)
    explanation = explainer.explain(data.X_test[args.row], n_samples=args.n_samples)
    prob = float(explanation.idata.constant_data["prediction"])
    title = (f"BayesLIME explanation of a random forest on breast_cancer, test row {args.row}: "
             f"P({data.target_names[1]}) = {prob:.3f}")
    _report(explanation, title, Path(args.out))
    return 0


def _load_model(path: str):
    import joblib

    file = Path(path)
    if not file.is_file():
        raise CLIError(f"model file {path!r} does not exist")
    try:
        model = joblib.load(file)
    except Exception as err:  # joblib raises many types for foreign files
        raise CLIError(f"could not load a model from {path!r}: {err}") from None
    if not (hasattr(model, "predict_proba") or hasattr(model, "predict")):
        raise CLIError(f"{path!r} holds a {type(model).__name__}, not a fitted estimator")
    return model


def _load_rows(path: str, model, what: str):
    import pandas as pd

    file = Path(path)
    if not file.is_file():
        raise CLIError(f"{what} file {path!r} does not exist")
    try:
        frame = pd.read_csv(file)
    except Exception as err:
        raise CLIError(f"could not read {path!r} as CSV: {err}") from None
    if frame.empty:
        raise CLIError(f"{path!r} has no rows")
    expected = getattr(model, "feature_names_in_", None)
    if expected is not None:
        missing = [c for c in expected if c not in frame.columns]
        if missing:
            raise CLIError(f"{path!r} lacks columns the model was trained on: "
                           f"{', '.join(map(str, missing))}")
        frame = frame[list(expected)]
    else:
        n_expected = getattr(model, "n_features_in_", None)
        if n_expected is not None and frame.shape[1] != n_expected:
            raise CLIError(f"{path!r} has {frame.shape[1]} columns but the model expects "
                           f"{n_expected} features")
    non_numeric = [c for c in frame.columns if not pd.api.types.is_numeric_dtype(frame[c])]
    if non_numeric:
        raise CLIError(f"{path!r} has non-numeric columns: {', '.join(map(str, non_numeric))}")
    values = frame.to_numpy(dtype=np.float64)
    if not np.isfinite(values).all():
        bad = sorted({frame.columns[j] for j in np.argwhere(~np.isfinite(values))[:, 1]})
        raise CLIError(f"{path!r} has missing or infinite values in: {', '.join(map(str, bad))}")
    return values, [str(c) for c in frame.columns]


def _explain(args) -> int:
    import probex as px

    model = _load_model(args.model)
    rows, names = _load_rows(args.data, model, "data")
    if not 0 <= args.row < len(rows):
        raise CLIError(f"--row {args.row} is out of range: {args.data!r} has {len(rows)} rows "
                       f"(0..{len(rows) - 1})")
    background = rows if args.background is None else _load_rows(
        args.background, model, "background")[0]
    task = "classification" if hasattr(model, "predict_proba") else "regression"
    target = args.target
    if task == "classification" and target is None:
        target = int(np.argmax(model.predict_proba(_frame(model, rows[args.row : args.row + 1]))))
    try:
        bb = px.BlackBox(model, task=task, target=target, feature_names=names)
        cls = px.BayesLIME if args.method == "bayeslime" else px.BayesSHAP
        explainer = cls(bb, background=background, inference=args.inference, seed=args.seed,
                        progress=True)
        explanation = explainer.explain(rows[args.row], n_samples=args.n_samples)
    except ValueError as err:
        raise CLIError(str(err)) from None
    what = f"class {target}" if task == "classification" else "the prediction"
    title = f"{explainer.method} ({explanation.inference}) of {what}, row {args.row} of {args.data}"
    _report(explanation, title, Path(args.out))
    return 0


def _frame(model, rows):
    names = getattr(model, "feature_names_in_", None)
    if names is None:
        return rows
    import pandas as pd

    return pd.DataFrame(rows, columns=names)


if __name__ == "__main__":
    sys.exit(main())
