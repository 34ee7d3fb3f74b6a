"""EAGLE: perturbations chosen by expected information gain on the Bayesian surrogate
(Chugh, Prasad & Shah, "Informative Perturbation Selection for Uncertainty-Aware Post-hoc
Explanations", 2026).

The method object only wires things together: a perturbation scheme
(:mod:`probex.perturb`) with a space-filling start (:mod:`probex.inference.space_filling`),
the conjugate posterior of the Bayesian linear surrogate (:mod:`probex.models.surrogate`),
greedy batches of maximal expected information gain (:mod:`probex.inference.design`), and
an inference path for the final posterior (:mod:`probex.explainers._surrogate`).
"""

from __future__ import annotations

import math

import numpy as np
import torch

from probex._checks import as_tensor
from probex.explainers._importance import explain_by_importance
from probex.explainers._surrogate import (
    SurrogateExplainer,
    fit_surrogate,
    surrogate_explanation,
)
from probex.explanation import Explanation
from probex.inference._runtime import progress_bar
from probex.inference.design import (
    OnlineSurrogatePosterior,
    design_radius,
    greedy_batch,
    information_gain_bound,
    nig_information_offset,
)
from probex.inference.space_filling import space_filling_design
from probex.perturb import PerturbationSet
from probex.priors import NormalInverseGamma

__all__ = ["EAGLE"]


class EAGLE(SurrogateExplainer):
    """Bayesian active learning of a local linear surrogate.

    Each round draws a pool of candidate perturbations from the scheme's distribution,
    picks the batch whose black-box answers are expected to tell most about the
    surrogate's coefficients (greedy, with rank-one posterior updates between picks),
    queries it and updates the conjugate posterior; it stops when every attribution's
    ``prob`` interval is narrower than ``tol`` or the query budget is spent.

    For the linear-Gaussian surrogate the information gain depends on where the black box
    is queried, not on its answers (the noise level enters only through the stopping
    rule): EAGLE's design is a greedy sequential Bayesian D-optimal design over
    locality-weighted candidates. Under model misfit the selected design also changes
    which local linear approximation the surrogate estimates (rows at the kernel's most
    informative radius count more than under random sampling).

    Args:
        bb: the :class:`~probex.BlackBox` (or a model, wrapped with default options).
        background: (N, d) reference data: feature scales for Gaussian perturbations, the
            replacement baseline for masks.
        kernel: ``"lime"`` (default) or ``"shap"`` (masks only).
        perturbation: ``"gaussian"`` (default), ``"mask"`` or a Perturbation object.
        prior: ``None`` (conjugate normal-inverse-gamma) or any prior BayesLIME takes; the
            design always uses the conjugate posterior (of the default NIG prior when the
            prior is not conjugate), the final posterior uses ``inference``.
        inference: ``"auto"``, ``"exact"``, ``"svi"``, ``"nuts"`` or a runner object.
        kernel_width: LIME kernel width (default 0.75 sqrt(d)).
        marginalize: see :class:`~probex.BayesLIME`.
        seed: seeds the starting design, the candidate pools and inference.
        num_draws, num_chains: draws kept from exact posteriors (sampled iid).
        progress: a progress bar over the query budget (``None``: only on a terminal).
    """

    method = "EAGLE"

    def explain(self, x, budget: int = 1000, *, batch_size: int | None = None,
                tol: float | None = None, pool_size: int = 2000,
                initial_size: int | None = None, prob: float = 0.95,
                design: str = "greedy", defensive: float = 0.2) -> Explanation:
        """Explain one instance x (d,) with at most ``budget`` black-box queries.

        Args:
            x: the instance.
            budget: the most queries to spend (starting design included).
            batch_size: queries per round (default max(10, d)).
            tol: stop once every ``prob`` interval is narrower than this (output units).
            pool_size: candidates drawn from the scheme per round.
            initial_size: rows of the space-filling start (default 2 (d + 1)).
            prob: interval probability for ``tol`` and the trace's ``max_width``.
            design: ``"greedy"`` (the paper's greedy EIG batches and the conjugate
                posterior of the rows picked) or ``"importance"``: picks sampled with
                known probabilities (EIG mixed with a ``defensive`` share of the scheme's
                own distribution), importance weights and the sandwich posterior, honest
                for the surrogate fitted over the whole perturbation distribution whatever
                the black box (:mod:`probex.inference.importance_design`; rounds double,
                ``batch_size`` is the smallest, ``pool_size`` the smallest pool).

        Returns:
            an :class:`~probex.Explanation` whose ``trace`` has one row per round:
            ``n_queries``, ``information_gain`` (cumulative, nats, sigma^2 known: 1/2 log
            det of the prior-to-posterior precision ratio), ``information_gain_nig``
            (sigma^2 unknown), ``batch_gain`` (the round's EIG predicted at selection),
            ``information_bound`` ((d/2) log(1 + t R^2 / (d sigma^2)) with R the running
            max of sqrt(w) ||z - z_x||), ``max_width`` and ``noise_variance`` (b / a).
        """
        x = as_tensor(x, "x")
        if x.ndim != 1:
            raise ValueError("EAGLE explains one instance at a time: x must have shape (d,)")
        d = self.perturbation.n_features
        budget = _positive_int("budget", budget, minimum=2)
        batch_size = _positive_int("batch_size", batch_size or max(10, d))
        pool_size = _positive_int("pool_size", pool_size)
        if pool_size < batch_size:
            raise ValueError(f"pool_size ({pool_size}) must be at least batch_size ({batch_size})")
        initial = min(budget, _positive_int("initial_size", initial_size or 2 * (d + 1),
                                            minimum=2))
        if tol is not None and not tol > 0:
            raise ValueError(f"tol must be positive, got {tol}")
        if not 0 < prob < 1:
            raise ValueError(f"prob must be in (0, 1), got {prob}")

        if design not in ("greedy", "importance"):
            raise ValueError(f"design must be 'greedy' or 'importance', got {design!r}")
        if design == "importance":
            return explain_by_importance(self, x, budget, batch_size=batch_size,
                                         pool_size=pool_size, initial_size=initial_size,
                                         defensive=defensive, tol=tol, prob=prob)
        generator = torch.Generator().manual_seed(self.seed)
        queries_before = self.bb.n_queries
        instances = x.unsqueeze(0)
        design_prior = (self.prior if isinstance(self.prior, NormalInverseGamma)
                        else NormalInverseGamma())
        online = OnlineSurrogatePosterior(d, design_prior.scale, design_prior.noise_shape,
                                          design_prior.noise_rate, device=self.bb.device)
        trace = _Trace(self.perturbation, design_prior, d)
        batches, answers = [], []
        batch = space_filling_design(self.perturbation, instances, initial, generator)
        batch_gain = math.nan
        with progress_bar(budget, self.method, self.progress) as bar:
            while True:
                y = self._query(batch)
                batches.append(batch)
                answers.append(y)
                online.add(batch.z[0], y[0], batch.weights[0])
                trace.add_rows(batch)
                bar.update(len(batch))
                posterior = online.posterior()
                width = trace.record(online.n, posterior, prob, batch_gain)
                if (tol is not None and width <= tol) or online.n >= budget:
                    break
                pool = self.perturbation.sample_z(pool_size, generator)
                selection = greedy_batch(pool, self.perturbation.weights(pool),
                                         online.state(posterior),
                                         min(batch_size, budget - online.n))
                batch = self.perturbation.complete(
                    instances, pool[selection.index.cpu()].unsqueeze(0))
                batch_gain = selection.total_gain
        perturbations = PerturbationSet.concat(batches)
        y = torch.cat(answers, dim=-1)
        fit = fit_surrogate(perturbations.z.to(y.device), y, perturbations.weights.to(y.device),
                            self.prior, self.inference, self.seed, self.num_draws,
                            self.num_chains, self.marginalize)
        attrs = {"method": self.method, "kernel": self.kernel, "marginalized": fit.marginalized,
                 "perturbation": type(self.perturbation).__name__, "prior": repr(self.prior),
                 "seed": self.seed, "target": -1 if self.bb.target is None else self.bb.target,
                 "n_queries": self.bb.n_queries - queries_before, "budget": budget,
                 "batch_size": batch_size, "pool_size": pool_size, "initial_size": initial,
                 "tol": -1.0 if tol is None else float(tol), "prob": float(prob)}
        return surrogate_explanation(fit, perturbations, y, instances, y[:, 0],
                                     self.bb.feature_names, attrs, True, trace.columns)

    def _query(self, perturbations: PerturbationSet) -> torch.Tensor:
        """Black-box answers for (1, n, d) perturbations, shape (1, n)."""
        inputs = perturbations.inputs
        flat = inputs.reshape(-1, inputs.shape[-1])
        return self.bb(flat, level=perturbations.levels.reshape(-1)).reshape(inputs.shape[:-1])


