"""Reproducibility across seeds: probex BayesLIME (exact) against the lime package.

For each test row and each perturbation count, both methods explain the row with 10
different seeds; the figures are the mean pairwise top-5 Jaccard index and Kendall tau of
|attribution| across those 10 runs (``probex.metrics.reproducibility``), averaged over
rows. Both use the same random forest (breast_cancer, 100 trees), Gaussian perturbations
scaled by the training std around the row and the exponential kernel of width
0.75 sqrt(d), at equal perturbation counts. Ratios > 1 mean probex is more reproducible.
BayesLIME's posterior mean is a ridge-shrunk weighted least-squares fit, so it should be
at least as stable as lime's Ridge(alpha=1); the benchmark measures by how much.

    python benchmarks/bench_stability.py [--quick] [--rows 5] [--seeds 10]
"""

from __future__ import annotations

import argparse

import numpy as np


def lime_attributions(explainer, x, predict_proba, n: int) -> np.ndarray:
    """The lime package's weights for class 1 as a dense (d,) vector."""
    explanation = explainer.explain_instance(x, predict_proba, labels=(1,),
                                             num_features=x.size, num_samples=n)
    weights = np.zeros(x.size)
    for feature, weight in explanation.as_map()[1]:
        weights[feature] = weight
    return weights


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 rows, counts 500 and 1000")
    parser.add_argument("--rows", type=int, default=5)
    parser.add_argument("--seeds", type=int, default=10)
    args = parser.parse_args(argv)
    n_rows = 2 if args.quick else args.rows
    counts = (500, 1000) if args.quick else (500, 1000, 5000)

    from lime.lime_tabular import LimeTabularExplainer

    import probex as px
    from probex.datasets import fit_demo_model
    from probex.metrics import reproducibility

    model, data = fit_demo_model("breast_cancer")
    bb = px.BlackBox(model, target=1, feature_names=data.feature_names)
    rows = []
    print(f"{'n':>6} {'probex J5':>10} {'lime J5':>8} {'probex tau':>11} {'lime tau':>9} "
          f"{'J5 ratio':>9} {'tau ratio':>10}")
    for n in counts:
        ours, theirs = [], []
        for row in range(n_rows):
            x = data.X_test[row]
            probex_runs = [px.BayesLIME(bb, background=data.X_train, seed=seed)
                           .explain(x, n_samples=n).mean for seed in range(args.seeds)]
            lime_runs = []
            for seed in range(args.seeds):
                lime = LimeTabularExplainer(data.X_train, mode="classification",
                                            discretize_continuous=False,
                                            sample_around_instance=True, random_state=seed)
                lime_runs.append(lime_attributions(lime, x, model.predict_proba, n))
            ours.append(reproducibility(probex_runs, k=5))
            theirs.append(reproducibility(lime_runs, k=5))
        result = {"n": n}
        for name, runs in (("probex", ours), ("lime", theirs)):
            for key in ("jaccard", "kendall_tau"):
                result[f"{name}_{key}"] = float(np.mean([r[key] for r in runs]))
        rows.append(result)
        print(f"{n:>6} {result['probex_jaccard']:>10.3f} {result['lime_jaccard']:>8.3f} "
              f"{result['probex_kendall_tau']:>11.3f} {result['lime_kendall_tau']:>9.3f} "
              f"{result['probex_jaccard'] / result['lime_jaccard']:>9.2f} "
              f"{result['probex_kendall_tau'] / result['lime_kendall_tau']:>10.2f}")
    print(f"\nmean over {n_rows} rows of the pairwise figures across {args.seeds} seeds")
    return {"rows": rows}


if __name__ == "__main__":
    main()
