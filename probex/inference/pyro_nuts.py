"""NUTS in Pyro: the kernel of ``pyro.infer.NUTS`` stepped one draw at a time, chain
after chain, with each draw's sampler statistics and a curvature-based initial mass
matrix; the Pyro path of :class:`~probex.inference.nuts.NUTSRunner`."""

from __future__ import annotations

import math
import time
import warnings

import numpy as np
import torch
from pyro.infer import NUTS
from pyro.infer.autoguide import init_to_median, init_to_value

from probex.inference._runtime import progress_bar, seeded
from probex.inference.draws import PosteriorDraws
from probex.inference.sites import deterministic_sites_at, latent_and_deterministic_sites

__all__ = ["sample_pyro", "hessian_diagonal"]


class _CountingPotential:
    """Wraps a potential function and counts its evaluations (= leapfrog steps)."""

    def __init__(self, fn):
        self.fn = fn
        self.calls = 0

    def __call__(self, *args, **kwargs):
        self.calls += 1
        return self.fn(*args, **kwargs)


class _MomentumRecorder:
    """Wraps a kernel's momentum sampler and keeps the first momentum of a transition."""

    def __init__(self, fn):
        self.fn = fn
        self.unscaled = None

    def __call__(self, *args, **kwargs):
        r, r_unscaled = self.fn(*args, **kwargs)
        if self.unscaled is None:
            self.unscaled = r_unscaled
        return r, r_unscaled

    def kinetic_energy(self) -> float:
        """1/2 r^T M^{-1} r of the recorded momentum (Pyro's ``_kinetic_energy``); NaN
        when the transition drew none (a model without latent sites)."""
        if self.unscaled is None:
            return float("nan")
        return 0.5 * sum(float(v.dot(v)) for v in self.unscaled.values())


def sample_pyro(runner, model, args, kwargs, seed: int, init_values) -> PosteriorDraws:
    """Sample ``model(*args, **kwargs)`` with the settings of ``runner`` (a
    :class:`~probex.inference.nuts.NUTSRunner`); draws of latent and deterministic sites."""
    with seeded(seed, runner.device):  # alone among Pyro work; the caller's RNG untouched
        empty_before = runner.jit and _compiled_functions() == 0
        try:
            return _sample_chains(runner, model, args, kwargs, seed, init_values)
        finally:
            if empty_before:
                _drop_compiled_functions()


def _sample_chains(runner, model, args, kwargs, seed: int, init_values) -> PosteriorDraws:
    """Every chain one after another, then the deterministic sites at the draws."""
    latent, deterministic, _ = latent_and_deterministic_sites(model, *args, **kwargs)
    start = time.perf_counter()
    chains = [_run_chain(runner, model, args, kwargs, chain, init_values, seed)
              for chain in range(runner.num_chains)]
    seconds = time.perf_counter() - start
    posterior = {name: np.stack([c[0][name] for c in chains]) for name in latent}
    warmup_gradients = np.array([c[1].pop("warmup_gradients") for c in chains])
    stats = {key: np.stack([c[1][key] for c in chains]) for key in chains[0][1]}
    if deterministic:
        flat = {name: torch.as_tensor(value.reshape(-1, *value.shape[2:]))
                for name, value in posterior.items()}
        values = deterministic_sites_at(model, flat, deterministic, *args, **kwargs)
        for name, value in values.items():
            value = value.cpu().numpy()
            posterior[name] = value.reshape(runner.num_chains, runner.num_samples,
                                            *value.shape[1:])
    return PosteriorDraws(
        posterior=posterior, method=runner.method, sample_stats=stats,
        info={"backend": "pyro", "sampling_seconds": seconds,
              "num_warmup": runner.num_warmup,
              "warmup_gradients": warmup_gradients,
              "target_accept_prob": runner.target_accept_prob},
    )


