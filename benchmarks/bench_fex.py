"""Time per 1,000 explanations: FEX (one forward pass) against KernelSHAP and RISE.

Same run, same black box (a small CNN on scikit-learn's digits), same 2x2 patches as
mask units for FEX and RISE (KernelSHAP is BayesSHAP's posterior mean over the 64
pixels with 2,000 coalitions per instance; RISE uses 1,000 masks). FEX is timed on
1,000 rows; KernelSHAP and RISE on ``--instances`` rows, scaled linearly to 1,000 (their
cost is linear in the instances). Each time is the median of ``--repeats`` runs (one for
KernelSHAP). Faithfulness is the deletion AUC of the model's predicted class over patches
on the same rows. Goal (issue 4): FEX at least 100x faster than KernelSHAP with a
deletion AUC within 10% of it. FEX's one-off training cost is printed separately.

    python benchmarks/bench_fex.py [--quick] [--device cpu|cuda] [--instances 100]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np


def median_seconds(fn, repeats: int):
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def kernel_shap(net, X, targets, background, n_samples, device):
    import probex as px

    attributions = np.zeros(X.shape)
    for c in np.unique(targets):
        rows = targets == c
        bb_c = px.BlackBox(net, target=int(c), n_features=X.shape[1], device=device)
        attributions[rows] = px.BayesSHAP(bb_c, background=background, seed=0).explain(
            X[rows], n_samples=n_samples).mean
    return attributions


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, short training")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--instances", type=int, default=None,
                        help="rows explained by KernelSHAP and RISE (default 100; quick 20)")
    parser.add_argument("--epochs", type=int, default=None, help="FEX training epochs")
    parser.add_argument("--trajectory-length", type=int, default=10,
                        help="FEX's masks per instance per update")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    n_rows = args.instances or (20 if args.quick else 100)
    epochs = args.epochs or (8 if args.quick else 60)

    import torch

    import probex as px
    from probex.datasets import fit_network
    from probex.metrics import deletion_auc, random_reference
    from probex.perturb import FeatureGroups

    device = args.device
    net, data = fit_network("digits", "cnn", epochs=5 if args.quick else 15, seed=0,
                            device=device)
    bb = px.BlackBox(net, n_features=64, device=device)
    patches = FeatureGroups.image_patches(8, 8, 2)
    X = data.X_test[:n_rows]
    targets = bb.predict(X).argmax(-1).cpu().numpy()
    train = data.X_train[:512] if args.quick else data.X_train

    fex = px.FEX(bb, 10, feature_groups=patches, seed=0, device=device,
                 trajectory_length=args.trajectory_length, final_lr_fraction=0.05)
    start = time.perf_counter()
    fex.fit(train, epochs=epochs, batch_size=64)
    fit_seconds = time.perf_counter() - start
    rows = np.resize(data.X_test, (1000, 64))
    fex.explain(rows[:10])  # warm-up
    queries = bb.n_queries
    t_fex, _ = median_seconds(lambda: fex.explain(rows).mean, args.repeats)
    assert bb.n_queries == queries, "FEX must not query the model"
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    fex_attr = fex.attributions(X)[0]

    rise = px.RISE(bb, data.X_train, n_samples=1000, feature_groups=patches, seed=0)
    t_rise, rise_e = median_seconds(lambda: rise.explain(X, target=targets), args.repeats)
    t_ks, ks_attr = median_seconds(
        lambda: kernel_shap(net, X, targets, data.X_train, 2000, device), 1)

    kwargs = {"background": data.X_train, "target": targets, "feature_groups": patches}
    auc = {"FEX": deletion_auc(bb, X, fex_attr, **kwargs).mean_auc,
           "KernelSHAP": deletion_auc(bb, X, ks_attr, **kwargs).mean_auc,
           "RISE": deletion_auc(bb, X, rise_e.mean, **kwargs).mean_auc,
           "random": random_reference(bb, X, "deletion", n_repeats=5, **kwargs).mean_auc}
    per_1000 = {"FEX": t_fex, "KernelSHAP": t_ks * 1000 / n_rows,
                "RISE": t_rise * 1000 / n_rows}
    print(f"device {device}; {n_rows} rows for KernelSHAP/RISE and the AUCs; FEX trained "
          f"{epochs} epochs (s={args.trajectory_length}) on {len(train)} rows in "
          f"{fit_seconds:.1f} s ({fex.n_queries_fit_} queries); FEX's class choice agrees "
          f"with the model on {np.mean(fex.attributions(X)[1] == targets):.0%}\n")
    print(f"{'method':<12}{'s / 1000 expl':>15}{'x FEX time':>12}{'deletion AUC':>14}")
    for name in ("FEX", "KernelSHAP", "RISE"):
        print(f"{name:<12}{per_1000[name]:>15.4f}{per_1000[name] / per_1000['FEX']:>12.0f}"
              f"{auc[name]:>14.3f}")
    print(f"{'random':<12}{'':>15}{'':>12}{auc['random']:>14.3f}")
    speedup = per_1000["KernelSHAP"] / per_1000["FEX"]
    gap = (auc["FEX"] - auc["KernelSHAP"]) / auc["KernelSHAP"]
    breakeven = fit_seconds / (per_1000["KernelSHAP"] / 1000)
    print(f"\nFEX vs KernelSHAP: {speedup:.0f}x faster (goal >= 100x: "
          f"{'met' if speedup >= 100 else 'NOT met'}); deletion AUC {gap:+.1%} relative "
          f"(goal within 10%: {'met' if gap <= 0.10 else 'NOT met'})")
    print(f"FEX's training time equals KernelSHAP's cost for {breakeven:.0f} explanations")
    return {"per_1000": per_1000, "auc": auc, "fit_seconds": fit_seconds,
            "speedup": speedup, "auc_gap": gap}


if __name__ == "__main__":
    main()
