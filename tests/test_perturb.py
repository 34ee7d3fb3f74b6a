import math
from itertools import combinations

import numpy as np
import pytest
import torch
from scipy import stats

from probex.perturb import (
    GaussianPerturbation,
    MaskPerturbation,
    PerturbationSet,
    default_kernel_width,
    lime_kernel,
    make_perturbation,
    shapley_kernel,
)


@pytest.fixture
def background():
    return np.random.default_rng(0).normal(loc=[0, 5, -2], scale=[1, 3, 0.5], size=(500, 3))


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def test_gaussian_scheme_maps_z_to_inputs_and_weights(background):
    scheme = GaussianPerturbation(background, scale=1.0)
    x = torch.tensor([0.5, 4.0, -1.0], dtype=torch.float64)
    p = scheme.sample(x, 20_000, gen())
    std = torch.as_tensor(background.std(0))
    torch.testing.assert_close(p.inputs, x + p.z * std)
    assert torch.equal(p.z[0], torch.zeros(3, dtype=torch.float64))  # anchor: x itself
    # z ~ N(0, I): sample moments within 5 standard errors (se of mean 1/sqrt(n), of var sqrt(2/n))
    n = len(p) - 1
    assert p.z[1:].mean(0).abs().max() < 5 / math.sqrt(n)
    assert (p.z[1:].var(0) - 1).abs().max() < 5 * math.sqrt(2 / n)
    width = default_kernel_width(3)
    torch.testing.assert_close(p.weights, torch.exp(-(p.z.norm(dim=1) ** 2) / width**2).sqrt())
    # levels: chi-square CDF of ||z||^2, uniform over draws (KS test)
    assert stats.kstest(p.levels[1:].numpy(), "uniform").pvalue > 1e-3


def test_gaussian_explicit_std_and_no_kernel():
    scheme = GaussianPerturbation(std=1.0, scale=0.3, kernel="none", background=np.zeros((2, 4)))
    p = scheme.sample(torch.zeros(4), 100, gen())
    torch.testing.assert_close(p.inputs, p.z)
    assert torch.all(p.weights == 1.0)


def test_uniform_masks_and_lime_weights(background):
    scheme = MaskPerturbation(background, kernel="lime")
    x = torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64)
    p = scheme.sample(x, 4000, gen())
    assert set(p.z.unique().tolist()) <= {0.0, 1.0}
    assert torch.equal(p.z[0], torch.ones(3, dtype=torch.float64))
    mean = torch.as_tensor(background.mean(0))
    torch.testing.assert_close(p.inputs, p.z * x + (1 - p.z) * mean)
    torch.testing.assert_close(p.levels, 1 - p.z.mean(1))
    expected = lime_kernel((1 - p.z).norm(dim=1), default_kernel_width(3))
    torch.testing.assert_close(p.weights, expected)
    # each bit is Bernoulli(1/2): mean within 5 standard errors
    assert (p.z[1:].mean(0) - 0.5).abs().max() < 5 * 0.5 / math.sqrt(len(p) - 1)


def test_shapley_sampling_follows_the_kernel():
    d, n = 6, 60_000
    scheme = MaskPerturbation(np.zeros((3, d)), kernel="shap")
    p = scheme.sample(torch.zeros(d), n, gen(1))
    assert torch.equal(p.z[0], torch.ones(d, dtype=torch.float64))
    assert torch.equal(p.z[1], torch.zeros(d, dtype=torch.float64))
    sizes = p.z[2:].sum(1).long().numpy()
    assert sizes.min() >= 1 and sizes.max() <= d - 1
    k = np.arange(1, d)
    probs = (d - 1) / (k * (d - k))
    probs /= probs.sum()
    observed = np.bincount(sizes, minlength=d)[1:d]
    assert stats.chisquare(observed, probs * observed.sum()).pvalue > 1e-3
    # given its size, a coalition is uniform: every pair of size 2 equally frequent
    pairs = p.z[2:][sizes == 2]
    counts = [int(((pairs[:, i] == 1) & (pairs[:, j] == 1)).sum()) for i, j in
              combinations(range(d), 2)]
    assert stats.chisquare(counts).pvalue > 1e-3
    assert torch.all(p.weights[2:] == 1.0) and torch.all(p.weights[:2] == scheme.anchor_weight)


