# %% [markdown]
# # FEX: explanations from a policy trained by policy gradient
#
# FEX (Pan, Moniz & Chawla, "Fast Explanations via Policy Gradient-Optimized Explainer",
# IJCAI 2025) trains, once, a network g(x) whose outputs lambda in [0, 1]^G are the
# probabilities of keeping each of G mask units (pixels, patches, features). Masks
# m ~ Bernoulli(lambda) are actions; a mask's reward is the model's probability of the
# explained class with only the kept units, per kept unit,
# c(m, x) = f_y(m * x + (1 - m) * b) / |m|. The paper trains the policy with PPO's
# clipped objective and a value network v(x) as baseline, an entropy bonus and a KL term
# that ties the class heads to the model's probabilities. After that, an explanation is
# lambda = g(x): one forward pass, no query to the model.
#
# probex's default estimator is not PPO but the *local-expectation gradient*
# (`objective="local"`): because the mask units are independent Bernoullis, the exact
# gradient for unit j is lambda_j (1 - lambda_j) E[c(m, m_j=1) - c(m, m_j=0)], which one
# drawn mask and its G single-unit flips estimate without the other units' noise
# (G + 1 queries per mask). On small tabular models PPO's score-function estimate stays
# far from its stationary point; the local gradient, with per-row normalised differences,
# standardised policy inputs and a held-out deletion AUC as the convergence signal,
# closes most of the gap to BayesSHAP (issue 17; the panel is at the end). PPO and the
# plain score-function ELBO with Pyro's neural baseline (`objective="elbo"`) remain as
# options and are compared here.
#
# This tutorial measures, on a small CNN for scikit-learn's digits (mask units: 2x2
# patches) and an MLP on breast_cancer:
#
# 1. deletion ("positive", lower is better) and insertion ("negative", higher is better)
#    AUC for FEX (default, PPO, ELBO), RISE, KernelSHAP (BayesSHAP's posterior mean),
#    captum's KernelShap and FeatureAblation, and a random ordering;
# 2. time and peak memory per 1,000 explanations;
# 3. the training history (held-out deletion AUC per epoch) and the post-fit fidelity
#    check;
# 4. the ablations of the paper for PPO: trajectory length s in {1, 5, 10} and KL
#    coefficient in {0, 0.5, 1}.

# %%
from __future__ import annotations

import json
import os
import threading
import time
import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

import probex as px  # noqa: E402
from probex._io import write_atomically  # noqa: E402
from probex.datasets import fit_network  # noqa: E402
from probex.metrics import deletion_auc, insertion_auc, random_reference  # noqa: E402
from probex.perturb import FeatureGroups  # noqa: E402
from probex.plots import save_figure  # noqa: E402

warnings.filterwarnings("ignore", category=UserWarning)
smoke_test = "CI" in os.environ
OUT = Path(os.environ.get("PROBEX_TUTORIAL_OUT", "tutorial-output/fex_policy_gradient"))
OUT.mkdir(parents=True, exist_ok=True)
DEVICE = os.environ.get("PROBEX_DEVICE", "cpu")
SEED = 0

# sizes: (smoke, full)
N_EVAL = 24 if smoke_test else 200           # instances every method explains for the AUCs
FEX_EPOCHS = 3 if smoke_test else 30          # passes over the training set (default)
PPO_EPOCHS = 3 if smoke_test else 60          # PPO's passes (the earlier tutorial's)
FEX_S = 10                                    # PPO's masks per instance per update
FEX_TRAIN = 256 if smoke_test else None       # training rows (None: all)
ABLATION_EPOCHS = 2 if smoke_test else 25
SHAP_SAMPLES = 300 if smoke_test else 2000    # KernelSHAP coalitions (>= 258 for d = 64)
RISE_MASKS = 200 if smoke_test else 1000
CAPTUM_N = 4 if smoke_test else 20            # captum KernelShap is one sklearn fit each

