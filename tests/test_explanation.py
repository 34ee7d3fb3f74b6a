import os

import numpy as np
import pandas as pd
import pytest

import probex as px
from probex._io import write_atomically
from probex.inference import SVIRunner


@pytest.fixture(scope="module")
def explanations(demo_model):
    """An exact single, an exact batch, an adaptive (with design trace) and an SVI one."""
    model, data = demo_model
    bb = px.BlackBox(model, feature_names=data.feature_names)
    ex = px.BayesLIME(bb, background=data.X_train, seed=0)
    svi = px.BayesLIME(bb, background=data.X_train, seed=0,
                       inference=SVIRunner(num_steps=200, num_draws=300, seed=0))
    return {
        "exact": ex.explain(data.X_test[0], n_samples=300),
        "batch": ex.explain(data.X_test[:3], n_samples=200),
        "adaptive": ex.explain(data.X_test[1], n_samples=400, focused=True,
                               initial_samples=200, batch_size=100),
        "svi": svi.explain(data.X_test[0], n_samples=300),
    }


@pytest.mark.parametrize("kind", ["exact", "batch", "adaptive", "svi"])
def test_netcdf_round_trip_is_lossless(explanations, kind, tmp_path):
    e = explanations[kind]
    path = e.to_netcdf(tmp_path / "e.nc")
    back = px.Explanation.from_netcdf(path)
    assert back.idata.groups() == e.idata.groups()
    for group in e.idata.groups():
        assert back.idata[group].identical(e.idata[group]), group
    np.testing.assert_array_equal(back.mean, e.mean)
    np.testing.assert_array_equal(back.sd, e.sd)
    np.testing.assert_array_equal(back.hdi(0.9), e.hdi(0.9))
    pd.testing.assert_frame_equal(back.summary(), e.summary())
    assert (back.method, back.inference, back.n_queries, back.feature_names) == (
        e.method, e.inference, e.n_queries, e.feature_names)
    if kind == "adaptive":
        pd.testing.assert_frame_equal(back.trace, e.trace)
    assert [p.name for p in tmp_path.iterdir()] == ["e.nc"]  # no temporary file left


def test_sampled_summary_has_diagnostics_and_exact_one_has_marginals(explanations):
    sampled = explanations["svi"].summary()
    assert {"mean", "sd", "hdi_2.5%", "hdi_97.5%", "ess_bulk", "r_hat"} <= set(sampled.columns)
    e = explanations["exact"]
    marginal = e.summary(prob=0.9)
    np.testing.assert_array_equal(marginal[["hdi_5%", "hdi_95%"]].to_numpy(), e.hdi(0.9))
    assert "r_hat" not in marginal.columns


def test_batches_index_and_errors(explanations):
    batch = explanations["batch"]
    assert len(batch) == 3 and batch[-1].mean.shape == (30,)
    np.testing.assert_array_equal(batch[2].mean, batch.mean[2])
    with pytest.raises(IndexError, match="instance 3 out of range for 3"):
        batch[3]
    with pytest.raises(TypeError, match="cannot be indexed"):
        explanations["exact"][0]
    with pytest.raises(TypeError, match="top_features is per instance"):
        batch.top_features()
    with pytest.raises(TypeError, match="plot one instance at a time"):
        batch.plot()
    with pytest.raises(ValueError, match=r"prob must be in \(0, 1\)"):
        batch.hdi(1.0)


def test_top_features_and_repr(explanations):
    e = explanations["exact"]
    top = e.top_features(3)
    order = np.argsort(-np.abs(e.mean))[:3]
    assert top == [e.feature_names[j] for j in order]
    assert top[0] in repr(e) and "n_queries=300" in repr(e)


