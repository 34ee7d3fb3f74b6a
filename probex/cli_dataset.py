"""``probex explain-dataset``: explain every row of a CSV, chunked and resumable, in this
process, on a local Dask cluster (``--workers N``) or on a running one (``--scheduler``).

    probex explain-dataset --model MODEL --data ROWS.csv --method NAME --out DIR
                           [--trust-model] [--workers N | --scheduler ADDRESS]
                           [--rows START:STOP] [--chunk-size K] [--n-samples N]
                           [--inference exact|svi|nuts] [--target K] [--background CSV]
                           [--fit-rows START:STOP] [--epochs E] [--seed S]
                           [--store compact|full] [--restart]

Writes ``DIR/manifest.json``, ``DIR/chunks/chunk-*.nc``, ``DIR/summary.csv`` (per row and
feature: mean, sd, interval) and, when some rows could not be explained,
``DIR/errors.csv``. Rerunning the same command resumes where it stopped.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from probex.explanation import UNCERTAINTY

__all__ = ["add_model_command", "add_parser", "run"]


def add_model_command(sub, name: str, help: str):
    """A subcommand that explains a user's fitted model by a registered method: the
    parser with ``--model``, ``--trust-model``, ``--data`` and ``--method``, and the
    methods and the model-file warning in its epilog (``explain``, ``explain-dataset``)."""
    from probex.explainers.registry import METHODS, method_names

    names = method_names(gradients=False)
    parser = sub.add_parser(
        name, help=help,
        epilog="methods: " + "; ".join(f"{n}: {METHODS[n].summary}" for n in names)
        + ". SECURITY: joblib/pickle files run code when loaded: use --trust-model only "
        "for files from a trusted source, or save models with skops (.skops).")
    parser.add_argument("--model", required=True,
                        help="a fitted estimator: .skops, or joblib/pickle with --trust-model")
    parser.add_argument("--trust-model", action="store_true",
                        help="allow loading a joblib/pickle model (it runs code on load)")
    parser.add_argument("--data", required=True, help="CSV with a header row of feature names")
    parser.add_argument("--method", choices=names, default="bayeslime")
    return parser


def add_parser(sub, positive, seed, inference_choices) -> None:
    """Register the ``explain-dataset`` subcommand on ``sub`` (argparse subparsers)."""
    parser = add_model_command(
        sub, "explain-dataset", "explain every row of a CSV (chunked, resumable, Dask)")
    parser.add_argument("--out", required=True, help="output directory (resumed if it exists)")
    engine = parser.add_mutually_exclusive_group()
    engine.add_argument("--workers", type=positive, default=None,
                        help="start a local Dask cluster of N worker processes (1 thread each)")
    engine.add_argument("--scheduler", default=None,
                        help="address of a running Dask scheduler, e.g. tcp://host:8786")
    parser.add_argument("--rows", default=None, help="START:STOP rows of --data to explain")
    parser.add_argument("--chunk-size", type=positive, default=1024, help="rows per chunk")
    parser.add_argument("--n-samples", type=positive, default=1000,
                        help="black-box queries per row (local methods)")
    parser.add_argument("--inference", choices=inference_choices, default="auto",
                        help="for the surrogate methods")
    parser.add_argument("--target", type=int, default=None,
                        help="class index to explain (default: each row's predicted class)")
    parser.add_argument("--background", default=None,
                        help="CSV of reference rows (default: the complete rows of --data)")
    parser.add_argument("--fit-rows", default=None,
                        help="START:STOP rows of --data that lex/fex are fitted on")
    parser.add_argument("--epochs", type=positive, default=20,
                        help="training epochs of amortized methods")
    parser.add_argument("--seed", type=seed, default=0)
    parser.add_argument("--store", choices=("compact", "full"), default="compact",
                        help="compact: marginals/draws only; full: perturbations too")
    parser.add_argument("--restart", action="store_true",
                        help="discard an earlier run in --out instead of resuming it")


def run(args, error) -> int:
    """Run ``explain-dataset``; ``error`` is the CLI's exception type for user errors."""
    import probex as px
    from probex.explainers.registry import METHODS, make_explainer
    from probex.model_files import load_model, load_rows

    model = load_model(args.model, trust=args.trust_model)
    values, names = _read_rows(args.data, model)
    selected = _span(args.rows, len(values), "--rows", error)
    complete = np.array([_finite(row) for row in values])
    background = (load_rows(args.background, model, "background")[0]
                  if args.background is not None else
                  np.asarray(values[complete], dtype=np.float64))
    task = "classification" if hasattr(model, "predict_proba") else "regression"
    spec = METHODS[args.method]
    if spec.classifier_only and task != "classification":
        raise error(f"--method {args.method} explains classifiers; this model is a regressor")
    bb = px.BlackBox(model, task=task, feature_names=names)
    options = {"seed": args.seed, "progress": False}
    parameters = _parameters(spec.cls)
    if "inference" in parameters:
        options["inference"] = args.inference
    call = {}
    if spec.family == "local":
        call["n_samples"] = args.n_samples
        call["target"] = (args.target if args.target is not None
                          else "predicted" if task == "classification" else None)
    elif args.target is not None and args.method != "lex":
        call["target"] = args.target
    client, opened = _client(args)
    started = time.perf_counter()
    try:
        explainer = make_explainer(args.method, bb, background=background, **options)
        if spec.family == "amortized":
            fit = _span(args.fit_rows, len(values), "--fit-rows", error)
            rows = np.asarray(values[fit.start:fit.stop][complete[fit.start:fit.stop]],
                              dtype=np.float64)
            explainer.fit(rows, epochs=args.epochs)
        explanation = px.explain_dataset(
            explainer, values, out=args.out, chunk_size=args.chunk_size, client=client,
            resume=not args.restart, progress=True, rows=selected, store=args.store, **call)
    except (ValueError, RuntimeError) as err:
        raise error(str(err)) from None
    finally:
        if opened is not None:
            opened.close()
    _report(explanation, Path(args.out), time.perf_counter() - started)
    return 0


