"""The ``probex`` command: a demo, the list of methods, and explanations of a user's
fitted scikit-learn model by any registered method.

    probex demo [--out DIR]
    probex methods
    probex explain --model MODEL --data ROWS.csv --row N --method NAME [--trust-model]
                   [--inference exact|svi|nuts] [--target K] [--n-samples N]
                   [--fit-rows START:STOP] [--epochs E] [--seed S] [--out DIR] [--overwrite]
    probex explain-dataset --model MODEL --data ROWS.csv --method NAME --out DIR
                   [--workers N | --scheduler ADDRESS] [--rows START:STOP] [--chunk-size K]
                   (see :mod:`probex.cli_dataset`)

SECURITY: a joblib/pickle model file runs code when loaded; ``--trust-model`` says it
comes from a trusted source (see :mod:`probex.model_files`).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from probex._checks import MAX_SEED

__all__ = ["main"]

_INFERENCE = ("auto", "exact", "svi", "nuts")
_OUTPUTS = ("explanation.nc", "explanation.png")


class CLIError(Exception):
    """A problem with the user's files or options, reported without a traceback."""


_COMPACT_HELP = ("save only what the numbers need (the exact marginals, or the draws), "
                 "not the perturbations and model-checking groups (one exact "
                 "explanation: tens of kB instead of about 60 MB)")


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {value}")
    return value


def _seed(text: str) -> int:
    value = int(text)
    if not 0 <= value < MAX_SEED:
        raise argparse.ArgumentTypeError(f"must be an integer in [0, 2**32), got {value}")
    return value


def _parser() -> argparse.ArgumentParser:
    from probex.cli_dataset import add_model_command, add_parser

    parser = argparse.ArgumentParser(
        prog="probex", description="Post-hoc explanations with honest uncertainty.")
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser("demo", help="explain a random forest on breast_cancer (bundled)")
    demo.add_argument("--out", default="probex-demo-output", help="output directory")
    demo.add_argument("--row", type=int, default=0, help="test row to explain")
    demo.add_argument("--n-samples", type=_positive, default=1000,
                      help="black-box queries (perturbations), at least 2")
    demo.add_argument("--seed", type=_seed, default=0)
    demo.add_argument("--overwrite", action="store_true", help="replace earlier outputs")
    demo.add_argument("--compact", action="store_true",
                      help=_COMPACT_HELP)

    sub.add_parser("methods", help="list the explanation methods")

    explain = add_model_command(sub, "explain",
                                "explain one row for a fitted scikit-learn model")
    explain.add_argument("--row", type=int, required=True, help="0-based row of --data")
    explain.add_argument("--inference", choices=_INFERENCE, default="auto",
                         help="for the surrogate methods")
    explain.add_argument("--target", type=int, default=None,
                         help="class index to explain (default: the predicted class)")
    explain.add_argument("--background", default=None,
                         help="CSV of reference rows (default: all rows of --data)")
    explain.add_argument("--n-samples", type=_positive, default=1000,
                         help="black-box queries per explanation (local methods)")
    explain.add_argument("--fit-rows", default=None,
                         help="START:STOP rows of --data that amortized methods (lex, fex) "
                              "are fitted on (default: all)")
    explain.add_argument("--epochs", type=_positive, default=20,
                         help="training epochs of amortized methods")
    explain.add_argument("--seed", type=_seed, default=0)
    explain.add_argument("--out", default="probex-output", help="output directory")
    explain.add_argument("--overwrite", action="store_true", help="replace earlier outputs")
    explain.add_argument("--compact", action="store_true",
                         help=_COMPACT_HELP)

    add_parser(sub, _positive, _seed, _INFERENCE)
    return parser


def main(argv=None) -> int:
    """Entry point; returns the process exit code (2 for usage and input errors)."""
    from probex.model_files import ModelFileError

    args = _parser().parse_args(argv)
    try:
        if args.command == "demo":
            return _demo(args)
        if args.command == "methods":
            return _methods()
        if args.command == "explain-dataset":
            from probex.cli_dataset import run

            return run(args, CLIError)
        return _explain(args)
    except (CLIError, ModelFileError) as err:
        print(f"probex: error: {err}", file=sys.stderr)
        return 2


def _methods() -> int:
    from probex.explainers.registry import METHODS

    for name, spec in METHODS.items():
        needs = " (torch models only)" if spec.needs_gradients else ""
        print(f"{name:11s} {spec.family:9s} {spec.summary}{needs}")
    return 0


def _output_folder(out: str, overwrite: bool) -> Path:
    folder = Path(out)
    existing = [name for name in _OUTPUTS if (folder / name).exists()]
    if existing and not overwrite:
        raise CLIError(f"{str(folder)!r} already holds {', '.join(existing)}; pass --overwrite "
                       "to replace them, or choose another --out")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise CLIError(f"cannot create output directory {str(folder)!r}: {err}") from None
    return folder


