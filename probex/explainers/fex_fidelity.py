"""A fidelity check of a fitted FEX against BayesSHAP and random orderings.

An amortized explainer is trained once and then trusted on rows it never saw, so a user
needs a cheap way to ask whether the trained policy ranks features better than chance on
*their* model and data. :func:`fidelity_table` explains a sample of rows three ways, with
the same class (the model's prediction), replacement baseline (``fex.baseline_``) and
mask units (``fex.groups``):

- FEX: the policy's lambda (no queries);
- BayesSHAP with a small budget (a few hundred coalitions per row): a per-row reference;
- random orderings (``n_repeats`` per row): what an uninformative explanation scores;

and scores each by deletion AUC (lower is better) and insertion AUC (higher is better),
:mod:`probex.metrics.faithfulness`. The gain over random, ``random_i - method_i`` per
row, is paired over the same rows; FEX is "clearly better than random" when the mean
gain exceeds ``margin`` times its paired standard error (``margin=2``: about a one-sided
2.3 % false alarm rate for a policy that is as good as random). Otherwise a
:class:`probex.diagnostics.FidelityWarning` is raised and the verdict is stored in the
table's ``attrs``.

Cost: ``n_rows`` (the classes) + ``n_rows * n_samples`` (BayesSHAP) + ``n_rows * (G + 1)
* (2 + 2 + 2 n_repeats)`` (deletion and insertion curves) black-box rows.
"""

from __future__ import annotations

import time
import warnings

import numpy as np
import pandas as pd

from probex._checks import check_count
from probex.diagnostics import DataWarning, FidelityWarning
from probex.explainers._base import as_instances
from probex.metrics import deletion_auc, insertion_auc, random_reference

__all__ = ["fidelity_table"]


def fidelity_table(fex, X, *, n_rows: int = 50, n_samples: int = 300, n_repeats: int = 3,
                   margin: float = 2.0, seed: int | None = None, warn: bool = True
                   ) -> pd.DataFrame:
    """Deletion and insertion AUC of FEX, BayesSHAP and random orderings on a sample of X.

    Args:
        fex: a fitted :class:`~probex.FEX`.
        X: (n, d) rows the explainer will be used on (not its fit rows, ideally).
        n_rows: rows sampled from X (all of them if X has fewer).
        n_samples: BayesSHAP's coalitions per row.
        n_repeats: random orderings per row.
        margin: FEX must beat random by this many paired standard errors.
        seed: of the row sample, BayesSHAP and the orderings (default: the explainer's).
        warn: raise a FidelityWarning when FEX is not clearly better than random.

    Returns:
        a DataFrame indexed by method (``FEX``, ``BayesSHAP``, ``random``) with columns
        ``deletion_auc``, ``deletion_se``, ``insertion_auc``, ``insertion_se``,
        ``deletion_gain`` (mean of random - method per row, deletion AUC),
        ``deletion_gain_se`` (its paired standard error), ``seconds_per_row``
        (explaining only) and ``queries_per_row``. ``attrs``: ``n_rows``, ``n_samples``,
        ``margin``, ``n_queries`` (all rows the check spent), ``clearly_better_than_random``
        and ``relative_to_bayesshap`` (FEX's deletion AUC / BayesSHAP's - 1).
    """
    from probex.explainers.bayesshap import BayesSHAP

    fex._check_fitted()
    n_rows = check_count("n_rows", n_rows)
    n_repeats = check_count("n_repeats", n_repeats)
    if not margin >= 0:
        raise ValueError(f"margin must be a non-negative number, got {margin!r}")
    seed = fex.seed if seed is None else int(seed)
    bb = fex.bb
    X, _ = as_instances(bb, X, "X")
    rng = np.random.default_rng([seed, 29])
    if X.shape[0] > n_rows:
        X = X[np.sort(rng.choice(X.shape[0], n_rows, replace=False))]
    with bb.counting() as counter:
        targets = bb.predict(X).argmax(-1).cpu()
        start = time.perf_counter()
        lam, _ = fex.attributions(X, target=targets)
        fex_seconds = time.perf_counter() - start
        before = counter.n
        shap = BayesSHAP(bb, background=fex.baseline_[None], seed=seed)
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DataWarning)  # shared by every method here
            phi = shap.explain(X, n_samples=n_samples, target=targets).mean
        shap_seconds, shap_queries = time.perf_counter() - start, counter.n - before
        curves = {}
        options = {"baseline": fex.baseline_, "target": targets.numpy(),
                   "feature_groups": fex.groups}
        for name, values in (("FEX", lam), ("BayesSHAP", phi)):
            curves[name] = (deletion_auc(bb, X, values, **options),
                            insertion_auc(bb, X, values, **options))
        curves["random"] = tuple(random_reference(bb, X, mode, n_repeats=n_repeats, seed=seed,
                                                  **options)
                                 for mode in ("deletion", "insertion"))
    n = X.shape[0]
    cost = {"FEX": (fex_seconds / n, 0.0), "BayesSHAP": (shap_seconds / n, shap_queries / n),
            "random": (0.0, 0.0)}
    chance = curves["random"][0].auc
    rows = {}
    for name, (deletion, insertion) in curves.items():
        gain = chance - deletion.auc
        rows[name] = {"deletion_auc": deletion.mean_auc, "deletion_se": deletion.sem_auc,
                      "insertion_auc": insertion.mean_auc, "insertion_se": insertion.sem_auc,
                      "deletion_gain": float(gain.mean()),
                      "deletion_gain_se": _sem(gain),
                      "seconds_per_row": cost[name][0], "queries_per_row": cost[name][1]}
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = "method"
    fex_row = rows["FEX"]
    clear = fex_row["deletion_gain"] > margin * fex_row["deletion_gain_se"]
    relative = fex_row["deletion_auc"] / rows["BayesSHAP"]["deletion_auc"] - 1
    table.attrs.update(n_rows=n, n_samples=int(n_samples), margin=float(margin),
                       n_queries=int(counter.n), clearly_better_than_random=bool(clear),
                       relative_to_bayesshap=float(relative))
    if warn and not clear:
        warnings.warn(
            f"FEX is not clearly better than random orderings on these {n} rows: its "
            f"deletion AUC {fex_row['deletion_auc']:.3f} against random "
            f"{rows['random']['deletion_auc']:.3f} (gain {fex_row['deletion_gain']:.3f} +- "
            f"{fex_row['deletion_gain_se']:.3f}, needed > {margin:g} standard errors); "
            f"BayesSHAP with {n_samples} coalitions scores "
            f"{rows['BayesSHAP']['deletion_auc']:.3f}. Do not trust these explanations: "
            "fit longer or on more rows, or check the model and baseline",
            FidelityWarning, stacklevel=3)
    return table


def _sem(values: np.ndarray) -> float:
    values = np.asarray(values, dtype=float)
    return float(values.std(ddof=1) / np.sqrt(values.size)) if values.size > 1 else np.nan
