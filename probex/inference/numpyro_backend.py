"""NUTS in NumPyro, compiled once per shape and vmapped over instances and chains.

A :class:`~probex.models.numpyro_program.NumPyroProgram` describes ONE instance; its
data carry B instances along a leading axis. :class:`CompiledNUTS` builds, per
(program key, shapes of one instance's data, sampler settings, instances per call), one
``jax.jit``-compiled function that runs every chain of every instance from initialisation
through warmup (``lax.fori_loop``) to the kept draws (``lax.scan``) with NumPyro's
iterative NUTS (``numpyro.infer.hmc.hmc``), vmapped over chains and then instances. The
data, the initial values and the hyperparameters are arguments of the compiled function,
so the next explanation of the same shape, a different row, a different prior scale or a
different seed reuses it (``n_traces`` counts the traces, for tests).

Each (instance i, chain c) is its own chain with its own step size and mass-matrix
adaptation, driven by the key ``fold_in(fold_in(PRNGKey(seed), i), c)``. Lanes never
mix arithmetic, so a pathological instance leaves the other instances' draws unchanged
(bit for bit, for the same batch size); under vmap the while loops of tree building run
in lock step, so it can slow the instances of its call (wall time only).

Instances run in calls of ``instances_per_call`` (the last one padded by repeating its
first instance) or, when there are fewer, in one call padded to the next power of two:
at most log2(instances_per_call) + 1 compilations per model and settings. The default
depends on where jax runs. On a CPU, vmapping pays up to about 8 instances (breast_cancer
surrogate, d = 30, 4 chains: 0.31 s CPU for one instance, 0.13 s per instance at 8,
0.22 at 32, 0.25 at 64, as lock step and memory traffic grow); on a GPU it pays far
beyond (H200: 1 instance 2.5 s, 100 in one call 7.1 s, 1000 in one call 21 s). So the
default is 8 on a CPU and 1024 elsewhere.

Computation is float64 (``jax.enable_x64`` scoped to the call; no global switch).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from numpyro.distributions.transforms import biject_to
from numpyro.handlers import seed, trace
from numpyro.infer.hmc import hmc
from numpyro.infer.util import get_potential_fn

from probex.inference.draws import PosteriorDraws
from probex.models.numpyro_program import NumPyroProgram

__all__ = ["NUTSSettings", "CompiledNUTS"]

_STATS = ("diverging", "energy", "n_steps", "step_size", "acceptance_rate", "lp")


@dataclass(frozen=True)
class NUTSSettings:
    """Sampler settings a compiled function is specialised to (NUTSRunner's names)."""

    num_samples: int
    num_warmup: int
    num_chains: int
    target_accept_prob: float
    max_tree_depth: int
    dense_mass: bool


class CompiledNUTS:
    """A cache of compiled NUTS samplers, owned by one runner (module docstring).

    Args:
        instances_per_call: most instances vmapped in one call of a compiled function;
            ``None``: 8 when jax runs on a CPU, 1024 on an accelerator.
    """

    def __init__(self, instances_per_call: int | None = None):
        if instances_per_call is not None and int(instances_per_call) < 1:
            raise ValueError("instances_per_call must be a positive integer or None")
        self.instances_per_call = None if instances_per_call is None else int(instances_per_call)
        self.n_traces = 0
        self._sites: dict = {}
        self._functions: dict = {}

    # ---------------------------------------------------------------- public
    def sample(self, program: NumPyroProgram, settings: NUTSSettings, seed: int,
               init_values: dict | None = None) -> PosteriorDraws:
        """Draws (chain, draw, [B,] ...) of every site of ``program``'s posterior."""
        traces_before = self.n_traces
        start = time.perf_counter()
        with _float64():
            data = program.data if program.batched else {
                k: np.asarray(v)[None] for k, v in program.data.items()}
            n = program.n_instances
            hyper = {k: jnp.asarray(v, dtype=jnp.float64) for k, v in program.hyper.items()}
            one = {k: np.asarray(v)[0] for k, v in data.items()}
            site_key, sites = self._site_shapes(program, one, hyper)
            init = self._init_arrays(sites, init_values, n, program.batched)
            parts, per_call = [], self._per_call()
            for first in range(0, n, per_call):
                rows = np.arange(first, min(n, first + per_call))
                size = per_call if n >= per_call else _next_power_of_two(len(rows))
                parts.append(self._run_rows(program, site_key, settings, seed, rows, size,
                                            data, init, hyper))
            values, stats, warmup = (
                {k: np.concatenate([p[i][k] for p in parts]) for k in parts[0][i]}
                for i in range(3))
        seconds = time.perf_counter() - start
        posterior = {k: _chains_first(v, program.batched) for k, v in values.items()}
        sample_stats = {k: _chains_first(v, program.batched) for k, v in stats.items()}
        sample_stats["diverging"] = sample_stats["diverging"].astype(bool)
        steps = sample_stats["n_steps"].astype(np.int64)
        sample_stats["n_steps"] = steps
        sample_stats["tree_depth"] = np.ceil(np.log2(steps + 1)).astype(np.int64)
        dims = {k: ["instance"] for k in sample_stats} if program.batched else {}
        warmup_steps = np.moveaxis(warmup["steps"], 0, -1)
        return PosteriorDraws(
            posterior=posterior, method="nuts", sample_stats=sample_stats,
            sample_stats_dims=dims,
            info={"backend": "numpyro", "sampling_seconds": seconds,
                  "num_warmup": settings.num_warmup,
                  "target_accept_prob": settings.target_accept_prob,
                  "warmup_gradients": warmup_steps if program.batched else warmup_steps[:, 0],
                  "compiled": self.n_traces > traces_before})

    # ---------------------------------------------------------------- internals
    def _site_shapes(self, program, one, hyper) -> tuple:
        """((name, shape), ...) of the latent sites of one instance (abstract trace)."""
        shapes = tuple(sorted((k, np.shape(v), np.asarray(v).dtype.str) for k, v in one.items()))
        key = (program.key, shapes)
        if key not in self._sites:
            def latent(data, hyper):
                model_trace = trace(seed(program.model, 0)).get_trace(data, hyper)
                return {name: site["value"] for name, site in model_trace.items()
                        if site["type"] == "sample" and not site["is_observed"]}

            found = jax.eval_shape(latent, one, hyper)
            self._sites[key] = tuple((name, tuple(v.shape)) for name, v in found.items())
        return key, self._sites[key]

    @staticmethod
    def _init_arrays(sites, init_values, n: int, batched: bool):
        """Constrained initial values (B, ...) per site and whether each was given."""
        values, given = {}, {}
        for name, shape in sites:
            value = (init_values or {}).get(name)
            if value is None:
                values[name] = np.zeros((n, *shape))
                given[name] = np.zeros(n, bool)
                continue
            value = np.asarray(value.detach().cpu() if hasattr(value, "detach") else value,
                               dtype=np.float64)
            value = value if batched else value[None]
            if value.shape != (n, *shape):
                raise ValueError(f"init_values[{name!r}] has shape {value.shape}, expected "
                                 f"{(n, *shape) if batched else shape}")
            values[name], given[name] = value, np.ones(n, bool)
        return values, given

    def _per_call(self) -> int:
        if self.instances_per_call is not None:
            return self.instances_per_call
        return 8 if jax.default_backend() == "cpu" else 1024

    def _run_rows(self, program, site_key, settings, seed, rows, size, data, init, hyper):
        padded = np.concatenate([rows, np.full(size - len(rows), rows[0])])
        function = self._function(program, site_key, settings, size)
        values, given = init
        values, stats, warmup = function(
            jax.random.PRNGKey(int(seed)), padded, {k: v[padded] for k, v in data.items()},
            {k: v[padded] for k, v in values.items()}, {k: v[padded] for k, v in given.items()},
            hyper)
        keep = len(rows)
        return ({k: np.asarray(v)[:keep] for k, v in values.items()},
                {k: np.asarray(v)[:keep] for k, v in zip(_STATS, stats, strict=True)},
                {"steps": np.asarray(warmup)[:keep]})

    def _function(self, program, site_key, settings, size):
        key = (site_key, settings, size)
        if key not in self._functions:
            self._functions[key] = jax.jit(partial(self._all_lanes, program.model, settings))
        return self._functions[key]

    def _all_lanes(self, model, settings, base_key, rows, data, init, given, hyper):
        self.n_traces += 1  # runs only while jax traces: counts compilations
        chains = jnp.arange(settings.num_chains)

        def instance(row, data, init, given):
            keys = jax.vmap(lambda c: jax.random.fold_in(jax.random.fold_in(base_key, row), c)
                            )(chains)
            one_chain = partial(_one_chain, model, settings)
            return jax.vmap(one_chain, in_axes=(0, None, None, None, None))(
                keys, data, init, given, hyper)

        return jax.vmap(instance)(rows, data, init, given)


def _start(model, key, data, init, given, hyper):
    """Unconstrained start of one chain and the transforms: the given initial value
    where finite, else 0 in unconstrained coordinates (``init_to_feasible``: sigma = 1,
    a scale = 1, a coefficient = 0). Pyro's fallback, the median of 15 prior draws, costs
    a gamma sampler in the compiled function (40% more compile time) for a start that
    warmup forgets; the surrogate's runs give the noise and coefficients a start."""
    model_trace = trace(seed(model, key)).get_trace(data, hyper)
    transforms, start = {}, {}
    for name, value in init.items():
        transforms[name] = biject_to(model_trace[name]["fn"].support)
        free = transforms[name].inv(value)
        ok = given[name] & jnp.all(jnp.isfinite(free))
        start[name] = jnp.where(ok, free, jnp.zeros_like(free))
    return start, transforms


def _one_chain(model, settings: NUTSSettings, key, data, init, given, hyper):
    """Warmup and draws of one chain of one instance: constrained values (S, ...),
    statistics (S,) each, and the leapfrog steps spent in warmup."""
    args = (data, hyper)
    key_start, key_chain = jax.random.split(key)
    start, transforms = _start(model, key_start, data, init, given, hyper)
    potential_fn_gen, postprocess_fn_gen = get_potential_fn(
        model, transforms, replay_model=True, dynamic_args=True)
    init_kernel, sample_kernel = hmc(potential_fn_gen=potential_fn_gen, algo="NUTS")
    state = init_kernel(start, settings.num_warmup, dense_mass=settings.dense_mass,
                        target_accept_prob=settings.target_accept_prob,
                        max_tree_depth=settings.max_tree_depth, model_args=args,
                        rng_key=key_chain)
    warmup, kept = settings.num_warmup, settings.num_samples

    def iteration(i, carry):
        # one loop over warmup and draws (tracing NUTS once, not twice); warmup
        # iterations write to slot 0, which the first kept draw overwrites
        state, warmup_steps, free, stats = carry
        state = sample_kernel(state, model_args=args)
        slot = jnp.maximum(i - warmup, 0)
        free = jax.tree.map(lambda buffer, value: buffer.at[slot].set(value), free, state.z)
        now = (state.diverging, state.energy, state.num_steps, state.adapt_state.step_size,
               state.accept_prob, -state.potential_energy)
        stats = tuple(buffer.at[slot].set(value) for buffer, value in zip(stats, now, strict=True))
        warmup_steps = warmup_steps + jnp.where(i < warmup, state.num_steps, 0)
        return state, warmup_steps, free, stats

    free = jax.tree.map(lambda value: jnp.zeros((kept, *value.shape), value.dtype), state.z)
    stats = (jnp.zeros(kept, bool), jnp.zeros(kept), jnp.zeros(kept, jnp.int64),
             jnp.zeros(kept), jnp.zeros(kept), jnp.zeros(kept))  # in the order of _STATS
    _, warmup_steps, free, stats = lax.fori_loop(
        0, warmup + kept, iteration, (state, jnp.zeros((), jnp.int64), free, stats))
    values = jax.vmap(postprocess_fn_gen(*args))(free)
    return values, stats, warmup_steps


def _next_power_of_two(n: int) -> int:
    return 1 << max(n - 1, 0).bit_length()


def _float64():
    """Scoped float64 for jax (``jax.enable_x64`` since jax 0.4.3x; older: experimental)."""
    if callable(getattr(jax, "enable_x64", None)):
        return jax.enable_x64(True)
    from jax.experimental import enable_x64

    return enable_x64()


def _chains_first(value: np.ndarray, batched: bool) -> np.ndarray:
    """(B, chain, draw, ...) -> (chain, draw, B, ...), or (chain, draw, ...) unbatched."""
    value = np.moveaxis(value, 0, 2)
    return value if batched else value[:, :, 0]