# %% [markdown]
# ## Measuring time and peak memory
#
# Time is wall-clock seconds, scaled to 1,000 explanations. Peak memory is the largest
# growth of the process's resident set size while a method runs (sampled every 2 ms from
# `/proc/self/statm`; where that file is missing, Python's `tracemalloc`, which misses
# torch's buffers). On a GPU, `torch.cuda.max_memory_allocated` would be the number to
# read; this run is on the CPU.

# %%
_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def _rss() -> int | None:
    try:
        with open("/proc/self/statm") as handle:
            return int(handle.read().split()[1]) * _PAGE
    except OSError:
        return None


def measure(fn):
    """Run fn(); return (result, seconds, peak extra memory in MB)."""
    start_rss = _rss()
    if start_rss is None:
        import tracemalloc

        tracemalloc.start()
        start = time.perf_counter()
        result = fn()
        seconds = time.perf_counter() - start
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        return result, seconds, peak / 2**20
    peak, done = [start_rss], threading.Event()

    def sample():
        while not done.is_set():
            peak[0] = max(peak[0], _rss())
            time.sleep(0.002)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    start = time.perf_counter()
    try:
        result = fn()
    finally:
        seconds = time.perf_counter() - start
        done.set()
        thread.join()
    peak[0] = max(peak[0], _rss())
    return result, seconds, (peak[0] - start_rss) / 2**20


# %% [markdown]
# ## The comparison methods
#
# KernelSHAP here is BayesSHAP's posterior mean with the Shapley kernel (probex's own,
# vectorized over instances). A BlackBox explains one class, so instances are grouped by
# the model's predicted class. captum's KernelShap and FeatureAblation run on the same
# patches and baseline when captum is installed.

# %%
def kernel_shap(net, X, targets, background, n_samples):
    """BayesSHAP posterior means per predicted class: (attributions (n, d), queries)."""
    attributions, queries = np.zeros(X.shape), 0
    for c in np.unique(targets):
        rows = targets == c
        bb_c = px.BlackBox(net, target=int(c), n_features=X.shape[1], device=DEVICE)
        explainer = px.BayesSHAP(bb_c, background=background, seed=SEED)
        attributions[rows] = explainer.explain(X[rows], n_samples=n_samples).mean
        queries += bb_c.n_queries
    return attributions, queries


def captum_methods(bb, X, targets, baseline, groups, n_kernel):
    """captum's FeatureAblation (all rows) and KernelShap (first n_kernel rows), or {}."""
    try:
        from captum.attr import FeatureAblation, KernelShap
    except ImportError:
        print("captum is not installed: skipping its methods")
        return {}

    def forward(inputs):
        return bb.predict(inputs).to(inputs.dtype)

    inputs = torch.as_tensor(X, dtype=torch.float32)
    base = torch.as_tensor(baseline, dtype=torch.float32)[None]
    mask = groups.ids[None]
    target = torch.as_tensor(targets)
    out = {}
    before = bb.n_queries
    (fa, seconds, memory) = measure(lambda: FeatureAblation(forward).attribute(
        inputs, baselines=base, target=target, feature_mask=mask,
        perturbations_per_eval=groups.n_groups).numpy())
    out["captum FeatureAblation"] = (fa, seconds, memory, len(X), bb.n_queries - before)
    before = bb.n_queries
    shap = KernelShap(forward)

    def run_kernel():
        torch.manual_seed(SEED)
        return np.concatenate([shap.attribute(
            inputs[i:i + 1], baselines=base, target=int(targets[i]), feature_mask=mask,
            n_samples=SHAP_SAMPLES, perturbations_per_eval=SHAP_SAMPLES).numpy()
            for i in range(n_kernel)])

    ks, seconds, memory = measure(run_kernel)
    out["captum KernelShap"] = (ks, seconds, memory, n_kernel, bb.n_queries - before)
    return out


