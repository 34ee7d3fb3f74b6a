"""EAGLE's time per explanation against BayesLIME's at the same budget (issue 14, item 3).

d = 10 (the first ten breast_cancer features, standardized), a gradient-boosting
classifier, Gaussian perturbations with the LIME kernel (and masks with the Shapley
kernel). For each budget the three explainers run interleaved (one of each per repeat,
the order rotated) so machine load hits them alike; printed are min / median / max
seconds and the median ratio to BayesLIME. Goal: EAGLE <= 3x BayesLIME.

- ``greedy``: EAGLE's greedy EIG batches (batches of 10, pools of 2000; the per-pick cost
  is O(pool x d) with rank-one updates, but the ~budget/10 rounds each cost a model call).
- ``importance``: EAGLE with ``design="importance"`` (picks sampled with known
  probabilities, rounds doubling: about five model calls whatever the budget).

    python benchmarks/bench_eagle_speed.py [--quick]
"""

from __future__ import annotations

import argparse
import os
import time
import warnings

import numpy as np
import torch


def _runs(px, bb, X, x, peer, scheme, kernel, budget) -> dict:
    """The three explainers at one budget, each a function of the seed."""
    def eagle(seed, design):
        return px.EAGLE(bb, background=X, perturbation=scheme, kernel=kernel,
                        seed=seed).explain(x, n_samples=budget, design=design).sd

    return {
        "BayesLIME": lambda s: peer(bb, background=X, perturbation=scheme, kernel=kernel,
                                    seed=s).explain(x, n_samples=budget).sd,
        "EAGLE greedy": lambda s: eagle(s, "greedy"),
        "EAGLE importance": lambda s: eagle(s, "importance"),
    }


def main(quick: bool) -> None:
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    torch.set_num_threads(1)
    warnings.filterwarnings("ignore")
    from sklearn.ensemble import GradientBoostingClassifier

    import probex as px
    from probex.datasets import load_tabular

    data = load_tabular("breast_cancer", seed=0, standardize=True)
    X, d = data.X_train[:, :10], 10
    bb = px.BlackBox(GradientBoostingClassifier(random_state=0).fit(X, data.y_train))
    x = data.X_test[0, :d]
    repeats = 3 if quick else 7
    budgets = (1000,) if quick else (200, 1000, 5000)
    for scheme, kernel in (("gaussian", "lime"), ("mask", "shap")):
        peer = px.BayesSHAP if kernel == "shap" else px.BayesLIME
        for budget in budgets:
            runs = _runs(px, bb, X, x, peer, scheme, kernel, budget)
            if budget > 1000 and quick:
                runs.pop("EAGLE greedy")
            times = {name: [] for name in runs}
            for fn in runs.values():
                fn(99)                                      # warm-up
            for r in range(repeats):
                names = list(runs)
                for name in names[r % len(names):] + names[:r % len(names)]:
                    start = time.perf_counter()
                    runs[name](r)
                    times[name].append(time.perf_counter() - start)
            base = np.median(times["BayesLIME"])
            print(f"\n{scheme}/{kernel}, d={d}, budget={budget} ({repeats} interleaved repeats)")
            for name, t in times.items():
                print(f"  {name:17s} min {min(t):7.4f} s  median {np.median(t):7.4f} s  "
                      f"max {max(t):7.4f} s   ratio to BayesLIME (median) "
                      f"{np.median(t) / base:6.1f}x")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    main(parser.parse_args().quick)
