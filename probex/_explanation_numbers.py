"""An explanation's numbers: mean, sd, intervals, the summary table and the long table.

:class:`NumbersMixin` is one of the bases of :class:`probex.explanation.Explanation`
and reads its state (closed-form marginals, draws, metadata). Closed-form marginals are
used wherever the explanation has them; draws opened lazily from files are summarised
one stored block of instances at a time. :data:`UNCERTAINTY` says what ``sd`` and
``hdi`` describe.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING

import arviz as az
import numpy as np
import pandas as pd
from scipy import stats

if TYPE_CHECKING:
    from probex.explanation import Explanation

__all__ = ["NumbersMixin", "UNCERTAINTY"]

_VAR = "attribution"  # the posterior variable of the attributions

#: What ``sd`` and ``hdi`` describe, by the value of the ``uncertainty`` attribute.
UNCERTAINTY = {
    "posterior": "posterior uncertainty of the attribution given the queries made",
    "monte_carlo_error": "Monte Carlo error of an estimator of a fixed quantity",
    "selection_spread": "spread of a stochastic selection mask (not an estimation error)",
}


class NumbersMixin:
    """Mean, sd, HDI, ``summary``, ``to_dataframe`` and ``top_features`` of an
    :class:`~probex.explanation.Explanation`."""

    @property
    def mean(self) -> np.ndarray:
        """Posterior mean attribution, (d,) or (n, d)."""
        if self.is_exact:
            return self._closed["loc"].values.copy()
        return self._attribution.mean(("chain", "draw")).values

    @property
    def sd(self) -> np.ndarray:
        """Standard deviation of each attribution, (d,) or (n, d): of the posterior, of the
        estimator's Monte Carlo error, or of the selection mask, as ``uncertainty`` says."""
        if self.is_exact:
            return self._closed["sd"].values.copy()
        return self._attribution.std(("chain", "draw"), ddof=1).values

    def hdi(self, prob: float = 0.95) -> np.ndarray:
        """Highest-density interval of each attribution, (d, 2) or (n, d, 2).

        Closed-form marginals are used where the explanation has them: Student-t (exact
        conjugate posteriors; ``df`` and ``scale`` in the ``closed_form`` group) or normal
        (``distribution="normal"``, from ``loc`` and ``sd``); both are symmetric, so the
        central interval is the HDI. Otherwise ArviZ's HDI of the draws.
        """
        if not 0 < prob < 1:
            raise ValueError(f"prob must be in (0, 1), got {prob}")
        cf = self._closed
        if cf is not None and "df" in cf:
            loc = cf["loc"].values
            df = cf["df"].values
            quantile = stats.t.ppf(0.5 + prob / 2, df)  # df per instance, or per feature
            half = (quantile if df.ndim == loc.ndim else quantile[..., None]) * cf["scale"].values
            return np.stack([loc - half, loc + half], axis=-1)
        if cf is not None and cf.attrs.get("distribution") == "normal":
            half = stats.norm.ppf(0.5 + prob / 2) * cf["sd"].values
            return np.stack([cf["loc"].values - half, cf["loc"].values + half], axis=-1)
        blocks = self._lazy_blocks()
        if blocks is not None:
            return np.concatenate([block.hdi(prob) for block in blocks])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            interval = az.hdi(self.idata, var_names=[_VAR], hdi_prob=prob)[_VAR]
        order = [d for d in self._attribution.dims if d not in ("chain", "draw")] + ["hdi"]
        return interval.transpose(*order).values

    def _lazy_blocks(self) -> list[Explanation] | None:
        """For a batch whose draws are opened lazily: one in-memory explanation per
        stored block of instances (e.g. per chunk file), else None."""
        from probex.explanation import Explanation

        if self._idata is None or not self.is_batch:
            return None
        attribution = self._idata.posterior[_VAR]
        if attribution.chunks is None:
            return None
        sizes = attribution.chunksizes["instance"]
        bounds = np.cumsum((0,) + tuple(sizes))
        groups = [g for g in ("posterior", "sample_stats") if g in self._idata.groups()]
        return [Explanation(az.InferenceData(**{
            g: self._idata[g].isel(instance=slice(a, b)).load() for g in groups}))
            for a, b in zip(bounds[:-1], bounds[1:], strict=True)]

    def summary(self, prob: float = 0.95) -> pd.DataFrame:
        """Table indexed by feature (and instance for batches): mean, sd, HDI bounds and,
        for sampled posteriors (SVI, NUTS), ArviZ's MCSE, bulk/tail ESS and r_hat
        (computed for every instance and feature at once,
        :mod:`probex.inference.batch_diagnostics`: the same numbers as ``az.summary``,
        3-4x faster on a batch); the column ``uncertainty`` says what sd and the HDI
        describe (:data:`UNCERTAINTY`).

        Closed-form explanations report their exact marginals only: diagnostics of the
        iid draws kept for plotting would say nothing about the inference.
        """
        low, high = f"hdi_{100 * (1 - prob) / 2:g}%", f"hdi_{100 * (1 + prob) / 2:g}%"
        blocks = None if self.is_exact else self._lazy_blocks()
        if self.is_exact:
            interval = self.hdi(prob).reshape(-1, 2)
            table = pd.DataFrame({"mean": self.mean.reshape(-1), "sd": self.sd.reshape(-1),
                                  low: interval[:, 0], high: interval[:, 1]})
        elif blocks is not None:  # draws opened lazily: one block of instances at a time
            table = pd.concat([block.summary(prob) for block in blocks]).drop(
                columns="uncertainty")
        else:  # az.summary's columns, computed for all instances and features at once
            from probex.inference.batch_diagnostics import summary_statistics

            interval = self.hdi(prob).reshape(-1, 2)
            values = self._attribution.transpose("chain", "draw", ...).values
            columns = summary_statistics(values.reshape(*values.shape[:2], -1))
            table = pd.DataFrame({"mean": columns["mean"], "sd": columns["sd"],
                                  low: interval[:, 0], high: interval[:, 1],
                                  **{k: columns[k] for k in ("mcse_mean", "mcse_sd",
                                                             "ess_bulk", "ess_tail", "r_hat")}})
        if self.is_batch:
            table.index = pd.MultiIndex.from_product(
                [self.instances, self.feature_names], names=["instance", "feature"])
        else:
            table.index = pd.Index(self.feature_names, name="feature")
        table["uncertainty"] = self.uncertainty
        table.attrs["uncertainty"] = UNCERTAINTY.get(self.uncertainty, self.uncertainty)
        table.attrs["diagnostics"] = self.diagnostics
        return table

    def to_dataframe(self, prob: float = 0.95) -> pd.DataFrame:
        """Long format, one row per (instance, feature): ``instance`` (the label, 0 for a
        single instance), ``feature``, ``mean``, ``sd``, the ``prob`` HDI bounds
        (``hdi_2.5%``, ``hdi_97.5%``), ``uncertainty`` (what sd and the HDI describe) and,
        for sampled posteriors, ``r_hat``, ``ess_bulk`` and ``ess_tail``.
        """
        table = self.summary(prob)
        low, high = (c for c in table.columns if c.startswith("hdi_"))
        columns = ["mean", "sd", low, high, "uncertainty"] + [
            c for c in ("r_hat", "ess_bulk", "ess_tail") if c in table.columns]
        frame = table[columns].reset_index()
        if not self.is_batch:
            frame.insert(0, "instance", 0)
        frame["instance"] = frame["instance"].astype(np.int64)
        frame.attrs.update(table.attrs)
        return frame

    def top_features(self, k: int = 5) -> list[str]:
        """Names of the k features with the largest absolute mean attribution."""
        if self.is_batch:
            raise TypeError("top_features is per instance: use e[i].top_features(k)")
        order = np.argsort(-np.abs(self.mean), kind="stable")[:k]
        return [self.feature_names[j] for j in order]

