"""Gradient estimators for LEX's objective, built from the traces of its Pyro program
(:mod:`probex.models.lex`), and one optimisation step of LEX training.

One optimisation step draws L masks per instance from the guide, replays the model on
them and forms a surrogate loss whose gradient is an unbiased (REINFORCE) or pathwise
(relaxed) estimate of -grad J (see :mod:`probex.models.lex`):

* ``"reinforce"`` (score function; Williams, 1992): with rewards
  r_l = log p(y | x, z_l) and the guide's score log q_gamma(z_l | x),

      surrogate = (1/L) sum_l [ r_l + (r_l - b_l).detach() * log q_gamma(z_l | x) ] - lambda R(x).

  The first term trains the predictor; the second is REINFORCE with a control variate
  b_l that must not depend on z_l: ``"loo"`` (leave-one-out mean of the other L - 1
  rewards, Kool et al., 2019; needs L >= 2), ``"average"`` (moving average of the reward),
  ``"network"`` (a network b_psi(x) fitted to the reward by least squares, Pyro's
  ``nn_baseline``), ``"full_input"`` (INVASE's baseline: log p_phi(y | x) from a
  classifier on the full input, fitted by cross-entropy) or ``"none"``. The score
  function comes from Pyro's ``score_parts`` of the guide trace, exactly what
  ``TraceGraph_ELBO`` uses.
* ``"relaxed"`` (Gumbel-softmax / Concrete, optionally straight-through): the masks are
  reparameterised samples, so the surrogate is (1/L) sum_l r_l - lambda R(x), biased by
  the relaxation but with low variance (L2X).

Baselines are ``nn.Module`` s so that their state (weights, moving averages) is saved in
checkpoints with everything else. :func:`selection_step` is one minibatch step (either
phase: EVAL-X pre-training on random masks, or the selector's objective);
:func:`train_selector` runs both phases in the shared checkpointed loop
(:func:`probex.inference.training.train`).
"""

from __future__ import annotations

import dataclasses

import torch
from pyro import poutine
from torch import nn

from probex._checks import check_choice
from probex.inference.training import Phase, TrainingResult, train
from probex.models.lex import LEXModel, expected_log_likelihood
from probex.models.lex_config import BASELINES, ESTIMATORS, LEXConfig
from probex.models.networks import MLP

__all__ = ["Baseline", "make_baseline", "lex_loss", "random_mask_loss", "selection_step",
           "train_selector", "BASELINES", "ESTIMATORS"]


class Baseline(nn.Module):
    """A control variate b for REINFORCE: ``forward(reward, x, target)`` -> (b, loss),
    b broadcastable to the rewards (L, n) and loss a scalar added to the training loss
    (0 for baselines without parameters)."""

    kind = "none"

    def forward(self, reward: torch.Tensor, x: torch.Tensor, target: torch.Tensor):
        return torch.zeros_like(reward), reward.new_zeros(())


class LeaveOneOut(Baseline):
    """b_l = mean of the other L - 1 rewards of the same instance."""

    kind = "loo"

    def forward(self, reward, x, target):
        n_masks = reward.shape[0]
        if n_masks < 2:
            raise ValueError("baseline='loo' needs n_masks >= 2 masks per instance")
        return (reward.sum(0, keepdim=True) - reward) / (n_masks - 1), reward.new_zeros(())


class MovingAverage(Baseline):
    """b = exponential moving average (factor ``beta``) of the batch-mean reward, updated
    after use (a buffer, so it is checkpointed)."""

    kind = "average"

    def __init__(self, beta: float = 0.9):
        super().__init__()
        if not 0 <= beta < 1:
            raise ValueError(f"baseline_beta must be in [0, 1), got {beta}")
        self.beta = float(beta)
        self.register_buffer("value", torch.zeros(()))
        self.register_buffer("started", torch.zeros((), dtype=torch.bool))

    def forward(self, reward, x, target):
        current = self.value.clone() if bool(self.started) else reward.mean().detach()
        with torch.no_grad():
            self.value.copy_(self.beta * current + (1 - self.beta) * reward.mean())
            self.started.fill_(True)
        return current.expand_as(reward), reward.new_zeros(())


