"""The stratified, paired coalition design: allocation, structure and uniform sampling."""

import math

import numpy as np
import pytest
import torch
from scipy import stats

from probex.inference.shapley_design import allocate_strata, shapley_design


def test_strata_masses_are_the_shapley_kernel():
    alloc = allocate_strata(7, 100)
    # Shapley kernel per coalition (d - 1) / (C(d, k) k (d - k)), summed over sizes k, d - k
    kernel = np.array([2 * math.comb(7, k) * 6 / (math.comb(7, k) * k * (7 - k))
                       for k in (1, 2, 3)])
    np.testing.assert_allclose(alloc.probability, kernel / kernel.sum())
    assert alloc.n_units.tolist() == [7, 21, 35]
    even = allocate_strata(6, 40)
    assert even.n_units.tolist() == [6, 15, 10]  # the middle stratum holds C(6, 3) / 2 pairs


@pytest.mark.parametrize("d, n", [(10, 200), (10, 1000), (13, 1000), (16, 301), (16, 5000)])
def test_allocation_spends_the_budget_and_enumerates_heavy_strata_first(d, n):
    alloc = allocate_strata(d, n)
    assert n - 1 <= alloc.n_evaluations <= n
    assert np.all(alloc.n_sampled <= alloc.n_units) and np.all(alloc.n_sampled >= 4)
    enumerated = alloc.enumerated
    # enumerated strata are a prefix: sizes 1 and d - 1 first, as in shap's KernelExplainer
    assert np.all(np.diff(enumerated.astype(int)) <= 0)
    sampled = ~enumerated
    if sampled.sum() > 1:  # the rest proportional to the kernel mass, up to rounding
        share = alloc.n_sampled[sampled] / alloc.probability[sampled]
        assert share.max() / share.min() < 1 + 2 / alloc.n_sampled[sampled].min()


def test_full_budget_enumerates_every_coalition():
    alloc = allocate_strata(8, 10_000)
    assert np.all(alloc.enumerated) and alloc.n_evaluations == 2**8
    design = shapley_design(8, 10_000, seed=0)
    codes = (design.z[0].numpy() @ (2 ** np.arange(8))).astype(int)
    assert sorted(codes.tolist()) == list(range(256))


def test_too_small_a_budget_is_refused():
    with pytest.raises(ValueError, match="n_samples=20 is too small"):
        allocate_strata(10, 20)
    with pytest.raises(ValueError, match="n_features"):
        allocate_strata(1, 100)
    with pytest.raises(ValueError, match="min_pairs"):
        allocate_strata(5, 100, min_pairs=1)


def test_design_rows_pairs_and_weights():
    d = 9
    design = shapley_design(d, 300, n_instances=3, seed=4)
    z = design.z.numpy()
    assert z.shape == (3, design.allocation.n_evaluations, d)
    assert np.all(z[:, 0] == 1) and np.all(z[:, 1] == 0)
    pairs = z[:, 2:].reshape(3, -1, 2, d)
    np.testing.assert_array_equal(pairs[:, :, 1], 1 - pairs[:, :, 0])  # antithetic
    sizes = pairs[:, :, 0].sum(-1)
    expected = design.allocation.sizes[design.unit_stratum.numpy()]
    assert np.all(sizes == expected)
    for b in range(3):  # no pair twice within an instance
        codes = pairs[b, :, 0] @ (2 ** np.arange(d))
        assert len(np.unique(codes)) == len(codes)
    weights = design.weights.numpy()
    assert np.all(np.isinf(weights[:, :2]))
    np.testing.assert_allclose(weights[:, 2:].sum(1), 1.0)  # the kernel is a distribution
    assert not np.array_equal(z[0], z[1])  # instances draw their own pairs


def test_middle_stratum_representatives_and_seeds():
    design = shapley_design(8, 60, seed=1)
    pairs = design.z[0, 2:].reshape(-1, 2, 8).numpy()
    middle = design.unit_stratum.numpy() == 3
    assert np.all(pairs[middle, 0, 0] == 1)  # the member of each pair holding feature 0
    again = shapley_design(8, 60, generator=torch.Generator().manual_seed(1))
    assert torch.equal(design.z, again.z)
    assert not torch.equal(design.z, shapley_design(8, 60, seed=2).z)


@pytest.mark.parametrize("d, n, stratum", [(6, 40, 1), (24, 150, 3)])
def test_pairs_are_uniform_within_a_stratum(d, n, stratum):
    """Each representative subset is drawn with probability n_h / N_h: over 300 designs
    the counts of the first feature's inclusion and of one fixed subset pass binomial
    tests at 1e-3 (both the enumerate-and-permute and the rejection sampler)."""
    alloc = allocate_strata(d, n)
    h, n_h, big_n = alloc.sizes[stratum], alloc.n_sampled[stratum], alloc.n_units[stratum]
    assert n_h < big_n
    hits_feature, hits_subset = 0, 0
    target = np.zeros(d)
    target[:h] = 1
    generator = torch.Generator().manual_seed(0)
    for _ in range(300):
        design = shapley_design(d, n, generator=generator)
        units = design.z[0, 2:].reshape(-1, 2, d)[design.unit_stratum == stratum, 0].numpy()
        hits_feature += units[:, 0].sum()
        hits_subset += np.all(units == target, axis=1).sum()
    p_feature = h / d
    assert stats.binomtest(int(hits_feature), 300 * n_h, p_feature).pvalue > 1e-3
    if big_n < 1000:
        assert stats.binomtest(int(hits_subset), 300, n_h / big_n).pvalue > 1e-3
