"""FEX's Pyro program and training objectives against exact answers by enumeration."""

from __future__ import annotations

import math

import numpy as np
import pyro
import pytest
import torch
from pyro.infer import TraceGraph_ELBO
from torch import nn

import probex as px
from probex.inference.policy_gradient import FEXSettings, ppo_objective
from probex.models.fex import FEXProgram, MaskReward, all_masks, exact_objective
from probex.models.fex_policy import (
    FeatureGroups,
    PolicyCNN,
    PolicyMLP,
    ValueMLP,
    build_policy,
    kl_to_model,
    policy_class_probabilities,
)

G = 4  # mask units in the enumeration checks: 16 masks
K = 2
WEIGHTS = np.array([1.5, -0.5, 0.8, 0.1])


def _linear_blackbox():
    """P(class 1) = sigmoid(w . x) on 4 features; x = 1 and baseline 0 below."""
    return px.BlackBox(lambda X: 1.0 / (1.0 + np.exp(-(X @ WEIGHTS))), n_features=G)


class TablePolicy(nn.Module):
    """A fixed policy: the same logits (1, K, G) for every input."""

    def __init__(self, logits):
        super().__init__()
        self.logits = nn.Parameter(torch.as_tensor(logits, dtype=torch.float64).reshape(1, K, G))

    def forward(self, x):
        return self.logits.expand(x.shape[0], -1, -1)


class ConstantValue(nn.Module):
    def __init__(self, value: float):
        super().__init__()
        self.value = nn.Parameter(torch.full((K,), value, dtype=torch.float64))

    def forward(self, x):
        return self.value.expand(x.shape[0], -1)


LOGITS = [[0.0, 0.0, 0.0, 0.0], [0.4, -0.7, 1.1, 0.2]]  # class 1's head is explained


def _program(reward_kind="ratio", reward_scale=1.0, value=0.0):
    bb = _linear_blackbox()
    reward = MaskReward(bb.predict, torch.zeros(G, dtype=torch.float64),
                        FeatureGroups(None, G), reward_kind)
    program = FEXProgram(TablePolicy(LOGITS), ConstantValue(value), reward, K, G,
                         reward_scale=reward_scale)
    return program, bb


def _exact_gradient(program, tau):
    """d/d(logits of class 1) of E_q[c] + tau * H(q), by enumerating all 16 masks."""
    masks = all_masks(G)
    x, target = torch.ones(1, G, dtype=torch.float64), torch.ones(1, dtype=torch.long)
    rewards = program.reward(masks[:, None, :], x, target)[:, 0]
    logits = program.policy.logits
    objective = exact_objective(logits[0, 1], masks, rewards, tau)
    return torch.autograd.grad(objective, logits)[0][0, 1], objective, rewards


def _inputs(n):
    return torch.ones(n, G, dtype=torch.float64), torch.ones(n, dtype=torch.long)


# ---------------------------------------------------------------------- groups and networks
def test_feature_groups_patches_lists_and_errors():
    patches = FeatureGroups.image_patches(4, 4, 2)
    assert patches.n_groups == 4
    assert patches.ids.reshape(4, 4).tolist() == [[0, 0, 1, 1], [0, 0, 1, 1],
                                                  [2, 2, 3, 3], [2, 2, 3, 3]]
    assert patches.sizes.tolist() == [4.0] * 4
    lists = FeatureGroups([[2, 0], [1]], 3)
    assert lists.ids.tolist() == [0, 1, 0]
    values = torch.tensor([[10.0, 20.0]])
    assert lists.expand(values).tolist() == [[10.0, 20.0, 10.0]]
    assert lists.pool(torch.tensor([[1.0, 2.0, 3.0]], dtype=torch.float64)).tolist() == [[4.0, 2.0]]
    assert FeatureGroups(np.array([7, 3, 7]), 3).ids.tolist() == [1, 0, 1]
    with pytest.raises(ValueError, match="overlaps"):
        FeatureGroups([[0, 1], [1, 2]], 3)
    with pytest.raises(ValueError, match="in no group"):
        FeatureGroups([[0, 1]], 3)
    with pytest.raises(ValueError, match="integer group ids"):
        FeatureGroups([0, 1], 3)
    with pytest.raises(ValueError, match="does not tile"):
        FeatureGroups.image_patches(8, 8, 3)


def test_policies_start_at_one_half_and_check_shapes():
    groups = FeatureGroups.image_patches(8, 8, 2)
    x = torch.randn(5, 64)
    for policy in (PolicyMLP(64, 10, groups.n_groups), PolicyCNN(8, 8, 10, groups)):
        logits = policy(x)
        assert logits.shape == (5, 10, 16)
        assert torch.allclose(torch.sigmoid(logits), torch.full_like(logits, 0.5))
    assert ValueMLP(64, 10)(x).shape == (5, 10)
    with pytest.raises(ValueError, match="image_shape"):
        build_policy("cnn", 60, 10, FeatureGroups(None, 60))
    with pytest.raises(ValueError, match="unknown explainer"):
        build_policy("transformer", 64, 10, groups)


def test_kl_tie_is_zero_exactly_when_policy_matches_model():
    # logits a_k with log sigmoid(a_k) = log f_k - 1 make softmax(mean log g) = f exactly
    f = torch.tensor([[0.7, 0.2, 0.1]], dtype=torch.float64)
    target_log_g = torch.log(f) - 1.0
    a = torch.log(torch.exp(target_log_g) / (1 - torch.exp(target_log_g)))
    logits = a[..., None].expand(1, 3, 5)
    assert torch.allclose(policy_class_probabilities(logits), f)
    assert float(kl_to_model(logits, f)) == pytest.approx(0.0, abs=1e-12)
    other = torch.tensor([[0.2, 0.5, 0.3]], dtype=torch.float64)
    expected = float((f * (f / other).log()).sum())
    assert float(kl_to_model(logits, other)) == pytest.approx(expected, rel=1e-10)