class RegressionBaseline(Baseline):
    """b_psi(x): a network from the full input to the expected reward, fitted by least
    squares on the observed rewards (Pyro's ``nn_baseline``)."""

    kind = "network"

    def __init__(self, network: nn.Module):
        super().__init__()
        self.network = network

    def forward(self, reward, x, target):
        b = self.network(x)[..., 0]  # (n,)
        loss = (reward.detach() - b).square().mean()
        return b.detach().expand_as(reward), loss


class FullInputBaseline(Baseline):
    """INVASE's baseline: log p_phi(y | x) from a classifier that sees every feature,
    fitted jointly by cross-entropy."""

    kind = "full_input"

    def __init__(self, network: nn.Module):
        super().__init__()
        self.network = network

    def forward(self, reward, x, target):
        log_lik = expected_log_likelihood(torch.log_softmax(self.network(x), dim=-1), target)
        return log_lik.detach().expand_as(reward), -log_lik.mean()


def make_baseline(kind: str, n_features: int, n_classes: int, hidden=(32,), beta: float = 0.9
                  ) -> Baseline:
    """Build a baseline by name; networks are ReLU MLPs of widths ``hidden``."""
    check_choice("baseline", kind, BASELINES)
    if kind == "loo":
        return LeaveOneOut()
    if kind == "average":
        return MovingAverage(beta)
    if kind == "none":
        return Baseline()
    if kind == "network":
        return RegressionBaseline(MLP(n_features, 1, tuple(hidden)))
    return FullInputBaseline(MLP(n_features, n_classes, tuple(hidden)))


def lex_loss(lex: LEXModel, x: torch.Tensor, target: torch.Tensor, n_masks: int = 1,
             estimator: str = "reinforce", baseline: Baseline | None = None):
    """Surrogate loss of one minibatch and its monitored terms.

    Returns ``(loss, stats)``: ``loss`` a scalar to backpropagate (minus the surrogate
    objective averaged over the batch, plus any baseline loss); ``stats`` floats:
    ``log_lik`` (mean reward), ``objective`` (mean J estimate), ``n_selected`` (mean mask
    size).
    """
    check_choice("estimator", estimator, ESTIMATORS)
    if (estimator == "relaxed") != lex.relaxed:
        raise ValueError(f"estimator={estimator!r} does not match the model "
                         f"(relaxed={lex.relaxed})")
    guide_trace = poutine.trace(lex.guide).get_trace(x, target, n_masks)
    model_trace = poutine.trace(poutine.replay(lex.model, trace=guide_trace)).get_trace(
        x, target, n_masks)
    model_trace.compute_log_prob(site_filter=lambda name, site: name != "z")
    reward = model_trace.nodes["y"]["log_prob"]  # (L, n)
    penalty = (-model_trace.nodes["sparsity"]["log_prob"] if "sparsity" in model_trace.nodes
               else torch.zeros_like(reward[0]))
    surrogate = reward.mean(0) - penalty
    baseline_loss = reward.new_zeros(())
    if estimator == "reinforce":
        guide_trace.compute_score_parts()
        score = guide_trace.nodes["z"]["score_parts"].score_function  # (L, n)
        b, baseline_loss = (baseline or Baseline())(reward.detach(), x, target)
        surrogate = surrogate + (score * (reward.detach() - b)).mean(0)
    loss = -surrogate.mean() + baseline_loss
    z = guide_trace.nodes["z"]["value"]
    stats = {
        "log_lik": float(reward.detach().mean()),
        "objective": float((reward.detach().mean(0) - penalty.detach()).mean()),
        "n_selected": float(z.detach().sum(-1).mean()),
    }
    return loss, stats


def random_mask_loss(lex: LEXModel, x: torch.Tensor, target: torch.Tensor,
                     rate: float = 0.5):
    """EVAL-X / REAL-X predictor pre-training (Jethani et al., 2021): minus the mean
    log p(y | x, z) under masks z_j ~ Bernoulli(rate) drawn independently of x, so the
    predictor learns p(y | x_s) for every subset s. Returns ``(loss, stats)``."""
    if not 0 < rate <= 1:
        raise ValueError(f"pretrain_mask_rate must be in (0, 1], got {rate}")
    z = torch.bernoulli(torch.full_like(x, float(rate)))
    log_lik = expected_log_likelihood(lex.log_predictive(x, z), target)
    return -log_lik.mean(), {"log_lik": float(log_lik.detach().mean()),
                             "objective": float(log_lik.detach().mean()),
                             "n_selected": float(z.sum(-1).mean())}