def _report(explanation, out: Path, seconds: float) -> None:
    summary = explanation.to_csv(out / "summary.csv")
    errors = explanation.errors
    print(f"{explanation.method} ({explanation.inference}): {len(explanation)} rows explained "
          f"in {seconds:.1f} s, {explanation.n_queries} black-box queries")
    print(f"sd and intervals: {UNCERTAINTY.get(explanation.uncertainty)}")
    if len(errors):
        path = out / "errors.csv"
        errors.to_csv(path, index=False)
        print(f"{len(errors)} rows could not be explained (first: row {errors.row.iloc[0]}: "
              f"{errors.message.iloc[0]}); wrote {path.resolve()}")
    print(f"wrote {summary.resolve()}\nchunk files and manifest in {out.resolve()}; open "
          f"them with probex.DatasetExplanation.open({str(out)!r})")


def _read_rows(path, model):
    """Rows of a CSV aligned to the model's features, NaN and strings kept (they become
    rows of the errors table): (n, d) array and the feature names."""
    import pandas as pd

    from probex.model_files import read_aligned_frame

    frame = read_aligned_frame(path, model)
    numeric = all(pd.api.types.is_numeric_dtype(frame[c]) for c in frame.columns)
    values = frame.to_numpy(dtype=np.float64 if numeric else object)
    return values, [str(c) for c in frame.columns]


def _finite(row) -> bool:
    try:
        return bool(np.isfinite(np.asarray(row, dtype=np.float64)).all())
    except (TypeError, ValueError):
        return False


def _span(spec: str | None, n: int, flag: str, error) -> slice:
    if spec is None:
        return slice(0, n)
    try:
        start, stop = (int(part) if part else None for part in spec.split(":"))
    except ValueError:
        raise error(f"{flag} must look like START:STOP, got {spec!r}") from None
    chosen = range(n)[start:stop]
    if len(chosen) == 0:
        raise error(f"{flag} {spec} selects none of the {n} rows")
    return slice(chosen.start, chosen.stop)


def _client(args):
    """(the client explain_dataset gets, a client this command opened and must close)."""
    if args.workers is not None:
        from probex.engine import local_client

        client = local_client(args.workers)
        return client, client
    return args.scheduler, None


def _parameters(cls) -> set[str]:
    import inspect

    return set(inspect.signature(cls.__init__).parameters)