def _positive_int(name: str, value, minimum: int = 1) -> int:
    if isinstance(value, bool) or int(value) != value or int(value) < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


class _Trace:
    """Per-round design trace (columns of the Explanation's ``design_trace`` group)."""

    def __init__(self, perturbation, prior: NormalInverseGamma, n_features: int):
        self.scale, self.shape0, self.d = prior.scale, prior.noise_shape, n_features
        self.center = perturbation.anchors()[0]
        self.radius, self.nig_offset, self.n = 0.0, 0.0, 0
        self.columns = {k: [] for k in ("n_queries", "information_gain", "information_gain_nig",
                                        "batch_gain", "information_bound", "max_width",
                                        "noise_variance")}

    def add_rows(self, batch: PerturbationSet) -> None:
        """Running R = max sqrt(w) ||z - z_x|| and the NIG offsets sum_k K(a0 + k/2, d)
        (the first row of a design only fixes the intercept)."""
        z, w = batch.z[0].cpu(), batch.weights[0].cpu()
        self.radius = max(self.radius, float(design_radius(z, w, self.center)))
        first = max(self.n - 1, 0)
        steps = torch.arange(first, self.n + len(z) - 1, dtype=torch.float64)
        self.nig_offset += float(nig_information_offset(self.shape0 + 0.5 * steps, self.d).sum())
        self.n += len(z)

    def record(self, n: int, posterior, prob: float, batch_gain: float) -> float:
        """Append one round; returns the largest ``prob`` interval width."""
        gain = float(0.5 * torch.logdet(posterior.precision[0]) + self.d * math.log(self.scale))
        interval = posterior.interval(prob)[0]
        width = float(np.max(interval[:, 1] - interval[:, 0]))
        c = self.columns
        c["n_queries"].append(n)
        c["information_gain"].append(gain)
        c["information_gain_nig"].append(gain + self.nig_offset)
        c["batch_gain"].append(gain if not c["batch_gain"] else batch_gain)
        c["information_bound"].append(float(information_gain_bound(
            n, self.d, self.radius, 1.0 / self.scale**2)))
        c["max_width"].append(width)
        c["noise_variance"].append(float(posterior.rate[0] / posterior.shape[0]))
        return width
