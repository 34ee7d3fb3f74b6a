# %% [markdown]
# # SmoothGrad and continuous LIME are one explanation
#
# Agarwal et al., "Towards the Unification and Robustness of Perturbation and Gradient
# Based Explanations" (ICML 2021) compare two explanations of a model f at an input x,
# both built on the same Gaussian perturbations a = x + z, z ~ N(0, sigma^2 I):
#
# * **SmoothGrad** averages gradients: phi_SG = mean_i grad f(x + z_i);
# * **C-LIME** (continuous LIME) regresses f(x + z_i) on z_i by unweighted least squares.
#
# By Stein's lemma both converge to phi(x) = E[grad f(x + z)], the gradient of the
# Gaussian-smoothed model (their Theorem 1). They then show that (i) the two estimates
# approach phi at the Monte Carlo rate n^(-1/2), (ii) a number of samples of order
# (G / eps)^2 log(d / delta) makes them eps-close to phi with probability 1 - delta, (iii)
# phi is Lipschitz in x with a constant of order G / sigma (G bounds ||grad f||), and (iv)
# for a linear model both equal its weights.
#
# We reproduce all four on standardized breast_cancer, with a logistic regression and a
# small ReLU network, both explaining the probability of class 1. In probex both methods
# return posteriors: SmoothGrad the normal law of its Monte Carlo mean, C-LIME the
# Bayesian linear surrogate (here with a prior too weak to matter).

# %%
import json
import math
import os
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

import probex as px  # noqa: E402
from probex.datasets import MLP, load_tabular, train_classifier  # noqa: E402
from probex.explainers.clime import clime_deviation_bound  # noqa: E402
from probex.explainers.smoothgrad import (  # noqa: E402
    logistic_smoothgrad,
    smoothed_gradient_lipschitz,
    smoothgrad_deviation_bound,
)
from probex.plots import save_figure  # noqa: E402

smoke_test = "CI" in os.environ
OUT = Path(os.environ.get("PROBEX_TUTORIAL_OUT",
                          "tutorial-output/smoothgrad_clime_unification"))
OUT.mkdir(parents=True, exist_ok=True)
torch.set_num_threads(1)
SIGMA = 0.5                      # noise scale, in standard deviations of each feature
EPOCHS = 40 if smoke_test else 100
started = time.time()
results: dict = {"smoke_test": smoke_test, "sigma": SIGMA}

# %% [markdown]
# ## Two models and the instance explained
#
# `fit_network(hidden=())` is multinomial logistic regression; `hidden=(32,)` a one-layer
# ReLU network. To vary the dimension d we train the same architectures on the first d
# features. Both return logits; the BlackBox turns them into the class-1 probability
# p = s(l_1 - l_0), whose gradient we explain.

# %%
data = load_tabular("breast_cancer", standardize=True, seed=0)
HIDDEN = {"logistic": (), "mlp": (32,)}


def fit_model(kind: str, d: int) -> torch.nn.Module:
    """The architecture ``kind`` trained on the first d standardized features."""
    return train_classifier(MLP(d, 2, HIDDEN[kind]), data.X_train[:, :d], data.y_train,
                            epochs=EPOCHS, seed=0)


def linear_layers(net):
    return [m for m in net.modules() if isinstance(m, torch.nn.Linear)]


def gradient_bounds(net) -> tuple[np.ndarray, float]:
    """Bounds on grad p for p = s(l_1 - l_0) of a ReLU network, valid everywhere.

    |s'| <= 1/4, and d(l_1 - l_0)/da_j is a sum over paths of products of weights times
    0/1 ReLU gates, so |d p / d a_j| <= (|w_1 - w_0|^T |W_k| ... |W_1|)_j / 4 = G_j and
    ||grad p||_2 <= min(||G||_2, ||w_1 - w_0|| prod ||W_k||_2 / 4). Exact for logistic
    regression (no hidden layer): G_j = |w_j| / 4.
    """
    layers = linear_layers(net)
    head = (layers[-1].weight[1] - layers[-1].weight[0]).detach().double()
    path, spectral = head.abs(), head.norm()
    for layer in reversed(layers[:-1]):
        weight = layer.weight.detach().double()
        path, spectral = path @ weight.abs(), spectral * torch.linalg.matrix_norm(weight, 2)
    return (path / 4).numpy(), float(min(path.norm(), spectral)) / 4


