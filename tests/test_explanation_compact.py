"""Compact explanations, instance labels and the long table (what data-set runs store)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import probex as px
from probex.inference import SVIRunner


@pytest.fixture(scope="module")
def explainer(demo_model):
    model, data = demo_model
    bb = px.BlackBox(model, feature_names=data.feature_names)
    return px.BayesLIME(bb, background=data.X_train, seed=0, n_draws=100, n_chains=2), data


def test_compact_exact_explanation_keeps_its_numbers_and_no_draws(explainer, tmp_path):
    ex, data = explainer
    e = ex.explain(data.X_test[:3], n_samples=200)
    small = e.compact()
    assert not small.has_draws and e.has_draws and small.attrs["compact"] == 1
    np.testing.assert_array_equal(small.mean, e.mean)
    np.testing.assert_array_equal(small.sd, e.sd)
    np.testing.assert_array_equal(small.hdi(0.8), e.hdi(0.8))
    pd.testing.assert_frame_equal(small.summary(), e.summary())
    with pytest.raises(ValueError, match="compact"):
        _ = small.idata
    back = px.Explanation.from_netcdf(small.to_netcdf(tmp_path / "small.nc"))
    pd.testing.assert_frame_equal(back.to_dataframe(), e.to_dataframe())
    assert back.n_queries == e.n_queries and back.method == "BayesLIME"
    assert (tmp_path / "small.nc").stat().st_size < (
        e.to_netcdf(tmp_path / "whole.nc").stat().st_size) / 10


def test_compact_sampled_explanation_keeps_draws_not_perturbations(explainer):
    ex, data = explainer
    svi = px.BayesLIME(ex.bb, background=data.X_train, seed=0,
                       inference=SVIRunner(num_steps=30, num_draws=50, seed=0))
    e = svi.explain(data.X_test[0], n_samples=100)
    small = e.compact()
    assert small.has_draws and "posterior" in small.idata.groups()
    assert not {"constant_data", "observed_data"} & set(small.idata.groups())
    pd.testing.assert_frame_equal(small.summary(), e.summary())


def test_take_and_labels_follow_the_instances(explainer):
    ex, data = explainer
    e = ex.explain(data.X_test[:4], n_samples=100, target=[0, 1, 1, 0])
    picked = e.take([3, 1]).with_instances([30, 10])
    np.testing.assert_array_equal(picked.mean, e.mean[[3, 1]])
    np.testing.assert_array_equal(picked.instances, [30, 10])
    np.testing.assert_array_equal(picked.attrs["target"], [0, 1])
    table = picked.to_dataframe(0.9)
    assert list(table.columns[:6]) == ["instance", "feature", "mean", "sd", "hdi_5%", "hdi_95%"]
    assert table["instance"].tolist() == [30] * 30 + [10] * 30
    single = e[2].to_dataframe()
    assert (single["instance"] == 0).all() and len(single) == 30
    with pytest.raises(ValueError, match="one label per instance"):
        e.with_instances([1, 2])
