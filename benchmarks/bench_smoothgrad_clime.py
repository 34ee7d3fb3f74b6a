"""probex.SmoothGrad against captum's NoiseTunnel(Saliency), and probex.CLIME against lime
configured as continuous LIME, on a small ReLU network for standardized breast_cancer.

Both pairs compute the same estimator from the same number of model queries, so we print
time ratios (probex / peer, median of repeats, same run) and the agreement of the
estimates in units of their Monte Carlo standard errors.

    python benchmarks/bench_smoothgrad_clime.py [--quick]
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
import torch

import probex as px
from probex.datasets import fit_network


def median_time(fn, repeats: int):
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times)), result


def captum_smoothgrad(net, x, sigma, n, seed):
    from captum.attr import NoiseTunnel, Saliency

    probability = torch.nn.Sequential(net, torch.nn.Softmax(dim=-1))
    tunnel = NoiseTunnel(Saliency(probability))
    torch.manual_seed(seed)  # captum draws its noise from the global generator
    inputs = torch.as_tensor(x, dtype=torch.float32).unsqueeze(0)
    out = tunnel.attribute(inputs, nt_type="smoothgrad", nt_samples=n,
                           nt_samples_batch_size=n, stdevs=sigma, target=1, abs=False)
    return out[0].detach().double().numpy()


def lime_clime(net, background, x, sigma, n, seed):
    """lime's tabular explainer as C-LIME: Gaussian samples x + sigma N(0, I) (training data
    with std sigma), no discretization, a flat kernel, plain least squares."""
    from lime.lime_tabular import LimeTabularExplainer
    from sklearn.linear_model import LinearRegression

    bb = px.BlackBox(net)
    explainer = LimeTabularExplainer(sigma * background, mode="classification",
                                     discretize_continuous=False, sample_around_instance=True,
                                     kernel_width=1e6, feature_selection="none",
                                     random_state=seed)
    explanation = explainer.explain_instance(
        x, lambda rows: bb.predict(rows).numpy(), labels=(1,), num_features=len(x),
        num_samples=n, model_regressor=LinearRegression())
    coef = np.zeros(len(x))
    for j, value in explanation.local_exp[1]:
        coef[j] = value
    return coef / sigma  # lime regresses on (a - mean) / sigma: back to input units


def main(quick: bool) -> None:
    warnings.filterwarnings("ignore")
    torch.set_num_threads(1)
    net, data = fit_network("breast_cancer", hidden=(32,), epochs=40 if quick else 100)
    sigma, n = 0.5, (2000 if quick else 10000)
    repeats, instances = (3, 3) if quick else (5, 5)
    # instances the network is not sure about: for saturated probabilities the gradients
    # are tiny and heavy-tailed, and n = 2000 is too few for a normal Monte Carlo error
    p = px.BlackBox(net)(data.X_test).numpy()
    chosen = np.flatnonzero((p > 0.05) & (p < 0.95))[:instances]
    rows = []
    for i in chosen:
        x = data.X_test[i]
        t_sg, sg = median_time(lambda x=x, i=i: px.SmoothGrad(net, estimator="gaussian",
                                                              sigma=sigma, seed=i)
                               .explain(x, n_samples=n), repeats)
        t_cap, cap = median_time(lambda x=x, i=i: captum_smoothgrad(net, x, sigma, n, i), repeats)
        t_cl, cl = median_time(lambda x=x, i=i: px.CLIME(
            px.BlackBox(net), estimator="least_squares", sigma=sigma, seed=i)
            .explain(x, n_samples=n), repeats)
        t_lime, lime = median_time(
            lambda x=x, i=i: lime_clime(net, data.X_train, x, sigma, n, i), repeats)
        # independent noise in each pair: the difference has sd sqrt(2) * se
        z_sg = np.max(np.abs(sg.mean - cap) / (np.sqrt(2) * sg.sd))
        z_cl = np.max(np.abs(cl.mean - lime) / (np.sqrt(2) * cl.sd))
        rows.append((i, t_sg / t_cap, t_cl / t_lime, z_sg, z_cl, t_sg, t_cap, t_cl, t_lime))
    table = np.asarray(rows)
    print(f"n = {n} queries per explanation, sigma = {sigma}, d = {data.n_features}, "
          f"{instances} instances x {repeats} repeats (median)")
    print("test row  SG/captum  CLIME/lime  max|SG-captum|/se  max|CLIME-lime|/se"
          "   seconds: SG captum CLIME lime")
    for r in table:
        print(f"{int(r[0]):8d}  {r[1]:9.2f}  {r[2]:10.2f}  {r[3]:17.2f}  {r[4]:18.2f}"
              f"   {r[5]:.3f} {r[6]:.3f} {r[7]:.3f} {r[8]:.3f}")
    print(f"median time ratio probex.SmoothGrad / captum NoiseTunnel: {np.median(table[:, 1]):.2f}")
    print(f"median time ratio probex.CLIME / lime (C-LIME config):    {np.median(table[:, 2]):.2f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small n and fewer repeats")
    main(parser.parse_args().quick)
