"""NUTS time per explanation: one instance, and many instances in one vectorized run.

BayesLIME with a non-conjugate prior answered by Pyro's NUTS on the random forest of the
demo (breast_cancer). The vectorized run puts a plate over instances, so B explanations
are one joint posterior sampled at once; the goal (issue 2) is that 100 instances cost
less than 5x one. The joint (coefficients sampled) and collapsed (coefficients
integrated out, :mod:`probex.models.collapsed_surrogate`) models are both timed for the
horseshoe, with leapfrog steps per draw.

    python benchmarks/bench_nuts.py [--quick] [--only horseshoe-collapsed|horseshoe-joint|laplace]
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def timed_explanation(explainer, X, n_samples):
    start = time.perf_counter()
    e = explainer.explain(X, n_samples=n_samples)
    return time.perf_counter() - start, e


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer draws and instances")
    parser.add_argument("--only", choices=("horseshoe-collapsed", "horseshoe-joint", "laplace"),
                        help="time one row (the full table takes over an hour on 2 cores)")
    args = parser.parse_args(argv)
    draws, batch = (200, 20) if args.quick else (500, 100)

    import probex as px
    from probex.datasets import fit_demo_model
    from probex.inference import NUTSRunner

    model, data = fit_demo_model("breast_cancer")
    bb = px.BlackBox(model, target=1, feature_names=data.feature_names)
    results = {}
    print(f"NUTS, 2 chains x ({draws} warmup + {draws} draws), 500 perturbations per "
          f"instance; {batch} instances in the vectorized run\n")
    print(f"{'prior':<12} {'model':<10} {'1 instance s':>13} {f'{batch} instances s':>16} "
          f"{'ratio':>6} {'steps/draw':>11} {'max r_hat':>10}")
    for name, prior, marginalize in (("horseshoe", px.priors.Horseshoe(), True),
                                     ("horseshoe", px.priors.Horseshoe(), False),
                                     ("laplace", px.priors.Laplace(0.05), False)):
        label = "collapsed" if marginalize else "joint"
        if not marginalize and name == "horseshoe" and args.quick:
            continue
        if args.only and args.only != f"{name}-{label}" and args.only != name:
            continue
        runner = NUTSRunner(num_samples=draws, num_warmup=draws, num_chains=2, seed=0)
        explainer = px.BayesLIME(bb, background=data.X_train, prior=prior, inference=runner,
                                 marginalize=marginalize, seed=0)
        one, e_one = timed_explanation(explainer, data.X_test[0], 500)
        many, e_many = timed_explanation(explainer, data.X_test[:batch], 500)
        steps = float(e_one.idata.sample_stats["n_steps"].mean())
        r_hat = float(max(e_one.summary()["r_hat"].max(), e_many.summary()["r_hat"].max()))
        results[f"{name}-{label}"] = {"one": one, "many": many, "ratio": many / one,
                                      "steps": steps, "r_hat": r_hat}
        print(f"{name:<12} {label:<10} {one:>13.1f} {many:>16.1f} {many / one:>6.2f} "
              f"{steps:>11.1f} {r_hat:>10.3f}")
    ratios = [r["ratio"] for r in results.values()]
    print(f"\nworst {batch}-instance / 1-instance cost ratio: {np.max(ratios):.2f} "
          f"(goal < 5: {'met' if np.max(ratios) < 5 else 'NOT met'})")
    return results


if __name__ == "__main__":
    main()
