# %% [markdown]
# # ReCalX: recalibrating a classifier for the perturbations that explain it
#
# Perturbation-based explanations (LIME, KernelSHAP, BayesSHAP, ...) query the model on
# inputs with features replaced, far from its training data, where its probabilities
# are often badly calibrated. ReCalX (Decker, Tresp & Buettner, "Improving Explainability
# via Perturbation-Aware Recalibration") divides the model's logits by a temperature
# T(lambda) that depends on the perturbation level lambda (here the fraction of features
# replaced by their mean), fitted on perturbed copies of held-out labelled samples.
# Dividing by T > 0 keeps every argmax, so the model's decisions do not change, only how
# sure it claims to be.
#
# In probex the per-level log-temperatures are latent variables of a Pyro model with a
# Gaussian random-walk prior over the level bins; MAP is the paper's estimate, NUTS
# gives a posterior with credible bands. This tutorial:
#
# 1. recalibrates MLPs on breast_cancer and digits and compares the KL calibration error
#    per level (CE_AVG, CE_MAX) of the uncalibrated model, global temperature scaling and
#    ReCalX on held-out perturbed data;
# 2. checks the paper's decomposition of predictive power under the log loss,
#    v(S) = D_KL(P_Y || f_empty) + I(f_S(X); Y) - CE_KL(f_S), exactly on a discrete
#    problem, and shows what recalibration changes in it;
# 3. explains the breast_cancer MLP with BayesSHAP before and after ReCalX and compares
#    the stability of the attributions across seeds.

# %%
import itertools
import json
import os
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from scipy import stats  # noqa: E402
from scipy.optimize import minimize_scalar  # noqa: E402
from scipy.special import log_softmax, softmax  # noqa: E402

import probex as px  # noqa: E402
from probex.datasets import fit_network  # noqa: E402
from probex.explainers import TemperatureScaling  # noqa: E402
from probex.inference import NUTSRunner  # noqa: E402
from probex.metrics import calibration_by_level, predictive_power_decomposition  # noqa: E402
from probex.models.calibration import bin_edges  # noqa: E402
from probex.perturb import perturb_by_level  # noqa: E402
from probex.plots import save_figure  # noqa: E402

smoke_test = "CI" in os.environ
OUT = Path(os.environ.get("PROBEX_TUTORIAL_OUT", "tutorial-output/recalx_calibration"))
OUT.mkdir(parents=True, exist_ok=True)

EPOCHS = {"breast_cancer": 30, "digits": 8} if smoke_test else {"breast_cancer": 100,
                                                                 "digits": 100}
N_CAL, N_PERT, N_EVAL_PERT = (60, 4, 4) if smoke_test else (200, 10, 20)
# the posterior shown with credible bands: NUTS (2 chains) in the full run
BANDS = "laplace" if smoke_test else NUTSRunner(num_samples=500, num_warmup=300, num_chains=2)
N_EXPLAIN, N_SEEDS, N_SHAP = (3, 3, 150) if smoke_test else (10, 5, 1000)
N_BINS = 10
results = {"smoke_test": smoke_test}
start = time.perf_counter()

# %% [markdown]
# ## 1. Calibration error per perturbation level
#
# Each network is trained on the training split (standardized features; digits scaled to
# [0, 1]). The test split is halved: the first half calibrates (ReCalX: every sample
# perturbed `N_PERT` times in each of 10 level bins, i.e. the paper's 200 samples x 10
# perturbations per level in the full run; global temperature scaling: the unperturbed
# samples), the second half evaluates, perturbed `N_EVAL_PERT` times per bin with another
# seed. Masks replace features by the training mean, as BayesSHAP's masks do.
#
# The KL calibration error of each bin is estimated as the cross-validated log-loss
# gain of a Dirichlet-kernel recalibration map (probex.metrics.kl_calibration_error): a
# consistent estimator that is never negative and conservative (a lower bound of the
# true error up to noise), tight for two classes, looser for ten.

# %%
EDGES = bin_edges(N_BINS)


