"""Honesty of every uncertainty-reporting explainer on a held-out model and data set.

What: each method's mean and 95% interval (``e.hdi(0.95)``) is compared with a truth
computed independently of the method, on data no test was tuned on: scikit-learn's
``load_wine`` (13 features, 3 classes; stratified 70/30 split, standardized on the
training part). The explained output is the class-1 probability (``target=1``) on the
first 8 test rows whose SVC class-1 probability lies in [0.02, 0.98] (saturated rows
have attributions near 0, where a relative error means nothing); every run uses its own
explainer seed.

Models:
- ``SVC(probability=True)`` (RBF kernel, Platt-scaled) for the perturbation methods;
- a float64 torch MLP 13-32-3 (tanh), 300 full-batch Adam steps (lr 0.01), for the
  gradient methods (SmoothGrad, C-LIME), sigma = 0.5 on the standardized inputs.

Truths (none uses the explainer's estimator; the scheme's own baseline and kernel width
are read off the explainer's ``perturbation`` so that the estimand is the same):
- BayesSHAP: ``exact_shapley_values`` of the masked game with the scheme's baseline (the
  background mean), all 2^13 coalitions; no error.
- BayesLIME / EAGLE with masks (LIME kernel): ``lime_mask_target`` (enumeration of all
  2^13 masks, the scheme's kernel width); no error.
- BayesLIME / EAGLE with Gaussian perturbations (their default): ``surrogate_target_
  monte_carlo`` with the explainer's own ``GaussianPerturbation``, 10^6 draws per row,
  standard error from 32 batch fits.
- SmoothGrad and C-LIME: ``smoothgrad_truth`` (10^6 gradients per row, its own standard
  error), same sigma.
- RISE (p_keep 0.5, mean baseline): its estimand E[f(M x + (1 - M) b) M_j] / p with
  M_j ~ Bernoulli(p) iid is, for p = 1/2, the average of the masked game over the 2^12
  coalitions that keep feature j -- computed exactly from the enumerated game; no error.
- LEX and FEX report a selection spread, not an estimation error: no coverage applies,
  they are not run.

Columns, per method and budget n (queries / gradients per run), pooled over rows x seeds:
``rel.err`` mean relative L2 error of the mean against the truth; ``cover`` fraction of
the 13 x runs 95% intervals that contain the truth (binomial error about 0.009 at the
624 intervals of 8 rows x 6 seeds); ``msz`` mean of
((mean - truth) / sqrt(sd^2 + truth_se^2))^2 over all entries
(1 if honest; Monte Carlo error about sqrt(2 / 624) = 0.06 for independent normal
errors, more since the 13 entries of a run are correlated); ``msz-nw``
the same over the runs that raised no SamplingWarning; ``row-max`` the largest msz of
a single row (over its seeds: one row's intervals can be too narrow while the pooled msz
looks fine); ``warn`` share of runs that raised
a ``probex.SamplingWarning``; ``s/run`` median seconds per run. Rows marked "(non-default)"
are the non-default estimator / design of the method above them.

    python benchmarks/bench_heldout_truth.py [--quick]    # default about 1-2 min on 2 cores
"""

from __future__ import annotations

import argparse
import os
import time
import warnings

import numpy as np
import torch


def data_and_models():
    from sklearn.datasets import load_wine
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    X, y = load_wine(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, random_state=0,
                                                        stratify=y)
    scaler = StandardScaler().fit(X_train)
    X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # SVC(probability=True), sklearn 1.9
        svc = SVC(probability=True, random_state=0).fit(X_train, y_train)
    torch.manual_seed(0)
    mlp = torch.nn.Sequential(torch.nn.Linear(13, 32), torch.nn.Tanh(),
                              torch.nn.Linear(32, 3)).double()
    optimizer = torch.optim.Adam(mlp.parameters(), lr=0.01)
    xt, yt = torch.as_tensor(X_train), torch.as_tensor(y_train)
    for _ in range(300):
        optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(mlp(xt), yt)
        loss.backward()
        optimizer.step()
    mlp.eval()
    for p in mlp.parameters():
        p.requires_grad_(False)
    with torch.no_grad():
        mlp_acc = float((mlp(torch.as_tensor(X_test)).argmax(1).numpy() == y_test).mean())
    return X_train, X_test, y_test, svc, mlp, mlp_acc


