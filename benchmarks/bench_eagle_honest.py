"""EAGLE's claims measured honestly: error against the full-distribution target, coverage,
reproducibility, neighbourhood stability and sample quality, at equal queries.

Black box: a gradient-boosting classifier on the first ten breast_cancer features
(standardized). Target: the surrogate fitted over the scheme's whole perturbation
distribution with its locality weights (:mod:`probex.inference.surrogate_target`: exact
enumeration of the 1,024 masks, or 10^6 draws for Gaussian perturbations). Methods, all
with the same number of black-box queries:

- ``EAGLE greedy``: the paper's greedy EIG batches, conjugate posterior of the rows picked;
- ``EAGLE importance``: ``design="importance"`` (picks sampled with known probabilities,
  importance weights, sandwich posterior);
- ``BayesLIME`` (random sampling from the scheme, locality weights; BayesSHAP for the
  Shapley kernel) and ``BayesLIME focused`` (Slack et al.'s focused sampling);
- ``GLIME``: perturbations drawn from the locality-weighted distribution p pi itself,
  unweighted least squares with a sandwich covariance (Tan et al., 2023); for the Shapley
  kernel this is KernelSHAP's own sampling with the anchors as exact constraints.

Columns: relative L2 error of the mean against the target, coverage of the target by the
95% intervals, mean squared z-score, top-5 Jaccard and Kendall tau across seeds
(reproducibility), neighbourhood stability (Jaccard / tau / relative change between x and
10 neighbours at 0.1 sd, budget 1000), sample quality (mean locality weight, log det of
the weighted design), median time.

    python benchmarks/bench_eagle_honest.py [--quick]
"""

from __future__ import annotations

import argparse
import math
import os
import time
import warnings

import numpy as np
import torch


