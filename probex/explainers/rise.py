"""RISE: saliency by random masking (Petsiuk, Das & Saenko, "RISE: Randomized Input
Sampling for Explanation of Black-box Models", BMVC 2018).

Draw N random masks M_i over G units (each kept independently with probability p),
query the model at the masked inputs (masked-out features take a baseline, as in
:class:`probex.perturb.MaskPerturbation`) and weight each mask by the model's
probability of the explained class (RISE's Eq. 6):

    S_j = 1 / (N p) * sum_i f_y(M_i * x + (1 - M_i) * b) M_ij,

a Monte Carlo estimate of E[f_y(M * x) | M_j = 1]. The explanation reports S (the
closed-form ``mean``) with its Monte Carlo standard error as ``sd``, and stores
``n_draws`` batch means of the terms (each over N / n_draws masks) as draws.
The masks are seeded and shared by every instance; batches of instances are explained in
chunks (:class:`~probex.explainers.LocalExplainer`) so memory stays bounded.
"""

from __future__ import annotations

import torch

from probex._checks import check_count, check_probability, resolve_device
from probex._deprecation import renamed_arguments
from probex.explainers._base import LocalExplainer, as_background, warn_unmaskable
from probex.explanation import Explanation
from probex.perturb import FeatureGroups, MaskPerturbation

__all__ = ["RISE", "FeatureGroups"]

class RISE(LocalExplainer):
    """Random-masking saliency, vectorized over instances.

    Args:
        model: the classifier's :class:`~probex.BlackBox` (or a model).
        background: (N, d) data for the replacement baseline (``replacement`` statistic).
        replacement: ``"mean"``, ``"median"``, ``"zero"`` or an explicit (d,) baseline.
        n_samples: N, masks (= queries) per instance.
        p_keep: probability that a unit is kept.
        feature_groups: ``None`` (mask features), d group ids or index lists (e.g.
            :meth:`probex.perturb.FeatureGroups.image_patches`).
        n_draws: batch means stored as draws (must divide ``n_samples``).
        seed: seeds the masks; the same seed gives the same explanation (the masks are
            drawn on the CPU, so also on any device). All instances share the masks.
        device: where the masked inputs and the weighted sums are computed (default: the
            black box's device); results come back as numpy.

    Without a target, RISE explains each instance's predicted class.
    """

    method = "RISE"
    uncertainty = "monte_carlo_error"
    default_target = "predicted"

    @renamed_arguments(n_masks="n_samples")
    def __init__(self, model, background=None, replacement="mean", n_samples: int = 1000,
                 p_keep: float = 0.5, feature_groups=None, n_draws: int = 20, *,
                 seed: int = 0, device=None, progress: bool | None = None,
                 blackbox_options: dict | None = None):
        super().__init__(model, n_samples=n_samples, seed=seed, progress=progress,
                         blackbox_options=blackbox_options)
        self.device = self.bb.device if device is None else resolve_device(device)
        if self.bb.task != "classification":
            raise ValueError("RISE weights masks by class probabilities: use a classifier")
        self.perturbation = MaskPerturbation(as_background(self.bb, background),
                                             replacement=replacement)
        d = self.perturbation.n_features
        self.bb.bind_features(d)
        self.groups = (feature_groups if isinstance(feature_groups, FeatureGroups)
                       else FeatureGroups(feature_groups, d))
        if self.groups.n_features != d:
            raise ValueError(f"feature_groups cover {self.groups.n_features} features, the "
                             f"data have {d}")
        self.p_keep = check_probability("p_keep", p_keep)
        self.n_draws = check_count("n_draws", n_draws)
        if self.n_samples % self.n_draws:
            raise ValueError(f"n_samples={self.n_samples} must be divisible by "
                             f"n_draws={self.n_draws}")

    @property
    def n_masks(self) -> int:
        """Deprecated name of ``n_samples``."""
        return self.n_samples

    def masks(self, n_samples: int | None = None) -> torch.Tensor:
        """The N seeded unit masks, (N, G) float64 in {0, 1}."""
        generator = torch.Generator().manual_seed(self.seed)
        probs = torch.full((n_samples or self.n_samples, self.groups.n_groups), self.p_keep,
                           dtype=torch.float64)
        return torch.bernoulli(probs, generator=generator)

    def _check_instances(self, X) -> None:
        warn_unmaskable(X, self.perturbation.baseline, self.bb.feature_names)

    def _explain(self, X, targets, n_samples, streams, keep_data=None) -> Explanation:
        """S (B, d) in units of the class probability, its Monte Carlo standard error, and
        ``n_draws`` batch means as draws (1, n_draws, B, d). Costs B * N queries."""
        if n_samples % self.n_draws:
            raise ValueError(f"n_samples={n_samples} must be divisible by "
                             f"n_draws={self.n_draws}")
        device = self.device
        masks = self.masks(n_samples).to(device)
        keep = self.groups.expand(masks)  # (N, d)
        baseline = self.perturbation.baseline.to(device)
        X = X.to(device)
        inputs = keep * X[:, None, :] + (1.0 - keep) * baseline  # (B, N, d)
        probs = self.bb.predict(inputs.reshape(-1, X.shape[1])).reshape(*inputs.shape[:2], -1)
        self.bb.select_target(probs[:, 0], targets)  # a named error for classes out of range
        index = targets.view(-1, 1, 1).expand(-1, n_samples, 1).to(probs.device)
        f = probs.gather(-1, index).squeeze(-1).to(device)  # (B, N)
        m = masks.to(f.dtype)
        mean = f @ m / (self.p_keep * n_samples)  # (B, G)
        square_sum = (f * f) @ m / self.p_keep**2
        variance = (square_sum - n_samples * mean**2) / (n_samples - 1)
        sd = torch.sqrt(variance.clamp_min(0.0) / n_samples)
        per_batch = n_samples // self.n_draws
        f_b = f.reshape(f.shape[0], self.n_draws, per_batch)
        m_b = m.reshape(self.n_draws, per_batch, -1)
        draws = torch.einsum("cbi,big->bcg", f_b, m_b) / (self.p_keep * per_batch)
        expand = self.groups.expand
        return Explanation.from_draws(
            expand(draws).cpu().numpy()[None], self.bb.feature_names, method=self.method,
            inference="monte_carlo",
            closed_form={"loc": expand(mean).cpu().numpy(), "sd": expand(sd).cpu().numpy(),
                         "distribution": "normal"},
            attrs={"n_samples": n_samples, "p_keep": self.p_keep,
                   "n_groups": self.groups.n_groups})
