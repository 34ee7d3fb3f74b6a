"""Space-filling starting designs follow each scheme's distribution, more evenly."""

import math

import numpy as np
import pytest
import torch
from scipy import stats

from probex.inference.space_filling import space_filling_design, space_filling_z
from probex.perturb import GaussianPerturbation, MaskPerturbation


def _generator(seed=0):
    return torch.Generator().manual_seed(seed)


def test_gaussian_rows_stratify_every_margin():
    """Scrambled Sobol through the normal inverse CDF: with n = 64 rows each margin has
    exactly one row in each of the 64 equal-probability strata of N(0, scale^2)."""
    scheme = GaussianPerturbation(std=torch.ones(7), scale=0.5)
    z = space_filling_z(scheme, 64, _generator())
    strata = np.floor(stats.norm.cdf(z.numpy() / 0.5) * 64).astype(int)
    for column in strata.T:
        assert sorted(column.tolist()) == list(range(64))
    # iid draws do not: some stratum of some margin is empty
    iid = scheme.sample_z(64, _generator())
    iid_strata = np.floor(stats.norm.cdf(iid.numpy() / 0.5) * 64).astype(int)
    assert any(len(set(c.tolist())) < 64 for c in iid_strata.T)


def test_seeded_and_different_across_seeds():
    scheme = GaussianPerturbation(std=torch.ones(5))
    a = space_filling_z(scheme, 20, _generator(1))
    assert torch.equal(a, space_filling_z(scheme, 20, _generator(1)))
    assert not torch.equal(a, space_filling_z(scheme, 20, _generator(2)))


def test_lime_masks_keep_every_feature_in_half_the_rows():
    scheme = MaskPerturbation(replacement=torch.zeros(9), kernel="lime")
    z = space_filling_z(scheme, 32, _generator())
    assert set(z.unique().tolist()) <= {0.0, 1.0}
    assert torch.equal(z.sum(0), torch.full((9,), 16.0, dtype=z.dtype))


def test_shapley_masks_come_in_complementary_pairs_with_kernelshap_sizes():
    d = 8
    scheme = MaskPerturbation(replacement=torch.zeros(d), kernel="shap")
    z = space_filling_z(scheme, 4000, _generator())
    pairs = z.reshape(-1, 2, d)
    assert torch.equal(pairs.sum(1), torch.ones(pairs.shape[0], d, dtype=z.dtype))
    sizes = z.sum(-1).long()
    assert int(sizes.min()) >= 1 and int(sizes.max()) <= d - 1
    k = np.arange(1, d)
    expected = (d - 1) / (k * (d - k))
    expected /= expected.sum()
    observed = np.bincount(sizes.numpy(), minlength=d)[1:] / len(sizes)
    # stratified sizes: off by at most one row per size class from the exact proportions
    assert np.abs(observed - expected).max() <= 2 / len(sizes)
    # each feature kept in exactly half the rows
    assert torch.equal(z.sum(0), torch.full((d,), 2000.0, dtype=z.dtype))


def test_design_puts_the_anchors_first():
    background = np.random.default_rng(0).normal(size=(50, 4))
    x = torch.zeros(1, 4, dtype=torch.float64)
    gauss = space_filling_design(GaussianPerturbation(background), x, 10, _generator())
    assert gauss.z.shape == (1, 10, 4) and torch.all(gauss.z[0, 0] == 0)
    shap = space_filling_design(MaskPerturbation(background, kernel="shap"), x, 10, _generator())
    assert torch.all(shap.z[0, 0] == 1) and torch.all(shap.z[0, 1] == 0)
    assert shap.weights[0, 0] == pytest.approx(1e3)
    with pytest.raises(ValueError, match="positive"):
        space_filling_z(GaussianPerturbation(background), 0, _generator())
    assert math.isfinite(float(gauss.weights.sum()))