def selection_step(lex: LEXModel, baseline: Baseline, optimizer: torch.optim.Optimizer,
                   x: torch.Tensor, target: torch.Tensor, *, estimator: str = "reinforce",
                   n_masks: int = 1, train_predictor: bool = True,
                   pretrain_rate: float | None = None) -> dict[str, float]:
    """One optimisation step of LEX on a minibatch: loss, backward, optimizer step.

    Args:
        x: (b, d) rows; target: (b,) labels or (b, C) probabilities.
        train_predictor: whether the predictor's parameters get gradients (False for a
            fixed black box or a frozen EVAL-X predictor).
        pretrain_rate: given, the step is EVAL-X pre-training (:func:`random_mask_loss`
            with masks of this rate; the predictor is trained); else :func:`lex_loss`.

    Returns the stats of :func:`lex_loss` plus ``loss``. A non-finite loss raises
    ``FloatingPointError`` before the parameters are touched.
    """
    pretraining = pretrain_rate is not None
    for p in lex.predictor.parameters():
        p.requires_grad_(pretraining or train_predictor)
    optimizer.zero_grad()
    if pretraining:
        loss, stats = random_mask_loss(lex, x, target, pretrain_rate)
    else:
        loss, stats = lex_loss(lex, x, target, n_masks, estimator, baseline)
    if not torch.isfinite(loss):
        raise FloatingPointError(f"the LEX loss became {float(loss)}; lower learning_rate")
    loss.backward()
    optimizer.step()
    return {**stats, "loss": float(loss.detach())}


def train_selector(lex: LEXModel, baseline: Baseline, X: torch.Tensor, target: torch.Tensor,
                   config: LEXConfig, *, epochs: int, seed: int, predictor: str,
                   fingerprint: dict | None = None, **loop) -> TrainingResult:
    """Fit LEX with Adam: ``config.pretrain_epochs`` of EVAL-X pre-training on random
    masks (network predictors only), then ``epochs`` of the selector's objective.

    Args:
        X: (n, d) rows and target (n,) labels or (n, C) probabilities, on the model's
            device.
        predictor: the resolved kind, ``"fixed"`` (a black box: no pre-training, no
            predictor gradients), ``"joint"`` (trained throughout) or ``"evalx"``
            (pre-trained, then frozen).
        fingerprint: further fingerprint entries; every field of ``config`` and
            ``predictor`` are added here.
        **loop: passed to :func:`probex.inference.training.train` (``checkpoint``,
            ``checkpoint_every``, ``resume``, ``count_queries``, ``setup_queries``,
            ``progress``, ``callback``, ``device``).

    The caller seeds torch's global RNG (masks, imputations).
    """
    c = config
    optimizer = torch.optim.Adam([*lex.parameters(), *baseline.parameters()],
                                 lr=c.learning_rate)

    def step_fn(pretrain_rate=None):
        return lambda step, index: selection_step(
            lex, baseline, optimizer, X[index], target[index], estimator=c.estimator,
            n_masks=c.n_masks, train_predictor=predictor == "joint",
            pretrain_rate=pretrain_rate)

    phases = [Phase(0 if predictor == "fixed" else c.pretrain_epochs,
                    step_fn(c.pretrain_mask_rate), "pretrain"),
              Phase(epochs, step_fn(), "select")]
    return train(phases, data=(X, target), batch_size=c.batch_size, seed=seed,
                 modules={"lex": lex, "baseline": baseline}, optimizer=optimizer,
                 config={**dataclasses.asdict(c), "predictor_kind": predictor,
                         # the units by their feature ids (an object's repr is not stable)
                         "mask_units": (None if lex.selector.units is None
                                        else lex.selector.units.ids),
                         **(fingerprint or {})},
                 name=f"LEX ({c.name})", postfix=("loss", "n_selected"), **loop)