def calibrate(name):
    net, data = fit_network(name, epochs=EPOCHS[name], seed=0)
    bb = px.BlackBox(net, feature_names=data.feature_names)
    half = len(data.X_test) // 2
    X_cal, y_cal = data.X_test[:half], data.y_test[:half]
    X_eval, y_eval = data.X_test[half:], data.y_test[half:]
    recalx = px.ReCalX(bb, X_cal, y_cal, background=data.X_train, n_bins=N_BINS,
                       n_rows=N_CAL, n_perturbations=N_PERT, seed=0)
    bands = px.ReCalX(bb, X_cal, y_cal, background=data.X_train, n_bins=N_BINS,
                      n_rows=N_CAL, n_perturbations=N_PERT, seed=0, inference=BANDS)
    scaling = TemperatureScaling(bb, X_cal, y_cal)
    evaluation = perturb_by_level(recalx.scheme, X_eval, y_eval, EDGES, N_EVAL_PERT, seed=1)
    boxes = {"uncalibrated": bb, "temperature scaling": scaling, "ReCalX": recalx}
    probs = {method: box.predict(evaluation.inputs, level=evaluation.levels).numpy()
             for method, box in boxes.items()}
    scores = {method: calibration_by_level(p, evaluation.labels, evaluation.levels,
                                           edges=EDGES) for method, p in probs.items()}
    np.savez_compressed(OUT / f"{name}_evaluation.npz", labels=evaluation.labels.numpy(),
                        levels=evaluation.levels.numpy(),
                        **{method.replace(" ", "_"): p for method, p in probs.items()})
    return {"data": data, "bb": bb, "recalx": recalx, "bands": bands, "scaling": scaling,
            "scores": scores, "X_eval": X_eval, "accuracy": float(
                (probs["uncalibrated"][evaluation.levels.numpy() == 0].argmax(1)
                 == evaluation.labels.numpy()[evaluation.levels.numpy() == 0]).mean())}


runs = {name: calibrate(name) for name in ("breast_cancer", "digits")}
summary_rows = []
for name, run in runs.items():
    base = run["scores"]["uncalibrated"]
    for method, score in run["scores"].items():
        summary_rows.append({
            "data": name, "method": method, "CE_AVG": score.ce_avg, "CE_MAX": score.ce_max,
            "CE_MAX change %": 100 * (score.ce_max / base.ce_max - 1),
            "ECE_AVG": float(np.nanmean(score.table["ece"]))})
summary = pd.DataFrame(summary_rows).set_index(["data", "method"])
print(summary.round(4).to_string())
results["summary"] = summary_rows
results["per_level"] = {name: {method: score.table["ce_kl"].tolist()
                               for method, score in run["scores"].items()}
                        for name, run in runs.items()}
results["temperatures"] = {name: {"recalx_map": run["recalx"].temperatures.tolist(),
                                  f"recalx_{run['bands'].inference}":
                                      run["bands"].temperatures.tolist(),
                                  "global": run["scaling"].temperatures.tolist()}
                           for name, run in runs.items()}

# %% [markdown]
# What the full run measured (seed 0; the quick run's tiny networks and calibration sets
# say little):
#
# | data | method | CE_AVG | CE_MAX | CE_MAX change |
# |---|---|---|---|---|
# | breast_cancer | uncalibrated | 0.051 | 0.088 | |
# | breast_cancer | temperature scaling | 0.038 | 0.063 | -28% |
# | breast_cancer | ReCalX | 0.020 | 0.044 | -50% |
# | digits | uncalibrated | 0.675 | 2.616 | |
# | digits | temperature scaling | 0.545 | 2.037 | -22% |
# | digits | ReCalX | 0.206 | 0.422 | -84% |
#
# Both MLPs are overconfident under masking, but differently. The breast_cancer MLP is
# most overconfident on clean inputs (T ~ 3.5) and less so as more features are replaced
# (T ~ 2 near lambda = 1); global scaling fits the clean end and over-softens the rest.
# The digits MLP is nearly calibrated on clean images (T ~ 1.2) and wildly overconfident
# on mostly blank ones (T ~ 12 at lambda > 0.9), where a temperature fitted on clean data
# cannot help. The paper reports ReCalX cutting CE_MAX by 75-92% for MLPs: digits (84%)
# is in that range, breast_cancer (50%) below it. Plain temperature scaling did not make
# CE_MAX worse here, unlike for several of the paper's models (it lowered it by 22-28%).
# Two caveats: the kernel estimator is conservative, more so for 10 classes, and the
# breast_cancer calibration set has only 71 held-out rows (710 perturbed rows per bin).

# %%
fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
for ax, (name, run) in zip(axes, runs.items(), strict=True):
    centres = (EDGES[:-1] + EDGES[1:]).numpy() / 2
    for method, score in run["scores"].items():
        ax.plot(centres, score.table["ce_kl"], "o-", label=method)
    ax.set_title(f"{name} MLP: held-out perturbed data")
    ax.set_xlabel("perturbation level $\\lambda$")
    ax.set_ylabel("KL calibration error (nats)")
    ax.grid(alpha=0.3)
axes[0].legend()
save_figure(fig, OUT / "calibration_error_by_level.png")

fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
for ax, (name, run) in zip(axes, runs.items(), strict=True):
    run["bands"].plot(prob=0.9, ax=ax, reference={
        "global temperature scaling": float(run["scaling"].temperatures[0])})
    ax.step(run["recalx"].bin_edges, np.append(run["recalx"].temperatures,
                                               run["recalx"].temperatures[-1]),
            where="post", color="C3", lw=1, ls="--", label="ReCalX (MAP)")
    ax.legend(fontsize="x-small")
    ax.set_title(name)
save_figure(fig, OUT / "temperature_by_level.png")
print(runs["breast_cancer"]["bands"].summary().round(3).to_string())

# %% [markdown]
# The temperature plot shows the posterior of T per level bin (90% central interval of
# NUTS draws in the full run, r_hat <= 1.01; of the Laplace approximation in the quick
# run), the MAP the paper uses (on top of the posterior median), and the single
# temperature of global scaling. With 710 (breast_cancer) and 2000 (digits) calibration
# rows per bin the posterior is narrow; the random-walk prior matters only where a bin
# has few rows.
#
# ## 2. The decomposition of predictive power, exactly
#
# Under the log loss, the value of a feature set S, v(S) = E[-log f_empty(X)_Y] -
# E[-log f_S(X)_Y] (how much keeping S lowers the expected cross-entropy; f_S replaces
# the other features by their mean), splits into
#
#     v(S) = D_KL(P_Y || f_empty) + I(f_S(X); Y) - CE_KL(f_S),
#
# where I is the mutual information between the label and the *prediction* Q = f_S(X)
# and CE_KL(f_S) = E_Q[D_KL(P(Y | Q) || Q)] conditions on the prediction too (see
# probex.metrics.predictive_power_decomposition for the two-line proof). On a discrete
# problem (three ternary features, three classes, a miscalibrated linear-softmax model)
# every term is a finite sum, so the identity can be checked to rounding error.

# %%
rng = np.random.default_rng(0)
states = np.array(list(itertools.product(range(3), repeat=3)), dtype=float)
p_x = rng.dirichlet(np.full(len(states), 2.0))
joint = p_x[:, None] * softmax(states @ rng.normal(size=(3, 3))
                               + 0.5 * np.sin(states.sum(1))[:, None], axis=1)
weights, bias = 1.7 * rng.normal(size=(3, 3)), rng.normal(size=3)
baseline = p_x @ states


def masked_scores(subset):
    kept = np.isin(np.arange(3), subset)
    return log_softmax(np.where(kept, states, baseline) @ weights + bias, axis=1)


subsets = [s for r in range(4) for s in itertools.combinations(range(3), r)]
empty_scores = log_softmax(baseline @ weights + bias)


def exact_temperature(size):
    """ReCalX in the population: one T for all subsets of a size (one mask level),
    minimising the exact expected log loss over those subsets."""
    chosen = [s for s in subsets if len(s) == size]

    def loss(log_t):
        return sum(-np.sum(joint * log_softmax(masked_scores(s) / np.exp(log_t), axis=1))
                   for s in chosen)

    return float(np.exp(minimize_scalar(loss, bounds=(-4, 4), method="bounded").x))


level_temperature = {size: exact_temperature(size) for size in range(4)}
rows = []
for subset in subsets:
    before = predictive_power_decomposition(joint, np.exp(masked_scores(subset)),
                                            np.exp(empty_scores))
    t_s, t_0 = level_temperature[len(subset)], level_temperature[0]
    after = predictive_power_decomposition(
        joint, softmax(masked_scores(subset) / t_s, axis=1), softmax(empty_scores / t_0))
    rows.append({"S": "{" + ",".join(f"x{j}" for j in subset) + "}", "v(S)": before["value"],
                 "KL(P_Y||f_empty)": before["prior_kl"], "I(f_S;Y)": before["mutual_information"],
                 "CE_KL(f_S)": before["calibration_error"], "residual": before["residual"],
                 "T": t_s, "v(S) ReCalX": after["value"],
                 "CE_KL ReCalX": after["calibration_error"],
                 "I change": after["mutual_information"] - before["mutual_information"],
                 "residual ReCalX": after["residual"]})
decomposition = pd.DataFrame(rows).set_index("S")
with pd.option_context("display.float_format", "{:.4g}".format):
    print(decomposition.to_string())
max_residual = float(decomposition[["residual", "residual ReCalX"]].abs().max().max())
print(f"largest |residual|: {max_residual:.2e} nats")
results["decomposition"] = {"rows": rows, "max_residual": max_residual,
                            "temperatures": level_temperature}

