"""Time per explanation: probex BayesLIME (exact) against the lime package and the floor.

The floor is the black box alone: ``predict_proba`` on the same number of perturbed rows.
All three are measured in the same run on the same random forest (breast_cancer, 100
trees) and the same test row, at equal perturbation counts; each figure is the median of
``--repeats`` runs. Goals (issue 2): probex within 1.5x of the floor and no slower than
lime.

    python benchmarks/bench_bayeslime.py [--quick] [--repeats 7]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np


def median_seconds(fn, repeats: int) -> float:
    fn()  # warm caches and lazy imports
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--row", type=int, default=0)
    args = parser.parse_args(argv)
    repeats = 3 if args.quick else args.repeats

    from lime.lime_tabular import LimeTabularExplainer

    import probex as px
    from probex.datasets import fit_demo_model

    model, data = fit_demo_model("breast_cancer")
    x = data.X_test[args.row]
    bb = px.BlackBox(model, target=1, feature_names=data.feature_names)
    explainer = px.BayesLIME(bb, background=data.X_train, seed=0)
    lime = LimeTabularExplainer(data.X_train, mode="classification",
                                feature_names=data.feature_names, discretize_continuous=False,
                                sample_around_instance=True, random_state=0)
    std = data.X_train.std(0)
    rows = []
    print(f"{'n':>6} {'floor ms':>9} {'probex ms':>10} {'lime ms':>8} "
          f"{'probex/floor':>13} {'probex/lime':>12}")
    for n in (500, 1000, 5000):
        perturbed = x + np.random.default_rng(0).normal(size=(n, x.size)) * std
        floor = median_seconds(lambda p=perturbed: model.predict_proba(p), repeats)
        ours = median_seconds(lambda n=n: explainer.explain(x, n_samples=n), repeats)
        theirs = median_seconds(lambda n=n: lime.explain_instance(
            x, model.predict_proba, labels=(1,), num_features=x.size, num_samples=n), repeats)
        rows.append({"n": n, "floor": floor, "probex": ours, "lime": theirs})
        print(f"{n:>6} {1e3 * floor:>9.1f} {1e3 * ours:>10.1f} {1e3 * theirs:>8.1f} "
              f"{ours / floor:>13.2f} {ours / theirs:>12.2f}")
    worst_floor = max(r["probex"] / r["floor"] for r in rows)
    worst_lime = max(r["probex"] / r["lime"] for r in rows)
    print(f"\nworst probex/floor {worst_floor:.2f} (goal <= 1.5: "
          f"{'met' if worst_floor <= 1.5 else 'NOT met'}); worst probex/lime {worst_lime:.2f} "
          f"(goal <= 1: {'met' if worst_lime <= 1 else 'NOT met'})")
    return {"rows": rows}


if __name__ == "__main__":
    main()