# %% [markdown]
# ## One experiment: train FEX, explain, score
#
# `run_dataset` trains FEX (its defaults, PPO and ELBO), explains the same `N_EVAL` test
# instances with every method and scores each by deletion and insertion AUC of the
# model's predicted class, in units of the groups. FEX explains the class its own heads rank
# first (a query-free guess of the model's prediction); when that guess is wrong its
# curve is scored for the model's class anyway. FEX's time is measured on 1,000 rows
# (the test set tiled); the others' on the `N_EVAL` rows, scaled to 1,000.

# %%
def fex_for(bb, n_classes, groups, background, **options):
    """FEX over ``groups``; its replacement baseline is the mean of ``background`` (the
    one every curve below uses), whichever rows it is fitted on."""
    settings = {"feature_groups": groups, "seed": SEED, "device": DEVICE,
                "hidden": (128, 128), "background": background, **options}
    return px.FEX(bb, n_classes, **settings)


def score(bb, X, attributions, targets, background, groups, seconds, memory, n_timed,
          queries):
    kwargs = {"background": background, "target": targets, "feature_groups": groups}
    deletion = deletion_auc(bb, X, attributions, **kwargs)
    insertion = insertion_auc(bb, X, attributions, **kwargs)
    return {"deletion_auc": deletion.mean_auc, "deletion_se": deletion.sem_auc,
            "insertion_auc": insertion.mean_auc, "insertion_se": insertion.sem_auc,
            "seconds_per_1000": seconds * 1000 / n_timed, "peak_mb": memory,
            "n_timed": n_timed, "queries_per_explanation": queries / n_timed,
            "_curves": (deletion, insertion), "_attributions": np.asarray(attributions)}


def run_dataset(name, net, data, groups, n_classes):
    print(f"\n=== {name}")
    bb = px.BlackBox(net, n_features=data.n_features, device=DEVICE)
    X_train = data.X_train if FEX_TRAIN is None else data.X_train[:FEX_TRAIN]
    X = data.X_test[:N_EVAL]
    targets = bb.predict(X).argmax(-1).cpu().numpy()
    background = data.X_train
    baseline = background.mean(0)
    results, fits = {}, {}

    paper = {"trajectory_length": FEX_S, "final_lr_fraction": 0.05}
    variants = (("FEX", {}, {"epochs": FEX_EPOCHS}),
                ("FEX (PPO)", {"objective": "ppo", **paper},
                 {"epochs": PPO_EPOCHS, "batch_size": 64}),
                ("FEX (ELBO)", {"objective": "elbo", **paper},
                 {"epochs": PPO_EPOCHS, "batch_size": 64}))
    for label, options, fit_options in variants:
        explainer = fex_for(bb, n_classes, groups, background, **options)
        start = time.perf_counter()
        explainer.fit(X_train, **fit_options)
        fit_seconds = time.perf_counter() - start
        fits[label] = {"fit_seconds": fit_seconds, "fit_queries": explainer.n_queries_fit_,
                       "history": explainer.history_}
        rows = np.resize(data.X_test, (1000, data.n_features))
        before = bb.n_queries
        explainer.explain(rows[:10])  # warm-up

        def explain_rows(ex=explainer, r=rows):
            e = ex.explain(r)
            e.mean  # noqa: B018 (the numbers, as a user reads them)
            return e

        e, seconds, memory = measure(explain_rows)
        assert bb.n_queries == before, "explain() must not query the model"
        attributions = e.mean[:len(X)]
        agree = float(np.mean(e.targets[:len(X)] == targets))
        results[label] = score(bb, X, attributions, targets, background, groups, seconds,
                               memory, 1000, 0)
        results[label]["class_agreement"] = agree
        fits[label]["explainer"] = explainer
        print(f"{label}: trained in {fit_seconds:.1f} s on {explainer.n_queries_fit_} queries; "
              f"its class choice agrees with the model on {agree:.0%}")

    rise = px.RISE(bb, background, n_samples=RISE_MASKS, feature_groups=groups, seed=SEED)
    before = bb.n_queries
    e, seconds, memory = measure(lambda: rise.explain(X, target=targets))
    results["RISE"] = score(bb, X, e.mean, targets, background, groups, seconds, memory,
                            len(X), bb.n_queries - before)

    (att, queries), seconds, memory = measure(
        lambda: kernel_shap(net, X, targets, background, SHAP_SAMPLES))
    results["KernelSHAP (BayesSHAP)"] = score(bb, X, att, targets, background, groups,
                                              seconds, memory, len(X), queries)
    for label, (att, seconds, memory, n_timed, queries) in captum_methods(
            bb, X, targets, baseline, groups, CAPTUM_N).items():
        results[label] = score(bb, X[:n_timed], att, targets[:n_timed], background, groups,
                               seconds, memory, n_timed, queries)

    kwargs = {"background": background, "target": targets, "feature_groups": groups,
              "n_repeats": 5, "seed": SEED}
    deletion = random_reference(bb, X, "deletion", **kwargs)
    insertion = random_reference(bb, X, "insertion", **kwargs)
    results["random"] = {"deletion_auc": deletion.mean_auc, "deletion_se": deletion.sem_auc,
                         "insertion_auc": insertion.mean_auc,
                         "insertion_se": insertion.sem_auc, "seconds_per_1000": 0.0,
                         "peak_mb": 0.0, "n_timed": 0, "queries_per_explanation": 0.0,
                         "_curves": (deletion, insertion)}
    print_table(results)
    # what the table was computed from, so that it can be checked
    arrays = {label: r["_attributions"] for label, r in results.items() if "_attributions" in r}
    arrays["targets"] = targets
    key = name.split()[0]
    write_atomically(OUT / f"attributions_{key}.npz",
                     lambda tmp: np.savez(open(tmp, "wb"), **arrays))
    return bb, results, fits


