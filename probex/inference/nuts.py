"""No-U-Turn sampling with Pyro's NUTS kernel, driven one draw at a time.

The kernel is stepped directly (rather than through ``pyro.infer.MCMC``) so that every
draw's sampler statistics can be recorded for ArviZ: divergence, step size, number of
leapfrog steps, tree depth, acceptance probability and log density. Chains run one after
another in this process, each with its own seed, which keeps runs reproducible and
avoids multiprocessing on small CI machines.
"""

from __future__ import annotations

import math
import time
import warnings

import numpy as np
import torch
from pyro.infer import NUTS
from pyro.infer.autoguide import init_to_median, init_to_value

from probex._checks import check_choice
from probex.inference._runtime import progress_bar, seeded
from probex.inference.draws import PosteriorDraws
from probex.inference.sites import deterministic_sites_at, latent_and_deterministic_sites

__all__ = ["NUTSRunner", "hessian_diagonal"]

_BACKENDS = ("auto", "pyro", "numpyro")


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


class NUTSRunner:
    """Sample a posterior with NUTS (Hoffman & Gelman, 2014) as implemented in Pyro.

    Args:
        num_samples: draws kept per chain.
        num_warmup: adaptation steps per chain (step size and mass matrix).
        num_chains: independent chains (at least 2 for r_hat).
        target_accept_prob: step-size adaptation target.
        max_tree_depth: cap on trajectory doublings.
        dense_mass: adapt a dense mass matrix instead of a diagonal one.
        init_mass: the mass matrix warmup starts from. ``"curvature"`` (default): the
            inverse of the potential's Hessian diagonal at the initial point, estimated
            with ``curvature_probes`` Hutchinson probes (Rademacher Hessian-vector
            products; non-positive or noisy entries fall back to 1). Pyro's windowed
            adaptation keeps the first mass matrix for its first 75 + 25 warmup steps, so
            starting from the local curvature rather than the identity saves most of the
            warmup gradients when scales differ (a noise scale fixed by 1000 rows to 2%
            next to O(1) prior scales: 6x fewer). ``"identity"``: Pyro's default.
        curvature_probes: Hutchinson probes for ``init_mass="curvature"``.
        jit: compile the potential energy with PyTorch's tracer (3-5x fewer seconds per
            gradient on the surrogates). Each compilation lands in torch's process-wide
            compilation unit, where it would stay for the life of the process (about 25 MB
            per explanation on the demo row); the runner drops it after the run, unless
            that unit held other functions before (yours), which it never touches.
        progress: show a progress bar (``None``: only on a terminal).
        seed: chain c uses seed ``seed + 1000 * c`` (Pyro); NumPyro's chain c of instance
            i uses the key ``fold_in(fold_in(PRNGKey(seed), i), c)``. ``run(seed=...)``
            overrides it for one run.
        device: device of the model's tensors (for seeding CUDA).
        backend: ``"auto"`` (NumPyro for the models that have a NumPyro twin, Pyro for
            the rest), ``"pyro"`` or ``"numpyro"`` (an error for a model without twin).
            NumPyro compiles the whole run once per shape, prior family and settings
            and keeps the compiled sampler in this runner for the next run of the same
            shape; each instance of a batch is its own chains with its own adaptation.
            ``init_mass``, ``curvature_probes``, ``jit`` and ``progress`` concern Pyro.
        instances_per_call: NumPyro: most instances vmapped in one compiled call
            (``None``: 8 on a CPU, where lock step and memory traffic grow past that,
            1024 on a GPU; see :mod:`probex.inference.numpyro_backend`).

    Sampler statistics (``sample_stats``, (chain, draw) each; NumPyro's carry a trailing
    instance axis): ``diverging``, ``energy`` (the Hamiltonian: NumPyro's at the
    selected point; Pyro keeps no momentum of the selected point, so its energy is
    H(z_{t-1}, r_t) at the start of transition t, equal to Stan's energy up to the
    integrator's error), ``tree_depth``, ``n_steps``, ``step_size``, ``acceptance_rate``,
    ``lp`` (minus the potential energy, Jacobians included).
    """

    method = "nuts"

    def __init__(self, num_samples: int = 1000, num_warmup: int = 1000, num_chains: int = 4,
                 target_accept_prob: float = 0.8, max_tree_depth: int = 10,
                 dense_mass: bool = False, init_mass: str = "curvature",
                 curvature_probes: int = 16, jit: bool = True, progress: bool | None = None,
                 seed: int = 0, device=None, backend: str = "auto",
                 instances_per_call: int | None = None):
        if num_samples < 1 or num_warmup < 0 or num_chains < 1:
            raise ValueError("num_samples and num_chains must be positive, num_warmup >= 0")
        check_choice("init_mass", init_mass, ("curvature", "identity"))
        check_choice("backend", backend, _BACKENDS)
        if instances_per_call is not None and int(instances_per_call) < 1:
            raise ValueError("instances_per_call must be a positive integer or None")
        if int(curvature_probes) < 1:
            raise ValueError("curvature_probes must be a positive integer")
        if not 0 < target_accept_prob < 1:
            raise ValueError("target_accept_prob must be in (0, 1)")
        self.num_samples = int(num_samples)
        self.num_warmup = int(num_warmup)
        self.num_chains = int(num_chains)
        self.target_accept_prob = float(target_accept_prob)
        self.max_tree_depth = int(max_tree_depth)
        self.dense_mass = bool(dense_mass)
        self.init_mass = init_mass
        self.curvature_probes = int(curvature_probes)
        self.jit = bool(jit)
        self.progress = progress
        self.seed = int(seed)
        self.device = device
        self.backend = backend
        self.instances_per_call = (None if instances_per_call is None
                                   else int(instances_per_call))
        self._compiled = None  # NumPyro's compiled samplers, made on first use

    def run(self, model, *args, seed: int | None = None, init_values: dict | None = None,
            **kwargs) -> PosteriorDraws:
        """Sample ``model(*args, **kwargs)``; draws of latent and deterministic sites.

        ``seed`` overrides the constructor's seed for this run. ``info["backend"]``
        says which backend sampled.
        """
        seed = self.seed if seed is None else int(seed)
        program = None
        if self.backend != "pyro":
            from probex.inference.backends import numpyro_program

            program = numpyro_program(model, args, kwargs)
            if program is None and self.backend == "numpyro":
                raise ValueError(
                    "backend='numpyro' samples the surrogate and temperature models with a "
                    "built-in prior or a NumPyro distribution; this model has no NumPyro "
                    "twin: use backend='pyro' or 'auto'")
        if program is not None:
            return self._run_numpyro(program, seed, init_values)
        with seeded(seed, self.device):  # alone among Pyro work; the caller's RNG untouched
            empty_before = self.jit and _compiled_functions() == 0
            try:
                return self._run_pyro(model, args, kwargs, seed, init_values)
            finally:
                if empty_before:
                    _drop_compiled_functions()

    def __getstate__(self) -> dict:
        """Pickled without its compiled samplers (a copy in another process compiles
        its own on first use)."""
        return {**self.__dict__, "_compiled": None}

    @property
    def n_compilations(self) -> int:
        """How many times NumPyro traced (and so compiled) a sampler in this runner."""
        return 0 if self._compiled is None else self._compiled.n_traces

    def _run_numpyro(self, program, seed: int, init_values) -> PosteriorDraws:
        from probex.inference.numpyro_backend import CompiledNUTS, NUTSSettings

        if (self._compiled is None
                or self._compiled.instances_per_call != self.instances_per_call):
            self._compiled = CompiledNUTS(self.instances_per_call)
        settings = NUTSSettings(self.num_samples, self.num_warmup, self.num_chains,
                                self.target_accept_prob, self.max_tree_depth,
                                self.dense_mass)
        return self._compiled.sample(program, settings, seed, init_values)

    def _run_pyro(self, model, args, kwargs, seed: int, init_values) -> PosteriorDraws:
        latent, deterministic, _ = latent_and_deterministic_sites(model, *args, **kwargs)
        start = time.perf_counter()
        chains = [self._run_chain(model, args, kwargs, chain, init_values, seed)
                  for chain in range(self.num_chains)]
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
                posterior[name] = value.reshape(self.num_chains, self.num_samples,
                                                *value.shape[1:])
        return PosteriorDraws(
            posterior=posterior, method=self.method, sample_stats=stats,
            info={"backend": "pyro", "sampling_seconds": seconds,
                  "num_warmup": self.num_warmup,
                  "warmup_gradients": warmup_gradients,
                  "target_accept_prob": self.target_accept_prob},
        )

    def _run_chain(self, model, args, kwargs, chain: int, init_values, seed: int):
        init = init_to_value(values=init_values or {}, fallback=init_to_median(num_samples=15))
        kernel = NUTS(model, target_accept_prob=self.target_accept_prob,
                      max_tree_depth=self.max_tree_depth, full_mass=self.dense_mass,
                      jit_compile=self.jit, ignore_jit_warnings=True, init_strategy=init)
        n = self.num_samples
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
        with seeded(seed + 1000 * chain, self.device), warnings.catch_warnings():
            # Pyro's JIT uses torch.jit.trace, which torch >= 2.9 flags as deprecated
            warnings.filterwarnings("ignore", message=".*torch.jit.trace.*deprecated",
                                    category=DeprecationWarning)
            kernel.setup(self.num_warmup, *args, **kwargs)
            if self.init_mass == "curvature" and self.num_warmup > 0:
                self._start_from_curvature(kernel, chain, seed)
            counter = _CountingPotential(kernel.potential_fn)
            kernel.potential_fn = counter
            momentum = _MomentumRecorder(kernel._sample_r)
            kernel._sample_r = momentum
            params = kernel.initial_params
            warmup_gradients = 0
            desc = f"NUTS chain {chain + 1}/{self.num_chains}"
            previous_mean_accept = 0.0
            with progress_bar(self.num_warmup + n, desc, self.progress) as bar:
                for step in range(self.num_warmup + n):
                    n_div = len(kernel._divergences)
                    calls = counter.calls
                    # U(z_{t-1}) as the kernel cached it; never evaluated here, since
                    # an extra call of the JIT-compiled potential changes its floats
                    potential_before = kernel._fetch_from_cache()[1]
                    momentum.unscaled = None
                    params = kernel.sample(params)
                    bar.update()
                    i = step - self.num_warmup
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

    def _start_from_curvature(self, kernel, chain: int, seed: int) -> None:
        """Replace the kernel's initial (identity) inverse mass matrix by the inverse
        Hessian diagonal at the initial point, then re-find a reasonable step size."""
        adapter = kernel.mass_matrix_adapter
        generator = torch.Generator().manual_seed(seed + 1000 * chain + 17)
        hessian_diag = hessian_diagonal(kernel.potential_fn, kernel.initial_params,
                                        self.curvature_probes, generator)
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
