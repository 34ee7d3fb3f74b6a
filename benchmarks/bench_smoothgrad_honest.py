"""SmoothGrad and C-LIME: accuracy and honesty of the Monte Carlo error against a
high-sample truth, on saturating MLPs, next to captum's NoiseTunnel (issue 12, item 4).

Networks: ``fit_network("breast_cancer")`` with one hidden layer of 32 (moderately
saturated: logits -38..15 on the test rows, logit spread over the noise sigma ||grad L||
about 2) and with two layers of 64 trained for 200 epochs in float64 (strongly saturated
and curved: logits -58..37, spread 3.5-6). sigma = 0.5 (standardized inputs); ten test
rows spread over the logit range. Truth: 2 x 10^6 importance-sampled gradients (proposal
tilted from the gradient at x, half the draws from the noise itself; checked against plain
Monte Carlo) with its own standard error, which enters every z-score.

Methods at equal queries n: captum ``NoiseTunnel(Saliency)`` (no error bar),
``px.SmoothGrad`` (plain draws, normal error), ``px.SmoothGrad(estimator="importance")``,
``px.CLIME`` (least squares, conjugate posterior), ``px.CLIME(estimator="importance")``.
Columns: relative L2 error, coverage of the truth by 95% intervals, mean squared z-score,
share of explanations that raised a SamplingWarning, coverage and mean squared z-score of
the explanations that raised none (is silence honest?), median milliseconds.

    python benchmarks/bench_smoothgrad_honest.py [--quick]
"""

from __future__ import annotations

import argparse
import os
import time
import warnings

import numpy as np
import torch


def truth(bb, x, sigma, n, seed):
    from probex.inference.tilted_gaussian import LogitModel, TiltedGaussian

    xt = torch.as_tensor(x)
    value, gradient = bb.gradient(xt[None])
    model = LogitModel.from_gradient(float(value), gradient[0].numpy())
    generator = torch.Generator().manual_seed(int(seed))
    chunk, sums = 250_000, np.zeros((2, 2, x.size))
    n = chunk * max(1, n // chunk)
    for _ in range(n // chunk):
        draws = TiltedGaussian(model, sigma, 0.5).sample(chunk, generator, antithetic=False)
        terms = draws.weights.numpy()[:, None] * bb.gradient(xt + draws.z)[1].numpy()
        for s in (0, 1):
            sums[s, 0] += terms[draws.strata == s].sum(0)
            sums[s, 1] += (terms[draws.strata == s] ** 2).sum(0)
    counts = np.array([(draws.strata == s).sum() for s in (0, 1)]) * (n // chunk)
    means = sums[:, 0] / counts[:, None]
    variances = sums[:, 1] / counts[:, None] - means**2
    return sums[:, 0].sum(0) / n, np.sqrt((counts[:, None] * variances).sum(0)) / n


def main(quick: bool) -> None:
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    torch.set_num_threads(1)
    import probex as px
    from probex.datasets import fit_network
    from probex.diagnostics import SamplingWarning

    sigma = 0.5
    ns = (100, 1000) if quick else (100, 1000, 10000)
    seeds = range(6 if quick else 12)
    n_rows = 5 if quick else 10
    networks = {"MLP 32 (float32)": dict(hidden=(32,), epochs=100, double=False),
                "MLP 64x64 (float64)": dict(hidden=(64, 64), epochs=200, double=True)}
    for label, spec in networks.items():
        net, data = fit_network("breast_cancer", hidden=spec["hidden"], epochs=spec["epochs"])
        if spec["double"]:
            net = net.double()
        bb = px.BlackBox(net, target=1, batch_size=8192)
        p = bb(data.X_test).numpy()
        logit = np.log(np.clip(p, 1e-300, 1)) - np.log1p(-np.clip(p, 0, 1 - 1e-16))
        order = np.argsort(logit)
        order = order[np.abs(logit[order]) < 33]   # probabilities not rounded to 0 or 1
        rows = order[np.linspace(0, len(order) - 1, n_rows).round().astype(int)]
        truths = [truth(bb, data.X_test[i], sigma, 500_000 if quick else 2_000_000, 7 + i)
                  for i in rows]

        def captum(x, size, run_seed, net=net):
            from captum.attr import NoiseTunnel, Saliency

            probability = torch.nn.Sequential(net, torch.nn.Softmax(dim=-1))
            torch.manual_seed(run_seed)
            dtype = next(net.parameters()).dtype
            out = NoiseTunnel(Saliency(probability)).attribute(
                torch.as_tensor(x, dtype=dtype)[None], nt_type="smoothgrad", nt_samples=size,
                nt_samples_batch_size=min(size, 2000), stdevs=sigma, target=1, abs=False)
            return out[0].detach().double().numpy(), None

        def explainer(cls, estimator, bb=bb):
            def explain(x, size, run_seed):
                e = cls(bb, sigma=sigma, seed=run_seed).explain(x, n_samples=size,
                                                                estimator=estimator)
                return e.mean, e.sd
            return explain

        methods = {"captum NoiseTunnel": captum,
                   "SmoothGrad": explainer(px.SmoothGrad, "gaussian"),
                   "SmoothGrad importance": explainer(px.SmoothGrad, "importance"),
                   "C-LIME": explainer(px.CLIME, "least_squares"),
                   "C-LIME importance": explainer(px.CLIME, "importance")}
        print(f"\n=== {label}: {n_rows} rows (logits {logit[rows].min():.0f}.."
              f"{logit[rows].max():.0f}) x {len(seeds)} seeds, sigma = {sigma}")
        print(f"{'method':22s} {'n':>6s} {'rel.err':>8s} {'cover':>6s} {'z^2':>8s} "
              f"{'warned':>7s} {'cover|quiet':>11s} {'z^2|quiet':>9s} {'ms':>7s}")
        for n in ns:
            for name, run in methods.items():
                err, cov, z2, warned, ts, quiet = [], [], [], [], [], []
                for k, i in enumerate(rows):
                    target, target_se = truths[k]
                    for seed in seeds:
                        with warnings.catch_warnings(record=True) as caught:
                            warnings.simplefilter("always", SamplingWarning)
                            start = time.perf_counter()
                            mean, sd = run(data.X_test[i], n, seed)
                            ts.append(time.perf_counter() - start)
                        warned.append(any(issubclass(w.category, SamplingWarning)
                                          for w in caught))
                        err.append(np.linalg.norm(mean - target) / np.linalg.norm(target))
                        if sd is not None:
                            z = (mean - target) / np.sqrt(sd**2 + target_se**2)
                            z2.append(np.mean(z**2))
                            cov.append(np.mean(np.abs(z) < 1.959964))
                            if not warned[-1]:
                                quiet.append((cov[-1], z2[-1]))
                print(f"{name:22s} {n:6d} {np.mean(err):8.3f} "
                      f"{np.mean(cov) if cov else np.nan:6.3f} "
                      f"{np.mean(z2) if z2 else np.nan:8.2f} {np.mean(warned):7.2f} "
                      f"{np.mean([c for c, _ in quiet]) if quiet else np.nan:11.3f} "
                      f"{np.mean([q for _, q in quiet]) if quiet else np.nan:9.2f} "
                      f"{1e3 * np.median(ts):7.1f}", flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    main(parser.parse_args().quick)