# %% [markdown]
# The residual is at the level of double-precision rounding for every S, before and
# after recalibration. Tempering is a bijection of the prediction, so I(f_S(X); Y) is
# unchanged (column "I change"): recalibration can only move the two calibration terms.
# This model is overconfident everywhere (T ~ 1.8-2.4 per level), and its miscalibration
# makes three coalitions look *harmful*: v({x0}), v({x1}) and v({x0, x1}) are negative
# although each carries information about Y (I > 0), because the confident wrong
# predictions cost more log loss than the information saves. With one temperature per
# level, CE_KL drops for seven of the eight coalitions (it rises slightly for {x2}, which
# shares its level's temperature with {x0} and {x1}), the empty prediction's KL halves,
# and the values move towards what the features know: the harmful coalitions move to
# near zero (v({x0, x1}) from -0.105 to -0.023 nats), and the large values of the
# informative ones shrink, since part of them was the baseline's miscalibration. Shapley
# values built from v inherit all of this.
#
# ## 3. BayesSHAP before and after ReCalX
#
# BayesSHAP passes each perturbation's level to the black box, so the ReCalX black box
# answers every coalition with the temperature of its level. We explain the same
# held-out breast_cancer rows with `N_SEEDS` seeds and measure stability as the mean
# pairwise Spearman rank correlation of the posterior mean attributions across seeds
# (averaged over rows), next to the posterior sd relative to the attributions' size.

# %%
run = runs["breast_cancer"]
explain_rows = run["X_eval"][:N_EXPLAIN]
attributions, sds = {}, {}
for method, box in (("uncalibrated", run["bb"]), ("ReCalX", run["recalx"])):
    draws = [px.BayesSHAP(box, background=run["data"].X_train, seed=seed).explain(
        explain_rows, n_samples=N_SHAP) for seed in range(N_SEEDS)]
    attributions[method] = np.stack([e.mean for e in draws])  # (seed, row, feature)
    sds[method] = np.stack([e.sd for e in draws])


def rank_stability(values):
    """Mean over rows of the mean pairwise Spearman correlation across seeds."""
    per_row = []
    for row in range(values.shape[1]):
        pairs = [stats.spearmanr(values[a, row], values[b, row])[0]
                 for a, b in itertools.combinations(range(values.shape[0]), 2)]
        per_row.append(np.mean(pairs))
    return float(np.mean(per_row))


stability = pd.DataFrame({
    method: {"rank stability": rank_stability(values),
             "mean |attribution|": float(np.abs(values).mean()),
             "mean posterior sd": float(sds[method].mean()),
             "sd / |attribution|": float(sds[method].mean() / np.abs(values).mean())}
    for method, values in attributions.items()}).T
print(stability.round(4).to_string())
np.savez_compressed(OUT / "bayesshap_attributions.npz",
                    **{method: values for method, values in attributions.items()})
results["stability"] = stability.reset_index(names="method").to_dict("records")

fig, ax = plt.subplots(figsize=(7, 4))
names = np.array(run["data"].feature_names)
order = np.argsort(-np.abs(attributions["ReCalX"][:, 0].mean(0)))[:12]
for i, method in enumerate(attributions):
    values = attributions[method][:, 0, order]
    ax.errorbar(np.arange(len(order)) + 0.2 * (i - 0.5), values.mean(0), yerr=values.std(0),
                fmt="o", capsize=3, label=f"{method} (mean, sd over seeds)")
ax.axhline(0.0, color="0.5", lw=0.8)
ax.set_xticks(np.arange(len(order)), names[order], rotation=60, ha="right",
              fontsize="x-small")
ax.set_ylabel("BayesSHAP attribution to P(benign)")
ax.legend(fontsize="small")
save_figure(fig, OUT / "bayesshap_before_after.png")

# %% [markdown]
# Measured in the full run (10 rows, 5 seeds, 1000 perturbations each): the mean
# pairwise rank correlation across seeds rose from 0.80 (uncalibrated) to 0.86 (ReCalX),
# and the posterior sd of the attributions fell from 0.0135 to 0.0107 at about the same
# attribution size (mean |phi| 0.036 and 0.035): BayesSHAP's surrogate fits the
# recalibrated outputs with less residual noise, so its explanations vary less between
# seeds. This is one model and ten rows; the paper's claim that recalibration makes
# explanations more reliable is borne out here, not proved.

# %%
results["seconds"] = time.perf_counter() - start
with open(OUT / ".results.json.tmp", "w") as handle:
    json.dump(results, handle, indent=1, default=float)
os.replace(OUT / ".results.json.tmp", OUT / "results.json")
print(f"wrote {OUT / 'results.json'} in {results['seconds']:.0f} s")
