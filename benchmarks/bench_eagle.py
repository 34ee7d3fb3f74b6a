"""Queries to reproducible explanations: EAGLE against lime and BayesLIME; EAGLE's round cost.

1. Reproducibility. For each method and budget n (ascending grid), 10 seeds explain the
   same test row of the demo random forest (breast_cancer, 100 trees); the score is the
   mean pairwise Jaccard index of the 10 top-5 feature sets (by |attribution|). "Queries
   needed" is the first grid budget with score >= 0.95 (">max" if none). Methods:
   EAGLE (Gaussian perturbations, LIME kernel, batches of 50 from pools of 2000),
   BayesLIME random sampling and BayesLIME focused sampling (same scheme), and the
   ``lime`` package both with its defaults (quartile-discretized features, the setting
   in which it needs about 5,000 queries) and with continuous features sampled around
   the instance (the representation probex uses). For reference, ``sobol_only`` spends the
   whole budget on EAGLE's space-filling start (scrambled Sobol, no EIG rounds). Goal
   (issue 6): EAGLE needs at most a quarter of lime's queries.
2. Round cost. Seconds per EAGLE round and the share spent outside black-box queries
   (model time is measured inside the model call; selection time inside greedy_batch),
   and whether the selection costs less than the queries it saves against each peer.

    python benchmarks/bench_eagle.py [--quick] [--rows 0 1 2]
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings

import numpy as np

SEEDS = range(10)
GOAL = 0.95


class TimedModel:
    """predict_proba of a fitted model, with the seconds spent inside it."""

    def __init__(self, model):
        self.model, self.seconds, self.rows = model, 0.0, 0

    def __call__(self, X):
        start = time.perf_counter()
        out = self.model.predict_proba(np.asarray(X))
        self.seconds += time.perf_counter() - start
        self.rows += len(X)
        return out


def lime_attributions(explainers, x, predict, n):
    out = []
    for explainer in explainers:
        exp = explainer.explain_instance(x, predict, labels=(1,), num_features=x.size,
                                         num_samples=n)
        a = np.zeros(x.size)
        for j, value in exp.as_map()[1]:
            a[j] = value
        out.append(a)
    return out


def queries_needed(method, grid, seconds):
    """Scan the budget grid upward; stop at the first budget with Jaccard >= GOAL.
    ``method(n)`` returns the attributions of the 10 seeds; ``seconds`` gets the mean
    seconds per explanation at the budget returned."""
    from probex.metrics import kendall_tau_reproducibility, top_k_jaccard

    for n in grid:
        start = time.perf_counter()
        runs = method(n)
        seconds[method.__name__] = (time.perf_counter() - start) / len(runs)
        score = top_k_jaccard(runs)
        print(f"    {method.__name__:>17} n={n:>6}: top-5 Jaccard {score:.3f}, Kendall tau "
              f"{kendall_tau_reproducibility(runs):.3f} "
              f"({1e3 * seconds[method.__name__]:.0f} ms per explanation)", flush=True)
        if score >= GOAL:
            return n
    return None


def reproducibility_row(px, bb, timed, X, x, row, grid) -> dict:
    """Queries each method needs on one test row, and its seconds per explanation."""
    from lime.lime_tabular import LimeTabularExplainer

    print(f"row {row}:")
    lime_default = [LimeTabularExplainer(X, mode="classification", random_state=s)
                    for s in SEEDS]
    lime_continuous = [LimeTabularExplainer(X, mode="classification", random_state=s,
                                            discretize_continuous=False,
                                            sample_around_instance=True) for s in SEEDS]

    def eagle(n):
        return [px.EAGLE(bb, design="greedy", background=X, seed=s).explain(
            x, n_samples=n, batch_size=50, pool_size=2000).mean for s in SEEDS]

    def sobol_only(n):  # EAGLE's space-filling start for the whole budget: no EIG rounds
        return [px.EAGLE(bb, design="greedy",
                         background=X, seed=s).explain(x, n_samples=n, initial_size=n).mean
                for s in SEEDS]

    def bayeslime_random(n):
        return [px.BayesLIME(bb, background=X, seed=s).explain(x, n_samples=n).mean
                for s in SEEDS]

    def bayeslime_focused(n):
        return [px.BayesLIME(bb, background=X, seed=s).explain(
            x, n_samples=n, focused=True, initial_samples=min(100, n), batch_size=50,
            pool_size=2000).mean for s in SEEDS]

    def lime(n):
        return lime_attributions(lime_default, x, timed, n)

    def lime_cont(n):
        return lime_attributions(lime_continuous, x, timed, n)

    seconds = {}
    needed = {m.__name__: queries_needed(m, grid, seconds)
              for m in (eagle, sobol_only, bayeslime_random, bayeslime_focused, lime,
                        lime_cont)}
    return {"row": row, **needed, "seconds": seconds}


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one row, a coarser grid")
    parser.add_argument("--rows", type=int, nargs="*", default=None)
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore")

    import probex as px
    import probex.explainers.eagle as eagle_module
    from probex.datasets import fit_demo_model

    grid = ([250, 500, 1000, 2000, 4000, 8000] if args.quick else
            [250, 500, 1000, 1500, 2000, 3000, 5000, 7500, 10000])
    rows = args.rows if args.rows is not None else ([0] if args.quick else [0, 1, 2])
    model, data = fit_demo_model("breast_cancer")
    timed = TimedModel(model)
    bb = px.BlackBox(timed, task="classification", target=1, n_features=data.n_features,
                     feature_names=data.feature_names)
    X = data.X_train

    # selection time, measured inside greedy_batch
    selection = {"seconds": 0.0, "calls": 0}
    greedy = eagle_module.greedy_batch

    def timed_greedy(*a, **k):
        start = time.perf_counter()
        out = greedy(*a, **k)
        selection["seconds"] += time.perf_counter() - start
        selection["calls"] += 1
        return out

    eagle_module.greedy_batch = timed_greedy

    table = [reproducibility_row(px, bb, timed, X, data.X_test[row], row, grid)
             for row in rows]

    def show(v):
        return f">{grid[-1]}" if v is None else str(v)

    names = ["eagle", "sobol_only", "bayeslime_random", "bayeslime_focused", "lime",
             "lime_cont"]
    print(f"\nqueries to mean top-5 Jaccard >= {GOAL} over {len(SEEDS)} seeds "
          f"(first budget of {grid}):")
    print(f"{'row':>4} " + " ".join(f"{n:>17}" for n in names))
    for r in table:
        print(f"{r['row']:>4} " + " ".join(f"{show(r[n]):>17}" for n in names))

    print("seconds per explanation at that budget:")
    for r in table:
        print(f"{r['row']:>4} " + " ".join(f"{1e3 * r['seconds'][n]:>15.0f}ms" for n in names))

    ratios = {}
    for peer in names[1:]:
        texts, bounds = [], []
        for r in table:
            if r["eagle"] is None:
                texts.append("n/a")
            elif r[peer] is None:  # the peer never got there: an upper bound on the ratio
                bounds.append(r["eagle"] / grid[-1])
                texts.append(f"<{bounds[-1]:.2f}")
            else:
                bounds.append(r["eagle"] / r[peer])
                texts.append(f"{bounds[-1]:.2f}")
        ratios[peer] = bounds
        med = f"median {statistics.median(bounds):.2f}" if bounds else "no data"
        goal = ""
        if peer == "lime":
            met = bool(bounds) and statistics.median(bounds) <= 0.25
            goal = f" (goal <= 0.25: {'met' if met else 'NOT met'})"
        print(f"EAGLE / {peer}: {', '.join(texts)}; {med}{goal}")

    # round cost at a typical budget
    budget = 1000 if args.quick else 2000
    timed.seconds, selection["seconds"], selection["calls"] = 0.0, 0.0, 0
    total, rounds = 0.0, 0
    for s in range(3):
        start = time.perf_counter()
        e = px.EAGLE(bb, design="greedy",
                     background=X, seed=s).explain(data.X_test[rows[0]], n_samples=budget,
                                                       batch_size=50, pool_size=2000)
        total += time.perf_counter() - start
        rounds += len(e.trace)
    per_query = timed.seconds / (3 * budget)
    print(f"\nEAGLE round cost (budget {budget}, batches of 50, pools of 2000, 3 runs): "
          f"{1e3 * total / rounds:.1f} ms per round; black-box queries "
          f"{100 * timed.seconds / total:.0f}% of the time, selection (greedy_batch) "
          f"{100 * selection['seconds'] / total:.0f}%, the rest (posterior updates, final "
          f"fit, packaging) {100 * (total - timed.seconds - selection['seconds']) / total:.0f}%"
          f"; {1e3 * selection['seconds'] / selection['calls']:.1f} ms per selection, "
          f"{1e3 * per_query:.3f} ms per query")
    print("  per row where EAGLE got there (a peer that never did counts its largest budget, "
          "so its saving is a lower bound, marked >=):")
    overhead = (total - timed.seconds) / (3 * budget)  # non-query seconds per EAGLE query
    reached = [r for r in table if r["eagle"] is not None]
    spent = ", ".join(f"{1e3 * overhead * r['eagle']:.0f}" for r in reached)
    for peer in names[1:]:
        if not reached:
            break
        saved = [((r[peer] if r[peer] is not None else grid[-1]) - r["eagle"],
                  ">=" if r[peer] is None else "") for r in reached]
        print(f"  vs {peer:>17}: queries saved "
              f"{', '.join(f'{mark}{n}' for n, mark in saved)}, worth "
              f"{', '.join(f'{mark}{1e3 * n * per_query:.0f}' for n, mark in saved)} ms of "
              f"model time; EAGLE's non-query time {spent} ms")
    eagle_module.greedy_batch = greedy
    return {"table": table, "ratios": ratios}


if __name__ == "__main__":
    main()