def _report(explanation, title: str, out: Path, compact: bool = False) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pandas as pd

    table = explanation.summary()
    table = table.reindex(table["mean"].abs().sort_values(ascending=False).index)
    nc = (explanation.compact() if compact else explanation).to_netcdf(out / "explanation.nc")
    png = out / "explanation.png"
    explanation.plot(path=png)
    plt.close("all")
    with pd.option_context("display.width", 120, "display.max_columns", 12):
        print(title)
        print(table.drop(columns="uncertainty").round(4).to_string())
    print(f"\nsd and intervals: {table.attrs['uncertainty']}")
    print(f"sampler diagnostics: {table.attrs['diagnostics']}")
    size = nc.stat().st_size
    size = f"{size / 2**20:.1f} MB" if size >= 2**20 else f"{size / 2**10:.0f} kB"
    hint = "" if compact else "; --compact keeps only the numbers"
    print(f"wrote {nc.resolve()} ({size}{hint})\nwrote {png.resolve()}")
    print(f"{explanation.n_queries} black-box queries; read it back with "
          f"probex.Explanation.from_netcdf({str(nc)!r})")


def _demo(args) -> int:
    import probex as px
    from probex.datasets import fit_demo_model

    if args.n_samples < 2:
        raise CLIError(f"--n-samples must be at least 2, got {args.n_samples}")
    model, data = fit_demo_model("breast_cancer", seed=args.seed)
    if not 0 <= args.row < len(data.X_test):
        raise CLIError(f"--row {args.row} is out of range: the test set has "
                       f"{len(data.X_test)} rows (0..{len(data.X_test) - 1})")
    out = _output_folder(args.out, args.overwrite)
    bb = px.BlackBox(model, target=1, feature_names=data.feature_names)
    explainer = px.BayesLIME(bb, background=data.X_train, seed=args.seed)
    explanation = explainer.explain(data.X_test[args.row], n_samples=args.n_samples)
    prob = float(explanation.idata.constant_data["prediction"])
    title = (f"BayesLIME explanation of a random forest on breast_cancer, test row {args.row}: "
             f"P({data.target_names[1]}) = {prob:.3f}")
    _report(explanation, title, out, args.compact)
    return 0


def _rows(spec: str | None, n: int) -> slice:
    if spec is None:
        return slice(0, n)
    try:
        start, stop = (int(part) if part else None for part in spec.split(":"))
    except ValueError:
        raise CLIError(f"--fit-rows must look like START:STOP, got {spec!r}") from None
    rows = slice(start, stop)
    if len(range(n)[rows]) < 2:
        raise CLIError(f"--fit-rows {spec} selects fewer than 2 of the {n} rows")
    return rows


def _explain(args) -> int:
    import probex as px
    from probex.explainers.registry import METHODS, make_explainer
    from probex.model_files import load_model, load_rows

    model = load_model(args.model, trust=args.trust_model)
    rows, names = load_rows(args.data, model, "data")
    if not 0 <= args.row < len(rows):
        raise CLIError(f"--row {args.row} is out of range: {args.data!r} has {len(rows)} rows "
                       f"(0..{len(rows) - 1})")
    background = rows if args.background is None else load_rows(
        args.background, model, "background")[0]
    task = "classification" if hasattr(model, "predict_proba") else "regression"
    spec = METHODS[args.method]
    if spec.classifier_only and task != "classification":
        raise CLIError(f"--method {args.method} explains classifiers; this model is a regressor")
    target = args.target
    if task == "classification" and target is None:
        target = int(np.argmax(model.predict_proba(_frame(model, rows[args.row:args.row + 1]))))
    out = _output_folder(args.out, args.overwrite)
    try:
        bb = px.BlackBox(model, task=task, target=target, feature_names=names)
        options = {"seed": args.seed, "progress": True}
        if "inference" in _parameters(spec.cls):
            options["inference"] = args.inference
        if spec.family == "local" and "n_samples" in _parameters(spec.cls):
            options["n_samples"] = args.n_samples
        explainer = make_explainer(args.method, bb, background=background, **options)
        if spec.family == "amortized":
            explainer.fit(rows[_rows(args.fit_rows, len(rows))], epochs=args.epochs)
        explanation = explainer.explain(rows[args.row])
    except ValueError as err:
        raise CLIError(str(err)) from None
    what = f"class {target}" if task == "classification" else "the prediction"
    title = f"{explainer.method} ({explanation.inference}) of {what}, row {args.row} of {args.data}"
    _report(explanation, title, out, args.compact)
    return 0


def _parameters(cls) -> set[str]:
    import inspect

    return set(inspect.signature(cls.__init__).parameters)


def _frame(model, rows):
    names = getattr(model, "feature_names_in_", None)
    if names is None:
        return rows
    import pandas as pd

    return pd.DataFrame(rows, columns=names)


if __name__ == "__main__":
    sys.exit(main())