def test_shapley_kernel_formula():
    d = 5
    z = torch.tensor([[1, 0, 0, 0, 0], [1, 1, 0, 0, 0], [1, 1, 1, 0, 0], [0] * 5, [1] * 5],
                     dtype=torch.float64)
    expected = [(d - 1) / (math.comb(d, k) * k * (d - k)) for k in (1, 2, 3)]
    torch.testing.assert_close(shapley_kernel(z)[:3], torch.tensor(expected, dtype=torch.float64))
    assert torch.isinf(shapley_kernel(z)[3:]).all()


def test_seeds_and_batches(background):
    scheme = GaussianPerturbation(background)
    x = torch.zeros(3, dtype=torch.float64)
    a, b = scheme.sample(x, 50, gen(3)), scheme.sample(x, 50, gen(3))
    c = scheme.sample(x, 50, gen(4))
    assert torch.equal(a.z, b.z) and not torch.equal(a.z, c.z)
    batch = scheme.sample(torch.zeros(4, 3), 50, gen())
    assert batch.z.shape == (4, 50, 3) and batch.weights.shape == (4, 50)
    joined = PerturbationSet.concat([a, c])
    assert len(joined) == 100 and torch.equal(joined.z[50:], c.z)


def test_scheme_errors(background):
    with pytest.raises(ValueError, match="unknown kernel='gauss'"):
        MaskPerturbation(background, kernel="gauss")
    with pytest.raises(ValueError, match="Shapley kernel needs binary masks"):
        make_perturbation("gaussian", background, "shap")
    with pytest.raises(ValueError, match="unknown perturbation='dropout'"):
        make_perturbation("dropout", background, "lime")
    with pytest.raises(ValueError, match="needs background"):
        GaussianPerturbation()
    with pytest.raises(ValueError, match="unknown replacement='mode'"):
        MaskPerturbation(background, replacement="mode")
    scheme = MaskPerturbation(background)
    with pytest.raises(ValueError, match=r"x must have shape \(3,\)"):
        scheme.sample(torch.zeros(4), 10, gen())
    with pytest.raises(ValueError, match="background contains 1 NaN"):
        GaussianPerturbation(np.array([[np.nan, 1.0], [0.0, 1.0]]))


def test_the_package_keeps_every_name_and_old_import_paths_still_work():
    import probex.perturb as perturb
    from probex.explainers import fex, rise
    from probex.models import fex_policy
    from probex.perturb import groups, levels, schemes

    before = {"PerturbationSet", "Perturbation", "GaussianPerturbation", "MaskPerturbation",
              "lime_kernel", "shapley_kernel", "default_kernel_width", "make_perturbation"}
    assert before <= set(perturb.__all__)
    homes = {**vars(schemes), **vars(levels), **vars(groups)}
    for name in perturb.__all__:
        assert getattr(perturb, name) is homes[name], name
    for module in (fex_policy, fex, rise):
        assert module.FeatureGroups is perturb.FeatureGroups
    ids = perturb.FeatureGroups([[0, 3], [1, 2]], 4).ids.tolist()
    assert ids == [0, 1, 1, 0]


@pytest.mark.parametrize("width", [-1.0, 0.0, float("nan"), "wide"])
def test_a_kernel_width_that_is_not_positive_is_named(width):
    background = np.random.default_rng(0).normal(size=(20, 3))
    with pytest.raises(ValueError, match="kernel_width must be a positive"):
        GaussianPerturbation(background, kernel_width=width)
    with pytest.raises(ValueError, match="kernel_width must be a positive"):
        MaskPerturbation(background, kernel_width=width)
