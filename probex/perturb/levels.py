"""Perturbed copies of labelled samples at controlled perturbation levels.

ReCalX fits one temperature per bin of the perturbation level lambda and evaluates the
calibration error per bin, so both need perturbations whose level falls in a chosen bin,
drawn with the explainer's own scheme:

- :class:`~probex.perturb.MaskPerturbation`: the level is the fraction of features
  replaced, m / d. A bin holds the counts m whose level falls in it; each perturbation
  draws one of these counts uniformly and replaces exactly m features chosen uniformly
  at random (a bin holding no count, possible when d < B, gets no rows).
- :class:`~probex.perturb.GaussianPerturbation`: the level is the chi-square CDF of
  ||z / scale||^2, uniform under the sampler. A level is drawn uniformly in the bin and
  z = scale * sqrt(F^{-1}(level)) * u with u uniform on the unit sphere, so the level of
  every row is exact (up to rounding).
- any other :class:`~probex.perturb.Perturbation`: its own ``sample_z`` draws pools that
  are sorted into bins by their levels (bins the sampler never reaches stay empty).

Every random choice comes from one seeded ``torch.Generator``.

Size: the data hold n x B x m rows of d features (n samples, B bins, m perturbations),
built as float64; :func:`check_level_data_size` refuses sizes whose inputs alone would
exceed :data:`MAX_LEVEL_DATA_BYTES` before anything is allocated.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from scipy import stats

from probex._checks import as_matrix, check_count, check_seed
from probex.models.calibration import assign_bins
from probex.perturb.schemes import (
    GaussianPerturbation,
    MaskPerturbation,
    Perturbation,
    make_perturbation,
)

__all__ = ["LevelPerturbations", "perturb_by_level", "check_labels", "resolve_scheme",
           "level_data_bytes", "check_level_data_size", "MAX_LEVEL_DATA_BYTES", "MAX_BINS"]

_POOL_ROUNDS = 50

MAX_LEVEL_DATA_BYTES = 2 * 2**30
"""Largest model-input array (bytes) the level-controlled data may hold: 2 GiB.

