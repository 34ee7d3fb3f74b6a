"""Maximum a posteriori estimates by L-BFGS, optionally with a Laplace approximation.

The posterior mode is found in the unconstrained space of the latent sites (Pyro's
``AutoLaplaceApproximation``: a point mass whose log-density includes the Jacobian of
the transforms, so a positive scale cannot collapse onto its boundary). The loss is the
exact negative log joint, not a Monte Carlo estimate, so a deterministic quasi-Newton
optimiser (L-BFGS with a strong-Wolfe line search) converges in tens of iterations where
Adam needs thousands of steps. With ``laplace=True`` the posterior is approximated by
the normal distribution at the mode whose covariance is the inverse Hessian of the
negative log joint (in the unconstrained space), and draws are taken from it.
"""

from __future__ import annotations

import time

import numpy as np
import pyro
import torch
from pyro import poutine
from pyro.infer import Predictive, Trace_ELBO
from pyro.infer.autoguide import AutoLaplaceApproximation, init_to_median, init_to_value
from pyro.poutine.util import site_is_subsample

from probex.inference._runtime import seeded
from probex.inference.draws import PosteriorDraws
from probex.inference.sites import latent_and_deterministic_sites

__all__ = ["MAPRunner"]


def _site_shapes(model, args, kwargs):
    """Value shapes and batch ranks of the sample sites of one prototype run."""
    with poutine.block():
        trace = poutine.trace(model).get_trace(*args, **kwargs)
    sites = [(name, site) for name, site in trace.nodes.items()
             if site["type"] == "sample" and not site_is_subsample(site)]
    return ({name: tuple(site["value"].shape) for name, site in sites},
            {name: len(site["fn"].batch_shape) for name, site in sites})


class MAPRunner:
    """Posterior mode of a Pyro model (and optionally a Laplace approximation around it).

    Args:
        laplace: also draw from the Laplace approximation (``method="laplace"``);
            otherwise the result holds the mode as a single draw (``method="map"``).
        max_iter: L-BFGS iterations at most.
        tolerance: the optimum counts as reached (``converged``) when the gradient's
            largest entry is below ``tolerance * max(1, |loss|)``; L-BFGS stops there,
            or when the loss changes by less than 1e-12 between iterations.
        num_draws: draws from the Laplace approximation.
        seed: seeds the initialisation (``init_to_median``) and the draws.
        device: device of the model's tensors (for seeding CUDA).

    After :meth:`run`, ``losses`` holds the negative log joint after each L-BFGS
    iteration and ``converged`` whether the gradient tolerance was met.
    """

    def __init__(self, laplace: bool = False, max_iter: int = 500, tolerance: float = 1e-6,
                 num_draws: int = 2000, seed: int = 0, device=None):
        if max_iter < 1 or num_draws < 1:
            raise ValueError("max_iter and num_draws must be positive")
        if not tolerance > 0:
            raise ValueError(f"tolerance must be positive, got {tolerance}")
        self.laplace = bool(laplace)
        self.max_iter = int(max_iter)
        self.tolerance = float(tolerance)
        self.num_draws = int(num_draws)
        self.seed = int(seed)
        self.device = device
        self.losses: np.ndarray | None = None
        self.converged: bool | None = None

    @property
    def method(self) -> str:
        return "laplace" if self.laplace else "map"

    def run(self, model, *args, seed: int | None = None, init_values: dict | None = None,
            **kwargs) -> PosteriorDraws:
        """Optimise the log joint of ``model(*args, **kwargs)``; draws of latent and
        deterministic sites, shape (1, 1, ...) for the mode, (1, num_draws, ...) for
        the Laplace approximation. ``seed`` overrides the constructor's for this run."""
        seed = self.seed if seed is None else int(seed)
        latent, deterministic, nesting = latent_and_deterministic_sites(model, *args, **kwargs)
        if not latent:
            raise ValueError("the model has no latent sites to estimate")
        start = time.perf_counter()
        store = pyro.get_param_store()
        with store.scope(), seeded(seed, self.device):
            init = init_to_value(values=init_values or {},
                                 fallback=init_to_median(num_samples=15))
            guide = AutoLaplaceApproximation(model, init_loc_fn=init)
            guide(*args, **kwargs)  # set up the parameters
            loss_fn = Trace_ELBO().differentiable_loss
            with torch.no_grad():
                scale = max(1.0, abs(float(loss_fn(model, guide, *args, **kwargs))))
            optimiser = torch.optim.LBFGS([guide.loc], lr=1.0, max_iter=self.max_iter,
                                          tolerance_grad=self.tolerance * scale,
                                          tolerance_change=1e-12, history_size=20,
                                          line_search_fn="strong_wolfe")
            losses: list[float] = []

            def closure():
                optimiser.zero_grad()
                loss = loss_fn(model, guide, *args, **kwargs)
                loss.backward()
                losses.append(float(loss.detach()))
                return loss

            optimiser.step(closure)
            if not (np.isfinite(losses[-1]) and bool(torch.isfinite(guide.loc).all())):
                raise FloatingPointError(
                    f"the negative log joint became {losses[-1]} during optimisation; give "
                    "init_values closer to the mode"
                )
            closure()  # the gradient at the final point
            scale = max(1.0, abs(losses[-1]))
            self.converged = bool(guide.loc.grad.abs().max() <= self.tolerance * scale)
            n_iter = int(optimiser.state[guide.loc].get("n_iter", 0))
            sites = latent + deterministic
            if self.laplace:
                # draw the latent sites from the guide alone (it has no plates, so draws
                # are (num_draws, *site_shape)), then replay the model on them: the
                # model's plates then get their own dimensions
                sampler = guide.laplace_approximation(*args, **kwargs)
                with torch.no_grad():
                    draws = Predictive(sampler, num_samples=self.num_draws,
                                       return_sites=latent, parallel=True)(*args, **kwargs)
            else:
                with torch.no_grad():
                    guide_trace = poutine.trace(guide).get_trace(*args, **kwargs)
                draws = {name: guide_trace.nodes[name]["value"].detach().unsqueeze(0)
                         for name in latent}
            shapes, batch_ndims = _site_shapes(model, args, kwargs)
            # Predictive pads a draw's shape to the plate nesting counting event dims
            # too; give latent sites outside plates their singleton plate dims here
            draws = {name: value.reshape(value.shape[0],
                                         *(1,) * max(nesting - batch_ndims[name], 0),
                                         *shapes[name]) for name, value in draws.items()}
            predictive = Predictive(model, posterior_samples=draws, return_sites=sites,
                                    parallel=True)
            with torch.no_grad():
                samples = predictive(*args, **kwargs)
            posterior = {name: samples[name].detach().cpu().numpy().reshape(1, -1, *shapes[name])
                         for name in sites}
        self.losses = np.asarray(losses)
        return PosteriorDraws(
            posterior=posterior, method=self.method,
            info={"loss": self.losses, "fit_seconds": time.perf_counter() - start,
                  "n_iter": n_iter, "converged": self.converged},
        )
