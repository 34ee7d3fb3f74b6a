"""NUTS per explanation: Pyro against NumPyro (first run, and a repeat on a warm runner).

The surrogate of BayesLIME with a Laplace prior (joint model: coefficients sampled) on
the random forest of the demo (breast_cancer, d = 30), n = 500 Gaussian perturbations per
instance, 4 chains x (1000 warmup + 1000 draws). Each repeat explains another test row
(same shape), interleaving: Pyro, NumPyro on a fresh runner (compiles), NumPyro on the
runner kept from the first repeat (compiled once, reused). Printed: wall and CPU seconds
(min / median / max over repeats), min-ESS (bulk, over the 30 attributions) per wall
second, and the ratios; then 100 instances in one vectorized NumPyro run against one
instance (both compiled beforehand). Goals (issue 14): NumPyro repeat >= 50x faster than
Pyro per explanation; 100 instances <= 3x one instance.

    python benchmarks/bench_numpyro.py [--quick] [--repeats R]
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

import arviz as az  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402


def surrogate_statistics(bb, perturbation, X, n: int, seed: int):
    """Sufficient statistics of the centred surrogate data of rows X, (B, ...)."""
    from probex.models.surrogate import SufficientStatistics, center

    x = torch.as_tensor(np.atleast_2d(X), dtype=torch.float64)
    perturbations = perturbation.sample(x, n, torch.Generator().manual_seed(seed))
    inputs = perturbations.inputs
    y = bb(inputs.reshape(-1, inputs.shape[-1]), level=perturbations.levels.reshape(-1))
    y = y.reshape(inputs.shape[:-1]).to(torch.float64)
    return SufficientStatistics.of(center(perturbations.z, y, perturbations.weights))


def timed(fn, *args, **kwargs):
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn(*args, **kwargs)
    return time.perf_counter() - wall, time.process_time() - cpu, out


def min_ess(draws) -> float:
    phi = draws.posterior["attribution"][:, :, 0]
    return float(az.ess(az.convert_to_dataset({"phi": phi}))["phi"].min())


def spread(values) -> str:
    v = np.asarray(values, dtype=float)
    return f"{v.min():8.2f} {np.median(v):8.2f} {v.max():8.2f}"


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="2 chains x (300 + 300), 2 repeats, 20 instances")
    parser.add_argument("--repeats", type=int, default=None)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)

    import probex as px
    from probex.datasets import fit_demo_model
    from probex.inference import NUTSRunner
    from probex.inference.backends import sample_surrogate
    from probex.perturb import make_perturbation

    draws, chains = (300, 2) if args.quick else (1000, 4)
    repeats = args.repeats or (2 if args.quick else 3)
    batch = 20 if args.quick else 100
    settings = {"num_samples": draws, "num_warmup": draws, "num_chains": chains}
    model, data = fit_demo_model("breast_cancer")
    bb = px.BlackBox(model, target=1)
    perturbation = make_perturbation("gaussian", data.X_train, "lime")
    prior = px.priors.Laplace(0.05)
    print(f"Laplace(0.05) surrogate, d={data.X_train.shape[1]}, n=500, {chains} chains x "
          f"({draws} warmup + {draws} draws); {repeats} repeats, one test row each\n")

    rows = {"pyro": [], "numpyro first": [], "numpyro repeat": []}
    warm = NUTSRunner(backend="numpyro", seed=0, **settings)
    agreement = None
    for r in range(repeats):
        stats = surrogate_statistics(bb, perturbation, data.X_test[r], 500, seed=r)
        pyro = timed(sample_surrogate, stats, prior,
                     NUTSRunner(backend="pyro", seed=0, progress=False, **settings))
        first = timed(sample_surrogate, stats, prior,
                      NUTSRunner(backend="numpyro", seed=0, **settings))
        if r == 0:
            sample_surrogate(stats, prior, warm)  # compile the warm runner
        repeat = timed(sample_surrogate, stats, prior, warm)
        for name, (wall, cpu, out) in zip(rows, (pyro, first, repeat), strict=True):
            rows[name].append((wall, cpu, min_ess(out)))
        if r == 0:
            p, q = pyro[2].posterior["attribution"], repeat[2].posterior["attribution"]
            p, q = p.reshape(-1, p.shape[-1]), q.reshape(-1, q.shape[-1])
            sd = p.std(0, ddof=1)
            agreement = (np.max(np.abs(p.mean(0) - q.mean(0)) / sd),
                         np.max(np.abs(q.std(0, ddof=1) / sd - 1)))
        print(f"  repeat {r}: pyro {pyro[0]:.1f} s, numpyro first {first[0]:.1f} s, "
              f"numpyro repeat {repeat[0]:.2f} s", flush=True)

    print(f"\n{'per explanation':<16} {'wall s (min med max)':>26} {'cpu s (min med max)':>26} "
          f"{'min-ESS/s (min med max)':>28}")
    results = {}
    for name, values in rows.items():
        wall, cpu, ess = (np.array(v) for v in zip(*values, strict=True))
        results[name] = {"wall": wall, "cpu": cpu, "ess_per_s": ess / wall}
        print(f"{name:<16} {spread(wall):>26} {spread(cpu):>26} {spread(ess / wall):>28}")
    ratio = results["pyro"]["wall"] / results["numpyro repeat"]["wall"]
    ratio_first = results["pyro"]["wall"] / results["numpyro first"]["wall"]
    ess_ratio = results["numpyro repeat"]["ess_per_s"] / results["pyro"]["ess_per_s"]
    print(f"\nPyro / NumPyro repeat, wall, per repeat: {spread(ratio)}  "
          f"(goal >= 50: {'met' if ratio.min() >= 50 else 'NOT met'})")
    print(f"Pyro / NumPyro first run, wall:         {spread(ratio_first)}")
    print(f"min-ESS/s NumPyro repeat / Pyro:        {spread(ess_ratio)}")
    print(f"posteriors (row 0): max |mean difference| / sd {agreement[0]:.3f}, "
          f"max |sd ratio - 1| {agreement[1]:.3f}")

    one = surrogate_statistics(bb, perturbation, data.X_test[0], 500, seed=0)
    many = surrogate_statistics(bb, perturbation, data.X_test[:batch], 500, seed=0)
    vectorized = NUTSRunner(backend="numpyro", seed=0, **settings)  # default per call
    looped = NUTSRunner(backend="numpyro", seed=0, instances_per_call=1, **settings)
    compile_one = timed(sample_surrogate, one, prior, vectorized)[0]
    compile_many = timed(sample_surrogate, many, prior, vectorized)[0]
    sample_surrogate(one, prior, looped)
    times = {"one": [], "many": [], "looped": []}
    for _ in range(repeats):
        times["one"].append(timed(sample_surrogate, one, prior, vectorized)[0])
        times["many"].append(timed(sample_surrogate, many, prior, vectorized)[0])
        times["looped"].append(timed(sample_surrogate, many, prior, looped)[0])
    ratio_batch = np.array(times["many"]) / np.array(times["one"])
    import jax

    per_call = vectorized._compiled._per_call()
    print(f"\nNumPyro on {jax.default_backend()}, {batch} instances vectorized "
          f"({per_call} per call) vs 1 (first runs {compile_one:.1f} s / "
          f"{compile_many:.1f} s; {vectorized.n_compilations} compilations)")
    print(f"  1 instance s:                {spread(times['one'])}")
    print(f"  {batch} instances s:            {spread(times['many'])}")
    print(f"  {batch} instances one by one s: {spread(times['looped'])}")
    print(f"  ratio {batch} / 1:              {spread(ratio_batch)}  (goal <= 3: "
          f"{'met' if ratio_batch.max() <= 3 else 'NOT met'}); per instance "
          f"{np.median(times['many']) / batch:.3f} s vectorized, "
          f"{np.median(times['looped']) / batch:.3f} s one by one")
    results["vectorized"] = {**times, "ratio": ratio_batch}
    return results


if __name__ == "__main__":
    main()
