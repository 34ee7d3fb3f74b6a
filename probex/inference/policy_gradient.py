"""Policy-gradient updates of FEX's mask policy: the local-expectation gradient (the
default), PPO's clipped objective, or the score-function ELBO (the program is
:class:`probex.models.fex.FEXProgram`).

The local-expectation gradient (:func:`probex.inference.fex_local_gradient.local_update`)
queries each drawn mask and its G single-unit flips, which gives every unit's credit
without the other units' noise; the policy is then pulled up that signal, normalised per
instance, with an entropy bonus and the class tie below. On small tabular models it
reaches faithful policies where PPO's score-function estimate stalls (FEX diagnosis,
issue 17).

PPO (Schulman et al., 2017) on the one-step mask "environment": for a batch of n
instances, draw s masks each from the current policy (the trajectory length s), score
them with the reward, then take ``ppo_epochs`` gradient steps on

    L = -mean min(r A, clip(r, 1 - eps, 1 + eps) A)          (clipped surrogate, eps=0.2)
        + c_v mean (v(x) - c(m, x))^2                          (value baseline)
        - c_H sum_j H(lambda_j)                                (entropy bonus)
        + c_KL KL(softmax_k(mean_j log g_kj(x)) || f(x))       (class tie)

with r = q_new(m | x) / q_old(m | x) and advantage A = c(m, x) - v_old(x) (normalised
over the batch by default). Each episode is a single action, so the return is the reward.

The ELBO alternative (:class:`FEXProgram` with ``reward_scale = 1 / c_H``) takes one step
of Pyro's ``TraceGraph_ELBO`` per batch: REINFORCE with v(x) as ``nn_baseline``, no
clipping, no reuse of the masks; the same KL term is added.

:func:`policy_update` is one training step of any kind; :func:`train_policy` runs it in
the shared checkpointed loop (:func:`probex.inference.training.train`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import torch
from pyro import poutine
from pyro.infer import TraceGraph_ELBO
from pyro.ops.provenance import detach_provenance

from probex._checks import check_choice
from probex.inference.fex_local_gradient import local_update
from probex.inference.training import Phase, TrainingResult, geometric_decay, train
from probex.models.fex import FEXProgram
from probex.models.fex_policy import kl_to_model

__all__ = ["FEXSettings", "OBJECTIVES", "ppo_objective", "ppo_update", "elbo_update",
           "advantages", "policy_update", "train_policy"]

#: FEX's training objectives: the local-expectation gradient, PPO, the score-function ELBO.
OBJECTIVES = ("local", "ppo", "elbo")

#: Per-objective defaults: (trajectory_length, entropy_coef, kl_coef). The local
#: gradient's entropy weight is a temperature in units of each row's mean unit effect; PPO
#: weighs entropy against standardised advantages; the ELBO's is the reward temperature.
_DEFAULTS = {"local": (1, 1.0, 0.5), "ppo": (5, 0.5, 0.5), "elbo": (5, 0.05, 0.2)}


@dataclass(frozen=True)
class FEXSettings:
    """Hyper-parameters of FEX training.

    Attributes:
        objective: ``"local"`` (local-expectation gradient: each mask and its G unit
            flips), ``"ppo"`` or ``"elbo"`` (score function with Pyro's neural baseline).
        trajectory_length: s, masks drawn per instance per update.
        clip: PPO's epsilon.
        ppo_epochs: gradient steps per rollout (PPO and the local gradient).
        entropy_coef: c_H, weight of the mask distribution's entropy sum_j H(lambda_j)
            (nats); must be positive for the ELBO, where it is the reward's temperature.
        kl_coef: c_KL, weight of KL(p_hat || f).
        value_coef: c_v, weight of the value network's squared error (PPO).
        normalize_advantages: standardise advantages over each rollout (PPO).
        max_grad_norm: clip the gradient's global norm (``None``: no clipping).
        classes: ``"predicted"`` trains each instance's predicted-class head, ``"all"``
            every head (K times the rows and queries).
        learning_rate: Adam's initial step size.
        final_lr_fraction: the step size decays geometrically to this fraction of
            ``learning_rate`` over the fit (1: constant).
    """

    objective: str = "local"
    trajectory_length: int = 1
    clip: float = 0.2
    ppo_epochs: int = 4
    entropy_coef: float = 1.0
    kl_coef: float = 0.5
    value_coef: float = 0.5
    normalize_advantages: bool = True
    max_grad_norm: float | None = 1.0
    classes: str = "predicted"
    learning_rate: float = 1e-3
    final_lr_fraction: float = 1.0

    @classmethod
    def for_objective(cls, objective: str = "local", entropy_coef: float | None = None,
                      kl_coef: float | None = None, trajectory_length: int | None = None,
                      **fields) -> FEXSettings:
        """Settings with the objective's defaults for what is ``None``:
        (``trajectory_length``, ``entropy_coef``, ``kl_coef``) = (1, 1.0, 0.5) for the
        local gradient (entropy in units of each row's mean unit effect), (5, 0.5, 0.5)
        for PPO (entropy weighed against standardised advantages), (5, 0.05, 0.2) for the
        ELBO (entropy as the reward's temperature)."""
        check_choice("objective", objective, OBJECTIVES)
        s, tau, kl = _DEFAULTS[objective]
        return cls(objective=objective, **fields,
                   trajectory_length=s if trajectory_length is None else trajectory_length,
                   entropy_coef=tau if entropy_coef is None else entropy_coef,
                   kl_coef=kl if kl_coef is None else kl_coef)

    def __post_init__(self):
        check_choice("objective", self.objective, OBJECTIVES)
        check_choice("classes", self.classes, ("predicted", "all"))
        if not self.learning_rate > 0:
            raise ValueError(f"learning_rate must be positive, got {self.learning_rate}")
        if not 0 < self.final_lr_fraction <= 1:
            raise ValueError(f"final_lr_fraction must be in (0, 1], got "
                             f"{self.final_lr_fraction}")
        if int(self.trajectory_length) < 1 or int(self.ppo_epochs) < 1:
            raise ValueError("trajectory_length and ppo_epochs must be positive integers")
        if not 0 < self.clip < 1:
            raise ValueError(f"clip must be in (0, 1), got {self.clip}")
        for name in ("entropy_coef", "kl_coef", "value_coef"):
            if not getattr(self, name) >= 0:
                raise ValueError(f"{name} must be non-negative, got {getattr(self, name)}")
        if self.objective == "elbo" and not self.entropy_coef > 0:
            raise ValueError("objective='elbo' needs entropy_coef > 0: it is the temperature of "
                             "the reward factor (ELBO = E[c] / tau + entropy)")


def advantages(rewards: torch.Tensor, values: torch.Tensor, normalize: bool) -> torch.Tensor:
    """A = c(m, x) - v(x) for rewards (s, n) and values (n,), optionally standardised."""
    adv = rewards - values
    if normalize and adv.numel() > 1:
        adv = (adv - adv.mean()) / (adv.std() + 1e-8)
    return adv


def ppo_objective(program: FEXProgram, x, targets, masks, log_q_old, rewards, adv,
                  model_probs, settings: FEXSettings) -> tuple[torch.Tensor, dict]:
    """The PPO loss L (module docstring) on one rollout, and its parts (floats)."""
    logits = program.logits(x)
    log_q, entropy = program.log_prob_and_entropy(x, targets, masks, logits=logits)
    ratio = torch.exp(log_q - log_q_old)
    clipped = ratio.clamp(1.0 - settings.clip, 1.0 + settings.clip)
    policy_loss = -torch.minimum(ratio * adv, clipped * adv).mean()
    value_loss = (program.values(x, targets) - rewards).pow(2).mean()
    entropy = entropy.mean()
    kl = kl_to_model(logits, model_probs).mean()
    loss = (policy_loss + settings.value_coef * value_loss - settings.entropy_coef * entropy
            + settings.kl_coef * kl)
    with torch.no_grad():
        clip_fraction = ((ratio - 1.0).abs() > settings.clip).float().mean()
    parts = {"loss": loss, "policy_loss": policy_loss, "value_loss": value_loss,
             "entropy": entropy, "kl": kl, "clip_fraction": clip_fraction}
    return loss, {key: float(value.detach()) for key, value in parts.items()}


def _step(optimizer, loss, parameters, max_grad_norm):
    optimizer.zero_grad()
    loss.backward()
    if max_grad_norm is not None:
        torch.nn.utils.clip_grad_norm_(parameters, max_grad_norm)
    optimizer.step()


def ppo_update(program: FEXProgram, optimizer: torch.optim.Optimizer, x, targets,
               model_probs, settings: FEXSettings) -> dict:
    """One rollout of s masks per instance (s * n black-box queries) and ``ppo_epochs``
    clipped-objective steps; returns the rollout's mean reward and the last step's parts.

    Args:
        x: (n, d) instances; targets: (n,) classes explained; model_probs: (n, K) f(x).
    """
    masks, log_q_old, rewards = program.rollout(x, targets, settings.trajectory_length)
    with torch.no_grad():
        adv = advantages(rewards, program.values(x, targets), settings.normalize_advantages)
    parameters = [p for group in optimizer.param_groups for p in group["params"]]
    stats = {}
    for _ in range(settings.ppo_epochs):
        loss, stats = ppo_objective(program, x, targets, masks, log_q_old, rewards, adv,
                                    model_probs, settings)
        _step(optimizer, loss, parameters, settings.max_grad_norm)
    return {"reward": float(rewards.mean()), "mask_size": float(masks.sum(-1).mean()), **stats}


def elbo_update(program: FEXProgram, optimizer: torch.optim.Optimizer, elbo: TraceGraph_ELBO,
                x, targets, model_probs, settings: FEXSettings) -> dict:
    """One score-function step on the ELBO (module docstring) plus the KL tie.

    The program's ``reward_scale`` must be 1 / entropy_coef. The KL term is added in the
    ELBO's units: each of the s * n rows carries c_KL * KL(p_hat || f) / tau.
    """
    optimizer.zero_grad()
    steps = settings.trajectory_length
    model = poutine.trace(program.model)  # keeps the last model trace, to report rewards
    loss = elbo.loss_and_grads(model, program.guide, x, targets, steps, True)
    rewards = detach_provenance(model.trace.nodes["reward"]["value"])
    logits = program.logits(x)
    kl = kl_to_model(logits, model_probs)
    with torch.no_grad():
        head = program.target_logits(x, targets, logits)
        entropy = torch.distributions.Bernoulli(logits=head).entropy().sum(-1).mean()
    if settings.kl_coef > 0:
        (program.reward_scale * settings.kl_coef * steps * kl.sum()).backward()
    if settings.max_grad_norm is not None:
        parameters = [p for group in optimizer.param_groups for p in group["params"]]
        torch.nn.utils.clip_grad_norm_(parameters, settings.max_grad_norm)
    optimizer.step()
    # the ELBO per row in reward units: E[c] + tau * (entropy - G log 2)
    per_row = -loss / (x.shape[0] * steps * program.reward_scale)
    return {"reward": float(rewards.mean()), "loss": float(loss),
            "elbo_per_row": float(per_row), "entropy": float(entropy),
            "kl": float(kl.detach().mean())}


def policy_update(program: FEXProgram, optimizer: torch.optim.Optimizer, x, model_probs,
                  settings: FEXSettings, elbo: TraceGraph_ELBO | None = None,
                  all_classes: bool = False) -> dict:
    """One training step of FEX on a minibatch: the local gradient's masks, flips and
    ``ppo_epochs`` steps, a PPO rollout and its ``ppo_epochs`` steps, or one ELBO step
    (``elbo`` given; needed when ``settings.objective`` is ``"elbo"``).

    Args:
        x: (b, d) instances; model_probs: (b, K) the black box's f(x).
        all_classes: train every class head (K times the rows and queries) instead of
            each instance's predicted class.
    """
    if all_classes:
        n_classes = model_probs.shape[1]
        targets = torch.arange(n_classes, device=x.device).repeat_interleave(x.shape[0])
        x, model_probs = x.repeat(n_classes, 1), model_probs.repeat(n_classes, 1)
    else:
        targets = model_probs.argmax(-1)
    if settings.objective == "local":
        return local_update(program, optimizer, x, targets, model_probs, settings)
    if settings.objective == "ppo":
        return ppo_update(program, optimizer, x, targets, model_probs, settings)
    if elbo is None:
        raise ValueError("objective='elbo' needs a TraceGraph_ELBO instance (elbo=)")
    return elbo_update(program, optimizer, elbo, x, targets, model_probs, settings)


def train_policy(program: FEXProgram, X: torch.Tensor, model_probs: torch.Tensor,
                 settings: FEXSettings, *, epochs: int, batch_size: int, seed: int,
                 config: dict | None = None, **loop) -> TrainingResult:
    """Train the policy (and the value network, if the program has one: PPO and ELBO) with
    Adam over ``epochs`` shuffled passes through X, one :func:`policy_update` per minibatch
    (a rollout), the learning rate decaying geometrically from ``settings.learning_rate``
    to ``final_lr_fraction`` of it.

    Args:
        X: (n, d) instances (on the networks' device and dtype); model_probs: (n, K) f(X).
        config: further fingerprint entries (e.g. the reward, the networks' shapes); every
            field of ``settings`` is added here.
        **loop: passed to :func:`probex.inference.training.train` (``checkpoint``,
            ``checkpoint_every``, ``resume``, ``count_queries``, ``setup_queries``,
            ``progress``, ``callback``, ``device``, ``monitor``).

    The caller seeds torch's global RNG (mask draws) and scopes Pyro's param store.
    """
    modules = {"policy": program.policy}
    if program.value is not None:
        modules["value"] = program.value
    if settings.objective != "local" and program.value is None:
        raise ValueError(f"objective={settings.objective!r} needs the program's value network")
    optimizer = torch.optim.Adam([p for m in modules.values() for p in m.parameters()],
                                 lr=settings.learning_rate)
    elbo = TraceGraph_ELBO(max_plate_nesting=2) if settings.objective == "elbo" else None

    def step(step, index):
        return policy_update(program, optimizer, X[index], model_probs[index], settings,
                             elbo, all_classes=settings.classes == "all")

    return train([Phase(epochs, step)], data=(X, model_probs), batch_size=batch_size,
                 seed=seed, modules=modules,
                 optimizer=optimizer, config={**dataclasses.asdict(settings), **(config or {})},
                 lr_schedule=geometric_decay(settings.final_lr_fraction),
                 name=f"FEX ({settings.objective})", postfix=("reward",), **loop)
