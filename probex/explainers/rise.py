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
The masks are seeded and shared by every instance; queries run in batches.
"""

from __future__ import annotations

import numpy as np
import torch

from probex._checks import as_matrix, as_tensor, check_choice, resolve_device
from probex.blackbox import BlackBox, as_blackbox
from probex.explanation import Explanation
from probex.models.fex_policy import FeatureGroups
from probex.perturb import MaskPerturbation

__all__ = ["RISE"]

_ELEMENTS_PER_CHUNK = 4_000_000  # instances * masks * features held at once


class RISE:
    """Random-masking saliency, vectorized over instances.

    Args:
        bb: the classifier's :class:`~probex.BlackBox` (or a model).
        background: (N, d) data for the replacement baseline (``replacement`` statistic).
        replacement: ``"mean"``, ``"median"``, ``"zero"`` or an explicit (d,) baseline.
        n_masks: N, masks (= queries) per instance.
        p_keep: probability that a unit is kept.
        feature_groups: ``None`` (mask features), d group ids or index lists (e.g.
            :meth:`probex.models.fex_policy.FeatureGroups.image_patches`).
        n_draws: batch means stored as draws (must divide ``n_masks``).
        seed: seeds the masks; the same seed gives the same explanation (the masks are
            drawn on the CPU, so also on any device).
        device: where the masked inputs and the weighted sums are computed (default: the
            black box's device); results come back as numpy.
    """

    method = "RISE"

    def __init__(self, bb: BlackBox, background=None, replacement="mean", n_masks: int = 1000,
                 p_keep: float = 0.5, feature_groups=None, n_draws: int = 20, seed: int = 0,
                 device=None):
        self.bb = as_blackbox(bb)
        if self.bb.task != "classification":
            raise ValueError("RISE weights masks by class probabilities: use a classifier")
        self.perturbation = MaskPerturbation(background, replacement=replacement)
        d = self.perturbation.n_features
        self.bb.bind_features(d)
        self.groups = (feature_groups if isinstance(feature_groups, FeatureGroups)
                       else FeatureGroups(feature_groups, d))
        if self.groups.n_features != d:
            raise ValueError(f"feature_groups cover {self.groups.n_features} features, the "
                             f"data have {d}")
        self.device = self.bb.device if device is None else resolve_device(device)
        if not 0 < p_keep < 1:
            raise ValueError(f"p_keep must be in (0, 1), got {p_keep}")
        if int(n_masks) < 2 or int(n_draws) < 1 or int(n_masks) % int(n_draws):
            raise ValueError(f"n_masks={n_masks} must be at least 2 and divisible by "
                             f"n_draws={n_draws}")
        self.n_masks, self.p_keep = int(n_masks), float(p_keep)
        self.n_draws, self.seed = int(n_draws), int(seed)

    def masks(self) -> torch.Tensor:
        """The N seeded unit masks, (N, G) float64 in {0, 1}."""
        generator = torch.Generator().manual_seed(self.seed)
        probs = torch.full((self.n_masks, self.groups.n_groups), self.p_keep,
                           dtype=torch.float64)
        return torch.bernoulli(probs, generator=generator)

    def explain(self, X, target="predicted") -> Explanation:
        """Explain x (d,) or X (n, d); ``target``: ``"predicted"`` (the model's argmax, n
        extra queries), a class index or one per instance. Costs n * N queries.

        Returns an :class:`~probex.Explanation` over the d features (the black box's
        feature names): mean S (d,) or (n, d) in units of the class probability, sd its
        Monte Carlo standard error, draws (1, n_draws, [n,] d) batch means.
        """
        x = as_tensor(X, "X")
        single = x.ndim == 1
        X = as_matrix(x[None] if single else x, "X", n_features=self.perturbation.n_features)
        queries_before = self.bb.n_queries
        targets = self._targets(X, target)
        masks = self.masks().to(self.device)
        keep = self.groups.expand(masks)  # (N, d)
        baseline = self.perturbation.baseline.to(self.device)
        X = X.to(self.device)
        n, d = X.shape
        chunk = max(1, _ELEMENTS_PER_CHUNK // (self.n_masks * d))
        means, sds, draws = [], [], []
        for start in range(0, n, chunk):
            x_chunk = X[start:start + chunk, None, :]
            inputs = keep * x_chunk + (1.0 - keep) * baseline  # (c, N, d)
            probs = self.bb.predict(inputs.reshape(-1, d)).reshape(*inputs.shape[:2], -1)
            if int(targets.max()) >= probs.shape[-1]:
                raise ValueError(f"target class {int(targets.max())} but the model has "
                                 f"{probs.shape[-1]} classes")
            index = targets[start:start + chunk].view(-1, 1, 1).expand(-1, self.n_masks, 1)
            f = probs.gather(-1, index.to(probs.device)).squeeze(-1).to(self.device)  # (c, N)
            m = masks.to(f.dtype)
            terms_sum = f @ m / self.p_keep  # (c, G) sum of the terms f_i M_ij / p
            mean = terms_sum / self.n_masks
            square_sum = (f * f) @ m / self.p_keep**2
            variance = (square_sum - self.n_masks * mean**2) / (self.n_masks - 1)
            means.append(mean)
            sds.append(torch.sqrt(variance.clamp_min(0.0) / self.n_masks))
            per_batch = self.n_masks // self.n_draws
            f_b = f.reshape(f.shape[0], self.n_draws, per_batch)
            m_b = m.reshape(self.n_draws, per_batch, -1)
            draws.append(torch.einsum("cbi,big->bcg", f_b, m_b) / (self.p_keep * per_batch))
        mean = self.groups.expand(torch.cat(means)).cpu().numpy()
        sd = self.groups.expand(torch.cat(sds)).cpu().numpy()
        draws = self.groups.expand(torch.cat(draws, dim=1)).cpu().numpy()[None]  # (1, B, n, d)
        if single:
            mean, sd, draws = mean[0], sd[0], draws[:, :, 0]
        instance_dims = [] if single else ["instance"]
        return Explanation.from_draws(
            draws, self.bb.feature_names, method=self.method, inference="monte-carlo",
            n_queries=self.bb.n_queries - queries_before,
            closed_form={"loc": mean, "sd": sd, "distribution": "normal"},
            constant_data={"target": targets[0].numpy() if single else targets.numpy()},
            dims={"target": instance_dims},
            attrs={"n_masks": self.n_masks, "p_keep": self.p_keep, "seed": self.seed,
                   "n_groups": self.groups.n_groups})

    def _targets(self, X: torch.Tensor, target) -> torch.Tensor:
        n = X.shape[0]
        if isinstance(target, str):
            check_choice("target", target, ("predicted",))
            return self.bb.predict(X).argmax(-1).cpu()
        targets = torch.as_tensor(np.asarray(target)).reshape(-1)
        if targets.numel() == 1:
            targets = targets.expand(n)
        if targets.shape != (n,) or targets.is_floating_point() or bool((targets < 0).any()):
            raise ValueError(f"target must be 'predicted', a class index or {n} class indices")
        return targets.long()