def _run_chain(runner, model, args, kwargs, chain: int, init_values, seed: int):
    """One chain: its draws (constrained, by site) and its sampler statistics."""
    init = init_to_value(values=init_values or {}, fallback=init_to_median(num_samples=15))
    kernel = NUTS(model, target_accept_prob=runner.target_accept_prob,
                  max_tree_depth=runner.max_tree_depth, full_mass=runner.dense_mass,
                  jit_compile=runner.jit, ignore_jit_warnings=True, init_strategy=init)
    n = runner.num_samples
    draws: dict[str, list] = {}
    stats = {
        "diverging": np.zeros(n, dtype=bool),
        "step_size": np.zeros(n),
        "n_steps": np.zeros(n, dtype=np.int64),
        "tree_depth": np.zeros(n, dtype=np.int64),
        "acceptance_rate": np.zeros(n),
        "lp": np.zeros(n),
        "energy": np.zeros(n),
    }
    with seeded(seed + 1000 * chain, runner.device), warnings.catch_warnings():
        # Pyro's JIT uses torch.jit.trace, which torch >= 2.9 flags as deprecated
        warnings.filterwarnings("ignore", message=".*torch.jit.trace.*deprecated",
                                category=DeprecationWarning)
        kernel.setup(runner.num_warmup, *args, **kwargs)
        if runner.init_mass == "curvature" and runner.num_warmup > 0:
            _start_from_curvature(runner, kernel, chain, seed)
        counter = _CountingPotential(kernel.potential_fn)
        kernel.potential_fn = counter
        momentum = _MomentumRecorder(kernel._sample_r)
        kernel._sample_r = momentum
        params = kernel.initial_params
        warmup_gradients = 0
        desc = f"NUTS chain {chain + 1}/{runner.num_chains}"
        previous_mean_accept = 0.0
        with progress_bar(runner.num_warmup + n, desc, runner.progress) as bar:
            for step in range(runner.num_warmup + n):
                n_div = len(kernel._divergences)
                calls = counter.calls
                # U(z_{t-1}) as the kernel cached it; never evaluated here, since
                # an extra call of the JIT-compiled potential changes its floats
                potential_before = kernel._fetch_from_cache()[1]
                momentum.unscaled = None
                params = kernel.sample(params)
                bar.update()
                i = step - runner.num_warmup
                if i < 0:
                    warmup_gradients = counter.calls
                    continue
                stats["diverging"][i] = len(kernel._divergences) > n_div
                stats["step_size"][i] = float(kernel.step_size)
                stats["n_steps"][i] = counter.calls - calls
                stats["tree_depth"][i] = math.ceil(math.log2(counter.calls - calls + 1))
                # the kernel keeps a running mean of acceptance over kept draws
                mean_accept = float(kernel._mean_accept_prob)
                stats["acceptance_rate"][i] = (i + 1) * mean_accept - i * previous_mean_accept
                previous_mean_accept = mean_accept
                potential = kernel._fetch_from_cache()[1]
                stats["lp"][i] = -float(potential) if potential is not None else np.nan
                stats["energy"][i] = (np.nan if potential_before is None else
                                      float(potential_before) + momentum.kinetic_energy())
                for name, value in params.items():
                    constrained = kernel.transforms[name].inv(value) if (
                        name in kernel.transforms) else value
                    draws.setdefault(name, []).append(constrained.detach().cpu().numpy())
                if i % 50 == 0:
                    bar.set_postfix(step_size=f"{kernel.step_size:.3g}",
                                    divergences=int(stats["diverging"][: i + 1].sum()))
        kernel.cleanup()
    stats["warmup_gradients"] = warmup_gradients
    return {name: np.stack(values) for name, values in draws.items()}, stats


def _start_from_curvature(runner, kernel, chain: int, seed: int) -> None:
    """Replace the kernel's initial (identity) inverse mass matrix by the inverse
    Hessian diagonal at the initial point, then re-find a reasonable step size."""
    adapter = kernel.mass_matrix_adapter
    generator = torch.Generator().manual_seed(seed + 1000 * chain + 17)
    hessian_diag = hessian_diagonal(kernel.potential_fn, kernel.initial_params,
                                    runner.curvature_probes, generator)
    start = {}
    for site_names, current in adapter.inverse_mass_matrix.items():
        diag = torch.cat([hessian_diag[name].reshape(-1) for name in site_names])
        diag = diag.to(dtype=current.dtype, device=current.device)
        inverse = torch.where(torch.isfinite(diag) & (diag > 0),
                              1.0 / diag.clamp_min(1e-12), torch.ones_like(diag))
        inverse = inverse.clamp(1e-8, 1e2)
        start[site_names] = inverse if current.ndim == 1 else torch.diag(inverse)
    adapter.inverse_mass_matrix = start
    kernel._adapter.reset_step_size_adaptation(kernel.initial_params)


def _compiled_functions() -> int | None:
    """Functions in torch's process-wide compilation unit (where traced functions go)."""
    try:
        return len(torch.jit._state._python_cu.get_functions())
    except AttributeError:  # another torch: leave it alone
        return None


def _drop_compiled_functions() -> None:
    """Release what this run's tracer compiled (called only when the unit was empty
    before the run, so nothing of the caller's is dropped)."""
    try:
        torch.jit._state._python_cu.drop_all_functions()
    except AttributeError:
        pass


def hessian_diagonal(potential_fn, params: dict[str, torch.Tensor], probes: int,
                     generator: torch.Generator) -> dict[str, torch.Tensor]:
    """Hutchinson estimate of the diagonal of the Hessian of ``potential_fn`` at
    ``params``: E[v * (H v)] over Rademacher vectors v (exact when H is diagonal)."""
    names = sorted(params)
    point = [params[n].detach().clone().requires_grad_() for n in names]
    with torch.enable_grad():
        energy = potential_fn(dict(zip(names, point, strict=True)))
        grads = torch.autograd.grad(energy, point, create_graph=True)
        estimate = [torch.zeros_like(p) for p in point]
        for _ in range(probes):
            signs = [torch.randint(0, 2, p.shape, generator=generator).to(p) * 2 - 1
                     for p in point]
            products = torch.autograd.grad(grads, point, grad_outputs=signs, retain_graph=True)
            for total, sign, product in zip(estimate, signs, products, strict=True):
                total += sign * product.detach() / probes
    return dict(zip(names, estimate, strict=True))
