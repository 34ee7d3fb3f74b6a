"""No-U-Turn sampling with Pyro's NUTS kernel, driven one draw at a time.

The kernel is stepped directly (rather than through ``pyro.infer.MCMC``) so that every
draw's sampler statistics can be recorded for ArviZ: divergence, step size, number of
leapfrog steps, tree depth, acceptance probability and log density. Chains run one after
another in this process, each with its own seed, which keeps runs reproducible and
avoids multiprocessing on small CI machines.

This module holds the runner: its settings and the choice of backend. The Pyro path
lives in :mod:`probex.inference.pyro_nuts`, the NumPyro one in
:mod:`probex.inference.numpyro_backend`.
"""

from __future__ import annotations

from probex._checks import check_choice
from probex.inference.draws import PosteriorDraws
from probex.inference.pyro_nuts import hessian_diagonal, sample_pyro

__all__ = ["NUTSRunner", "hessian_diagonal"]

_BACKENDS = ("auto", "pyro", "numpyro")


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
        return self._run_pyro(model, args, kwargs, seed, init_values)

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
        return sample_pyro(self, model, args, kwargs, seed, init_values)
