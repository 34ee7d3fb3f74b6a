"""The vectorized summary diagnostics give ArviZ's numbers, element by element."""

from __future__ import annotations

import warnings

import arviz as az
import numpy as np
import pytest

import probex as px
from probex.inference.batch_diagnostics import summary_statistics

COLUMNS = ("mean", "sd", "mcse_mean", "mcse_sd", "ess_bulk", "ess_tail", "r_hat")


def autoregressive(rng, chains, n, k, phi):
    x = np.zeros((chains, n, k))
    noise = rng.normal(size=(chains, n, k))
    for t in range(1, n):
        x[:, t] = phi * x[:, t - 1] + noise[:, t]
    return x


def arviz_summary(x):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return az.summary({"v": x}, round_to="none")


@pytest.mark.parametrize("chains, n, phi", [(4, 400, 0.0), (4, 400, 0.9), (2, 101, 0.5),
                                            (4, 300, -0.7), (4, 7, 0.2), (4, 500, 0.995)])
def test_the_same_numbers_as_arviz(rng, chains, n, phi):
    x = autoregressive(rng, chains, n, 5, phi)
    x[:, :, 4] += np.arange(chains)[:, None]  # chains that disagree: r_hat >> 1
    mine, theirs = summary_statistics(x), arviz_summary(x)
    for column in COLUMNS:
        np.testing.assert_allclose(mine[column], theirs[column].to_numpy(), rtol=1e-9,
                                   atol=1e-12, err_msg=column)


def test_ties_constants_and_one_chain_as_arviz(rng):
    x = np.round(autoregressive(rng, 3, 80, 4, 0.5))  # many ties
    x[..., 0] = 1.5                                     # a constant
    mine, theirs = summary_statistics(x), arviz_summary(x)
    for column in ("ess_bulk", "ess_tail", "r_hat", "mcse_mean"):
        np.testing.assert_allclose(mine[column][1:], theirs[column].to_numpy()[1:],
                                   rtol=1e-9, err_msg=column)
    assert mine["ess_bulk"][0] == theirs["ess_bulk"].iloc[0] == 240
    one = summary_statistics(x[:1, :, 1:])
    assert np.all(np.isnan(one["r_hat"])) and np.all(np.isfinite(one["ess_bulk"]))


def test_a_sampled_batch_summary_is_arvizs_per_instance(rng):
    draws = autoregressive(rng, 4, 200, 3 * 4, 0.6).reshape(4, 200, 3, 4)
    e = px.Explanation.from_draws(draws, list("abcd"), method="x", inference="nuts")
    table = e.summary(0.9)
    assert table.shape == (12, 10) and table.index.names == ["instance", "feature"]
    theirs = arviz_summary(draws.reshape(4, 200, 12))
    for column in COLUMNS:
        np.testing.assert_allclose(table[column].to_numpy(), theirs[column].to_numpy(),
                                   rtol=1e-9, err_msg=column)
    one = e[2].summary(0.9)
    np.testing.assert_allclose(one["r_hat"].to_numpy(), table.loc[2, "r_hat"].to_numpy(),
                               rtol=1e-12)


def test_rhat_as_arviz_rhat_which_folds_at_the_split_median(rng):
    from probex.inference.batch_diagnostics import rhat_rank

    x = autoregressive(rng, 3, 51, 4, 0.5)  # odd: the middle draw is dropped
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = az.rhat({"v": x}, method="rank")["v"].values
    np.testing.assert_allclose(rhat_rank(x), theirs, rtol=1e-9)
