"""EAGLE: perturbations chosen by expected information gain on the Bayesian surrogate
(Chugh, Prasad & Shah, "Informative Perturbation Selection for Uncertainty-Aware Post-hoc
Explanations", 2026).

The method object only wires things together: a perturbation scheme
(:mod:`probex.perturb`) with a space-filling start (:mod:`probex.inference.space_filling`),
the conjugate posterior of the Bayesian linear surrogate (:mod:`probex.models.surrogate`),
greedy batches of maximal expected information gain (:mod:`probex.inference.greedy_design`), and
an inference path for the final posterior (:mod:`probex.explainers._surrogate`).
"""

from __future__ import annotations

import math

import numpy as np
import torch

from probex._checks import check_choice, check_count, check_positive, check_probability
from probex._deprecation import renamed_arguments
from probex.explainers._importance import importance_explanation
from probex.explainers._surrogate import SurrogateData, SurrogateExplainer
from probex.explanation import Explanation
from probex.inference._runtime import progress_bar
from probex.inference.design import design_radius, information_gain_bound
from probex.inference.greedy_design import OnlineSurrogatePosterior, greedy_batch
from probex.inference.information_gain import nig_information_offset
from probex.inference.space_filling import space_filling_design
from probex.perturb import PerturbationSet
from probex.prior_families import NormalInverseGamma

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

    Arguments as :class:`~probex.explainers._surrogate.SurrogateExplainer`, plus
    ``design`` (``"importance"``, the default, or ``"greedy"``: see :meth:`explain`). The
    greedy design always uses the conjugate posterior (of the default NIG prior when
    ``prior`` is not conjugate), the final posterior uses ``inference``. ``seed`` seeds the
    starting design, the candidate pools and inference; ``progress`` shows a bar over the
    query budget.
    """

    method = "EAGLE"
    vectorized = False

    def __init__(self, model, background=None, *, design: str = "importance", **options):
        check_choice("design", design, ("importance", "greedy"))
        self.design = design
        super().__init__(model, background, **options)

    @renamed_arguments(budget="n_samples", tol="target_width")
    def explain(self, x, n_samples: int | None = None, *, target=None,
                target_width: float | None = None, design: str | None = None,
                batch_size: int | None = None, pool_size: int = 2000,
                initial_size: int | None = None, defensive: float = 0.2,
                prob: float = 0.95) -> Explanation:
        """Explain x (d,) (or each row of a batch (B, d) in turn) with at most
        ``n_samples`` black-box queries per instance.

        Args:
            n_samples: the most queries to spend (starting design included).
            target: the output explained (see :class:`~probex.explainers.Explainer`).
            target_width: stop once every ``prob`` interval is narrower than this (output
                units).
            design: the explainer's ``design`` by default (set in the constructor).
                ``"importance"`` (:mod:`probex.explainers._importance`): EIG
                picks sampled with known probabilities, an importance-weighted fit and a
                sandwich posterior, honest for the surrogate over the whole perturbation
                distribution whatever the black box (``inference="laplace"``).
                ``"greedy"``: the paper's greedy EIG batches with the conjugate (or the
                prior's) posterior, whose intervals shrink around the fit on the points it
                picked, which a nonlinear black box moves away from the target (coverage
                0.58-0.90 at 1,000 queries where the importance design has 0.94-0.97).
            batch_size: queries per round (default max(10, d)).
            pool_size: candidates drawn from the scheme per round.
            initial_size: rows of the space-filling start (default 2 (d + 1) greedy,
                max(2 (d + 1), n_samples / 8) importance).
            defensive: the share of each importance pick drawn from the scheme's own
                distribution (bounds the importance weights by 1 / defensive).
            prob: interval probability for ``target_width`` and the trace's ``max_width``.

        Returns:
            an :class:`~probex.Explanation`. With ``design="greedy"`` its ``trace`` has one
            row per round:
            ``n_queries``, ``information_gain`` (cumulative, nats, sigma^2 known: 1/2 log
            det of the prior-to-posterior precision ratio), ``information_gain_nig``
            (sigma^2 unknown), ``batch_gain`` (the round's EIG predicted at selection),
            ``information_bound`` ((d/2) log(1 + t R^2 / (d sigma^2)) with R the running
            max of sqrt(w) ||z - z_x||), ``max_width`` and ``noise_variance`` (b / a).
        """
        d = self.perturbation.n_features
        batch_size = check_count("batch_size", batch_size or max(10, d))
        pool_size = check_count("pool_size", pool_size)
        if pool_size < batch_size:
            raise ValueError(f"pool_size ({pool_size}) must be at least batch_size ({batch_size})")
        design = self.design if design is None else design
        check_choice("design", design, ("importance", "greedy"))
        options = {"target_width": check_positive("target_width", target_width,
                                                  allow_none=True),
                   "batch_size": batch_size, "pool_size": pool_size, "design": design,
                   "initial_size": None if initial_size is None else check_count(
                       "initial_size", initial_size, minimum=2),
                   "defensive": check_probability("defensive", defensive),
                   "prob": check_probability("prob", prob)}
        return super().explain(x, n_samples, target=target, **options)

    def _uses_pool(self, options: dict) -> bool:
        return True

    def _explain(self, X, targets, n_samples, streams, *, design="importance", defensive=0.2,
                 keep_data=None, **options) -> Explanation:
        if design == "importance":
            e = importance_explanation(self, X, targets, n_samples, streams,
                                       defensive=defensive, keep_data=keep_data, **options)
            return e.with_attrs(predictive_groups="none: the sandwich posterior of an "
                                                  "importance-weighted fit has no likelihood")
        return super()._explain(X, targets, n_samples, streams, keep_data=keep_data, **options)

    def _surrogate_data(self, X, targets, n_samples, streams, *, target_width, batch_size,
                        pool_size, initial_size, prob, design="greedy", defensive=None
                        ) -> SurrogateData:
        """The greedy design's perturbations and answers (the data a prior's posterior is
        fitted to: :meth:`_explain` with ``design="greedy"``, and
        :func:`probex.compare_priors`, which compares priors on EAGLE's greedy design;
        ``design`` and ``defensive`` are accepted for that call and not used)."""
        d = self.perturbation.n_features
        budget = n_samples
        initial = min(n_samples, initial_size or 2 * (d + 1))
        generator = streams.generator(0)
        design_prior = (self.prior if isinstance(self.prior, NormalInverseGamma)
                        else NormalInverseGamma())
        online = OnlineSurrogatePosterior(d, design_prior.scale, design_prior.noise_shape,
                                          design_prior.noise_rate, device=self.bb.device)
        trace = _Trace(self.perturbation, design_prior, d)
        batches, answers = [], []
        batch = space_filling_design(self.perturbation, X, initial, generator)
        batch_gain = math.nan
        with progress_bar(budget, self.method, self.progress) as bar:
            while True:
                y = self._query(batch, targets)
                batches.append(batch)
                answers.append(y)
                online.add(batch.z[0], y[0], batch.weights[0])
                trace.add_rows(batch)
                bar.update(len(batch))
                posterior = online.posterior()
                width = trace.record(online.n, posterior, prob, batch_gain)
                if (target_width is not None and width <= target_width) or online.n >= budget:
                    break
                pool = self.perturbation.sample_z(pool_size, generator)
                selection = greedy_batch(pool, self.perturbation.weights(pool),
                                         online.state(posterior),
                                         min(batch_size, budget - online.n))
                batch = self.perturbation.complete(X, pool[selection.index.cpu()].unsqueeze(0))
                batch_gain = selection.total_gain
        perturbations = PerturbationSet.concat(batches)
        y = torch.cat(answers, dim=-1)
        attrs = {"budget": budget, "batch_size": batch_size,
                 "pool_size": pool_size, "initial_size": initial,
                 "target_width": -1.0 if target_width is None else float(target_width),
                 "prob": float(prob)}
        return SurrogateData(perturbations, y, y[:, 0], trace.columns, attrs)


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