# ---------------------------------------------------------------------- reward
def test_reward_values_and_query_count():
    program, bb = _program("ratio")
    masks = torch.tensor([[1.0, 0.0, 1.0, 0.0], [0.0, 0.0, 0.0, 0.0]], dtype=torch.float64)
    x, _ = _inputs(1)
    target = torch.ones(1, dtype=torch.long)
    before = bb.n_queries
    ratio = program.reward(masks[:, None, :], x, target)[:, 0]
    assert bb.n_queries - before == 2
    sigmoid = lambda z: 1 / (1 + math.exp(-z))  # noqa: E731
    assert ratio.tolist() == pytest.approx([sigmoid(1.5 + 0.8) / 2, sigmoid(0.0) / 1])
    gain = MaskReward(bb.predict, torch.zeros(G, dtype=torch.float64), FeatureGroups(None, G),
                      "gain")
    assert gain(masks[:, None, :], x, target)[:, 0].tolist() == pytest.approx(
        [(sigmoid(2.3) - 0.5) / 2, 0.0])
    class0 = program.reward(masks[:1, None, :], x, torch.zeros(1, dtype=torch.long))
    assert float(class0) == pytest.approx((1 - sigmoid(2.3)) / 2)


def test_rollout_expected_reward_matches_enumeration():
    program, bb = _program("ratio")
    _, exact_mean, _ = _exact_gradient(program, tau=0.0)
    n, steps = 2000, 5
    x, targets = _inputs(n)
    before = bb.n_queries
    masks, log_q, rewards = program.rollout(x, targets, steps)
    assert masks.shape == (steps, n, G) and rewards.shape == (steps, n)
    assert bb.n_queries - before == n * steps
    # log q of each drawn mask against the Bernoulli formula
    lam = torch.sigmoid(torch.tensor(LOGITS[1], dtype=torch.float64))
    manual = (masks * lam.log() + (1 - masks) * (1 - lam).log()).sum(-1)
    assert torch.allclose(log_q, manual)
    # Monte Carlo mean of 10,000 iid rewards: 4 standard errors
    se = float(rewards.std()) / math.sqrt(rewards.numel())
    assert abs(float(rewards.mean()) - float(exact_mean.detach())) < 4 * se


# ---------------------------------------------------------------------- gradients
def _repeat_estimates(estimate, repeats):
    values = torch.stack([estimate(seed) for seed in range(repeats)])
    return values.mean(0), values.std(0) / math.sqrt(repeats)


def test_score_function_elbo_gradient_matches_enumeration():
    tau = 0.2
    program, _ = _program("ratio", reward_scale=1 / tau, value=0.3)
    exact, _, _ = _exact_gradient(program, tau)
    n = 3000
    x, targets = _inputs(n)

    def estimate(seed):
        pyro.set_rng_seed(seed)
        program.policy.zero_grad()
        with pyro.get_param_store().scope():
            TraceGraph_ELBO(max_plate_nesting=2).loss_and_grads(
                program.model, program.guide, x, targets, 1, True)
        # the ELBO is (E[c] + tau H) / tau per row (plus a constant), summed over n rows
        return -program.policy.logits.grad[0, 1] * tau / n

    mean, se = _repeat_estimates(estimate, 10)
    # 10 independent estimates: their mean is within 4 standard errors of the exact value
    assert torch.all((mean - exact).abs() < 4 * se + 1e-4), (mean, exact, se)
    assert float(exact.abs().max()) > 10 * float(se.max())  # the check has power


def test_ppo_gradient_at_the_rollout_policy_matches_enumeration():
    """With ratio = 1 (first PPO epoch) and raw advantages c - v(x), the clipped
    objective's gradient is the REINFORCE estimate of -grad(E[c] + tau H)."""
    tau = 0.05
    program, _ = _program("gain", value=0.05)
    exact, _, _ = _exact_gradient(program, tau)
    settings = FEXSettings(entropy_coef=tau, kl_coef=0.0, normalize_advantages=False)
    n, steps = 1000, 3
    x, targets = _inputs(n)
    probs = torch.tensor([[0.5, 0.5]], dtype=torch.float64).expand(n, -1)

    def estimate(seed):
        torch.manual_seed(seed)
        masks, log_q, rewards = program.rollout(x, targets, steps)
        adv = rewards - program.values(x, targets).detach()
        loss, _ = ppo_objective(program, x, targets, masks, log_q, rewards, adv, probs,
                                settings)
        return -torch.autograd.grad(loss, program.policy.logits)[0][0, 1]

    mean, se = _repeat_estimates(estimate, 10)
    assert torch.all((mean - exact).abs() < 4 * se + 1e-4), (mean, exact, se)
    assert float(exact.abs().max()) > 10 * float(se.max())


def test_settings_validate():
    with pytest.raises(ValueError, match="entropy_coef > 0"):
        FEXSettings(objective="elbo", entropy_coef=0.0)
    with pytest.raises(ValueError, match="unknown objective"):
        FEXSettings(objective="a2c")
    with pytest.raises(ValueError, match="clip"):
        FEXSettings(clip=1.5)
