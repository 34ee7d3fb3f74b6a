"""Stochastic variational inference: fit a guide, then draw from it."""

from __future__ import annotations

import time
import warnings

import numpy as np
import pyro
import torch
from pyro.infer import SVI, JitTrace_ELBO, Predictive, Trace_ELBO
from pyro.infer.autoguide import (
    AutoDelta,
    AutoLowRankMultivariateNormal,
    AutoMultivariateNormal,
    AutoNormal,
    init_to_median,
    init_to_value,
)
from pyro.optim import ClippedAdam

from probex._checks import check_choice
from probex.inference._runtime import progress_bar, seeded
from probex.inference.draws import PosteriorDraws
from probex.inference.sites import latent_and_deterministic_sites

__all__ = ["SVIRunner"]

_AUTOGUIDES = {
    "normal": AutoNormal,
    "mvn": AutoMultivariateNormal,
    "lowrank": AutoLowRankMultivariateNormal,
    "delta": AutoDelta,
}


class SVIRunner:
    """Fit a variational posterior with SVI and return draws from it.

    Args:
        guide: ``"normal"`` (AutoNormal, mean-field; the default, whose loc converges with
            least gradient noise), ``"mvn"`` (AutoMultivariateNormal; captures posterior
            correlations but needs more particles or steps for the same accuracy),
            ``"lowrank"`` (AutoLowRankMultivariateNormal), ``"delta"`` (AutoDelta, a MAP
            point estimate), an AutoGuide class (built with the model), or a user guide: a
            callable with the model's signature.
        num_steps: optimisation steps.
        learning_rate: initial Adam step size; decays geometrically to
            ``learning_rate * final_lr_fraction`` over the run (ClippedAdam's ``lrd``).
        num_particles: ELBO particles per step (vectorized).
        jit: compile the ELBO with ``JitTrace_ELBO`` (worth it for long runs of small models).
        num_draws: posterior draws returned.
        progress: show a progress bar (``None``: only on a terminal).
        seed: seeds the optimisation and the draws.
        device: device of the model's tensors (for seeding CUDA).

    After :meth:`run`, ``guide`` holds the fitted guide and ``losses`` the ELBO losses.
    """

    method = "svi"

    def __init__(self, guide="normal", num_steps: int = 3000, learning_rate: float = 0.02,
                 final_lr_fraction: float = 0.01, num_particles: int = 4, jit: bool = False,
                 num_draws: int = 2000, progress: bool | None = None, seed: int = 0,
                 device=None):
        if isinstance(guide, str):
            check_choice("guide", guide, tuple(_AUTOGUIDES))
        elif not callable(guide):
            raise TypeError("guide must be a name or a callable")
        if num_steps < 1 or num_draws < 1 or num_particles < 1:
            raise ValueError("num_steps, num_draws and num_particles must be positive")
        self.guide_spec = guide
        self.num_steps = int(num_steps)
        self.learning_rate = float(learning_rate)
        self.final_lr_fraction = float(final_lr_fraction)
        self.num_particles = int(num_particles)
        self.jit = bool(jit)
        self.num_draws = int(num_draws)
        self.progress = progress
        self.seed = int(seed)
        self.device = device
        self.guide = None
        self.losses: np.ndarray | None = None

    def _build_guide(self, model, init_values):
        init = init_to_value(values=init_values or {}, fallback=init_to_median(num_samples=15))
        spec = self.guide_spec
        if isinstance(spec, str):
            cls = _AUTOGUIDES[spec]
            if cls is AutoDelta:
                return cls(model, init_loc_fn=init)
            return cls(model, init_loc_fn=init, init_scale=0.01)
        if isinstance(spec, type):  # an AutoGuide class
            return spec(model, init_loc_fn=init)
        return spec

    def run(self, model, *args, seed: int | None = None, init_values: dict | None = None,
            **kwargs) -> PosteriorDraws:
        """Fit the guide to ``model(*args, **kwargs)`` and draw from it (``seed``
        overrides the constructor's for this run)."""
        seed = self.seed if seed is None else int(seed)
        latent, deterministic, nesting = latent_and_deterministic_sites(model, *args, **kwargs)
        lrd = self.final_lr_fraction ** (1.0 / self.num_steps)
        store = pyro.get_param_store()
        start = time.perf_counter()
        with store.scope(), seeded(seed, self.device), warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*torch.jit.trace.*deprecated",
                                    category=DeprecationWarning)
            guide = self._build_guide(model, init_values)
            vectorize = self.num_particles > 1
            if self.jit:
                elbo = JitTrace_ELBO(num_particles=self.num_particles, max_plate_nesting=nesting,
                                     vectorize_particles=vectorize, ignore_jit_warnings=True)
            else:
                elbo = Trace_ELBO(num_particles=self.num_particles, max_plate_nesting=nesting,
                                  vectorize_particles=vectorize)
            svi = SVI(model, guide, ClippedAdam({"lr": self.learning_rate, "lrd": lrd}), elbo)
            losses = np.empty(self.num_steps)
            with progress_bar(self.num_steps, "SVI", self.progress) as bar:
                for step in range(self.num_steps):
                    losses[step] = svi.step(*args, **kwargs)
                    if not np.isfinite(losses[step]):
                        raise FloatingPointError(
                            f"the ELBO became {losses[step]} at step {step}; lower "
                            "learning_rate or give init_values"
                        )
                    bar.update()
                    if step % 100 == 0:
                        bar.set_postfix(loss=f"{losses[step]:.4g}")
            fit_seconds = time.perf_counter() - start
            predictive = Predictive(model, guide=guide, num_samples=self.num_draws,
                                    return_sites=latent + deterministic, parallel=True)
            with torch.no_grad():
                samples = predictive(*args, **kwargs)
        self.guide, self.losses = guide, losses
        posterior = {name: samples[name].detach().cpu().numpy()[None] for name in
                     latent + deterministic}
        return PosteriorDraws(
            posterior=posterior, method=self.method,
            info={"loss": losses, "fit_seconds": fit_seconds,
                  "guide": self.guide_spec if isinstance(self.guide_spec, str) else "custom"},
        )
