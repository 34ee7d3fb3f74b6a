"""FEX as a Pyro program: a Bernoulli mask policy (the guide) and a reward (the model).

For an instance x (d features, G mask units) and a class y, the explainer's policy is

    q(m | x, y) = prod_j Bernoulli(m_j; lambda_yj(x)),   lambda = sigmoid(g(x)),

and the reward of a mask is (Pan, Moniz & Chawla, IJCAI 2025)

    c(m, x) = f_y(m * x + (1 - m) * b) / |m|          (reward="ratio")
    c(m, x) = (f_y(m * x + (1 - m) * b) - f_y(b)) / |m|   (reward="gain")

where masked-out features take the baseline b (the background mean by default, as in
:class:`probex.perturb.MaskPerturbation`), |m| is the number of kept units and f_y is
the black box's probability of class y, from any function of (m, d) inputs returning
(m, K) probabilities (e.g. :meth:`probex.BlackBox.predict`, which counts the queries).
An empty mask keeps nothing: "ratio" divides by max(|m|, 1), "gain" gives it reward 0.

The model puts a uniform Bernoulli(1/2) prior on the mask and adds the reward as a
factor ``scale * c(m, x)``; with ``scale = 1 / tau`` the ELBO of the guide is

    ELBO = (E_q[c(m, x)] + tau * H(q)) / tau - G log 2,    H(q) = sum_j H(lambda_j),

the expected reward plus an entropy bonus of coefficient tau (the Bernoulli(1/2) prior
turns -KL(q || prior) into the entropy). A score-function estimate of its gradient with
Pyro's neural baseline (``TraceGraph_ELBO``) is the plain REINFORCE comparison to PPO
(:mod:`probex.inference.policy_gradient`).

Masks carry two plates: ``steps`` (dim -2, the trajectory length s: masks drawn per
instance per update) and ``instances`` (dim -1). Shapes: x (n, d), targets (n,),
masks (s, n, G), rewards (s, n).
"""

from __future__ import annotations

import itertools

import pyro
import pyro.distributions as dist
import torch
from pyro import poutine
from pyro.ops.provenance import detach_provenance, get_provenance, track_provenance
from torch import nn

from probex._checks import check_choice
from probex.models.fex_policy import FeatureGroups, policy_logits

__all__ = ["MaskReward", "FEXProgram", "all_masks", "exact_objective"]

_REWARDS = ("ratio", "gain")


