"""FEX on a panel of model/data pairs: faithfulness, time per 1,000 explanations, queries.

For each pair (a scikit-learn bundled set or a synthetic task, and a model: logistic
regression, gradient boosting, random forest, an MLP, the digits CNN) the same 60 test
rows are explained by

- FEX with its defaults (``FEX(model, feature_groups=...)``, ``fit(X_train)``), timed on
  1,000 rows through ``explain()`` (the Explanation a user gets), median of
  ``--repeats``; its training queries are printed separately;
- BayesSHAP with 2,000 coalitions per row (its posterior mean), timed on the 60 rows and
  scaled to 1,000;
- RISE with 1,000 masks per row, timed the same way;
- random orderings (5 per row),

and scored by deletion AUC (lower is better) and insertion AUC (higher is better) for the
model's predicted class, with the mean of the training rows as the replacement baseline
(FEX's ``baseline_``) and the pair's mask units (features; 2x2 patches for digits).
Goal (issue 17): FEX within 10 % of BayesSHAP's deletion AUC on every pair, at >= 100x
less time per explanation.

    python benchmarks/bench_fex.py [--pairs wine_lr bc_gb ...] [--quick] [--seed 0]
                                   [--json results.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import numpy as np

PAIRS = ["wine_mlp", "wine_lr", "bc_gb", "bc_lr", "bc_mlp", "iris_rf", "diab_rf", "diab_gb",
         "syn_mlp", "syn_gb", "digits_mlp", "digits_cnn"]


def load_pair(name: str, seed: int = 0, quick: bool = False):
    """(model, X_train, X_test, feature groups or None) of a panel pair: a stratified 75/25
    split; torch networks see standardised features (digits: pixels / 16)."""
    from sklearn import datasets
    from sklearn.ensemble import GradientBoostingClassifier, RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from probex.datasets import MLP, DigitsCNN, make_synthetic, train_classifier
    from probex.perturb import FeatureGroups

    data_name, model_name = name.split("_")
    groups = None
    if data_name == "syn":
        synthetic = make_synthetic("nonlinear_additive", n=1200, seed=seed)
        X, y = synthetic.X, synthetic.y
    elif data_name == "digits":
        bunch = datasets.load_digits()
        X, y = bunch.data / 16.0, bunch.target
        groups = FeatureGroups.image_patches(8, 8, 2)
    else:
        loader = {"wine": datasets.load_wine, "bc": datasets.load_breast_cancer,
                  "iris": datasets.load_iris, "diab": datasets.load_diabetes}[data_name]
        bunch = loader()
        X, y = bunch.data, bunch.target
        if data_name == "diab":  # a classification task: above the median or not
            y = (y > np.median(y)).astype(int)
    X = np.asarray(X, dtype=float)
    X_train, X_test, y_train, _ = train_test_split(X, y, test_size=0.25, random_state=seed,
                                                   stratify=y)
    if model_name in ("mlp", "cnn"):
        if data_name != "digits":
            mean, std = X_train.mean(0), X_train.std(0)
            std = np.where(std > 0, std, 1.0)
            X_train, X_test = (X_train - mean) / std, (X_test - mean) / std
        n_classes = int(y.max()) + 1
        module = (DigitsCNN(n_classes) if model_name == "cnn"
                  else MLP(X.shape[1], n_classes, (64, 64)))
        epochs = (3 if quick else 15) if data_name == "digits" else (20 if quick else 100)
        model = train_classifier(module, X_train, y_train, epochs=epochs, seed=seed)
    elif model_name == "lr":
        model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
        model.fit(X_train, y_train)
    elif model_name == "gb":
        model = GradientBoostingClassifier(random_state=seed).fit(X_train, y_train)
    elif model_name == "rf":
        model = RandomForestClassifier(100, random_state=seed, n_jobs=1).fit(X_train, y_train)
    else:
        raise ValueError(f"unknown pair {name!r}")
    return model, X_train, X_test, groups


def median_seconds(fn, repeats: int):
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def run_pair(name: str, *, seed: int, n_eval: int, shap_samples: int, rise_masks: int,
             repeats: int, quick: bool) -> dict:
    import probex as px
    from probex.metrics import deletion_auc, insertion_auc, random_reference

    model, X_train, X_test, groups = load_pair(name, seed, quick)
    X = X_test[:n_eval]
    fex = px.FEX(model, feature_groups=groups, seed=seed)
    start = time.perf_counter()
    fex.fit(X_train, epochs=3 if quick else 30)
    fit_seconds = time.perf_counter() - start
    bb = fex.bb
    targets = bb.predict(X).argmax(-1).numpy()
    rows = np.resize(X_test, (1000, X_test.shape[1]))
    fex.explain(rows[:10])  # warm-up
    before = bb.n_queries
    t_fex, _ = median_seconds(lambda: fex.explain(rows).mean, repeats)
    assert bb.n_queries == before, "FEX must not query the model"
    attributions = {"FEX": fex.attributions(X, target=targets)[0]}
    shap = px.BayesSHAP(bb, background=X_train, seed=seed)
    t_shap, e = median_seconds(lambda: shap.explain(X, n_samples=shap_samples,
                                                    target=targets), 1)
    attributions["BayesSHAP"] = e.mean
    rise = px.RISE(bb, X_train, n_samples=rise_masks, feature_groups=groups, seed=seed)
    t_rise, e = median_seconds(lambda: rise.explain(X, target=targets), 1)
    attributions["RISE"] = e.mean
    kwargs = {"baseline": fex.baseline_, "target": targets, "feature_groups": groups}
    table = {}
    for method, values in attributions.items():
        table[method] = {"deletion": deletion_auc(bb, X, values, **kwargs).mean_auc,
                         "insertion": insertion_auc(bb, X, values, **kwargs).mean_auc}
    table["random"] = {mode: random_reference(bb, X, mode, n_repeats=5, seed=seed,
                                              **kwargs).mean_auc
                       for mode in ("deletion", "insertion")}
    table["FEX"]["seconds_per_1000"] = t_fex
    table["BayesSHAP"]["seconds_per_1000"] = t_shap * 1000 / len(X)
    table["RISE"]["seconds_per_1000"] = t_rise * 1000 / len(X)
    return {"pair": name, "table": table, "fit_seconds": fit_seconds,
            "fit_queries": fex.n_queries_fit_, "n_epochs": fex.n_epochs_,
            "best_epoch": fex.best_epoch_,
            "class_agreement": float(np.mean(fex.attributions(X)[1] == targets))}


def print_table(results: list[dict]) -> None:
    header = (f"{'pair':<11}{'method':<10}{'deletion':>9}{'insertion':>10}{'s / 1000':>10}"
              f"{'vs SHAP':>9}{'x faster':>10}")
    print(header)
    print("-" * len(header))
    for r in results:
        t = r["table"]
        shap = t["BayesSHAP"]
        for method in ("FEX", "BayesSHAP", "RISE", "random"):
            row = t[method]
            seconds = row.get("seconds_per_1000")
            relative = row["deletion"] / shap["deletion"] - 1
            speed = (shap["seconds_per_1000"] / seconds) if seconds else None
            print(f"{r['pair'] if method == 'FEX' else '':<11}{method:<10}"
                  f"{row['deletion']:>9.3f}{row['insertion']:>10.3f}"
                  f"{'' if seconds is None else f'{seconds:.4f}':>10}{relative:>+9.1%}"
                  f"{'' if speed is None or method != 'FEX' else f'{speed:.0f}':>10}")
        print(f"{'':<11}FEX training: {r['fit_queries']} queries, {r['fit_seconds']:.1f} s, "
              f"epoch {r['best_epoch'] + 1} of {r['n_epochs']} kept; its class choice agrees "
              f"with the model on {r['class_agreement']:.0%}")


def main(argv=None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", nargs="+", default=None, choices=PAIRS,
                        help="pairs to run (default: all)")
    parser.add_argument("--quick", action="store_true",
                        help="3 FEX epochs, 20 rows, 500 coalitions: a smoke run")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=3, help="timing repeats for FEX")
    parser.add_argument("--json", default=None, help="also write the results here")
    args = parser.parse_args(argv)
    pairs = args.pairs or (["wine_lr", "digits_mlp"] if args.quick else PAIRS)
    results = []
    for name in pairs:
        results.append(run_pair(name, seed=args.seed, n_eval=20 if args.quick else 60,
                                shap_samples=500 if args.quick else 2000,
                                rise_masks=200 if args.quick else 1000,
                                repeats=args.repeats, quick=args.quick))
        print(f"done {name}", flush=True)
    print()
    print_table(results)
    gaps = [r["table"]["FEX"]["deletion"] / r["table"]["BayesSHAP"]["deletion"] - 1
            for r in results]
    speed = [r["table"]["BayesSHAP"]["seconds_per_1000"] / r["table"]["FEX"]["seconds_per_1000"]
             for r in results]
    coalitions = 500 if args.quick else 2000
    print(f"\nFEX vs BayesSHAP ({coalitions} coalitions): deletion AUC within 10% on "
          f"{sum(g <= 0.10 for g in gaps)} of {len(gaps)} pairs (mean {np.mean(gaps):+.1%}, "
          f"worst {max(gaps):+.1%}); >= 100x faster on {sum(s >= 100 for s in speed)} of "
          f"{len(speed)} (slowest {min(speed):.0f}x)")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(results, handle, indent=1)
    return results


if __name__ == "__main__":
    main()
