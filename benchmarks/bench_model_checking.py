"""What the model-checking groups cost (issue 16): explaining stays as cheap as before
(the groups of an exact posterior are built with its InferenceData, on first use), and
what building them, storing them and running PSIS-LOO on them costs.

Interleaved runs of exact BayesLIME on a random forest (diabetes, d = 10) with the
groups on (the default, ``predictive=None``) and off (``predictive=False``):

- ``explain``: the call itself (goal: ratio on/off about 1, nothing is built);
- ``idata``: first access of the InferenceData (draws, and with the groups the
  pointwise log-likelihood and replicated answers);
- the groups' size in memory and on disk, and ``az.loo``'s time.

    python benchmarks/bench_model_checking.py [--quick] [--repeats 5]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import warnings

import numpy as np


def _timed(fn):
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    import arviz as az
    import torch
    from sklearn.datasets import load_diabetes
    from sklearn.ensemble import RandomForestRegressor

    import probex as px

    torch.set_num_threads(1)
    X, y = load_diabetes(return_X_y=True)
    model = RandomForestRegressor(n_estimators=20 if args.quick else 50, random_state=0)
    bb = px.BlackBox(model.fit(X, y), task="regression")
    budgets = (300,) if args.quick else (300, 1000)
    print(f"{'n':>5} {'explain on/off (ms)':>22} {'ratio':>6} {'idata on/off (ms)':>20} "
          f"{'groups MB':>9} {'file MB on/off':>15} {'az.loo (s)':>10}")
    for n in budgets:
        times = {"explain_on": [], "explain_off": [], "idata_on": [], "idata_off": []}
        for r in range(args.repeats):
            for label, predictive in (("on", None), ("off", False)):
                ex = px.BayesLIME(bb, background=X, seed=r, predictive=predictive)
                seconds, e = _timed(lambda ex=ex, r=r, n=n: ex.explain(X[r], n_samples=n))
                times[f"explain_{label}"].append(seconds)
                seconds, idata = _timed(lambda e=e: e.idata)
                times[f"idata_{label}"].append(seconds)
                if label == "on":
                    on = e
                else:
                    off = e
        size = sum(on.idata[g].nbytes for g in ("log_likelihood", "posterior_predictive"))
        with tempfile.TemporaryDirectory() as folder:
            files = [os.path.getsize(e.to_netcdf(os.path.join(folder, f"{k}.nc")))
                     for k, e in (("on", on), ("off", off))]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            loo_seconds, _ = _timed(lambda on=on: az.loo(on.idata))
        med = {k: 1e3 * np.median(v) for k, v in times.items()}
        print(f"{n:>5} {med['explain_on']:>10.1f}/{med['explain_off']:<10.1f} "
              f"{med['explain_on'] / med['explain_off']:>6.2f} "
              f"{med['idata_on']:>9.1f}/{med['idata_off']:<9.1f} {size / 2**20:>9.1f} "
              f"{files[0] / 2**20:>7.1f}/{files[1] / 2**20:<7.1f} {loo_seconds:>10.2f}")


if __name__ == "__main__":
    main()