class MaskReward:
    """The reward c(m, x) of keeping mask units m of instances x (see module docstring).

    Args:
        predict: the model's class probabilities, inputs (m, d) float64 -> (m, K) (e.g.
            :meth:`probex.BlackBox.predict`); every reward evaluation calls it once, on
            one row per mask.
        baseline: (d,) replacement values of masked-out features.
        groups: the mask units.
        kind: ``"ratio"`` or ``"gain"``.
    """

    def __init__(self, predict, baseline: torch.Tensor, groups: FeatureGroups,
                 kind: str = "ratio"):
        check_choice("reward", kind, _REWARDS)
        if not callable(predict):
            raise TypeError("predict must be a function of inputs (m, d) returning (m, K) "
                            f"class probabilities, got {type(predict).__name__}")
        self.predict = predict
        self.baseline = baseline.to(torch.float64)
        self.groups = groups
        self.kind = kind
        self._baseline_probs: torch.Tensor | None = None

    def masked_inputs(self, masks: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """Model inputs m * x + (1 - m) * b: masks (..., n, G), x (n, d) -> (..., n, d)."""
        keep = self.groups.expand(masks.to(torch.float64))
        x = x.to(torch.float64)
        baseline = self.baseline.to(x.device)
        return keep * x + (1.0 - keep) * baseline

    def probabilities(self, masks: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """The black box's class probabilities at the masked inputs, (..., n, K)."""
        inputs = self.masked_inputs(masks, x)
        probs = torch.as_tensor(self.predict(inputs.reshape(-1, inputs.shape[-1])))
        return probs.reshape(*inputs.shape[:-1], probs.shape[-1])

    def baseline_probabilities(self) -> torch.Tensor:
        """f(b), the model's probabilities at the baseline (one query, then cached), (K,)."""
        if self._baseline_probs is None:
            self._baseline_probs = torch.as_tensor(self.predict(self.baseline[None]))[0]
        return self._baseline_probs

    def __call__(self, masks: torch.Tensor, x: torch.Tensor, targets: torch.Tensor
                 ) -> torch.Tensor:
        """c(m, x) for masks (..., n, G), instances (n, d), classes (n,) -> (..., n)."""
        probs = self.probabilities(masks, x)
        index = targets.to(probs.device).expand(probs.shape[:-1]).unsqueeze(-1)
        f_y = probs.gather(-1, index).squeeze(-1)
        size = masks.to(torch.float64).sum(-1).to(f_y.device)
        if self.kind == "ratio":
            return f_y / size.clamp_min(1.0)
        gain = f_y - self.baseline_probabilities().to(f_y.device)[targets.to(f_y.device)]
        return torch.where(size > 0, gain / size.clamp_min(1.0), torch.zeros_like(gain))


class FEXProgram:
    """The policy network as a Pyro guide and the reward as a factor in a Pyro model.

    Args:
        policy: g, (n, d) -> logits (n, K, G).
        value: v, (n, d) -> (n, K), the baseline of each class head (``None`` for
            estimators that need none, e.g. the local-expectation gradient).
        reward: a :class:`MaskReward` (or any callable with its signature).
        n_classes, n_groups: K and G.
        name: prefix of the Pyro param names (one per explainer object).
        reward_scale: the factor's multiplier (1 / tau for the entropy-regularised ELBO).
    """

    def __init__(self, policy: nn.Module, value: nn.Module | None, reward, n_classes: int,
                 n_groups: int, name: str = "fex", reward_scale: float = 1.0):
        self.policy, self.value, self.reward = policy, value, reward
        self.n_classes, self.n_groups = int(n_classes), int(n_groups)
        self.name = name
        self.reward_scale = float(reward_scale)

    # ------------------------------------------------------------------ networks
    def networks(self) -> dict:
        """The trained networks by name: the policy, and the value network if any."""
        modules = {"policy": self.policy}
        if self.value is not None:
            modules["value"] = self.value
        return modules

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """All class heads' mask logits, (n, K, G)."""
        return policy_logits(self.policy, x, self.n_classes, self.n_groups)

    def target_logits(self, x: torch.Tensor, targets: torch.Tensor,
                      logits: torch.Tensor | None = None) -> torch.Tensor:
        """Logits of each instance's own class head, (n, G)."""
        logits = self.logits(x) if logits is None else logits
        index = targets.to(logits.device).view(-1, 1, 1).expand(-1, 1, logits.shape[-1])
        return logits.gather(1, index).squeeze(1)

    def values(self, x: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """v(x) for each instance's class, (n,)."""
        out = self.value(x)
        return out.gather(1, targets.to(out.device).view(-1, 1)).squeeze(1)

    def _baseline(self, x: torch.Tensor, targets: torch.Tensor, steps: int) -> torch.Tensor:
        """reward_scale * v(x) in the shape of the mask's downstream cost: (n,) for one
        step (Pyro sums a size-1 plate away), else (steps, n)."""
        values = self.reward_scale * self.values(x, targets)
        return values if steps == 1 else values.expand(steps, -1)

    # ------------------------------------------------------------------ Pyro program
    def guide(self, x: torch.Tensor, targets: torch.Tensor, steps: int = 1,
              baseline: bool = False, logits: torch.Tensor | None = None) -> torch.Tensor:
        """q(m | x, y): ``steps`` masks per instance at site ``"mask"``, (steps, n, G).

        ``baseline=True`` attaches ``reward_scale * v(x)`` as Pyro's ``nn_baseline`` of the
        site (the mask's downstream cost is in the factor's units).
        """
        pyro.module(f"{self.name}.policy", self.policy)
        head = self.target_logits(x, targets, logits)
        infer = {}
        if baseline:
            pyro.module(f"{self.name}.value", self.value)
            infer = {"baseline": {"nn_baseline": lambda inputs: self._baseline(inputs, targets,
                                                                               steps),
                                  "nn_baseline_input": x}}
        with pyro.plate("steps", steps, dim=-2), pyro.plate("instances", x.shape[0], dim=-1):
            return pyro.sample("mask", dist.Bernoulli(logits=head).to_event(1), infer=infer)

    def model(self, x: torch.Tensor, targets: torch.Tensor, steps: int = 1,
              baseline: bool = False, logits: torch.Tensor | None = None) -> torch.Tensor:
        """Uniform mask prior; the reward enters as the factor ``reward_scale * c(m, x)``
        and is recorded at the deterministic site ``"reward"``, (steps, n)."""
        n = x.shape[0]
        prior = torch.full((n, self.n_groups), 0.5, dtype=x.dtype, device=x.device)
        with pyro.plate("steps", steps, dim=-2), pyro.plate("instances", n, dim=-1):
            masks = pyro.sample("mask", dist.Bernoulli(prior).to_event(1))
            # the black box is opaque to provenance tracking (numpy, no_grad): the reward
            # depends on the mask site, which TraceGraph_ELBO must know to use it as the
            # mask's downstream cost
            value = self.reward(detach_provenance(masks), x, targets).to(x.dtype)
            value = track_provenance(value, get_provenance(masks))
            pyro.deterministic("reward", value)
            pyro.factor("reward_factor", self.reward_scale * value)
        return value

    def rollout(self, x: torch.Tensor, targets: torch.Tensor, steps: int
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Draw masks from the guide and score them with the model (no gradients).

        Returns masks (s, n, G), their log q (s, n) and rewards (s, n).
        """
        with torch.no_grad():
            guide_trace = poutine.trace(self.guide).get_trace(x, targets, steps)
            model_trace = poutine.trace(poutine.replay(self.model, trace=guide_trace)
                                        ).get_trace(x, targets, steps)
            site = guide_trace.nodes["mask"]
            masks = site["value"]
            log_q = site["fn"].log_prob(masks)
            rewards = detach_provenance(model_trace.nodes["reward"]["value"])
        return masks, log_q, rewards

    def log_prob_and_entropy(self, x: torch.Tensor, targets: torch.Tensor,
                             masks: torch.Tensor, logits: torch.Tensor | None = None
                             ) -> tuple[torch.Tensor, torch.Tensor]:
        """log q(m | x, y) of given masks (s, n) through the guide, and the entropy of the
        policy's mask distribution at each row, sum_j H(lambda_j) (nats), (s, n)."""
        conditioned = poutine.condition(self.guide, data={"mask": masks})
        trace = poutine.trace(conditioned).get_trace(x, targets, masks.shape[0], logits=logits)
        fn = trace.nodes["mask"]["fn"]
        entropy = fn.base_dist.entropy().sum(-1).expand(masks.shape[:-1])
        return fn.log_prob(masks), entropy


def all_masks(n_units: int, dtype=torch.float64) -> torch.Tensor:
    """Every binary mask over ``n_units`` units, (2^G, G), in lexicographic order."""
    if not 0 < n_units <= 20:
        raise ValueError(f"enumerating masks needs 1 <= G <= 20 units, got {n_units}")
    return torch.tensor(list(itertools.product((0.0, 1.0), repeat=n_units)), dtype=dtype)


def exact_objective(logits: torch.Tensor, masks: torch.Tensor, rewards: torch.Tensor,
                    entropy_coef: float = 0.0) -> torch.Tensor:
    """E_q[c(m)] + tau * sum_j H(lambda_j), by enumeration over all masks.

    Args:
        logits: (G,) policy logits of one instance (differentiable).
        masks: (2^G, G) from :func:`all_masks`; rewards: (2^G,) c of each mask.

    Autograd of the result is the exact policy gradient that PPO and the score-function
    ELBO estimate.
    """
    log_q = dist.Bernoulli(logits=logits).log_prob(masks.to(logits.dtype)).sum(-1)
    expected = (log_q.exp() * rewards.to(logits.dtype)).sum()
    entropy = dist.Bernoulli(logits=logits).entropy().sum()
    return expected + entropy_coef * entropy