def test_plot_writes_a_png_with_the_chosen_features(explanations, tmp_path):
    import matplotlib.pyplot as plt

    e = explanations["exact"]
    axes = e.plot(max_features=5, path=tmp_path / "forest.png")
    labels = [t.get_text() for t in np.ravel(axes)[0].get_yticklabels()]
    assert sorted(labels) == sorted(e.top_features(5))
    assert (tmp_path / "forest.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    explanations["svi"].plot(diagnostics=True, path=tmp_path / "diag.png")
    assert (tmp_path / "diag.png").stat().st_size > 1000
    plt.close("all")


def test_plot_options_are_keyword_only(explanations, tmp_path):
    import matplotlib.pyplot as plt

    from probex import plots

    e = explanations["exact"]
    for call in (lambda: e.plot(0.9), lambda: plots.forest(e, 0.9),
                 lambda: plots.diagnostics(explanations["svi"], ["attribution"]),
                 lambda: plots.design_trace(e, tmp_path / "trace.png")):
        with pytest.raises(TypeError, match="positional"):
            call()
    axes = plots.forest(e, prob=0.5, max_features=3)
    assert "50% HDI" in np.ravel(axes)[0].get_title()
    assert len(np.ravel(axes)[0].get_yticklabels()) == 3
    plt.close("all")


def test_from_draws_builds_any_method_with_closed_form(tmp_path):
    rng = np.random.default_rng(0)
    draws = rng.normal(size=(2, 500, 3))
    e = px.Explanation.from_draws(draws, ["a", "b", "c"], method="Test", inference="mc",
                                  n_queries=7, closed_form={"loc": [1.0, 2.0, 3.0],
                                                            "sd": [0.5, 0.5, 1.0]})
    np.testing.assert_array_equal(e.mean, [1.0, 2.0, 3.0])
    np.testing.assert_allclose(e.hdi(0.95)[2], [3 - 1.959964, 3 + 1.959964], rtol=1e-6)
    assert e.n_queries == 7 and e.method == "Test" and e.feature_names == ["a", "b", "c"]
    sampled = px.Explanation.from_draws(draws, ["a", "b", "c"], method="Test", inference="mc")
    np.testing.assert_allclose(sampled.mean, draws.mean((0, 1)))
    back = px.Explanation.from_netcdf(e.to_netcdf(tmp_path / "d.nc"))
    np.testing.assert_array_equal(back.hdi(0.8), e.hdi(0.8))
    with pytest.raises(ValueError, match="3 attributions per draw but 2 feature names"):
        px.Explanation.from_draws(draws, ["a", "b"], method="T", inference="mc")
    with pytest.raises(ValueError, match=r"must be \(chain, draw, \[instance,\] feature\)"):
        px.Explanation.from_draws(draws[0], ["a", "b", "c"], method="T", inference="mc")


def test_files_are_written_whole(tmp_path):
    target = tmp_path / "out.bin"
    target.write_bytes(b"old")

    def failing(tmp):
        with open(tmp, "wb") as f:
            f.write(b"partial")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        write_atomically(target, failing)
    assert target.read_bytes() == b"old" and os.listdir(tmp_path) == ["out.bin"]
    with pytest.raises(FileNotFoundError, match="does not exist"):
        write_atomically(tmp_path / "missing" / "x.nc", failing)
    with pytest.raises(FileNotFoundError, match="no explanation file"):
        px.Explanation.from_netcdf(tmp_path / "nothing.nc")


def test_selecting_instances_leaves_the_batch_metadata_alone(demo_model):
    model, data = demo_model
    explainer = px.BayesLIME(px.BlackBox(model), background=data.X_train, seed=0)
    batch = explainer.explain(data.X_test[:3], n_samples=100, target=[0, 1, 1])
    assert batch.idata is not None  # built: selections share xarray attrs with the batch
    taken, one = batch.take([2, 0]), batch[1]
    np.testing.assert_array_equal(taken.attrs["target"], [1, 0])
    assert one.attrs["target"] == 1 and one.idata.posterior.attrs["n_instances"] == 1
    for group in batch.idata.groups():
        np.testing.assert_array_equal(batch.idata[group].attrs["target"], [0, 1, 1])
        assert batch.idata[group].attrs.get("n_instances", 3) == 3
    relabelled = batch.with_instances([10, 11, 12])
    np.testing.assert_array_equal(relabelled.attrs["target"], [0, 1, 1])
