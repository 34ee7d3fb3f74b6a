"""Posterior of ReCalX's per-bin temperatures from precomputed log-probabilities.

The model is :func:`probex.models.calibration.temperature_model`: per-bin
log-temperatures u_b with a prior (default: Gaussian random walk over bins) and
``y_i ~ Categorical(softmax(s_i / T_{b_i}))``. Estimated by MAP (the paper's estimate),
a Laplace approximation, SVI (full-rank normal guide) or NUTS, through the shared
:func:`~probex.inference.runners.resolve_runner`; SVI and NUTS start at the MAP. The
caller's ``seed`` reaches every runner's ``run``, a configured runner included.

:class:`TemperatureFit` holds the result (ArviZ InferenceData, the temperatures used
for predictions) and reports it per bin (:meth:`TemperatureFit.summary`).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from types import MappingProxyType

import arviz as az
import numpy as np
import pandas as pd
import torch
from pyro import poutine

from probex._checks import check_probability, check_seed
from probex._version import __version__
from probex.inference._runtime import seeded
from probex.inference.idata import to_inference_data
from probex.inference.map import MAPRunner
from probex.inference.predictive import PREDICTIVE_VALUES_MAX
from probex.inference.runners import resolve_runner
from probex.inference.sites import latent_and_deterministic_sites
from probex.inference.temperature_predictive import (
    label_log_likelihood,
    replicated_labels,
    temperature_prior_draws,
)
from probex.models.calibration import temperature_model

__all__ = ["TemperatureFit", "fit_temperatures", "INFERENCE_CHOICES", "SVI_OPTIONS",
           "NUTS_OPTIONS"]

INFERENCE_CHOICES = ("map", "laplace", "svi", "nuts")

SVI_OPTIONS = MappingProxyType({"guide": "mvn", "num_steps": 1500, "learning_rate": 0.02,
                                "num_particles": 8})
"""SVIRunner settings for ``inference="svi"``: a full-rank normal over the B
log-temperatures (they are correlated through the random-walk prior)."""

NUTS_OPTIONS = MappingProxyType({"num_samples": 500, "num_warmup": 500, "num_chains": 4})
"""NUTSRunner settings for ``inference="nuts"``: B is small, 4 x 500 draws suffice."""


@dataclass
class TemperatureFit:
    """Posterior of the per-bin temperatures.

    Attributes:
        idata: ArviZ InferenceData: posterior ``temperature`` / ``log_temperature``
            (chain, draw, level_bin) (plus any sites of a custom prior), the calibration
            labels and their levels and bins, sampler statistics for NUTS.
        point: (B,) temperatures used for predictions: the posterior median per bin
            (the mode itself for MAP).
        info: the runner's extra output (losses, timings, convergence).
    """

    idata: az.InferenceData
    point: torch.Tensor
    info: dict

    @property
    def inference(self) -> str:
        """The inference label (``"map"``, ``"laplace"``, ``"svi"``, ``"nuts"``)."""
        return str(self.idata.posterior.attrs.get("inference", "unknown"))

    @property
    def n_bins(self) -> int:
        return int(self.point.numel())

    def summary(self, prob: float = 0.9) -> pd.DataFrame:
        """One row per level bin: edges, calibration rows, the temperature used, and the
        posterior mean, sd, central ``prob`` interval (NaN for a MAP point, which has no
        spread), and r_hat / ESS with >= 2 chains of >= 4 draws."""
        prob = check_probability("prob", prob)
        draws = self.idata.posterior["temperature"].values
        flat = draws.reshape(-1, self.n_bins)
        tail = (1 - prob) / 2
        spread = flat.shape[0] > 1
        nan = np.full(self.n_bins, np.nan)
        edges = self.idata.constant_data["bin_edges"].values
        table = pd.DataFrame({
            "level_low": edges[:-1], "level_high": edges[1:],
            "n_rows": self.idata.constant_data["rows_per_bin"].values,
            "temperature": self.point.numpy(), "mean": flat.mean(0),
            "sd": flat.std(0, ddof=1) if spread else nan,
            "lower": np.quantile(flat, tail, axis=0) if spread else nan,
            "upper": np.quantile(flat, 1 - tail, axis=0) if spread else nan,
        }, index=pd.Index(self.idata.posterior["level_bin"].values, name="level"))
        if draws.shape[0] >= 2 and draws.shape[1] >= 4:
            diagnostics = az.summary(self.idata, var_names=["temperature"], kind="diagnostics")
            table["r_hat"] = diagnostics["r_hat"].to_numpy()
            table["ess_bulk"] = diagnostics["ess_bulk"].to_numpy()
        return table


def _site_shapes(model) -> dict[str, tuple[int, ...]]:
    """Shapes of the latent sites of one prior draw (no sample dimensions)."""
    latent, _, _ = latent_and_deterministic_sites(model)
    with poutine.block():
        trace = poutine.trace(model).get_trace()
    return {name: tuple(trace.nodes[name]["value"].shape) for name in latent}


def fit_temperatures(log_probs: torch.Tensor, labels: torch.Tensor, bins: torch.Tensor,
                     edges: torch.Tensor, prior=None, inference="map", *, seed: int = 0,
                     progress: bool | None = None, levels: torch.Tensor | None = None,
                     predictive: bool | None = None, prior_predictive: bool = False
                     ) -> TemperatureFit:
    """Posterior of the per-bin temperatures from precomputed log-probabilities.

    Args:
        log_probs: (N, k) uncalibrated log-probabilities; labels, bins: (N,) long.
        edges: (B + 1,) level bin edges.
        prior: see :func:`probex.models.calibration.temperature_model`.
        inference: ``"map"``, ``"laplace"``, ``"svi"``, ``"nuts"`` (built with
            :data:`SVI_OPTIONS` / :data:`NUTS_OPTIONS`) or a configured ``MAPRunner`` /
            ``SVIRunner`` / ``NUTSRunner``. SVI and NUTS start at the MAP.
        seed: seeds the MAP start and the runner (a configured runner's own seed is
            overridden, so the same seed gives the same temperatures); the caller's
            torch RNG is left as it was.
        progress: progress bars for SVI / NUTS built from a label.
        levels: (N,) levels, stored with the data.
        predictive: add ``log_likelihood`` (log p(y_i | T) per draw and calibration row)
            and ``posterior_predictive`` (replicated labels) groups: ``None`` (default)
            while each holds at most 2^22 values (draws x rows), ``True`` always,
            ``False`` never; never for a MAP point (one draw: nothing for LOO).
        prior_predictive: add ``prior`` (draws of the prior, as many as the posterior's)
            and ``prior_predictive`` (labels drawn with those temperatures).
    """
    seed = check_seed(seed)
    n_bins = edges.numel() - 1
    log_probs = log_probs.detach().to(torch.float64)
    model = partial(temperature_model, log_probs, labels.to(log_probs.device),
                    bins.to(log_probs.device), n_bins, prior)
    runner = resolve_runner(inference, choices=INFERENCE_CHOICES, device=log_probs.device,
                            progress=progress, svi_options=SVI_OPTIONS,
                            nuts_options=NUTS_OPTIONS)
    with seeded(seed, log_probs.device):  # the caller's torch RNG is restored afterwards
        shapes = _site_shapes(model)
        init = None
        if not isinstance(runner, MAPRunner):
            mode = MAPRunner(device=log_probs.device).run(model, seed=seed)
            init = {name: torch.as_tensor(mode.posterior[name]).reshape(shape).to(log_probs)
                    for name, shape in shapes.items()}
        draws = runner.run(model, init_values=init, seed=seed)
    shapes["temperature"] = (n_bins,)
    if "log_temperature" not in draws.posterior:
        shapes["log_temperature"] = (n_bins,)
        draws.posterior["log_temperature"] = np.log(draws.posterior["temperature"])
    chains, n_draws = draws.posterior["temperature"].shape[:2]
    posterior = {name: np.asarray(value).reshape(chains, n_draws, *shapes[name])
                 for name, value in draws.posterior.items() if name in shapes}
    draws.posterior = posterior
    labels_text = [f"[{float(edges[b]):.2f}, {float(edges[b + 1]):.2f}"
                   f"{']' if b == n_bins - 1 else ')'}" for b in range(n_bins)]
    counts = torch.bincount(bins.cpu(), minlength=n_bins).numpy()
    constant = {"bin": bins.cpu().numpy(), "bin_edges": edges.cpu().numpy(),
                "rows_per_bin": counts}
    dims = {"temperature": ["level_bin"], "log_temperature": ["level_bin"],
            "label": ["calibration_row"], "bin": ["calibration_row"],
            "bin_edges": ["edge"], "rows_per_bin": ["level_bin"]}
    if levels is not None:
        constant["level"] = levels.cpu().numpy()
        dims["level"] = ["calibration_row"]
    checking, note = _model_checking(draws, log_probs, labels, bins, prior, predictive,
                                     prior_predictive, seed)
    idata = to_inference_data(
        draws, observed_data={"label": labels.cpu().numpy()}, constant_data=constant,
        coords={"level_bin": labels_text, "edge": np.arange(n_bins + 1)}, dims=dims,
        attrs={"probex_version": __version__, "n_bins": n_bins,
               "n_rows": int(labels.numel()), "n_classes": int(log_probs.shape[1]),
               "seed": seed, "prior": "random walk" if prior is None else repr(prior),
               "predictive_groups": note}, **checking)
    point = torch.from_numpy(np.median(posterior["temperature"].reshape(-1, n_bins), axis=0))
    return TemperatureFit(idata=idata, point=point, info=dict(draws.info))


def _model_checking(draws, log_probs, labels, bins, prior, predictive, prior_predictive,
                    seed: int) -> tuple[dict, str]:
    """The log_likelihood / posterior_predictive / prior / prior_predictive groups that
    were asked for (see :func:`fit_temperatures`) and a sentence saying which."""
    out = {}
    temperature = draws.posterior["temperature"]
    chains, n_draws = temperature.shape[:2]
    size = chains * n_draws * int(labels.numel())
    s, y, b = (t.detach().cpu().numpy() for t in (log_probs, labels, bins))
    if draws.method == "map" or predictive is False:
        note = "none (a MAP point)" if draws.method == "map" else "none (predictive=False)"
    elif predictive or size <= PREDICTIVE_VALUES_MAX:
        out["log_likelihood"] = {"label": label_log_likelihood(s, y, b, temperature)}
        out["posterior_predictive"] = {"label": replicated_labels(s, b, temperature, seed + 3)}
        note = "log_likelihood, posterior_predictive"
    else:
        note = (f"none: log_likelihood and posterior_predictive would hold {size} values "
                f"each (over {PREDICTIVE_VALUES_MAX}); fit with predictive=True")
    if prior_predictive:
        drawn = temperature_prior_draws(prior, temperature.shape[-1], chains, n_draws,
                                        seed + 4)
        out["prior"] = {k: v for k, v in drawn.items() if k in draws.posterior}
        out["prior_predictive"] = {"label": replicated_labels(s, b, drawn["temperature"],
                                                              seed + 5)}
        note = ", ".join([n for n in (note,) if not n.startswith("none")]
                         + ["prior", "prior_predictive"])
    return out, note