def logistic_parameters(net) -> tuple[np.ndarray, float]:
    """w = w_1 - w_0 and b = b_1 - b_0 of a two-class softmax regression."""
    (layer,) = linear_layers(net)
    w = (layer.weight[1] - layer.weight[0]).detach().double().numpy()
    return w, float((layer.bias[1] - layer.bias[0]).detach())


models = {kind: fit_model(kind, data.n_features) for kind in HIDDEN}
probabilities = {k: px.BlackBox(m)(data.X_test).numpy() for k, m in models.items()}
accuracy = {k: float(np.mean((p > 0.5) == data.y_test)) for k, p in probabilities.items()}
# an instance both models find uncertain, so that the gradients are not all ~0
row = int(np.argmin(sum(np.abs(p - 0.5) for p in probabilities.values())))
x = data.X_test[row]
results["instance"] = {"test_row": row, **{f"p_{k}": float(p[row])
                                           for k, p in probabilities.items()}}
results["accuracy"] = accuracy
print(f"test accuracy {accuracy}; explaining test row {row} with "
      + ", ".join(f"p_{k} = {p[row]:.3f}" for k, p in probabilities.items()))


def reference_phi(kind: str, net, point, sigma: float, n: int, seed: int = 999) -> np.ndarray:
    """phi(x) = E[grad p(x + z)]: exact by quadrature for logistic regression, else a
    SmoothGrad estimate with a large n (its standard error is reported)."""
    if kind == "logistic":
        w, b = logistic_parameters(net)
        return logistic_smoothgrad(w, b, point, sigma)
    chunks = max(4, n // 100_000)
    e = px.SmoothGrad(net, estimator="gaussian",
                      sigma=sigma, seed=seed, n_draws=10, n_chains=1).explain(
        np.tile(point, (chunks, 1)), n_samples=n // chunks)
    return e.mean.mean(0)


# %% [markdown]
# ## (a) SmoothGrad and C-LIME meet at the n^(-1/2) rate
#
# With the same seed and sigma both explainers query the model at the very same points
# (common random numbers). We repeat each n a few times (a batch of copies of x, each
# with its own perturbations) and report the mean distance ||phi_SG - phi_CLIME||_2, and
# each method's distance to phi.

# %%
N_GRID = [100, 400, 1600] if smoke_test else [100, 400, 1600, 6400, 25600]
REPS_A = 4 if smoke_test else 8
N_REF = 40_000 if smoke_test else 1_600_000
part_a = {}
fig, axes = plt.subplots(1, 2, figsize=(10, 4), sharey=True, layout="constrained")
for ax, (kind, net) in zip(axes, models.items(), strict=True):
    phi = reference_phi(kind, net, x, SIGMA, N_REF)
    rows = {"n": N_GRID, "sg_vs_clime": [], "sg_vs_phi": [], "clime_vs_phi": []}
    for k, n in enumerate(N_GRID):
        X = np.tile(x, (REPS_A, 1))
        sg = px.SmoothGrad(net, estimator="gaussian", sigma=SIGMA, seed=k).explain(X, n_samples=n)
        cl = px.CLIME(px.BlackBox(net), estimator="least_squares", sigma=SIGMA, seed=k, n_draws=100,
                      n_chains=2).explain(X, n_samples=n)
        rows["sg_vs_clime"].append(float(np.linalg.norm(sg.mean - cl.mean, axis=1).mean()))
        rows["sg_vs_phi"].append(float(np.linalg.norm(sg.mean - phi, axis=1).mean()))
        rows["clime_vs_phi"].append(float(np.linalg.norm(cl.mean - phi, axis=1).mean()))
    slope = np.polyfit(np.log(N_GRID), np.log(rows["sg_vs_clime"]), 1)[0]
    rows["slope_sg_vs_clime"] = float(slope)
    part_a[kind] = rows
    n_arr = np.asarray(N_GRID, dtype=float)
    ax.loglog(n_arr, rows["sg_vs_clime"], "o-", label="||SmoothGrad - C-LIME||")
    ax.loglog(n_arr, rows["sg_vs_phi"], "s--", label="||SmoothGrad - phi||", alpha=0.7)
    ax.loglog(n_arr, rows["clime_vs_phi"], "^--", label="||C-LIME - phi||", alpha=0.7)
    ax.loglog(n_arr, rows["sg_vs_clime"][0] * np.sqrt(n_arr[0] / n_arr), "k:",
              label="n^(-1/2)")
    ax.set_title(f"{kind}: fitted slope {slope:.2f}")
    ax.set_xlabel("perturbations n")
    ax.grid(alpha=0.3, which="both")
axes[0].set_ylabel(f"mean L2 distance over {REPS_A} repetitions")
axes[0].legend(fontsize="small")
save_figure(fig, OUT / "a_convergence_rate.png")
plt.close(fig)
results["a_convergence"] = part_a
for kind, rows in part_a.items():
    print(f"(a) {kind}: n = {rows['n']}")
    print("    ||SG - C-LIME|| = " + ", ".join(f"{v:.2e}" for v in rows["sg_vs_clime"])
          + f"   slope {rows['slope_sg_vs_clime']:.2f}")

# %% [markdown]
# ## (b) How often is an explanation eps away from phi? Empirical tail vs finite-sample bound
#
# For SmoothGrad, each gradient coordinate lies in [-G_j, G_j], so Hoeffding and a union
# bound give P(||phi_SG - phi||_inf >= eps) <= sum_j 2 exp(-n eps^2 / (2 G_j^2))
# (`smoothgrad_deviation_bound`), i.e. n = O((G / eps)^2 log(d / delta)). For C-LIME,
# `clime_deviation_bound` is a bound we derive with explicit constants (Gaussian design
# singular values, sub-Gaussian and chi-square tails; see its docstring): of order
# (1 / (sigma eps))^2 log(d / delta) for outputs in [0, 1]. G_j comes from the network's
# weights (`gradient_bounds`), valid everywhere. We compare the empirical probability of an
# eps-deviation over many repetitions with both bounds, across n and d. phi is exact for
# the logistic model; for the network it is a SmoothGrad estimate from 1.6 million
# gradients (40,000 in quick mode), whose own error is below that of any run compared.

# %%
D_GRID = [5, 30] if smoke_test else [5, 10, 30]
N_TAIL = [500, 2000] if smoke_test else [1000, 4000, 16000, 64000]
REPS_B = 20 if smoke_test else 100
CHUNK = 10                                  # repetitions per call (memory)
EPS = np.geomspace(1e-4, 1.0, 41)
part_b = {"eps": EPS.tolist(), "n": N_TAIL, "d": D_GRID, "cells": []}
coverage = {}
for kind in HIDDEN:
    fig, axes = plt.subplots(2, len(D_GRID), figsize=(4 * len(D_GRID), 7), sharex=True,
                             sharey=True, squeeze=False, layout="constrained")
    for col, d in enumerate(D_GRID):
        net = models[kind] if d == data.n_features else fit_model(kind, d)
        point = x[:d]
        coord_bound, norm_bound = gradient_bounds(net)
        phi = reference_phi(kind, net, point, SIGMA, N_REF)
        for k, n in enumerate(N_TAIL):
            dev = {"SmoothGrad": [], "C-LIME": []}
            hits = {"SmoothGrad": 0, "C-LIME": 0}
            for start in range(0, REPS_B, CHUNK):
                X = np.tile(point, (min(CHUNK, REPS_B - start), 1))
                seed = 10_000 * k + start
                sg = px.SmoothGrad(net, estimator="gaussian", sigma=SIGMA, seed=seed, n_draws=10,
                                   n_chains=1).explain(X, n_samples=n)
                cl = px.CLIME(px.BlackBox(net), estimator="least_squares",
                              sigma=SIGMA, seed=seed, n_draws=10,
                              n_chains=1).explain(X, n_samples=n)
                for name, e in (("SmoothGrad", sg), ("C-LIME", cl)):
                    dev[name].extend(np.abs(e.mean - phi).max(1).tolist())
                    interval = e.hdi(0.95)
                    hits[name] += int(np.sum((interval[..., 0] <= phi)
                                             & (phi <= interval[..., 1])))
            if kind == "logistic" and d == D_GRID[-1] and n == N_TAIL[-1]:
                coverage = {name: h / (REPS_B * d) for name, h in hits.items()}
            bounds = {
                "SmoothGrad": [smoothgrad_deviation_bound(n, e, coord_bound) for e in EPS],
                "C-LIME": [clime_deviation_bound(n, d, e, SIGMA,
                                                 grad_norm=min(norm_bound, 1 / (
                                                     SIGMA * math.sqrt(2 * math.pi))))
                           for e in EPS]}
            for r, name in enumerate(("SmoothGrad", "C-LIME")):
                empirical = [float(np.mean(np.asarray(dev[name]) >= e)) for e in EPS]
                part_b["cells"].append({"model": kind, "d": d, "n": n, "method": name,
                                        "empirical": empirical, "bound": bounds[name]})
                ax = axes[r, col]
                color = f"C{k}"
                ax.step(EPS, empirical, where="post", color=color, label=f"n={n}")
                ax.plot(EPS, bounds[name], "--", color=color)
                ax.set_xscale("log")
                ax.set_title(f"{name}, d = {d}", fontsize="medium")
                ax.grid(alpha=0.3)
    for ax in axes[-1]:
        ax.set_xlabel("eps (max over features)")
    for ax in axes[:, 0]:
        ax.set_ylabel("P(||phi_n - phi||_inf >= eps)")
    axes[0, 0].legend(fontsize="small", title="solid: observed\ndashed: bound")
    fig.suptitle(f"{kind}: {REPS_B} repetitions per cell, sigma = {SIGMA}")
    save_figure(fig, OUT / f"b_deviation_vs_bound_{kind}.png")
    plt.close(fig)
results["b_deviation"] = part_b
results["coverage_95"] = coverage
violations = sum(int(np.sum(np.asarray(c["empirical"]) > np.asarray(c["bound"]) + 1e-12))
                 for c in part_b["cells"])
results["b_bound_violations"] = violations
print(f"(b) cells where the observed frequency exceeds the bound: {violations}")
print("    n  d  method      eps where bound = 0.05   observed 95% quantile of deviation")
for cell in part_b["cells"]:
    bound = np.asarray(cell["bound"])
    eps_bound = EPS[np.argmax(bound <= 0.05)] if np.any(bound <= 0.05) else np.nan
    observed = np.asarray(cell["empirical"])
    eps_observed = EPS[np.argmax(observed <= 0.05)]
    cell["eps_bound_005"] = None if np.isnan(eps_bound) else float(eps_bound)
    cell["eps_observed_005"] = float(eps_observed)
    print(f"  {cell['model']:8s} {cell['n']:6d} {cell['d']:3d} {cell['method']:10s} "
          f"{eps_bound:9.3g} {eps_observed:9.3g}")
print(f"    95% interval coverage of phi (logistic, d = {D_GRID[-1]}, n = {N_TAIL[-1]}): "
      + ", ".join(f"{k} {v:.2f}" for k, v in coverage.items()))

# %% [markdown]
# Every observed curve stays under its bound. Both bounds carry the right shape (the
# curves move left as 1 / sqrt(n), and barely with d), but not the right size: SmoothGrad's
# Hoeffding bound is about 5-10 times too large in eps, because it uses the worst gradient
# G_j rather than the gradients' spread; C-LIME's is one to two orders of magnitude too
# large, because it must hold for any model with outputs in [0, 1], whose residuals around
# the linear fit can be of size 1/2, while a smooth model's are tiny.
#
# SmoothGrad's standard errors cover phi at about the nominal rate. C-LIME's posterior
# assumes residuals of constant variance around a linear function; the residuals of a
# curved model are not, so its intervals can be somewhat too narrow.
#
# ## (c) Robustness: the explanation moves at most L ||x - x'||
#
# Stein's lemma writes the Hessian of the smoothed model as E[grad f(x + z) z^T] / sigma^2,
# so phi is Lipschitz with L = sqrt(2 / pi) G / sigma, G = sup ||grad f||_2
# (`smoothed_gradient_lipschitz`). A finite-n C-LIME fit on fixed perturbations is
# Lipschitz too: ||beta(x) - beta(x')|| <= sqrt(n) G ||x - x'|| / s_min(Z_c), Z_c the
# centred perturbation matrix. We move x by r along the explanation's own direction (where
# the model changes fastest) and along random directions, re-explain with the same seed
# (same perturbations), and compare with both constants, across sigma. The constants are
# worst cases over all models with gradients bounded by G (attained by step-like models),
# so smooth models stay a few times below them; what the theory predicts is the 1 / sigma
# decay, visible in the right panel.

# %%
SIGMAS = [0.5, 1.0] if smoke_test else [0.25, 0.5, 1.0, 2.0]
RADII = np.geomspace(0.01, 3.0, 4 if smoke_test else 10)
N_ROBUST = 2000 if smoke_test else 20000
rng = np.random.default_rng(0)
random_directions = rng.normal(size=(1 if smoke_test else 3, data.n_features))
random_directions /= np.linalg.norm(random_directions, axis=1, keepdims=True)
part_c = {}
fig, axes = plt.subplots(1, 3, figsize=(16, 4.8), layout="constrained")
for color, (kind, net) in zip(("C0", "C3"), models.items(), strict=True):
    _, norm_bound = gradient_bounds(net)
    rows = {"sigma": SIGMAS, "L_theory": [], "sg_max_ratio": [], "clime_max_ratio": [],
            "clime_pathwise_L": []}
    for sigma in SIGMAS:
        L = smoothed_gradient_lipschitz(norm_bound, sigma)
        sg_explainer = px.SmoothGrad(net, estimator="gaussian",
                                     sigma=sigma, seed=1, n_draws=10, n_chains=1)
        cl_explainer = px.CLIME(px.BlackBox(net), estimator="least_squares",
                                sigma=sigma, seed=1, n_draws=10,
                                n_chains=1)
        sg0, cl0 = sg_explainer.explain(x, N_ROBUST), cl_explainer.explain(x, N_ROBUST)
        z = cl0.idata.constant_data["z"].values
        s_min = np.linalg.svd(z - z.mean(0), compute_uv=False)[-1]
        L_path = math.sqrt(N_ROBUST) * norm_bound / s_min
        moves, sg_change, cl_change = [], [], []
        steepest = sg0.mean / np.linalg.norm(sg0.mean)
        for u in [steepest, *random_directions]:
            for r in RADII:
                moves.append(r)
                sg_change.append(np.linalg.norm(sg_explainer.explain(x + r * u, N_ROBUST).mean
                                                - sg0.mean))
                cl_change.append(np.linalg.norm(cl_explainer.explain(x + r * u, N_ROBUST).mean
                                                - cl0.mean))
        moves, sg_change, cl_change = map(np.asarray, (moves, sg_change, cl_change))
        rows["L_theory"].append(L)
        rows["clime_pathwise_L"].append(L_path)
        rows["sg_max_ratio"].append(float(np.max(sg_change / moves)))
        rows["clime_max_ratio"].append(float(np.max(cl_change / moves)))
        if sigma == SIGMA:
            ax = axes[0 if kind == "logistic" else 1]
            ax.loglog(moves, sg_change, "o", alpha=0.6, label="SmoothGrad")
            ax.loglog(moves, cl_change, "^", alpha=0.6, label="C-LIME")
            ax.loglog(RADII, L * RADII, "k-", label=f"L = sqrt(2/pi) G/sigma = {L:.2f}")
            ax.loglog(RADII, L_path * RADII, "k:", label=f"C-LIME pathwise {L_path:.2f}")
            ax.set_title(f"{kind}, sigma = {sigma}")
            ax.set_xlabel("||x - x'||")
            ax.set_ylabel("||explanation(x) - explanation(x')||")
            ax.grid(alpha=0.3, which="both")
            ax.legend(fontsize="x-small")
    part_c[kind] = rows
    sig = np.asarray(SIGMAS)
    axes[2].loglog(sig, rows["L_theory"], "-", color=color, label=f"{kind}: theory L")
    axes[2].loglog(sig, rows["sg_max_ratio"], "o--", color=color,
                   label=f"{kind}: SmoothGrad observed")
    axes[2].loglog(sig, rows["clime_max_ratio"], "^:", color=color, mfc="none",
                   label=f"{kind}: C-LIME observed")
axes[2].set_xticks(SIGMAS, [f"{s:g}" for s in SIGMAS])
axes[2].minorticks_off()
axes[2].set_xlabel("sigma")
axes[2].set_ylabel("largest ||change of explanation|| / ||x - x'||")
axes[2].set_title("Lipschitz constant against sigma")
axes[2].grid(alpha=0.3, which="both")
axes[2].legend(fontsize="x-small")
save_figure(fig, OUT / "c_robustness.png")
plt.close(fig)
results["c_robustness"] = part_c
for kind, rows in part_c.items():
    for i, sigma in enumerate(rows["sigma"]):
        print(f"(c) {kind:8s} sigma {sigma:4}: L {rows['L_theory'][i]:.3f}; observed "
              f"SmoothGrad {rows['sg_max_ratio'][i]:.3f}, C-LIME {rows['clime_max_ratio'][i]:.3f}"
              f" (pathwise bound {rows['clime_pathwise_L'][i]:.3f})")

# %% [markdown]
# ## (d) A linear model: both methods return its weights
#
# The log-odds l_1 - l_0 of the logistic regression is linear in x, with weights
# w = w_1 - w_0. Wrapped as a regression output, every gradient equals w, and least
# squares on noiseless linear data is exact, so SmoothGrad and C-LIME both return w
# (C-LIME up to its prior's relative shrinkage of about 1 / (100 n)). On the probability
# scale both return E[s'(w.(x + z) + b)] w, a rescaling of the weights.

# %%
class LogOdds(torch.nn.Module):
    """l_1 - l_0 of a two-class network: a single regression output."""

    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, a):
        logits = self.net(a)
        return logits[:, 1] - logits[:, 0]


logistic = models["logistic"]
w, b = logistic_parameters(logistic)
log_odds = px.BlackBox(LogOdds(logistic), task="regression", feature_names=data.feature_names)
n_linear = 500
sg_lin = px.SmoothGrad(log_odds, estimator="gaussian",
                       sigma=SIGMA, seed=3).explain(x, n_samples=n_linear)
cl_lin = px.CLIME(log_odds, estimator="least_squares",
                  sigma=SIGMA, seed=3).explain(x, n_samples=n_linear)
bb_prob = px.BlackBox(logistic, feature_names=data.feature_names)
sg_prob = px.SmoothGrad(bb_prob, estimator="gaussian",
                        sigma=SIGMA, seed=3).explain(x, n_samples=4000)
cl_prob = px.CLIME(bb_prob, estimator="least_squares",
                   sigma=SIGMA, seed=3).explain(x, n_samples=4000)
phi_prob = logistic_smoothgrad(w, b, x, SIGMA)
part_d = {
    "sg_logit_max_abs_error": float(np.abs(sg_lin.mean - w).max()),
    "clime_logit_max_abs_error": float(np.abs(cl_lin.mean - w).max()),
    "weights_max_abs": float(np.abs(w).max()),
    "sg_prob_max_abs_error": float(np.abs(sg_prob.mean - phi_prob).max()),
    "clime_prob_max_abs_error": float(np.abs(cl_prob.mean - phi_prob).max()),
    "sg_prob_max_sd": float(sg_prob.sd.max()), "clime_prob_max_sd": float(cl_prob.sd.max()),
    "prob_scale_factor": float(phi_prob @ w / (w @ w)),
}
results["d_linear"] = part_d
top = np.argsort(-np.abs(w))[:8]
print("(d) log-odds of the logistic regression: weights vs SmoothGrad vs C-LIME")
print(f"    {'feature':24s} {'weight':>9s} {'SmoothGrad':>11s} {'C-LIME':>9s}")
for j in top:
    print(f"    {data.feature_names[j]:24s} {w[j]:9.4f} {sg_lin.mean[j]:11.4f} "
          f"{cl_lin.mean[j]:9.4f}")
print(f"    max |SmoothGrad - w| = {part_d['sg_logit_max_abs_error']:.1e}, "
      f"max |C-LIME - w| = {part_d['clime_logit_max_abs_error']:.1e}")
fig, axes = plt.subplots(1, 2, figsize=(11, 4.5), layout="constrained")
axes[0].plot(w, sg_lin.mean, "o", label="SmoothGrad")
axes[0].plot(w, cl_lin.mean, "x", label="C-LIME")
axes[0].axline((0, 0), slope=1, color="k", lw=0.8)
axes[0].set_xlabel("logistic regression weight w_j")
axes[0].set_ylabel("explanation of the log-odds")
axes[0].legend()
axes[1].errorbar(phi_prob, sg_prob.mean, yerr=1.96 * sg_prob.sd, fmt="o", label="SmoothGrad")
axes[1].errorbar(phi_prob, cl_prob.mean, yerr=1.96 * cl_prob.sd, fmt="x", label="C-LIME")
axes[1].axline((0, 0), slope=1, color="k", lw=0.8)
axes[1].set_xlabel("exact E[grad p] = E[s'(u)] w")
axes[1].set_ylabel("explanation of p (95% intervals)")
axes[1].legend()
save_figure(fig, OUT / "d_linear_model.png")
plt.close(fig)

# %%
results["seconds"] = round(time.time() - started, 1)
path = OUT / "results.json"
tmp = path.with_name(f".{path.name}.tmp")
tmp.write_text(json.dumps(results, indent=1))
os.replace(tmp, path)
print(f"figures and results.json written to {OUT} in {results['seconds']} s")
