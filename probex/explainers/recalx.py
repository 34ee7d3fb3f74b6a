"""ReCalX: perturbation-aware recalibration of a classifier before explaining it.

Decker, Tresp & Buettner, "Improving Explainability via Perturbation-Aware
Recalibration" (ReCalX). Perturbation-based explainers query the model far from its
training data, where its probabilities are miscalibrated; ReCalX divides the model's
log-probabilities by a temperature that depends on the perturbation level of the query,
fitted on perturbed copies of held-out labelled samples drawn with the explainer's own
scheme. Here the per-level log-temperatures are latent variables
(:mod:`probex.models.calibration`), estimated by MAP (the paper's estimate), a Laplace
approximation, SVI or NUTS.

The result is a :class:`TemperatureScaledBlackBox`, a :class:`~probex.BlackBox` whose
``predict`` / ``__call__`` / ``log_probabilities`` take the perturbation level of each
row (BayesLIME, BayesSHAP and EAGLE pass it; ``level=None`` means unperturbed, level 0)
and return ``softmax(s / T(level))`` for the uncalibrated log-probabilities ``s``. Every
row keeps its argmax exactly.

A method object only wires things together: the level-controlled perturbations come
from :mod:`probex.explainers._levels`, the model from :mod:`probex.models.calibration`,
the inference from :mod:`probex.inference`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import arviz as az
import numpy as np
import pandas as pd
import torch
from pyro import poutine

from probex._checks import as_matrix, as_tensor, check_choice
from probex._version import __version__
from probex.blackbox import BlackBox, as_blackbox
from probex.explainers._levels import check_labels, perturb_by_level
from probex.inference import NUTSRunner, SVIRunner, to_inference_data
from probex.inference.map import MAPRunner
from probex.inference.sites import latent_and_deterministic_sites
from probex.models.calibration import assign_bins, bin_edges, temper, temperature_model
from probex.perturb import Perturbation, make_perturbation

__all__ = ["TemperatureScaledBlackBox", "ReCalX", "TemperatureScaling", "fit_temperatures",
           "TemperatureFit", "perturbed_calibration", "plot_temperatures", "perturb_by_level"]

_INFERENCE = ("map", "laplace", "svi", "nuts")
_LEVEL_SLACK = 1e-9  # rounding of levels computed by a scheme, e.g. 1 - mean(z)


class TemperatureScaledBlackBox(BlackBox):
    """A classifier whose log-probabilities are divided by a level-dependent temperature.

    ``predict(X, level)`` returns ``softmax(s / T_b)`` with ``s`` the uncalibrated
    log-probabilities (log-softmax of logits for torch modules, log ``predict_proba``
    for scikit-learn models and probability callables) and ``b`` the bin of each row's
    perturbation level. It queries the same model as ``bb`` with the same options
    (target, batch size, device, feature names), counts its own queries from 0 and
    validates inputs, outputs and levels.

    Args:
        bb: the uncalibrated classifier (a :class:`~probex.BlackBox` or a model).
        temperatures: (B,) positive temperatures, one per level bin.
        edges: (B + 1,) bin edges from 0 to 1 (default: B equal-width bins).

    Argmax: T > 0 keeps the order of each row's scores; where floating-point rounding
    would merge the top score with another one, the originally largest entry is raised
    by one unit in the last place, so ``predict(X, level).argmax(1)`` equals the
    uncalibrated ``predict(X).argmax(1)`` for every row (ties resolved as
    ``torch.argmax`` does, to the first index, in both).
    """

    def __init__(self, bb, temperatures, edges=None):
        bb = as_blackbox(bb)
        if isinstance(bb, TemperatureScaledBlackBox):
            raise ValueError("this black box is already temperature-scaled; calibrate its "
                             "uncalibrated .base instead")
        if bb.task != "classification":
            raise ValueError("temperature scaling needs a classifier (task='classification')")
        super().__init__(bb.model, task=bb.task, target=bb.target, batch_size=bb.batch_size,
                         device=bb.device, feature_names=bb._feature_names,
                         n_features=bb.n_features, output=bb.output,
                         input_type=bb.input_type, class_names=bb.class_names)
        self.n_outputs = bb.n_outputs
        self.base = bb
        temperatures = as_tensor(temperatures, "temperatures").reshape(-1)
        if temperatures.numel() == 0 or bool((temperatures <= 0).any()):
            raise ValueError("temperatures must be positive, one per level bin")
        edges = bin_edges(temperatures.numel()) if edges is None else as_tensor(edges, "edges")
        if (edges.ndim != 1 or edges.numel() != temperatures.numel() + 1
                or float(edges[0]) != 0.0 or float(edges[-1]) != 1.0
                or bool((edges.diff() <= 0).any())):
            raise ValueError(f"edges must increase from 0 to 1 with {temperatures.numel() + 1} "
                             f"entries (one more than the temperatures); got {edges.tolist()}")
        self._temperatures = temperatures.cpu()
        self._edges = edges.cpu()

    # ------------------------------------------------------------------ properties
    @property
    def temperatures(self) -> np.ndarray:
        """The temperature of each level bin, (B,)."""
        return self._temperatures.numpy().copy()

    @property
    def bin_edges(self) -> np.ndarray:
        """Edges of the level bins [e_b, e_{b+1}), (B + 1,)."""
        return self._edges.numpy().copy()

    @property
    def n_bins(self) -> int:
        return self._temperatures.numel()

    def __repr__(self) -> str:
        return (f"{type(self).__name__}({self.kind}, target={self.target}, n_bins={self.n_bins}"
                f", n_queries={self.n_queries})")

    def temperature(self, level=None) -> np.ndarray:
        """Temperature applied at each level (array or scalar; ``None`` = 0)."""
        levels = self._levels(level, None if level is None or np.ndim(level) == 0
                              else np.size(level))
        return self._temperatures[assign_bins(levels, self._edges)].numpy()

    # ------------------------------------------------------------------ queries
    def predict(self, X, level=None) -> torch.Tensor:
        """Calibrated class probabilities (n, k) at the given perturbation levels."""
        raw = self._query(X)
        reference = (torch.softmax(raw, -1) if self.output == "logits" else raw).argmax(-1)
        probs = self._calibrated_log_probs(raw, level).exp()
        return _keep_argmax(probs, reference)

    def log_probabilities(self, X, level=None) -> torch.Tensor:
        """Calibrated log class probabilities (n, k) at the given perturbation levels."""
        raw = self._query(X)
        log_probs = self._calibrated_log_probs(raw, level)
        return _keep_argmax(log_probs, _log_scores(raw, self.output).argmax(-1))

    def _calibrated_log_probs(self, raw: torch.Tensor, level) -> torch.Tensor:
        levels = self._levels(level, raw.shape[0]).to(raw.device)
        temperature = self._temperatures.to(raw)[assign_bins(levels, self._edges.to(raw))]
        return temper(_log_scores(raw, self.output), temperature)

    @staticmethod
    def _levels(level, n_rows: int | None) -> torch.Tensor:
        """Levels (n_rows,) in [0, 1]: ``None`` -> 0, a scalar -> repeated."""
        if level is None:
            return torch.zeros(n_rows or 1, dtype=torch.float64)
        levels = as_tensor(level, "level")
        if levels.ndim == 0:
            levels = levels.expand(n_rows or 1)
        if levels.ndim != 1 or (n_rows is not None and levels.shape[0] != n_rows):
            raise ValueError(f"level must be a scalar or have one entry per input row "
                             f"({n_rows}); got shape {tuple(levels.shape)}")
        if float(levels.min()) < -_LEVEL_SLACK or float(levels.max()) > 1.0 + _LEVEL_SLACK:
            raise ValueError(f"perturbation levels must lie in [0, 1]; got values from "
                             f"{float(levels.min()):.4g} to {float(levels.max()):.4g}")
        return levels.clamp(0.0, 1.0)


def _log_scores(raw: torch.Tensor, output: str) -> torch.Tensor:
    """Uncalibrated log-probabilities from validated model outputs (as BlackBox does)."""
    if output == "logits":
        return torch.log_softmax(raw, dim=-1)
    return torch.log(raw.clamp_min(torch.finfo(raw.dtype).tiny))


def _keep_argmax(values: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    """Raise ``values[i, reference[i]]`` by the least amount that makes it the first
    maximum of row i, in the rare rows where rounding made another entry win."""
    wrong = torch.nonzero(values.argmax(-1) != reference)[:, 0]
    if wrong.numel() == 0:
        return values
    rows, target = values[wrong], reference[wrong]
    index = torch.arange(values.shape[-1], device=values.device)
    before = index[None, :] < target[:, None]
    after = index[None, :] > target[:, None]
    low = torch.full_like(rows, -torch.inf)
    need = torch.maximum(
        torch.nextafter(torch.where(before, rows, low).amax(-1),
                        torch.full_like(rows[:, 0], torch.inf)),
        torch.where(after, rows, low).amax(-1))
    current = rows.gather(1, target[:, None])[:, 0]
    rows = rows.scatter(1, target[:, None], torch.maximum(current, need)[:, None])
    values = values.clone()
    values[wrong] = rows
    return values


# ---------------------------------------------------------------------- fitting
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


def _runner(inference, seed: int, device, progress):
    if isinstance(inference, (MAPRunner, SVIRunner, NUTSRunner)):
        return inference
    if not isinstance(inference, str):
        raise TypeError("inference must be 'map', 'laplace', 'svi', 'nuts' or a runner object")
    check_choice("inference", inference, _INFERENCE)
    if inference in ("map", "laplace"):
        return MAPRunner(laplace=inference == "laplace", seed=seed, device=device)
    if inference == "svi":
        return SVIRunner(guide="mvn", num_steps=1500, learning_rate=0.02, num_particles=8,
                         seed=seed, device=device, progress=progress)
    return NUTSRunner(num_samples=500, num_warmup=500, num_chains=4, seed=seed,
                      device=device, progress=progress)


def _site_shapes(model) -> dict[str, tuple[int, ...]]:
    """Shapes of the latent sites of one prior draw (no sample dimensions)."""
    latent, _, _ = latent_and_deterministic_sites(model)
    with poutine.block():
        trace = poutine.trace(model).get_trace()
    return {name: tuple(trace.nodes[name]["value"].shape) for name in latent}


def fit_temperatures(log_probs: torch.Tensor, labels: torch.Tensor, bins: torch.Tensor,
                     edges: torch.Tensor, prior=None, inference="map", seed: int = 0,
                     progress=None, levels: torch.Tensor | None = None) -> TemperatureFit:
    """Posterior of the per-bin temperatures from precomputed log-probabilities.

    Args:
        log_probs: (N, k) uncalibrated log-probabilities; labels, bins: (N,) long.
        edges: (B + 1,) level bin edges.
        prior: see :func:`probex.models.calibration.temperature_model`.
        inference: ``"map"``, ``"laplace"``, ``"svi"``, ``"nuts"`` or a runner. SVI and
            NUTS start at the MAP.
        levels: (N,) levels, stored with the data.
    """
    n_bins = edges.numel() - 1
    log_probs = log_probs.detach().to(torch.float64)
    model = partial(temperature_model, log_probs, labels.to(log_probs.device),
                    bins.to(log_probs.device), n_bins, prior)
    runner = _runner(inference, seed, log_probs.device, progress)
    shapes = _site_shapes(model)
    init = None
    if not isinstance(runner, MAPRunner):
        mode = MAPRunner(seed=seed, device=log_probs.device).run(model)
        init = {name: torch.as_tensor(mode.posterior[name]).reshape(shape).to(log_probs)
                for name, shape in shapes.items()}
    draws = runner.run(model, init_values=init)
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
    idata = to_inference_data(
        draws, observed_data={"label": labels.cpu().numpy()}, constant_data=constant,
        coords={"level_bin": labels_text, "edge": np.arange(n_bins + 1)}, dims=dims,
        attrs={"probex_version": __version__, "n_bins": n_bins,
               "n_rows": int(labels.numel()), "n_classes": int(log_probs.shape[1]),
               "seed": int(seed), "prior": "random walk" if prior is None else repr(prior)})
    point = torch.from_numpy(np.median(posterior["temperature"].reshape(-1, n_bins), axis=0))
    return TemperatureFit(idata=idata, point=point, info=dict(draws.info))


class _FittedTemperatures(TemperatureScaledBlackBox):
    """Shared reporting of fitted temperatures: ``idata``, ``summary()``, ``plot()``."""

    fit: TemperatureFit

    @property
    def idata(self) -> az.InferenceData:
        """Posterior of the temperatures as ArviZ InferenceData."""
        return self.fit.idata

    @property
    def inference(self) -> str:
        return str(self.fit.idata.posterior.attrs.get("inference", "unknown"))

    def summary(self, prob: float = 0.9) -> pd.DataFrame:
        """One row per level bin: edges, calibration rows, the temperature used, and the
        posterior mean, sd, central ``prob`` interval (and r_hat / ESS with >= 2 chains)."""
        if not 0 < prob < 1:
            raise ValueError(f"prob must be in (0, 1), got {prob}")
        draws = self.idata.posterior["temperature"].values
        flat = draws.reshape(-1, self.n_bins)
        tail = (1 - prob) / 2
        spread = flat.shape[0] > 1  # a MAP fit has no posterior spread: NaN columns
        nan = np.full(self.n_bins, np.nan)
        table = pd.DataFrame({
            "level_low": self.bin_edges[:-1], "level_high": self.bin_edges[1:],
            "n_rows": self.idata.constant_data["rows_per_bin"].values,
            "temperature": self.temperatures, "mean": flat.mean(0),
            "sd": flat.std(0, ddof=1) if spread else nan,
            "lower": np.quantile(flat, tail, axis=0) if spread else nan,
            "upper": np.quantile(flat, 1 - tail, axis=0) if spread else nan,
        }, index=pd.Index(self.idata.posterior["level_bin"].values, name="level"))
        if draws.shape[0] >= 2 and draws.shape[1] >= 4:
            diagnostics = az.summary(self.idata, var_names=["temperature"], kind="diagnostics")
            table["r_hat"] = diagnostics["r_hat"].to_numpy()
            table["ess_bulk"] = diagnostics["ess_bulk"].to_numpy()
        return table

    def plot(self, prob: float = 0.9, truth=None, reference: dict | None = None, ax=None,
             path=None):
        """Temperature against perturbation level with a central ``prob`` band; see
        :func:`plot_temperatures`."""
        return plot_temperatures(self, prob=prob, truth=truth, reference=reference, ax=ax,
                                 path=path)


def _resolve_scheme(scheme, background) -> Perturbation:
    if isinstance(scheme, Perturbation):
        return scheme
    if isinstance(getattr(scheme, "perturbation", None), Perturbation):  # an explainer
        return scheme.perturbation
    if not isinstance(scheme, str):
        raise TypeError("scheme must be 'mask', 'gaussian', a probex.perturb.Perturbation or "
                        "an explainer with a .perturbation")
    return make_perturbation(scheme, background, kernel="lime")


def _subsample(X: torch.Tensor, y: torch.Tensor, n_samples: int | None, seed: int):
    if n_samples is None or X.shape[0] <= n_samples:
        return X, y
    if int(n_samples) < 1:
        raise ValueError(f"n_samples must be positive, got {n_samples}")
    chosen = torch.randperm(X.shape[0], generator=torch.Generator().manual_seed(seed))
    chosen = chosen[: int(n_samples)].sort().values
    return X[chosen], y[chosen]


def _check_classes(log_probs: torch.Tensor, labels: torch.Tensor) -> None:
    if int(labels.max()) >= log_probs.shape[1]:
        raise ValueError(f"labels go up to {int(labels.max())} but the model has "
                         f"{log_probs.shape[1]} classes")


class ReCalX(_FittedTemperatures):
    """Perturbation-aware recalibration: a temperature per bin of perturbation level.

    ``ReCalX(bb, X_cal, y_cal)`` fits the temperatures and *is* the calibrated black box
    (a :class:`TemperatureScaledBlackBox`): pass it to BayesLIME, BayesSHAP or EAGLE in
    place of ``bb``.

    Calibration data: ``n_samples`` held-out labelled rows (a seeded subsample of X_cal),
    each perturbed ``n_perturbations`` times in every one of the ``n_bins`` level bins
    with ``scheme`` (see :mod:`probex.explainers._levels`); the uncalibrated model is
    queried once on all of them (``n_calibration_queries`` rows) and never during
    inference.

    Args:
        bb: the classifier to calibrate (:class:`~probex.BlackBox` or a model).
        X_cal: (n, d) held-out inputs, not used to train the model; y_cal: (n,) labels.
        scheme: ``"mask"`` (replacement by ``background``'s mean), ``"gaussian"``, a
            :class:`~probex.perturb.Perturbation`, or the explainer whose perturbations
            will be calibrated (its ``.perturbation`` is used).
        n_bins: number B of equal-width level bins on [0, 1].
        inference: ``"map"`` (default; the paper's estimate), ``"laplace"`` (MAP plus a
            normal approximation), ``"svi"`` (full-rank normal guide), ``"nuts"`` or a
            configured runner (``MAPRunner``, ``SVIRunner``, ``NUTSRunner``).
        prior: prior of the log-temperatures (default: Gaussian random walk over bins,
            :func:`probex.models.calibration.random_walk_prior`); a Pyro distribution
            over the (B,) vector or a callable, see
            :func:`probex.models.calibration.temperature_model`.
        n_samples, n_perturbations: calibration rows per bin = n_samples * n_perturbations.
        background: data for a scheme given by name (default X_cal).
        seed: seeds the subsample, the perturbations and the inference.
        progress: progress bars for SVI / NUTS (``None``: only on a terminal).

    Attributes:
        temperatures, bin_edges, idata, fit, scheme, n_calibration_queries, base.
    """

    def __init__(self, bb, X_cal, y_cal, scheme="mask", n_bins: int = 10, inference="map",
                 prior=None, n_samples: int | None = 200, n_perturbations: int = 10,
                 background=None, seed: int = 0, progress: bool | None = None):
        bb = as_blackbox(bb)
        X = as_matrix(X_cal, "X_cal", n_features=bb.n_features)
        y = check_labels(y_cal, X.shape[0])
        scheme = _resolve_scheme(scheme, X if background is None else background)
        bb.bind_features(scheme.n_features)
        edges = bin_edges(n_bins)
        X, y = _subsample(X, y, n_samples, int(seed))
        data = perturb_by_level(scheme, X, y, edges, n_perturbations, seed=int(seed))
        before = bb.n_queries
        log_probs = bb.log_probabilities(data.inputs, level=data.levels)
        _check_classes(log_probs, data.labels)
        self.fit = fit_temperatures(log_probs, data.labels, data.bins, edges, prior, inference,
                                    int(seed), progress, levels=data.levels)
        super().__init__(bb, self.fit.point, edges)
        self.scheme = scheme
        self.n_calibration_queries = bb.n_queries - before
        for group in self.fit.idata.groups():
            self.fit.idata[group].attrs.update(
                method="ReCalX", scheme=type(scheme).__name__,
                n_calibration_queries=self.n_calibration_queries)


class TemperatureScaling(_FittedTemperatures):
    """Global temperature scaling (Guo et al., 2017): one temperature, fitted on the
    *unperturbed* held-out data and applied at every perturbation level. The baseline
    ReCalX is compared with; same model and inference options with a single bin.

    Args:
        bb: the classifier; X_cal, y_cal: held-out data; inference, prior, seed,
            progress: as for :class:`ReCalX`.
    """

    def __init__(self, bb, X_cal, y_cal, inference="map", prior=None, seed: int = 0,
                 progress: bool | None = None):
        bb = as_blackbox(bb)
        X = as_matrix(X_cal, "X_cal", n_features=bb.n_features)
        y = check_labels(y_cal, X.shape[0])
        before = bb.n_queries
        log_probs = bb.log_probabilities(X)
        _check_classes(log_probs, y)
        edges = bin_edges(1)
        self.fit = fit_temperatures(log_probs, y, torch.zeros_like(y), edges, prior, inference,
                                    int(seed), progress,
                                    levels=torch.zeros(y.shape[0], dtype=torch.float64))
        super().__init__(bb, self.fit.point, edges)
        self.n_calibration_queries = bb.n_queries - before
        for group in self.fit.idata.groups():
            self.fit.idata[group].attrs.update(method="TemperatureScaling",
                                               n_calibration_queries=self.n_calibration_queries)


def plot_temperatures(calibrated: _FittedTemperatures, prob: float = 0.9, truth=None,
                      reference: dict | None = None, ax=None, path=None):
    """Temperature T against perturbation level lambda: the step function used for
    predictions, with the posterior's central ``prob`` band per bin (when there are
    draws), optional true temperatures (B,) and reference temperatures
    ``{label: T}`` drawn as horizontal lines (e.g. global temperature scaling).
    Writes a PNG to ``path`` when given; returns the Axes."""
    import matplotlib.pyplot as plt

    from probex.plots import save_figure

    table = calibrated.summary(prob)
    edges = calibrated.bin_edges
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3.8))

    def steps(values):
        values = np.asarray(values, dtype=float)
        return np.append(values, values[-1])

    if calibrated.idata.posterior.sizes["draw"] * calibrated.idata.posterior.sizes["chain"] > 1:
        ax.fill_between(edges, steps(table["lower"]), steps(table["upper"]), step="post",
                        alpha=0.3, color="C0", label=f"{100 * prob:g}% posterior interval")
    ax.step(edges, steps(table["temperature"]), where="post", color="C0", lw=2,
            label=f"ReCalX ({calibrated.inference})")
    if truth is not None:
        ax.step(edges, steps(truth), where="post", color="k", ls="--", lw=1.2, label="true T")
    for i, (label, value) in enumerate((reference or {}).items()):
        ax.axhline(float(value), color=f"C{i + 1}", ls="-.", lw=1.2, label=label)
    ax.axhline(1.0, color="0.5", lw=0.8, ls=":")
    ax.set_xlabel("perturbation level $\\lambda$ (fraction of features replaced)")
    ax.set_ylabel("temperature T")
    ax.set_yscale("log")
    ax.set_xlim(0, 1)
    ax.legend(fontsize="small")
    ax.grid(alpha=0.3)
    if path is not None:
        save_figure(ax.figure, path)
    return ax


def perturbed_calibration(bb, X, y, scheme="mask", n_bins: int = 10,
                          n_perturbations: int = 20, background=None, seed: int = 1,
                          estimator: str = "kernel", bandwidth=None):
    """Calibration error per perturbation level on held-out perturbed data.

    Every row of X is perturbed ``n_perturbations`` times in each of ``n_bins`` level
    bins (as ReCalX's calibration data, with another seed); each black box is queried
    with the rows' levels and scored by
    :func:`probex.metrics.calibration.calibration_by_level`.

    Args:
        bb: a black box, or a dict ``{name: black box}`` scored on the same perturbations.
        X, y: held-out inputs and labels (not used for fitting); other arguments as for
            :class:`ReCalX` and :func:`~probex.metrics.calibration.kl_calibration_error`.

    Returns:
        a :class:`~probex.metrics.calibration.LevelCalibration` (``.table``, ``.ce_avg``,
        ``.ce_max``), or a dict of them for a dict of black boxes.
    """
    from probex.metrics.calibration import calibration_by_level

    boxes = bb if isinstance(bb, dict) else {"model": bb}
    boxes = {name: as_blackbox(box) for name, box in boxes.items()}
    first = next(iter(boxes.values()))
    X = as_matrix(X, "X", n_features=first.n_features)
    scheme = _resolve_scheme(scheme, X if background is None else background)
    edges = bin_edges(n_bins)
    data = perturb_by_level(scheme, X, check_labels(y, X.shape[0]), edges, n_perturbations,
                            seed=int(seed))
    results = {}
    for name, box in boxes.items():
        probs = box.predict(data.inputs, level=data.levels)
        results[name] = calibration_by_level(probs, data.labels, data.levels, edges=edges,
                                             estimator=estimator, bandwidth=bandwidth)
    return results if isinstance(bb, dict) else results["model"]
