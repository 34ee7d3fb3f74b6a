"""LEX as an explainer: recovery of ground-truth features, post hoc black boxes, the named
configurations, explanations, checkpoint/resume and input validation."""

import numpy as np
import pandas as pd
import pytest
import torch

import probex as px
from probex.datasets import (
    MLP,
    make_switching_panels,
    make_synthetic,
    synthetic_probability,
    train_classifier,
)
from probex.explainers.lex import CONFIGURATIONS, LEXConfig
from probex.metrics import selection_report

SMALL = {"selector_hidden": (32,), "predictor_hidden": (32,)}


def _xor(n_train=2000, n_test=500):
    return make_synthetic("xor", n=n_train + n_test, seed=0, labels="threshold").split(n_train)


def test_in_situ_lex_recovers_the_xor_features():
    """The issue's bar, seeded, on CPU: TPR >= 0.9 and FDR <= 0.2 on held-out rows."""
    train, test = _xor()
    lex = px.LEX("lex", seed=0, imputation="zero", n_imputations=1, sparsity=0.02, **SMALL)
    lex.fit(train.X, train.y, epochs=20)
    report = selection_report(lex.select(test.X), test.relevant)
    assert report["tpr"] >= 0.9 and report["fdr"] <= 0.2, report
    # the predictor sees only the selected features and still separates the classes
    accuracy = (lex.predict_proba(test.X).argmax(1) == test.y).mean()
    assert accuracy > 0.85
    assert list(lex.history_.columns) == ["step", "epoch", "phase", "log_lik", "objective",
                                          "n_selected", "loss"]
    assert len(lex.history_) == 20 * 32  # ceil(2000 / 64) = 32 steps per epoch
    assert lex.history_["step"].tolist() == list(range(20 * 32))
    assert lex.history_["epoch"].tolist() == [s // 32 for s in range(20 * 32)]


@pytest.mark.slow
@pytest.mark.parametrize("name", ["orange_skin", "nonlinear_additive", "switch",
                                  "diagonal_gaussian"])
@pytest.mark.parametrize("imputation", ["zero", "gaussian"])
def test_post_hoc_lex_recovers_features_of_the_bayes_classifier(name, imputation):
    data = make_synthetic(name, n=3000, seed=1)
    train, test = data.split(2000)
    bb = px.BlackBox(lambda X: synthetic_probability(name, X), n_features=10)
    lex = px.LEX("lex", seed=0, imputation=imputation, sparsity=0.01, **SMALL)
    lex.fit(train.X, bb, epochs=20)
    report = selection_report(lex.select(test.X), test.relevant)
    assert report["tpr"] >= 0.9 and report["fdr"] <= 0.2, report


@pytest.mark.slow
@pytest.mark.parametrize("config,options", [
    ("invase", {"sparsity": 0.01}),
    ("realx", {"sparsity": 0.01, "pretrain_epochs": 20}),
    ("l2x", {"k": 4}),
])
def test_special_cases_recover_orange_skin_features(config, options):
    train, test = make_synthetic("orange_skin", n=2500, seed=0, labels="threshold").split(2000)
    lex = px.LEX(config, seed=0, **options, **SMALL).fit(train.X, train.y, epochs=30)
    report = selection_report(lex.select(test.X), test.relevant)
    assert report["tpr"] >= 0.9 and report["fdr"] <= 0.2, report


def test_post_hoc_queries_are_counted_exactly():
    data = make_synthetic("xor", n=100, seed=0)
    bb = px.BlackBox(lambda X: synthetic_probability("xor", X), n_features=10)
    lex = px.LEX("lex", seed=0, imputation="marginal", n_imputations=3, n_masks=2,
                 batch_size=40, **SMALL)
    lex.fit(data.X, bb, epochs=2)
    # targets: 100 rows; each epoch: batches of 40, 40, 20 rows x 2 masks x 3 imputations
    assert bb.n_queries == 100 + 2 * 100 * 2 * 3 == lex.n_queries_fit_
    e = lex.explain(data.X[:5])
    assert e.n_queries == 0 and e.attrs["n_queries_fit"] == lex.n_queries_fit_
    assert bb.n_queries == lex.n_queries_fit_  # explaining is one selector pass, no queries
    with pytest.warns(DeprecationWarning, match="n_queries_fit_"):
        assert lex.n_queries_ == lex.n_queries_fit_  # the old name, for one release


def test_relaxed_post_hoc_needs_a_differentiable_black_box():
    data = make_synthetic("xor", n=64, seed=0)
    bb = px.BlackBox(lambda X: synthetic_probability("xor", X), n_features=10)
    with pytest.raises(ValueError, match="needs gradients"):
        px.LEX("lex", estimator="relaxed", **SMALL).fit(data.X, bb, epochs=1)
    net = MLP(10, 2, (8,))
    torch_bb = px.BlackBox(net)
    lex = px.LEX("lex", estimator="relaxed", imputation="zero", **SMALL)
    lex.fit(data.X, torch_bb, epochs=1)
    assert lex.model_.selector.network.net[0].weight.grad is not None
    assert torch_bb.n_queries == 64 + 64 * 4  # targets + one epoch of 4 masks x 1 imputation


def test_explanation_holds_selection_probabilities_and_mask_draws():
    train, test = _xor(600, 50)
    lex = px.LEX("lex", seed=0, imputation="zero", n_imputations=1,
                 feature_names=train.feature_names, **SMALL)
    lex.fit(train.X, train.y, epochs=1)
    e = lex.explain(test.X, n_draws=300)
    probs = lex.selection_probabilities(test.X)
    assert e.is_batch and len(e) == 50 and e.feature_names == train.feature_names
    np.testing.assert_allclose(e.mean, probs, rtol=1e-6)
    np.testing.assert_allclose(e.sd, np.sqrt(probs * (1 - probs)), rtol=1e-6)
    draws = e.idata.posterior["attribution"].values  # (1, 300, 50, 10) masks
    assert draws.shape == (1, 300, 50, 10) and set(np.unique(draws)) <= {0.0, 1.0}
    # mask draws are Bernoulli(pi): their mean is within 4 standard errors of pi
    se = np.sqrt(probs * (1 - probs) / 300) + 1e-9
    assert np.all(np.abs(draws.mean((0, 1)) - probs) <= 4 * se + 1e-6)
    one = lex.explain(test.X[3])
    np.testing.assert_allclose(one.mean, probs[3], rtol=1e-6)
    assert e.attrs["config"] == "lex" and e.method == "LEX"
    assert lex.select(test.X).dtype == bool
    table = one.summary()
    np.testing.assert_allclose(table["mean"].values, probs[3], rtol=1e-6)
    assert list(table.index) == train.feature_names


def test_explanation_round_trips_through_netcdf(tmp_path):
    train, test = _xor(300, 5)
    lex = px.LEX("lex", seed=0, imputation="zero", **SMALL).fit(train.X, train.y, epochs=1)
    e = lex.explain(test.X, n_draws=50)
    back = px.Explanation.from_netcdf(e.to_netcdf(tmp_path / "lex.nc"))
    np.testing.assert_array_equal(back.mean, e.mean)
    assert back.attrs["imputation"] == "zero" and back.is_batch


@pytest.mark.gpu
def test_fit_and_explain_on_cuda():
    train, test = _xor(2000, 200)
    lex = px.LEX("lex", seed=0, imputation="gaussian", sparsity=0.02, **SMALL)
    lex.fit(train.X, train.y, epochs=20, device="cuda")
    assert next(lex.model_.parameters()).device.type == "cuda"
    report = selection_report(lex.select(test.X), test.relevant)
    assert report["tpr"] >= 0.9 and report["fdr"] <= 0.2, report
    assert lex.explain(test.X).mean.shape == (200, 10)


def test_subset_explanation_uses_union_inclusion_probabilities():
    train, test = _xor(300, 20)
    lex = px.LEX("l2x", k=2, seed=0, **SMALL).fit(train.X, train.y, epochs=1)
    x = torch.as_tensor(test.X, dtype=torch.float32)
    with torch.no_grad():
        w = torch.softmax(lex.model_.selector.logits(x), -1).numpy()
    np.testing.assert_allclose(lex.explain(test.X).mean, 1 - (1 - w) ** 2, rtol=1e-5)
    assert (lex.select(test.X).sum(1) == 2).all()


def _interrupt_at(step_to_stop):
    def callback(step, stats):
        if step == step_to_stop:
            raise KeyboardInterrupt
    return callback


@pytest.mark.parametrize("config,options", [
    ("lex", {"imputation": "marginal", "n_imputations": 2, "baseline": "average",
             "n_masks": 2}),
    ("realx", {"pretrain_epochs": 1, "baseline": "network"}),
])
def test_resumed_fit_ends_with_the_uninterrupted_parameters(tmp_path, config, options):
    data = make_synthetic("xor", n=256, seed=0)
    make = lambda: px.LEX(config, seed=3, **options, **SMALL)  # noqa: E731
    reference = make().fit(data.X, data.y, epochs=4)  # 4 steps / epoch
    path = tmp_path / "lex.pt"
    half = len(reference.history_) // 2
    with pytest.raises(KeyboardInterrupt):
        make().fit(data.X, data.y, epochs=4, checkpoint=path, checkpoint_every=3,
                   callback=_interrupt_at(half + 1))
    resumed = make().fit(data.X, data.y, epochs=4, checkpoint=path, checkpoint_every=3,
                         resume=True)
    want, got = reference.state_dict(), resumed.state_dict()
    assert set(want) == set(got)
    for name in want:
        assert torch.equal(want[name], got[name]), name
    np.testing.assert_array_equal(reference.history_["loss"].values,
                                  resumed.history_["loss"].values)
    # a different set-up refuses the checkpoint
    with pytest.raises(ValueError, match="different LEX"):
        make().fit(data.X, data.y, epochs=5, checkpoint=path, resume=True)


@pytest.mark.slow
def test_multiple_imputation_selects_the_target_panel_no_worse_than_zero_imputation():
    """LEX's Switching-Panels finding: with a fixed classifier, multiple imputation's
    selection F1 against the target panel is at least zero imputation's. Tolerance: 2
    standard errors of the paired per-panel F1 difference."""
    data = make_switching_panels(n_train=2000, n_test=500, seed=0)
    net = train_classifier(MLP(128, data.n_classes, (64,)), data.X_train, data.y_train,
                           epochs=30, seed=0)
    bb = px.BlackBox(net)
    f1 = {}
    for imputation in ("zero", "factor"):
        lex = px.LEX("lex", seed=0, imputation=imputation, sparsity=0.02,
                     selector_network="cnn", image_shape=data.image_shape)
        lex.fit(data.X_train, bb, epochs=40)
        f1[imputation] = px.metrics.selection_f1(lex.select(data.X_test), data.relevant_test,
                                                 average=False)
    diff = f1["factor"] - f1["zero"]
    assert diff.mean() >= -2 * diff.std() / np.sqrt(diff.size), (f1["zero"].mean(),
                                                                 f1["factor"].mean())


@pytest.mark.slow
def test_switching_panels_recipe_selects_the_target_panel():
    """Issue 17: on a reduced Switching Panels set (1,000 training pictures) LEX with
    multiple imputation and the recipe (4x4 patches as mask units, selector started at
    pi = 0.1, 8 masks of 4 imputations, sparsity 0.02) learns which side holds the
    target digit and keeps its false discovery rate against the target panel below 0.3.
    Observed over seeds 0-2: FDR 0.000 / 0.228 / 0.026, side accuracy 0.90 / 0.90 / 0.87
    (the seed-to-seed sd of the FDR, ~0.12, is why the mean over three seeds is tested;
    one run takes about a minute)."""
    from probex.perturb import FeatureGroups

    data = make_switching_panels(n_train=1000, n_test=300, seed=0)
    net = train_classifier(MLP(128, data.n_classes, (64,)), data.X_train, data.y_train,
                           epochs=30, seed=0)
    bb = px.BlackBox(net, feature_names=data.feature_names)
    recipe = {"selector_network": "cnn", "image_shape": data.image_shape,
              "imputation": "factor", "sparsity": 0.02, "n_masks": 8, "n_imputations": 4,
              "initial_inclusion": 0.1, "mask_units": FeatureGroups.image_patches(8, 16, 4)}
    fdr = []
    for seed in range(3):
        lex = px.LEX(bb, "lex", seed=seed, **recipe).fit(data.X_train, epochs=40)
        selected = lex.select(data.X_test)
        fdr.append(selection_report(selected, data.relevant_test)["fdr"])
        probs = lex.selection_probabilities(data.X_test).reshape(-1, 8, 2, 8).sum((1, 3))
        side_accuracy = np.mean(probs.argmax(1) == data.side_test)
        assert side_accuracy > 0.75, (seed, side_accuracy)
        patches = selected.reshape(-1, 2, 4, 4, 4)  # whole patches are reported
        assert np.all(patches == patches[:, :, :1, :, :1])
    assert np.mean(fdr) < 0.3, fdr


def test_configurations_and_validation():
    assert set(CONFIGURATIONS) == {"lex", "l2x", "invase", "realx"}
    assert CONFIGURATIONS["realx"].predictor == "evalx"
    assert CONFIGURATIONS["l2x"].estimator == "relaxed"
    assert px.LEX("invase").config.baseline == "full_input"
    with pytest.raises(ValueError, match="needs k"):
        px.LEX("l2x")
    with pytest.raises(ValueError, match="unknown LEX option"):
        px.LEX("lex", sparsty=0.1)
    with pytest.raises(ValueError, match="unknown imputation"):
        LEXConfig(imputation="median")
    with pytest.raises(ValueError, match="n_masks >= 2"):
        px.LEX("lex", n_masks=1)
    with pytest.raises(ValueError, match="image_shape"):
        px.LEX("lex", selector_network="cnn")
    data = make_synthetic("xor", n=50, seed=0)
    lex = px.LEX("lex", **SMALL)
    with pytest.raises(ValueError, match="not fitted"):
        lex.explain(data.X)
    with pytest.raises(ValueError, match="predictor='fixed'"):
        px.LEX("lex", predictor="fixed").fit(data.X, data.y, epochs=1)
    with pytest.raises(ValueError, match="non-negative integers"):
        lex.fit(data.X, data.y + 0.5, epochs=1)
    with pytest.raises(ValueError, match=r"y must have shape \(50,\)"):
        lex.fit(data.X, data.y[:10], epochs=1)
    bad = data.X.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        lex.fit(bad, data.y, epochs=1)
    with pytest.raises(ValueError, match="resume"):
        lex.fit(data.X, data.y, epochs=1, resume=True)
    lex.fit(data.X, data.y, epochs=1)
    with pytest.raises(ValueError, match="x has 5 features but the model expects 10"):
        lex.explain(data.X[:, :5])


def _labels_fit(seed=3, X=None, y=None, **options):
    data = make_synthetic("xor", n=128, seed=0)
    return px.LEX("lex", seed=seed, imputation="zero", n_imputations=1, n_masks=2,
                  batch_size=32, **SMALL, **options), (data.X if X is None else X,
                                                       data.y if y is None else y)


def test_resumed_post_hoc_fit_counts_the_queries_of_an_uninterrupted_one(tmp_path):
    data = make_synthetic("xor", n=128, seed=0)

    def fit(**kwargs):
        bb = px.BlackBox(lambda X: synthetic_probability("xor", X), n_features=10)
        lex = px.LEX("lex", seed=3, imputation="marginal", n_imputations=2, n_masks=2,
                     batch_size=32, **SMALL)
        return lex.fit(data.X, bb, epochs=3, **kwargs)  # 4 steps per epoch

    reference = fit()
    path = tmp_path / "lex.pt"
    with pytest.raises(KeyboardInterrupt):
        fit(checkpoint=path, checkpoint_every=4, callback=_interrupt_at(7))
    resumed = fit(checkpoint=path, resume=True)
    # targets f(X), then 3 epochs x 128 rows x 2 masks x 2 imputations
    assert resumed.n_queries_fit_ == reference.n_queries_fit_ == 128 + 3 * 128 * 2 * 2
    for name, value in reference.state_dict().items():
        assert torch.equal(value, resumed.state_dict()[name]), name
    pd.testing.assert_frame_equal(reference.history_, resumed.history_)


@pytest.mark.parametrize("change,message", [
    ({"seed": 4}, "it was written with seed=3; this fit has seed=4"),
    ({"sparsity": 0.05}, "it was written with sparsity=0.02; this fit has sparsity=0.05"),
    ({"data": "shuffled"}, "it was written with other training data"),
    ({"data": "other"}, "it was written with other training data"),
])
def test_resume_names_what_differs(tmp_path, change, message):
    """Shuffled rows have the shape and sums of the original (the old fingerprint let them
    through); the fingerprint now hashes the data, covers the seed and every option."""
    path = tmp_path / "lex.pt"
    lex, (X, y) = _labels_fit()
    lex.fit(X, y, epochs=1, checkpoint=path)
    change = dict(change)
    data = change.pop("data", None)
    if data == "shuffled":
        order = np.random.default_rng(1).permutation(len(X))
        X, y = X[order], y[order]
    elif data == "other":
        other = make_synthetic("xor", n=128, seed=1)
        X, y = other.X, other.y
    steps = []
    lex, _ = _labels_fit(**change)
    with pytest.raises(ValueError, match="is of a different LEX") as info:
        lex.fit(X, y, epochs=1, checkpoint=path, resume=True,
                callback=lambda step, stats: steps.append(step))
    assert message in str(info.value) and str(info.value).count("it was written") == 1
    assert steps == [] and lex.model_ is None


def test_checkpoint_folder_is_checked_before_any_query(tmp_path, unwritable_folder):
    data = make_synthetic("xor", n=64, seed=0)
    for path, problem in [(tmp_path / "missing" / "lex.pt", "does not exist"),
                          (unwritable_folder / "lex.pt", "is not writable")]:
        bb = px.BlackBox(lambda X: synthetic_probability("xor", X), n_features=10)
        steps = []
        with pytest.raises(ValueError, match=problem):
            px.LEX("lex", **SMALL).fit(data.X, bb, epochs=1, checkpoint=path,
                                       callback=lambda step, stats, seen=steps: seen.append(step))
        assert bb.n_queries == 0 and steps == []


@pytest.mark.gpu
def test_resumed_fit_on_cuda_ends_with_the_uninterrupted_parameters(tmp_path):
    data = make_synthetic("xor", n=256, seed=0)
    make = lambda: px.LEX("lex", seed=3, imputation="gaussian", n_masks=2, **SMALL)  # noqa: E731
    reference = make().fit(data.X, data.y, epochs=4, device="cuda")  # 4 steps per epoch
    path = tmp_path / "lex.pt"
    with pytest.raises(KeyboardInterrupt):
        make().fit(data.X, data.y, epochs=4, device="cuda", checkpoint=path,
                   checkpoint_every=3, callback=_interrupt_at(11))
    resumed = make().fit(data.X, data.y, epochs=4, device="cuda", checkpoint=path,
                         resume=True)
    assert next(resumed.model_.parameters()).device.type == "cuda"
    for name, value in reference.state_dict().items():
        assert torch.equal(value, resumed.state_dict()[name]), name
    pd.testing.assert_frame_equal(reference.history_, resumed.history_)