def main(quick: bool) -> None:
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    torch.set_num_threads(1)
    warnings.filterwarnings("ignore")
    from sklearn.ensemble import GradientBoostingClassifier

    import probex as px
    from probex.datasets import load_tabular
    from probex.inference.sandwich import constrained_least_squares, weighted_least_squares
    from probex.inference.surrogate_target import (
        gaussian_surrogate_target,
        mask_surrogate_target,
    )
    from probex.metrics import (
        kendall_tau_reproducibility,
        neighbourhood_stability,
        sample_quality,
        top_k_jaccard,
    )
    from probex.perturb import make_perturbation

    data = load_tabular("breast_cancer", seed=0, standardize=True)
    d = 10
    X = data.X_train[:, :d]
    bb = px.BlackBox(GradientBoostingClassifier(random_state=0).fit(X, data.y_train))
    rows = data.X_test[: 3 if quick else 6, :d]
    seeds = range(4 if quick else 8)
    budgets = (200, 1000) if quick else (200, 1000, 5000)

    def glime(scheme, kernel, x, budget, seed):
        pert = make_perturbation(scheme, X, kernel)
        g = torch.Generator().manual_seed(seed)
        if scheme == "gaussian":
            s = 1.0 / math.sqrt(1 / pert.scale**2 + 1 / pert.kernel_width**2)
            z = s * torch.randn(budget, d, generator=g, dtype=torch.float64)
        elif kernel == "lime":
            k = torch.arange(d + 1, dtype=torch.float64)
            log_p = (torch.lgamma(torch.tensor(d + 1.0)) - torch.lgamma(k + 1)
                     - torch.lgamma(d - k + 1) - 0.5 * k / pert.kernel_width**2)
            zeros = torch.multinomial(torch.softmax(log_p, 0), budget, replacement=True,
                                      generator=g)
            ranks = torch.rand(budget, d, generator=g, dtype=torch.float64).argsort(-1).argsort(-1)
            z = (ranks >= zeros[:, None]).double()
        else:
            z = pert.sample_z(budget - 2, g)
        xt = torch.as_tensor(x).unsqueeze(0)
        y = bb(pert.to_inputs(xt, z.unsqueeze(0))[0]).numpy()
        if kernel == "shap":
            anchors = pert.anchors()
            values = bb(pert.to_inputs(xt, anchors.unsqueeze(0))[0]).numpy()
            fit = constrained_least_squares(z.numpy(), y, np.ones(len(y)), anchors.numpy(),
                                            values)
        else:
            fit = weighted_least_squares(z.numpy(), y)
        return fit.coef, fit.se, fit.interval(0.95), None

    def explainer(kind):
        def run(scheme, kernel, x, budget, seed):
            if kind.startswith("EAGLE"):
                e = px.EAGLE(bb, background=X, perturbation=scheme, kernel=kernel,
                             seed=seed).explain(x, n_samples=budget,
                                                design=kind.split()[1])
            else:
                cls = px.BayesSHAP if kernel == "shap" else px.BayesLIME
                e = cls(bb, background=X, perturbation=scheme, kernel=kernel,
                        seed=seed).explain(x, n_samples=budget, focused="focused" in kind)
            return e.mean, e.sd, e.hdi(0.95), e
        return run

    methods = {"EAGLE greedy": explainer("EAGLE greedy"),
               "EAGLE importance": explainer("EAGLE importance"),
               "BayesLIME": explainer("BayesLIME"),
               "BayesLIME focused": explainer("BayesLIME focused"), "GLIME": glime}
    for scheme, kernel in (("gaussian", "lime"), ("mask", "lime"), ("mask", "shap")):
        pert = make_perturbation(scheme, X, kernel)
        query = lambda inputs: bb(inputs).numpy()  # noqa: E731
        targets = [gaussian_surrogate_target(query, pert, x, 10**6) if scheme == "gaussian"
                   else mask_surrogate_target(query, pert, x) for x in rows]
        print(f"\n=== {scheme} perturbations, {kernel} kernel, d={d}: "
              f"{len(rows)} rows x {len(seeds)} seeds")
        print(f"{'method':18s} {'n':>5s} {'rel.err':>8s} {'cover':>6s} {'z^2':>6s} "
              f"{'jacc5':>6s} {'tau':>6s} {'weight':>7s} {'logdet':>7s} {'ms':>7s}")
        for budget in budgets:
            for name, run in methods.items():
                if name == "EAGLE greedy" and budget > 1000:
                    continue
                if name == "BayesLIME focused" and kernel == "shap":
                    continue
                err, cov, z2, jac, tau, ts, weight, logdet = ([] for _ in range(8))
                for k, x in enumerate(rows):
                    means = []
                    for seed in seeds:
                        start = time.perf_counter()
                        mean, sd, hdi, e = run(scheme, kernel, x, budget, seed)
                        ts.append(time.perf_counter() - start)
                        t = targets[k]
                        err.append(np.linalg.norm(mean - t.coef) / np.linalg.norm(t.coef))
                        cov.append(np.mean((hdi[:, 0] <= t.coef) & (t.coef <= hdi[:, 1])))
                        z2.append(np.mean((mean - t.coef) ** 2 / (sd**2 + t.se**2)))
                        means.append(mean)
                        if e is not None and seed == 0:
                            quality = sample_quality(e)
                            weight.append(quality["mean_weight"])
                            logdet.append(quality["log_det"])
                    jac.append(top_k_jaccard(np.array(means), k=5))
                    tau.append(kendall_tau_reproducibility(np.array(means)))
                print(f"{name:18s} {budget:5d} {np.mean(err):8.3f} {np.mean(cov):6.3f} "
                      f"{np.mean(z2):6.2f} {np.mean(jac):6.3f} {np.mean(tau):6.3f} "
                      f"{np.mean(weight) if weight else np.nan:7.3f} "
                      f"{np.mean(logdet) if logdet else np.nan:7.1f} "
                      f"{1e3 * np.median(ts):7.1f}", flush=True)
        print("neighbourhood stability at budget 1000 (10 neighbours, 0.1 sd, seed 0):")
        for name, run in methods.items():
            if name == "BayesLIME focused" and kernel == "shap":
                continue
            stats = [neighbourhood_stability(
                lambda xx, run=run, sc=scheme, ke=kernel: run(sc, ke, xx, 1000, 0)[0], x,
                n_neighbours=5 if quick else 10, noise_scale=0.1) for x in rows[:3]]
            print(f"  {name:18s} jaccard {np.mean([s['jaccard'] for s in stats]):.3f}  "
                  f"tau {np.mean([s['kendall_tau'] for s in stats]):.3f}  relative change "
                  f"{np.mean([s['relative_change'] for s in stats]):.3f}", flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    main(parser.parse_args().quick)