def score(records, truth, truth_se):
    """records: list of (mean, sd, hdi, warned) of one row; truth (d,), truth_se (d,)."""
    err, inside, z2, warned = [], [], [], []
    for mean, sd, hdi, w in records:
        err.append(np.linalg.norm(mean - truth) / np.linalg.norm(truth))
        inside.append((hdi[:, 0] <= truth) & (truth <= hdi[:, 1]))
        scale = np.sqrt(sd**2 + truth_se**2)
        diff = mean - truth
        with np.errstate(divide="ignore", invalid="ignore"):
            z = np.where(scale > 0, diff / scale,
                         np.where(np.abs(diff) < 1e-9, 0.0, np.inf))
        z2.append(z**2)
        warned.append(w)
    return err, inside, z2, warned


def main(quick: bool) -> None:
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    torch.set_num_threads(1)
    import probex as px
    from probex.metrics import (
        exact_shapley_values,
        lime_mask_target,
        masked_game,
        smoothgrad_truth,
        surrogate_target_monte_carlo,
    )

    X_train, X_test, y_test, svc, mlp, mlp_acc = data_and_models()
    d = X_train.shape[1]
    n_rows, seeds = (3, range(2)) if quick else (8, range(6))
    n_truth = 10**5 if quick else 10**6
    budgets = (200, 2000)
    sigma = 0.5
    p_svc = svc.predict_proba(X_test)[:, 1]
    rows = X_test[np.flatnonzero((p_svc >= 0.02) & (p_svc <= 0.98))[:n_rows]]
    bb = px.BlackBox(svc, target=1)
    f = lambda inputs: bb(inputs).numpy()  # noqa: E731
    bb_mlp = px.BlackBox(mlp, target=1)
    bb_mlp_truth = px.BlackBox(mlp, target=1, batch_size=65536)
    p_mlp = bb_mlp(rows).numpy()
    print(f"wine, d={d}; SVC test acc {svc.score(X_test, y_test):.3f}, MLP test acc "
          f"{mlp_acc:.3f}; {len(rows)} rows x {len(seeds)} seeds, target class 1")
    print("  p1(SVC) =", np.round(bb(rows).numpy(), 3).tolist())
    print("  p1(MLP) =", np.round(p_mlp, 3).tolist())

    # --- truths -----------------------------------------------------------------------
    t0 = time.perf_counter()
    shap_pert = px.BayesSHAP(bb, background=X_train).perturbation
    mask_pert = px.BayesLIME(bb, background=X_train, perturbation="mask").perturbation
    gauss_pert = px.BayesLIME(bb, background=X_train).perturbation
    eagle_mask_pert = px.EAGLE(bb, background=X_train, perturbation="mask").perturbation
    eagle_gauss_pert = px.EAGLE(bb, background=X_train).perturbation
    rise_pert = px.RISE(bb, background=X_train).perturbation
    for other in (mask_pert, eagle_mask_pert, rise_pert):
        assert torch.equal(other.baseline, shap_pert.baseline)
    assert torch.allclose(shap_pert.baseline, torch.as_tensor(X_train.mean(0)))
    assert mask_pert.kernel_width == eagle_mask_pert.kernel_width
    assert torch.equal(gauss_pert.std, eagle_gauss_pert.std)
    assert gauss_pert.scale == eagle_gauss_pert.scale
    assert gauss_pert.kernel_width == eagle_gauss_pert.kernel_width
    baseline = shap_pert.baseline.numpy()
    zero = np.zeros(d)
    shapley = exact_shapley_values(f, rows, baseline).values
    lime_mask = lime_mask_target(f, rows, baseline,
                                 kernel_width=float(mask_pert.kernel_width)).coef
    game = masked_game(f, rows, baseline).values  # (B, 2^d)
    codes = np.arange(2**d)
    rise = np.stack([game[:, ((codes >> j) & 1) == 1].mean(1) for j in range(d)], axis=1)
    gauss = surrogate_target_monte_carlo(f, rows, gauss_pert, n_samples=n_truth, seed=12345)
    sg = smoothgrad_truth(bb_mlp_truth, rows, sigma, n_samples=n_truth, seed=12345)
    print(f"truths in {time.perf_counter() - t0:.1f} s; max truth se / max |truth|: "
          f"gaussian surrogate {gauss.coef_se.max() / np.abs(gauss.coef).max():.1e}, "
          f"smoothgrad {sg.standard_error.max() / np.abs(sg.mean).max():.1e}")

    # --- methods: (name, model, truth, truth_se, run(x, n, seed) -> Explanation) ---------
    def surrogate(cls, **kw):
        return lambda x, n, s: cls(bb, background=X_train, seed=s, **kw).explain(
            x, n_samples=n, target=1)

    methods = [
        ("BayesSHAP", "SVC", shapley, zero, surrogate(px.BayesSHAP)),
        ("BayesLIME gaussian", "SVC", gauss.coef, gauss.coef_se, surrogate(px.BayesLIME)),
        ("BayesLIME mask", "SVC", lime_mask, zero,
         surrogate(px.BayesLIME, perturbation="mask")),
        ("EAGLE gaussian", "SVC", gauss.coef, gauss.coef_se, surrogate(px.EAGLE)),
        ("EAGLE mask", "SVC", lime_mask, zero, surrogate(px.EAGLE, perturbation="mask")),
        ("EAGLE greedy gauss (nd)", "SVC", gauss.coef, gauss.coef_se,
         surrogate(px.EAGLE, design="greedy")),
        ("EAGLE greedy mask (nd)", "SVC", lime_mask, zero,
         surrogate(px.EAGLE, design="greedy", perturbation="mask")),
        ("RISE", "SVC", rise, zero, lambda x, n, s: px.RISE(
            bb, background=X_train, seed=s).explain(x, n_samples=n, target=1)),
        ("SmoothGrad", "MLP", sg.mean, sg.standard_error, lambda x, n, s: px.SmoothGrad(
            bb_mlp, sigma=sigma, seed=s).explain(x, n_samples=n, target=1)),
        ("SmoothGrad gaussian (nd)", "MLP", sg.mean, sg.standard_error,
         lambda x, n, s: px.SmoothGrad(bb_mlp, sigma=sigma, seed=s).explain(
             x, n_samples=n, target=1, estimator="gaussian")),
        ("C-LIME", "MLP", sg.mean, sg.standard_error, lambda x, n, s: px.CLIME(
            bb_mlp, sigma=sigma, seed=s).explain(x, n_samples=n, target=1)),
        ("C-LIME least_sq (nd)", "MLP", sg.mean, sg.standard_error,
         lambda x, n, s: px.CLIME(bb_mlp, sigma=sigma, seed=s).explain(
             x, n_samples=n, target=1, estimator="least_squares")),
    ]
    print("(nd) = non-default estimator/design, for comparison; LEX and FEX skipped "
          "(selection spread, no estimand to cover)")
    print(f"{'method':25s} {'model':5s} {'n':>5s} {'rel.err':>8s} {'cover':>6s} "
          f"{'msz':>7s} {'msz-nw':>7s} {'row-max':>7s} {'warn':>5s} {'s/run':>6s}")
    for budget in budgets:
        for name, model, truth, truth_se, run in methods:
            err, inside, z2, warned, times, row_msz = [], [], [], [], [], []
            for k, x in enumerate(rows):
                records = []
                for seed in seeds:
                    with warnings.catch_warnings(record=True) as caught:
                        warnings.simplefilter("always")
                        start = time.perf_counter()
                        e = run(x, budget, seed)
                        times.append(time.perf_counter() - start)
                    w = any(issubclass(c.category, px.SamplingWarning) for c in caught)
                    records.append((np.asarray(e.mean), np.asarray(e.sd),
                                    np.asarray(e.hdi(0.95)), w))
                a, b, c, w = score(records, truth[k], truth_se[k])
                err += a
                row_msz.append(np.mean(c))
                inside += b
                z2 += c
                warned += w
            z2, warned = np.array(z2), np.array(warned)
            clean = f"{z2[~warned].mean():7.2f}" if (~warned).any() else "      -"
            print(f"{name:25s} {model:5s} {budget:5d} {np.mean(err):8.3f} "
                  f"{np.mean(inside):6.3f} {z2.mean():7.2f} {clean} {max(row_msz):7.2f} "
                  f"{warned.mean():5.2f} "
                  f"{np.median(times):6.3f}", flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="3 rows, 2 seeds (default 8 x 6), 10^5-draw Monte Carlo truths")
    main(parser.parse_args().quick)