def print_table(results):
    header = (f"{'method':<24}{'deletion AUC':>16}{'insertion AUC':>17}{'s / 1000':>11}"
              f"{'peak MB':>9}{'queries/expl':>14}{'timed on':>10}")
    print(header)
    print("-" * len(header))
    for label, r in results.items():
        print(f"{label:<24}{r['deletion_auc']:>9.3f} ±{r['deletion_se']:.3f}"
              f"{r['insertion_auc']:>10.3f} ±{r['insertion_se']:.3f}"
              f"{r['seconds_per_1000']:>11.3f}{r['peak_mb']:>9.1f}"
              f"{r['queries_per_explanation']:>14.0f}{r['n_timed']:>10}")


# %% [markdown]
# ## Digits: a small CNN, explained by 2x2 patches

# %%
cnn, digits = fit_network("digits", "cnn", epochs=3 if smoke_test else 15, seed=SEED,
                          device=DEVICE)
patches = FeatureGroups.image_patches(8, 8, 2)
digits_bb, digits_results, digits_fits = run_dataset("digits (CNN, 2x2 patches)", cnn, digits,
                                                     patches, 10)

# %% [markdown]
# Deletion and insertion curves, and what the explanations look like: FEX's lambda (the
# keep-probability of each patch for the explained class) beside RISE and KernelSHAP.

# %%
fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
for label in ("FEX", "FEX (PPO)", "RISE", "KernelSHAP (BayesSHAP)", "random"):
    deletion, insertion = digits_results[label]["_curves"]
    deletion.plot(ax=axes[0], label=label)
    insertion.plot(ax=axes[1], label=label)
axes[0].set_title("deletion (lower is better)")
axes[1].set_title("insertion (higher is better)")
for ax in axes:
    ax.legend(fontsize=7)
fig.tight_layout()
save_figure(fig, OUT / "digits_curves.png")

