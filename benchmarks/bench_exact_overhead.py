"""Exact BayesLIME against the query floor and lime, on a random forest and a torch MLP,
optionally with the machine kept busy; and the peak memory of a batched explain(X).

Per model and budget n the three timings run interleaved (floor, probex, lime, then
again) and are reported as min / median / max over ``--repeats``. The floor is the black
box alone on n perturbed rows. ``--busy`` starts one CPU-burning process per core for the
whole run (the setting where torch's intra-op threads used to cost 10-30x on small
algebra). Goals (issue 14): probex <= 1.5x the floor (forest) and <= 5x (MLP), and no
slower than lime. Memory: peak RSS growth of ``explain(X)`` for 1,000 rows, d=100,
n=1000 against the perturbation array of one chunk of instances (goal <= 1.5x).

    python benchmarks/bench_exact_overhead.py [--quick] [--busy] [--repeats 7]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import subprocess
import sys
import time

import numpy as np


def _burn(stop):
    x = 0.0
    while not stop.is_set():
        for i in range(100_000):
            x += i * 1e-9


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def _row(label, n, times):
    cells = []
    for key in ("floor", "probex", "lime"):
        t = np.array(times[key]) * 1e3
        cells.append(f"{t.min():7.1f}/{np.median(t):7.1f}/{t.max():7.1f}")
    floor, ours, lime = (np.median(times[k]) for k in ("floor", "probex", "lime"))
    print(f"{label:>6} {n:>5}  " + "  ".join(cells)
          + f"  {ours / floor:8.2f} {ours / lime:8.2f}")
    return ours / floor, ours / lime


def timings(repeats: int, budgets) -> dict:
    import torch
    from lime.lime_tabular import LimeTabularExplainer

    import probex as px
    from probex.datasets import fit_demo_model, fit_network

    forest, data = fit_demo_model("breast_cancer")
    net, _ = fit_network("breast_cancer", hidden=(64, 64), epochs=20, seed=0)
    net.eval()
    x = data.X_test[0]
    std = data.X_train.std(0)

    def mlp_proba(rows):
        with torch.no_grad():
            logits = net(torch.as_tensor(rows, dtype=torch.float32))
        return torch.softmax(logits, -1).numpy()

    models = {"forest": (forest.predict_proba, px.BlackBox(forest, target=1)),
              "mlp": (mlp_proba, px.BlackBox(net, target=1))}
    lime = LimeTabularExplainer(data.X_train, mode="classification",
                                discretize_continuous=False, sample_around_instance=True,
                                random_state=0)
    print(f"{'model':>6} {'n':>5}  {'floor ms min/med/max':>23}  "
          f"{'probex ms':>23}  {'lime ms':>23}  {'/floor':>8} {'/lime':>8}")
    ratios = {}
    for label, (predict, bb) in models.items():
        explainer = px.BayesLIME(bb, background=data.X_train, seed=0)
        for n in budgets:
            rows = x + np.random.default_rng(0).normal(size=(n, x.size)) * std
            steps = {"floor": lambda r=rows, f=predict: f(r),
                     "probex": lambda n=n, e=explainer: e.explain(x, n_samples=n),
                     "lime": lambda n=n, f=predict: lime.explain_instance(
                         x, f, labels=(1,), num_features=x.size, num_samples=n)}
            for step in steps.values():  # warm caches and lazy imports
                step()
            times = {key: [] for key in steps}
            for _ in range(repeats):
                for key, step in steps.items():
                    times[key].append(_timed(step))
            ratios[(label, n)] = _row(label, n, times)
    return ratios


_MEMORY_CHILD = """
import resource, sys, numpy as np, torch
import probex as px
from probex.explainers._base import BYTES_PER_CHUNK
d, n, rows = 100, 1000, 1000
w = np.random.default_rng(0).normal(size=d) / 10
bb = px.BlackBox(lambda X: 1 / (1 + np.exp(-(X @ w))), task="regression", n_features=d)
X = np.random.default_rng(1).normal(size=(rows, d))
explainer = px.BayesLIME(bb, background=X, seed=0)
explainer.explain(X[:2], n_samples=n)  # imports and allocator warm
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
e = explainer.explain(X, n_samples=n)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
per_instance = explainer._bytes_per_instance(n, d, {})
chunk = max(1, BYTES_PER_CHUNK // per_instance)
chunk_array = chunk * n * d * 8 / 2**20
print(f"{peak - before:.1f} {chunk_array:.1f} {chunk} {rows * n * d * 8 / 2**20:.1f}")
"""


def memory() -> float:
    out = subprocess.run([sys.executable, "-c", _MEMORY_CHILD], capture_output=True,
                         text=True, check=True).stdout.split()
    growth, chunk_array, chunk, whole = float(out[0]), float(out[1]), int(out[2]), float(out[3])
    print(f"\nexplain(X), 1,000 rows, d=100, n=1000: peak RSS growth {growth:.0f} MB; one "
          f"chunk ({chunk} instances) of perturbations {chunk_array:.0f} MB "
          f"(the whole batch's: {whole:.0f} MB); ratio {growth / chunk_array:.2f} "
          "(goal <= 1.5)")
    return growth / chunk_array


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--busy", action="store_true", help="burn every core meanwhile")
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args(argv)
    repeats = 3 if args.quick else args.repeats
    budgets = (500, 1000) if args.quick else (500, 1000, 5000)
    stop, burners = mp.Event(), []
    if args.busy:
        burners = [mp.Process(target=_burn, args=(stop,), daemon=True)
                   for _ in range(os.cpu_count() or 1)]
        for burner in burners:
            burner.start()
    try:
        ratios = timings(repeats, budgets)
    finally:
        stop.set()
        for burner in burners:
            burner.join(timeout=5)
    memory_ratio = memory()
    worst = {label: max(r[0] for (m, _), r in ratios.items() if m == label)
             for label in ("forest", "mlp")}
    worst_lime = max(r[1] for r in ratios.values())
    print(f"worst probex/floor: forest {worst['forest']:.2f} (goal <= 1.5), mlp "
          f"{worst['mlp']:.2f} (goal <= 5); worst probex/lime {worst_lime:.2f} (goal <= 1)"
          f"{' [busy]' if args.busy else ''}")
    return {"ratios": ratios, "memory_ratio": memory_ratio}


if __name__ == "__main__":
    main()