Building the data holds the per-bin parts and their concatenation at once, so the peak
is about twice this (4 GiB), which fits a laptop; the default ReCalX size (200 rows x 10
bins x 10 perturbations, 20,000 rows) stays below it up to d = 13,421 features (a
3 x 32 x 32 image, d = 3,072, takes 0.46 GiB)."""

MAX_BINS = 1000
"""Most level bins: levels are fractions in [0, 1] (a mask scheme has only d + 1
distinct ones) and every bin needs calibration rows to inform its temperature; bins of
width 0.001 are finer than any calibration curve resolves, and the per-bin sampling loop
stays short."""


def level_data_bytes(n_rows: int, n_bins: int, n_perturbations: int, n_features: int
                     ) -> int:
    """Bytes of the float64 model inputs of the level-controlled data, an upper bound:
    ``n_rows * n_bins * n_perturbations * n_features * 8`` (bins a scheme cannot reach
    stay empty)."""
    return int(n_rows) * int(n_bins) * int(n_perturbations) * int(n_features) * 8


def check_level_data_size(n_rows: int, n_bins: int, n_perturbations: int, n_features: int,
                          *, limit: int = MAX_LEVEL_DATA_BYTES) -> int:
    """Refuse, before allocating, level-controlled data too large to build.

    Raises:
        ValueError: stating the estimated memory when :func:`level_data_bytes` exceeds
            ``limit``, or when ``n_bins`` exceeds :data:`MAX_BINS`.

    Returns:
        the estimated bytes.
    """
    size = level_data_bytes(n_rows, n_bins, n_perturbations, n_features)
    if size > limit:
        raise ValueError(
            f"the calibration data would hold {n_rows} rows x {n_bins} bins x "
            f"{n_perturbations} perturbations x {n_features} features of float64, about "
            f"{_format_bytes(size)} (twice that while it is built), more than the "
            f"{_format_bytes(limit)} allowed; use fewer rows (n_rows), n_bins or "
            "n_perturbations")
    if int(n_bins) > MAX_BINS:
        raise ValueError(f"n_bins={n_bins} is more than the {MAX_BINS} level bins allowed "
                         "(each bin needs calibration rows to inform its temperature)")
    return size


def _format_bytes(size: float) -> str:
    """``1536`` -> ``"1.5 KiB"`` (binary units, up to TiB)."""
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if size < 1024:
            return f"{size:,.0f} {unit}" if unit == "bytes" else f"{size:,.1f} {unit}"
        size /= 1024
    return f"{size:,.1f} TiB"


def resolve_scheme(scheme, background) -> Perturbation:
    """The perturbation scheme to calibrate: ``"mask"`` or ``"gaussian"`` (built on
    ``background`` with the LIME kernel), a :class:`~probex.perturb.Perturbation`, or an
    explainer, whose ``.perturbation`` is used."""
    if isinstance(scheme, Perturbation):
        return scheme
    if isinstance(getattr(scheme, "perturbation", None), Perturbation):  # an explainer
        return scheme.perturbation
    if not isinstance(scheme, str):
        raise TypeError("scheme must be 'mask', 'gaussian', a probex.perturb.Perturbation or "
                        "an explainer with a .perturbation")
    return make_perturbation(scheme, background, kernel="lime")


@dataclass(frozen=True)
class LevelPerturbations:
    """Perturbed copies of n labelled samples, grouped by level bin.

    Attributes:
        inputs: (N, d) model inputs.
        labels: (N,) label of the sample each row was perturbed from.
        levels: (N,) perturbation level of each row, in [0, 1].
        bins: (N,) level bin of each row.
        sample: (N,) index of the original sample.
    """

    inputs: torch.Tensor
    labels: torch.Tensor
    levels: torch.Tensor
    bins: torch.Tensor
    sample: torch.Tensor

    def __len__(self) -> int:
        return self.inputs.shape[0]


def check_labels(y, n_rows: int) -> torch.Tensor:
    """Integer class labels (n_rows,) as a long tensor, or a clear ValueError."""
    array = np.asarray(y.cpu() if isinstance(y, torch.Tensor) else y)
    if array.shape != (n_rows,):
        raise ValueError(f"labels must have shape ({n_rows},) to match the inputs; got "
                         f"{array.shape}")
    if array.dtype.kind == "f" and (not np.all(np.isfinite(array))
                                    or np.any(array != np.round(array))):
        raise ValueError("labels must be integer class indices")
    if array.dtype.kind not in "iuf":
        raise ValueError(f"labels must be integer class indices, got dtype {array.dtype}")
    if n_rows and array.min() < 0:
        raise ValueError("labels must be non-negative class indices")
    return torch.from_numpy(array.astype(np.int64))


def _mask_rows(scheme: MaskPerturbation, edges, bin_index, n, m, generator):
    d = scheme.n_features
    counts = torch.arange(d + 1, dtype=torch.float64)
    keep = (torch.arange(d, dtype=torch.float64)[None, :] >= counts[:, None])
    levels = scheme.levels(keep.to(torch.float64))  # row c replaces c features: c / d
    allowed = torch.nonzero(assign_bins(levels, edges) == bin_index)[:, 0]
    if allowed.numel() == 0:
        return None
    pick = allowed[torch.randint(allowed.numel(), (n, m), generator=generator)]
    ranks = torch.rand(n, m, d, generator=generator, dtype=torch.float64).argsort(-1).argsort(-1)
    return (ranks >= pick[..., None]).to(torch.float64)  # replace the `pick` lowest ranks


def _gaussian_rows(scheme: GaussianPerturbation, edges, bin_index, n, m, generator):
    low, high = float(edges[bin_index]), float(edges[bin_index + 1])
    u = torch.rand(n, m, generator=generator, dtype=torch.float64)
    level = (low + (high - low) * u).clamp(1e-12, 1 - 1e-12)
    radius2 = torch.from_numpy(stats.chi2.ppf(level.numpy(), scheme.n_features))
    direction = torch.randn(n, m, scheme.n_features, generator=generator, dtype=torch.float64)
    direction = direction / direction.norm(dim=-1, keepdim=True)
    return scheme.scale * radius2.sqrt()[..., None] * direction


def _pooled_rows(scheme: Perturbation, edges, bin_index, n, m, generator):
    kept = [[] for _ in range(n)]
    for _ in range(_POOL_ROUNDS):
        z = scheme.sample_z(4 * m, generator, (n,))
        hit = assign_bins(scheme.levels(z), edges) == bin_index
        for i in range(n):
            need = m - sum(part.shape[0] for part in kept[i])
            if need > 0:
                kept[i].append(z[i][hit[i]][:need])
        if all(sum(part.shape[0] for part in rows) >= m for rows in kept):
            return torch.stack([torch.cat(rows) for rows in kept])
    return None


def perturb_by_level(scheme: Perturbation, X, y, edges: torch.Tensor, n_perturbations: int,
                     *, seed: int = 0) -> LevelPerturbations:
    """``n_perturbations`` perturbed copies of every row of X in every level bin.

    Args:
        scheme: the perturbation scheme of the explainer.
        X: (n, d) held-out samples; y: (n,) their labels.
        edges: (B + 1,) bin edges on [0, 1].
        n_perturbations: copies per sample and bin.
        seed: seeds every draw.

    Raises:
        ValueError: for sizes :func:`check_level_data_size` refuses.

    Returns:
        a :class:`LevelPerturbations` with up to B * n * n_perturbations rows, bin by bin.
    """
    X = as_matrix(X, "X", n_features=scheme.n_features)
    labels = check_labels(y, X.shape[0])
    m = check_count("n_perturbations", n_perturbations)
    n = X.shape[0]
    check_level_data_size(n, edges.numel() - 1, m, X.shape[1])
    generator = torch.Generator().manual_seed(check_seed(seed))
    if isinstance(scheme, MaskPerturbation):
        draw = _mask_rows
    elif isinstance(scheme, GaussianPerturbation):
        draw = _gaussian_rows
    else:
        draw = _pooled_rows
    parts = []
    for b in range(edges.numel() - 1):
        z = draw(scheme, edges, b, n, m, generator)
        if z is None:
            continue
        levels = scheme.levels(z).reshape(-1)
        parts.append((scheme.to_inputs(X, z).reshape(n * m, -1), levels,
                      assign_bins(levels, edges), torch.arange(n).repeat_interleave(m)))
    if not parts:
        raise ValueError("the perturbation scheme produced no rows in any level bin")
    inputs, levels, bins, sample = (torch.cat(column) for column in zip(*parts, strict=True))
    return LevelPerturbations(inputs=inputs, labels=labels[sample], levels=levels, bins=bins,
                              sample=sample)