X_show = digits.X_test[:4]
show_targets = digits_bb.predict(X_show).argmax(-1).cpu().numpy()
maps = {
    "FEX lambda": digits_fits["FEX"]["explainer"].attributions(X_show)[0],
    "RISE": px.RISE(digits_bb, digits.X_train, n_samples=RISE_MASKS, feature_groups=patches,
                    seed=SEED).explain(X_show, target=show_targets).mean,
    "KernelSHAP": kernel_shap(cnn, X_show, show_targets, digits.X_train, SHAP_SAMPLES)[0],
}
fig, axes = plt.subplots(len(X_show), 1 + len(maps), figsize=(2 * (1 + len(maps)),
                                                               2 * len(X_show)))
for i, x in enumerate(X_show):
    axes[i, 0].imshow(x.reshape(8, 8), cmap="gray_r")
    axes[i, 0].set_title(f"class {show_targets[i]}", fontsize=8)
    for j, (label, values) in enumerate(maps.items(), start=1):
        axes[i, j].imshow(values[i].reshape(8, 8), cmap="viridis")
        axes[i, j].set_title(label, fontsize=8)
for ax in axes.ravel():
    ax.set_xticks([])
    ax.set_yticks([])
fig.tight_layout()
save_figure(fig, OUT / "digits_maps.png")

# %% [markdown]
# Training. The default FEX holds out 15 % of its fit rows and scores them by deletion
# AUC after every epoch: that, not the training reward, is the convergence signal (a
# policy whose keep-probabilities saturate earns more reward per mask while its ranking
# gets worse). `plot_history` shows both, with the epoch whose weights were kept.

# %%
ax = digits_fits["FEX"]["explainer"].plot_history(path=OUT / "training_history.png")
print(f"kept epoch {digits_fits['FEX']['explainer'].best_epoch_ + 1} of "
      f"{digits_fits['FEX']['explainer'].n_epochs_}")

# %% [markdown]
# The mean reward of the masks drawn at each update, for the three estimators (the same
# reward; the local gradient's masks are drawn from a policy kept graded by its entropy
# term, so its reward is not comparable in level).

