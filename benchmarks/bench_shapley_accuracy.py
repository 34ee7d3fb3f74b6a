"""Accuracy per model evaluation against exact Shapley values: probex's stratified paired
estimator (probex.inference.estimate_shapley) vs shap's KernelExplainer on the same game.

The game: v(z) = f(z x + (1 - z) b), b the training mean (shap: one background row = b),
f the class-1 probability of an MLP on the first d features of breast_cancer (a model
no test uses). The truth enumerates all 2^d coalitions. For each budget n both methods
get exactly n model evaluations per instance (shap's are counted by wrapping the model).
Printed per n: mean relative L2 error, its ratio probex / shap, coverage of the exact
values by probex's 95% intervals, the mean squared z-score (1 if honest; entries the
design resolves exactly are left out) and seconds per instance. shap reports no
uncertainty, so it has no coverage column.

    python benchmarks/bench_shapley_accuracy.py [--quick] [--features 12]
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
import torch

from probex.inference import estimate_shapley
from probex.metrics import exact_shapley_values, interval_coverage, mean_squared_z

BUDGETS = (100, 200, 500, 1000, 2000, 5000, 10000)


def fit_model(n_features: int):
    from sklearn.datasets import load_breast_cancer
    from sklearn.model_selection import train_test_split
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = load_breast_cancer(return_X_y=True)
    X = X[:, :n_features]
    X_train, X_test, y_train, _ = train_test_split(X, y, test_size=0.25, random_state=0,
                                                   stratify=y)
    model = make_pipeline(StandardScaler(), MLPClassifier((32, 16), max_iter=2000,
                                                          random_state=0))
    model.fit(X_train, y_train)
    return (lambda rows: model.predict_proba(rows)[:, 1]), X_train, X_test


def relative_error(estimate, truth):
    return np.linalg.norm(estimate - truth, axis=-1) / np.linalg.norm(truth, axis=-1)


def run_shap(f, x, baseline, n, seed):
    import shap

    rows = [0]

    def counted(X):
        rows[0] += len(X)
        return f(X)

    explainer = shap.KernelExplainer(counted, baseline[None, :])
    np.random.seed(seed)
    values = explainer.shap_values(x, nsamples=n - 2, l1_reg=False, silent=True)
    return values, rows[0]


def main(quick: bool, n_features: int) -> None:
    warnings.filterwarnings("ignore")
    torch.set_num_threads(1)
    f, X_train, X_test = fit_model(n_features)
    baseline = X_train.mean(0)
    p = f(X_test)
    n_instances, seeds = (3, range(2)) if quick else (8, range(4))
    budgets = [n for n in BUDGETS if not quick or n <= 2000]
    x = X_test[np.flatnonzero((p > 0.05) & (p < 0.95))[:n_instances]]
    truth = exact_shapley_values(f, x, baseline).values
    print(f"MLP on breast_cancer, d = {n_features}, {len(x)} instances x {len(seeds)} seeds; "
          f"exact values from {2**n_features} coalitions per instance")
    print(f"{'n':>6} {'evals':>6} {'err probex':>11} {'err shap':>9} {'ratio':>6} "
          f"{'coverage':>8} {'msz':>6} {'s/inst probex':>13} {'s/inst shap':>11}")
    for n in budgets:
        ours, theirs, intervals, means, sds, t_ours, t_theirs = [], [], [], [], [], [], []
        for seed in seeds:
            start = time.perf_counter()
            posterior = estimate_shapley(f, x, baseline, n, seed=seed).posterior
            t_ours.append((time.perf_counter() - start) / len(x))
            evaluations = posterior.n_evaluations
            ours.append(relative_error(posterior.mean, truth))
            intervals.append(posterior.interval(0.95))
            means.append(posterior.mean)
            sds.append(posterior.sd)
            for xi, ti in zip(x, truth, strict=True):
                start = time.perf_counter()
                values, spent = run_shap(f, xi, baseline, evaluations, seed)
                t_theirs.append(time.perf_counter() - start)
                assert spent == evaluations, (spent, evaluations)
                theirs.append(relative_error(values, ti))
        truths = np.broadcast_to(truth, np.shape(means))
        coverage = interval_coverage(np.array(intervals), truths, atol=1e-9)
        sds = np.array(sds)
        informative = sds > 1e-8
        msz = "   -  "
        if informative.any():
            value = mean_squared_z(np.array(means)[informative], sds[informative],
                                   truths[informative])
            msz = f"{value:6.2f}"
        err_ours, err_theirs = float(np.mean(ours)), float(np.mean(theirs))
        exact = max(err_ours, err_theirs) < 1e-10  # both enumerated every coalition
        ratio = "     -" if exact else f"{err_ours / err_theirs:>6.2f}"
        print(f"{n:>6} {evaluations:>6} {err_ours:>11.2e} {err_theirs:>9.2e} {ratio} "
              f"{coverage:>8.3f} {msz} "
              f"{np.median(t_ours):>13.4f} {np.median(t_theirs):>11.4f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 instances, 2 seeds, n <= 2000")
    parser.add_argument("--features", type=int, default=12, help="d (first d features)")
    args = parser.parse_args()
    main(args.quick, args.features)
