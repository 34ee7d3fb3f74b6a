"""The local-expectation gradient of FEX's mask policy against exact enumeration."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import probex as px
from probex.inference.fex_local_gradient import (
    flipped_masks,
    local_differences,
    local_expectation_surrogate,
    normalise_differences,
)
from probex.models.fex import MaskReward, all_masks, exact_objective
from probex.models.fex_policy import FeatureGroups

G, N = 4, 3


class TableReward:
    """c(m) for instance i read from a (2^G, n) table (rows in all_masks order)."""

    def __init__(self, table):
        self.table = table
        self.weights = 2.0 ** torch.arange(G - 1, -1, -1, dtype=torch.float64)

    def __call__(self, masks, x, targets):
        index = (masks.to(torch.float64) @ self.weights).long()  # (..., n)
        columns = torch.arange(self.table.shape[1]).expand(index.shape)
        return self.table[index, columns]


def test_flips_change_exactly_one_unit():
    masks = torch.bernoulli(torch.full((2, N, G), 0.5), generator=torch.Generator().manual_seed(0))
    out = flipped_masks(masks)
    assert out.shape == (2, G + 1, N, G)
    assert torch.equal(out[:, 0], masks)
    changed = (out[:, 1:] != masks[:, None]).sum(-1)  # (s, G, n)
    assert torch.all(changed == 1)
    for j in range(G):
        assert torch.all(out[:, 1 + j, :, j] == 1 - masks[:, :, j])
    with pytest.raises(ValueError, match="masks must have shape"):
        flipped_masks(masks[0])


def test_expected_estimate_equals_the_exact_policy_gradient():
    """Averaging lambda (1 - lambda) Delta over every mask, weighted by q(m), gives the
    gradient of E_q[c] that autograd computes by enumeration (float64, exact)."""
    rng = torch.Generator().manual_seed(1)
    table = torch.rand(2 ** G, N, generator=rng, dtype=torch.float64)
    logits = torch.randn(N, G, generator=rng, dtype=torch.float64)
    masks = all_masks(G)  # (2^G, G)
    reward = TableReward(table)
    every = masks[:, None, :].expand(-1, N, -1).contiguous()  # every mask for every row
    differences, base = local_differences(reward, every, torch.zeros(N, 1),
                                          torch.zeros(N, dtype=torch.long))
    assert torch.allclose(base, table)
    lam = torch.sigmoid(logits)
    q = torch.exp((every * torch.log(lam) + (1 - every) * torch.log1p(-lam)).sum(-1))  # (2^G, n)
    expected = lam * (1 - lam) * (q[..., None] * differences).sum(0)  # (n, G)
    for i in range(N):
        leaf = logits[i].clone().requires_grad_(True)
        exact = torch.autograd.grad(exact_objective(leaf, masks, table[:, i]), leaf)[0]
        assert torch.allclose(expected[i], exact, atol=1e-12), (expected[i], exact)
    # the surrogate turns the (exact) mean difference into that gradient, averaged over n
    leaf = logits.clone().requires_grad_(True)
    mean_difference = (q[..., None] * differences).sum(0, keepdim=True)
    grad = torch.autograd.grad(local_expectation_surrogate(leaf, mean_difference), leaf)[0]
    assert torch.allclose(-grad * N, expected, atol=1e-12)


def test_sampled_estimate_is_unbiased_within_monte_carlo_error():
    """s masks drawn from q: the mean of lambda (1 - lambda) Delta lies within 5 standard
    errors of the exact gradient for every instance and unit."""
    rng = torch.Generator().manual_seed(2)
    table = torch.rand(2 ** G, N, generator=rng, dtype=torch.float64)
    logits = torch.randn(N, G, generator=rng, dtype=torch.float64)
    lam = torch.sigmoid(logits)
    draws = torch.bernoulli(lam.expand(4000, N, G), generator=rng)
    differences, _ = local_differences(TableReward(table), draws, torch.zeros(N, 1),
                                       torch.zeros(N, dtype=torch.long))
    estimate = lam * (1 - lam) * differences  # (s, n, G)
    masks = all_masks(G)
    for i in range(N):
        leaf = logits[i].clone().requires_grad_(True)
        exact = torch.autograd.grad(exact_objective(leaf, masks, table[:, i]), leaf)[0]
        se = estimate[:, i].std(0) / np.sqrt(estimate.shape[0])
        assert torch.all((estimate[:, i].mean(0) - exact).abs() <= 5 * se + 1e-12)


def test_black_box_queries_are_g_plus_one_per_mask():
    X = np.random.default_rng(0).normal(size=(5, G))
    bb = px.BlackBox(lambda Z: 1.0 / (1.0 + np.exp(-Z.sum(1))), n_features=G)
    reward = MaskReward(bb.predict, torch.zeros(G, dtype=torch.float64), FeatureGroups(None, G))
    masks = torch.bernoulli(torch.full((3, 5, G), 0.5, dtype=torch.float64),
                            generator=torch.Generator().manual_seed(0))
    before = bb.n_queries
    differences, base = local_differences(reward, masks, torch.as_tensor(X),
                                          torch.ones(5, dtype=torch.long))
    assert bb.n_queries - before == 3 * 5 * (G + 1)
    assert differences.shape == (3, 5, G) and base.shape == (3, 5)
    # with the ratio reward an added unit changes c by (f(m + j) - f(m) (|m|+1)/|m|)/(|m|+1):
    # check one entry against a direct evaluation
    m = masks[0, 0].clone()
    m[0] = 1.0
    on = reward(m[None, None].expand(1, 5, G), torch.as_tensor(X), torch.ones(5, dtype=torch.long))
    m[0] = 0.0
    off = reward(m[None, None].expand(1, 5, G), torch.as_tensor(X), torch.ones(5, dtype=torch.long))
    assert torch.allclose(differences[0, 0, 0], (on - off)[0, 0])


def test_normalised_differences_have_unit_mean_absolute_value_per_instance():
    rng = torch.Generator().manual_seed(3)
    differences = torch.randn(6, N, G, generator=rng) * torch.tensor([0.01, 1.0, 50.0])[:, None]
    scaled = normalise_differences(differences)
    mean_abs = differences.abs().mean(dim=(0, 2))
    assert torch.allclose(scaled.abs().mean(dim=(0, 2)), mean_abs / (mean_abs + 1e-6))
    assert torch.allclose(scaled.abs().mean(dim=(0, 2)), torch.ones(N), rtol=1e-3)
    # the ranking of units within an instance is unchanged
    assert torch.equal(scaled.mean(0).argsort(-1), differences.mean(0).argsort(-1))


def test_training_with_the_local_gradient_recovers_the_relevant_units():
    """A policy trained by the local-expectation surrogate plus an entropy bonus ranks the
    three features that decide the class first (chance recall of a random top 3 of 8 is
    3/8)."""
    from probex.models.fex_policy import PolicyMLP

    d, relevant = 8, [1, 4, 6]
    rng = np.random.default_rng(0)

    def rows(n):
        sign = rng.choice([-1.0, 1.0], size=n)
        X = rng.normal(size=(n, d))
        X[:, relevant] = sign[:, None] * np.abs(rng.normal(1.0, 0.5, size=(n, 3)))
        return torch.as_tensor(X, dtype=torch.float32)

    def model(Z):
        return 1.0 / (1.0 + np.exp(-2.0 * Z[:, relevant].sum(1)))

    bb = px.BlackBox(model, n_features=d)
    reward = MaskReward(bb.predict, torch.zeros(d, dtype=torch.float64), FeatureGroups(None, d))
    X, X_test = rows(256), rows(100)
    targets = bb.predict(X).argmax(-1)
    torch.manual_seed(0)
    policy = PolicyMLP(d, 2, d, (32,))
    optimizer = torch.optim.Adam(policy.parameters(), lr=3e-3)
    generator = torch.Generator().manual_seed(0)
    for _ in range(150):
        index = torch.randperm(256, generator=generator)[:32]
        x, y = X[index], targets[index]
        head = policy(x)[torch.arange(len(index)), y]  # (n, G)
        masks = torch.bernoulli(torch.sigmoid(head.detach()).double()[None], generator=generator)
        differences, _ = local_differences(reward, masks, x, y)
        scaled = normalise_differences(differences).float()
        entropy = torch.distributions.Bernoulli(logits=head).entropy().sum(-1).mean()
        loss = local_expectation_surrogate(head, scaled) - 1.0 * entropy
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        test_targets = bb.predict(X_test).argmax(-1)
        lam = torch.sigmoid(policy(X_test)[torch.arange(100), test_targets])
    top = lam.argsort(-1, descending=True)[:, :3].numpy()
    recall = np.mean([len(set(row) & set(relevant)) / 3 for row in top])
    assert recall >= 0.9, recall


class _TablePolicy(torch.nn.Module):
    """Free logits (n, K, G), one row per instance (the instances are row indices)."""

    def __init__(self, logits):
        super().__init__()
        self.logits = torch.nn.Parameter(logits.clone())

    def forward(self, x):
        return self.logits[x[:, 0].long()]


def test_one_update_moves_the_logits_by_the_normalised_local_gradient():
    """With an additive reward c(m) = w . m every unit flip changes c by w_j, whatever the
    mask: one SGD step (lr 1) of local_update moves logit j of instance i by exactly
    lambda (1 - lambda) (w_ij / mean_j |w_ij| - tau * l_ij) / n (the entropy's gradient is
    -l lambda (1 - lambda)), and costs s * n * (G + 1) reward rows."""
    from probex.inference.fex_local_gradient import local_update
    from probex.inference.policy_gradient import FEXSettings
    from probex.models.fex import FEXProgram

    n, k, s, tau = 3, 2, 2, 0.3
    rng = torch.Generator().manual_seed(4)
    w = torch.randn(n, G, generator=rng, dtype=torch.float64)
    logits = torch.randn(n, k, G, generator=rng, dtype=torch.float64)
    rows = []

    def reward(masks, x, targets):
        rows.append(masks.reshape(-1, G).shape[0])
        return (masks * w).sum(-1)

    program = FEXProgram(_TablePolicy(logits), None, reward, k, G)
    x = torch.arange(n, dtype=torch.float64)[:, None]
    targets = torch.tensor([1, 0, 1])
    settings = FEXSettings(trajectory_length=s, ppo_epochs=1, entropy_coef=tau, kl_coef=0.0,
                           max_grad_norm=None)
    optimizer = torch.optim.SGD(program.policy.parameters(), lr=1.0)
    stats = local_update(program, optimizer, x, targets, torch.full((n, k), 0.5), settings)
    head = logits[torch.arange(n), targets]
    lam = torch.sigmoid(head)
    scale = w.abs().mean(-1, keepdim=True)
    expected = head + lam * (1 - lam) * (w / (scale + 1e-6) - tau * head) / n
    moved = program.policy.logits.detach()[torch.arange(n), targets]
    assert torch.allclose(moved, expected, atol=1e-12)
    other = program.policy.logits.detach()[torch.arange(n), 1 - targets]  # untouched heads
    assert torch.equal(other, logits[torch.arange(n), 1 - targets])
    assert rows == [s * (G + 1) * n]
    assert stats["mean_abs_delta"] == pytest.approx(float(w.abs().mean()))