# %%
fig, ax = plt.subplots(figsize=(5.5, 3.5))
for label, fit in digits_fits.items():
    reward = fit["history"]["reward"].to_numpy()
    window = max(1, len(reward) // 30)
    ax.plot(np.convolve(reward, np.ones(window) / window, mode="valid"), label=label)
ax.set_xlabel("update")
ax.set_ylabel("mean reward c(m, x)")
ax.legend()
fig.tight_layout()
save_figure(fig, OUT / "training_reward.png")

# %% [markdown]
# ## breast_cancer: an MLP on 30 standardized features

# %%
mlp, cancer = fit_network("breast_cancer", "mlp", epochs=20 if smoke_test else 100,
                          seed=SEED, device=DEVICE)
cancer_groups = FeatureGroups(None, cancer.n_features)
cancer_bb, cancer_results, cancer_fits = run_dataset("breast_cancer (MLP)", mlp, cancer,
                                                     cancer_groups, 2)

# %% [markdown]
# ## A fidelity check after fitting
#
# `FEX.fidelity` explains a sample of rows with the trained policy, with BayesSHAP at a
# few hundred coalitions and with random orderings, all for the model's predicted class
# and FEX's stored baseline, and warns (`px.FidelityWarning`) when FEX's deletion AUC is
# not below random's by more than two paired standard errors. It costs a few hundred
# queries per row, once, on rows the explainer will be used on.

# %%
fidelity = cancer_fits["FEX"]["explainer"].fidelity(cancer.X_test, n_rows=N_EVAL,
                                                    n_samples=300, seed=SEED)
print(fidelity.round(4).to_string())
print({k: v for k, v in fidelity.attrs.items()})

# %% [markdown]
# ## Ablations of the paper (PPO; digits CNN, patches)
#
# The paper varies the trajectory length s (masks drawn per instance per update, so s
# times the queries) and the KL coefficient. Without the KL term nothing ties the class
# heads to the model, so FEX's query-free choice of class is a guess; the agreement
# column shows it.

# %%
ablation = []
X_ab = digits.X_test[:N_EVAL]
ab_targets = digits_bb.predict(X_ab).argmax(-1).cpu().numpy()
X_ab_train = digits.X_train if FEX_TRAIN is None else digits.X_train[:FEX_TRAIN]
for s, kl in ((1, 0.5), (5, 0.5), (10, 0.5), (5, 0.0), (5, 1.0)):
    explainer = fex_for(digits_bb, 10, patches, digits.X_train, objective="ppo",
                        trajectory_length=s, kl_coef=kl)
    explainer.fit(X_ab_train, epochs=ABLATION_EPOCHS, batch_size=64, holdout=0)
    attributions, chosen = explainer.attributions(X_ab)
    kwargs = {"background": digits.X_train, "target": ab_targets, "feature_groups": patches}
    row = {"trajectory_length": s, "kl_coef": kl,
           "deletion_auc": deletion_auc(digits_bb, X_ab, attributions, **kwargs).mean_auc,
           "insertion_auc": insertion_auc(digits_bb, X_ab, attributions, **kwargs).mean_auc,
           "class_agreement": float(np.mean(chosen == ab_targets)),
           "fit_queries": explainer.n_queries_fit_}
    ablation.append(row)
print(f"\n{'s':>3}{'KL':>6}{'deletion':>10}{'insertion':>11}{'class agree':>13}{'queries':>10}")
for row in ablation:
    print(f"{row['trajectory_length']:>3}{row['kl_coef']:>6.1f}{row['deletion_auc']:>10.3f}"
          f"{row['insertion_auc']:>11.3f}{row['class_agreement']:>13.0%}"
          f"{row['fit_queries']:>10}")

fig, axes = plt.subplots(1, 2, figsize=(9, 3.3), sharey=True)
for ax, key, keep in ((axes[0], "trajectory_length", lambda r: r["kl_coef"] == 0.5),
                      (axes[1], "kl_coef", lambda r: r["trajectory_length"] == 5)):
    rows = sorted((r for r in ablation if keep(r)), key=lambda r: r[key])
    values = [r[key] for r in rows]
    ax.plot(values, [r["deletion_auc"] for r in rows], "o-", label="deletion (lower better)")
    ax.plot(values, [r["insertion_auc"] for r in rows], "s-", label="insertion (higher better)")
    ax.plot(values, [r["class_agreement"] for r in rows], "^:", label="class agreement")
    ax.set_xlabel("trajectory length s" if key == "trajectory_length" else "KL coefficient")
axes[0].legend(fontsize=7)
fig.tight_layout()
save_figure(fig, OUT / "ablation.png")

# %% [markdown]
# ## What the numbers say
#
# * Every trained FEX beats the random ordering on both curves, with zero queries per
#   explanation once trained; its explanations cost a forward pass (milliseconds per
#   1,000), against seconds to minutes for KernelSHAP and RISE.
# * The price is paid up front: FEX's training queries (printed above) equal KernelSHAP's
#   cost for a few hundred explanations, after which every explanation is free.
# * KernelSHAP with 2,000 coalitions per instance still has the better curves; the
#   default FEX (local gradient) comes closer than PPO and the ELBO. Full run: digits CNN
#   deletion AUC 0.212 (default) against 0.234 (PPO, s = 10, 60 epochs) and 0.234 (ELBO),
#   KernelSHAP 0.185, RISE 0.223, random 0.552; breast_cancer MLP 0.451 against 0.578 and
#   0.644, KernelSHAP 0.340, random 0.906, with fewer training queries than PPO on digits
#   (688,317 against 893,547). The tabular MLP is FEX's hardest case (see the panel).
# * The fidelity check on breast_cancer's 143 test rows: FEX's deletion AUC 0.429 against
#   BayesSHAP's 0.447 at 300 coalitions and random's 0.908 (gain 0.479 +- 0.017): quiet.
# * The paper's ablations (PPO): longer trajectories help a little (s = 1, 5, 10: 0.266,
#   0.244, 0.241) at s times the queries; without the KL tie the class heads are not tied
#   to the model, the query-free class choice agrees with it on 2 % of the rows, and the
#   curves are scored for a class the policy did not explain (0.506).
#
# ## The panel: FEX's defaults on models it was not tuned on
#
# `benchmarks/bench_fex.py` runs FEX with its defaults on twelve model/data pairs, against
# BayesSHAP (2,000 coalitions), RISE (1,000 masks) and random orderings, on 60 test rows
# each (seed 0; "gap": FEX's deletion AUC against BayesSHAP's; time per 1,000
# explanations: FEX's `explain()` in ms, BayesSHAP's in s, on a shared CPU):
#
# | pair | deletion: FEX, SHAP, RISE, random | insertion: FEX, SHAP | gap | ms, s / 1000 |
# |---|---|---|---|---|
# | wine MLP | 0.468, 0.385, 0.488, 0.833 | 0.952, 0.961 | +22% | 19, 20.3 |
# | wine LR | 0.449, 0.407, 0.479, 0.765 | 0.921, 0.934 | +10% | 14, 16.2 |
# | cancer GB | 0.409, 0.371, 0.506, 0.844 | 0.978, 0.988 | +10% | 3, 13.8 |
# | cancer LR | 0.444, 0.426, 0.675, 0.849 | 0.970, 0.973 | +4% | 4, 10.9 |
# | cancer MLP | 0.442, 0.349, 0.708, 0.905 | 0.985, 0.991 | +27% | 3, 11.3 |
# | iris RF | 0.518, 0.517, 0.519, 0.670 | 0.821, 0.823 | +0% | 2, 0.3 |
# | diabetes RF | 0.445, 0.431, 0.444, 0.610 | 0.751, 0.770 | +3% | 3, 1.8 |
# | diabetes GB | 0.402, 0.372, 0.379, 0.652 | 0.836, 0.853 | +8% | 4, 0.8 |
# | synth. MLP | 0.393, 0.343, 0.366, 0.698 | 0.921, 0.935 | +15% | 3, 0.8 |
# | synth. GB | 0.415, 0.395, 0.410, 0.681 | 0.884, 0.893 | +5% | 3, 1.1 |
# | digits MLP | 0.180, 0.164, 0.189, 0.490 | 0.798, 0.812 | +10% | 13, 53.4 |
# | digits CNN | 0.195, 0.175, 0.207, 0.541 | 0.864, 0.884 | +11% | 6, 86.6 |
#
# FEX is within 25 % of BayesSHAP's deletion AUC on 11 of 12 pairs and within 10 % on 6;
# the tabular MLP black boxes are the hard cases (+15-27 %), and FEX's held-out curve there
# still falls after 30 epochs (`fit(X, epochs=60)` helps). Over seeds 0-2 the deletion AUCs vary
# by at most 0.01.

# %%
def _plain(results):
    return {k: {m: v for m, v in r.items() if not m.startswith("_")}
            for k, r in results.items()}


summary = {
    "smoke_test": smoke_test,
    "digits": {"table": _plain(digits_results),
               "fits": {k: {m: v for m, v in f.items() if m in ("fit_seconds", "fit_queries")}
                        for k, f in digits_fits.items()}},
    "breast_cancer": {"table": _plain(cancer_results),
                      "fits": {k: {m: v for m, v in f.items()
                                   if m in ("fit_seconds", "fit_queries")}
                               for k, f in cancer_fits.items()}},
    "ablation": ablation,
    "fidelity": {"table": fidelity.reset_index().to_dict(orient="records"),
                 "attrs": dict(fidelity.attrs)},
}
write_atomically(OUT / "results.json",
                 lambda tmp: Path(tmp).write_text(json.dumps(summary, indent=2)))
print(f"\nwrote {OUT / 'results.json'} and figures to {OUT}")
