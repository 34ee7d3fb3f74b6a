"""FEX: recovers known features, beats random attribution, explains without queries."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

import probex as px
from probex.metrics import deletion_auc, random_reference
from probex.perturb import FeatureGroups

D, RELEVANT = 8, [1, 4, 6]


def _synthetic(n, rng):
    """The class is the common sign of features 1, 4, 6; the other five are noise."""
    sign = rng.choice([-1.0, 1.0], size=n)
    X = rng.normal(size=(n, D))
    X[:, RELEVANT] = sign[:, None] * np.abs(rng.normal(1.0, 0.5, size=(n, len(RELEVANT))))
    return X


def _synthetic_model(X):
    return 1.0 / (1.0 + np.exp(-2.0 * X[:, RELEVANT].sum(1)))


class _StopAfter:
    """The synthetic model, interrupted (as by Ctrl-C or a kill) on its (calls + 1)-th call."""

    def __init__(self, calls):
        self.calls_left = calls

    def __call__(self, X):
        if self.calls_left == 0:
            raise KeyboardInterrupt
        self.calls_left -= 1
        return _synthetic_model(X)


@pytest.fixture(scope="module")
def synthetic():
    rng = np.random.default_rng(0)
    return _synthetic(256, rng), _synthetic(100, rng)


@pytest.fixture(scope="module")
def fitted(synthetic):
    X, _ = synthetic
    bb = px.BlackBox(_synthetic_model, n_features=D)
    return px.FEX(bb, 2, seed=0, hidden=(64,)).fit(X, epochs=8, batch_size=32), bb


@pytest.mark.parametrize("objective", ["local", "ppo", "elbo"])
def test_top_features_recover_the_relevant_subset(synthetic, fitted, objective):
    X, X_test = synthetic
    if objective == "local":  # the default
        explainer, _ = fitted
        assert explainer.settings.objective == "local" and explainer.program.value is None
    else:
        bb = px.BlackBox(_synthetic_model, n_features=D)
        explainer = px.FEX(bb, 2, objective=objective, seed=0, hidden=(64,)).fit(
            X, epochs=8, batch_size=32)
    lam, targets = explainer.attributions(X_test)
    top = np.argsort(-lam, axis=1)[:, :3]
    recall = np.mean([len(set(row) & set(RELEVANT)) / 3 for row in top])
    # chance recall of a random top-3 out of 8 is 3/8; the trained policy finds the subset
    assert recall >= 0.9, recall
    # the query-free class choice (argmax of p_hat) agrees with the model
    assert np.mean(targets == (_synthetic_model(X_test) > 0.5)) >= 0.95
    assert explainer.history_["reward"].iloc[-5:].mean() > explainer.history_["reward"].iloc[0]


def test_explain_1000_rows_makes_no_queries(fitted, synthetic, tmp_path):
    explainer, bb = fitted
    rng = np.random.default_rng(1)
    X = _synthetic(1000, rng)
    before = bb.n_queries
    e = explainer.explain(X)
    assert bb.n_queries == before
    assert e.n_queries == 0 and e.method == "FEX" and len(e) == 1000
    lam, targets = explainer.attributions(X)
    assert np.allclose(e.mean, lam) and np.allclose(e.sd, np.sqrt(lam * (1 - lam)))
    assert np.array_equal(e.targets, targets) and e[5].targets == targets[5]
    assert e.idata.posterior["attribution"].shape == (1, 1, 1000, D)
    assert np.allclose(e[7].mean, lam[7]) and e[7].summary().shape[0] == D
    # mask draws: their mean estimates lambda (binomial standard error, 5 sigma)
    small = explainer.explain(X[:3], n_draws=400)
    draws = small.idata.posterior["attribution"].values[0]
    assert set(np.unique(draws)) <= {0.0, 1.0}
    se = np.sqrt(lam[:3] * (1 - lam[:3]) / 400) + 1e-9
    assert np.all(np.abs(draws.mean(0) - lam[:3]) < 5 * se + 1e-3)
    assert bb.n_queries == before
    one = explainer.explain(X[0])
    assert not one.is_batch and np.allclose(one.mean, lam[0])
    path = one.to_netcdf(tmp_path / "fex.nc")
    assert np.allclose(px.Explanation.from_netcdf(path).mean, lam[0])


def test_explain_for_a_given_class_and_errors(fitted, synthetic):
    explainer, _ = fitted
    _, X_test = synthetic
    lam0, targets = explainer.attributions(X_test[:4], target=0)
    assert targets.tolist() == [0] * 4 and lam0.shape == (4, D)
    with pytest.raises(ValueError, match="target=5 but the model has 2 classes"):
        explainer.explain(X_test[:2], target=5)
    with pytest.raises(ValueError, match=f"x has {D + 1} features but the model expects {D}"):
        explainer.explain(np.zeros((2, D + 1)))
    with pytest.raises(ValueError, match="not fitted"):
        px.FEX(px.BlackBox(_synthetic_model, n_features=D), 2).explain(X_test[:2])
    with pytest.raises(ValueError, match="classifiers"):
        px.FEX(px.BlackBox(lambda X: X.sum(1), task="regression", n_features=D), 2)
    with pytest.raises(ValueError, match="n_classes"):
        px.FEX(px.BlackBox(_synthetic_model, n_features=D), 3).fit(X_test, epochs=1)


def test_resume_from_checkpoint_matches_uninterrupted_fit(synthetic, tmp_path):
    X, X_test = synthetic
    X = X[:96]

    def make(model=_synthetic_model):
        return px.FEX(px.BlackBox(model, n_features=D), 2, seed=4, hidden=(16,))

    full = make().fit(X, epochs=2, batch_size=32)  # 6 updates; too few rows to hold out
    path = tmp_path / "fex.pt"
    with pytest.raises(KeyboardInterrupt):  # stopped in update 6, after the save at 4
        make(_StopAfter(1 + 5)).fit(X, epochs=2, batch_size=32, checkpoint=path,
                                    checkpoint_every=4)
    resumed = make().fit(X, epochs=2, batch_size=32, checkpoint=path, resume=True)
    assert len(resumed.history_) == 6 and resumed.history_["step"].tolist() == list(range(6))
    # queries: f(X) once plus one mask and its D flips per row and epoch, as if never
    # interrupted
    assert full.holdout_rows_ == 0
    assert resumed.n_queries_fit_ == full.n_queries_fit_ == 96 + 2 * 96 * (D + 1)
    for a, b in zip(full.program.policy.parameters(), resumed.program.policy.parameters(),
                    strict=True):
        assert torch.equal(a, b)
    # the input standardiser holds the fit data's statistics (and is checkpointed)
    standardize = resumed.program.policy.standardize
    assert torch.allclose(standardize.mean.double(), torch.as_tensor(X.mean(0)), atol=1e-6)
    assert torch.allclose(standardize.scale.double(), torch.as_tensor(X.std(0)), atol=1e-5)
    assert np.array_equal(full.attributions(X_test)[0], resumed.attributions(X_test)[0])
    pd.testing.assert_frame_equal(full.history_, resumed.history_)
    # the same seed gives the same explainer; another seed does not
    other = px.FEX(px.BlackBox(_synthetic_model, n_features=D), 2, seed=5, hidden=(16,))
    assert not np.array_equal(other.fit(X, epochs=2, batch_size=32).attributions(X_test)[0],
                              full.attributions(X_test)[0])


def test_early_stopping_keeps_the_best_epoch_and_resumes(synthetic, tmp_path):
    """160 rows: 24 are held out and scored by deletion AUC after every epoch (with the
    stored baseline); training stops after `patience` epochs without a clear gain and
    keeps the best epoch's weights; the held-out queries count as the fit's; a fit
    interrupted after a checkpoint resumes to the same stop and the same weights."""
    from probex.explainers.fex_holdout import split_holdout
    from probex.metrics import deletion_auc

    X = synthetic[0][:160]

    def make(model=_synthetic_model):
        return px.FEX(px.BlackBox(model, n_features=D), 2, seed=4, hidden=(16,))

    options = {"epochs": 8, "batch_size": 34, "patience": 2, "min_epochs": 1}
    full = make().fit(X, **options)
    train, held = split_holdout(160, 0.15, seed=4)
    assert full.holdout_rows_ == len(held) == 24 and len(train) == 136
    scored = full.history_.dropna(subset=["holdout_deletion_auc"])
    assert scored["step"].tolist() == [4 * e + 3 for e in range(full.n_epochs_)]  # epoch ends
    assert full.n_epochs_ < 8 and len(full.history_) == 4 * full.n_epochs_
    assert full.best_epoch_ == int(scored["holdout_deletion_auc"].to_numpy().argmin())
    # the kept weights score exactly the best epoch's held-out deletion AUC
    X_held = X[held.numpy()]
    classes = (_synthetic_model(X_held) > 0.5).astype(int)  # the model's predictions
    lam, _ = full.attributions(X_held, target=classes)
    kept = deletion_auc(full.bb, X_held, lam, baseline=full.baseline_, target=classes)
    assert kept.mean_auc == pytest.approx(scored["holdout_deletion_auc"].min(), abs=1e-12)
    assert np.allclose(full.baseline_, X.mean(0))  # from every fit row, held-out ones too
    # f(X), one mask and D flips per training row and epoch, D + 1 curve points per
    # held-out row and epoch
    assert full.n_queries_fit_ == 160 + full.n_epochs_ * (136 + 24) * (D + 1)
    path = tmp_path / "fex.pt"
    calls = 1 + 4 + 1 + 4 + 1 + 1  # f(X), epoch 0 and its score, epoch 1 and its, 1 step
    with pytest.raises(KeyboardInterrupt):
        make(_StopAfter(calls)).fit(X, **options, checkpoint=path, checkpoint_every=4)
    resumed = make().fit(X, **options, checkpoint=path, resume=True)
    pd.testing.assert_frame_equal(full.history_, resumed.history_)
    assert (resumed.best_epoch_, resumed.n_queries_fit_) == (full.best_epoch_,
                                                             full.n_queries_fit_)
    for a, b in zip(full.program.policy.parameters(), resumed.program.policy.parameters(),
                    strict=True):
        assert torch.equal(a, b)
    # resuming a finished (stopped) fit trains no further and gives the same explainer
    again = make().fit(X, **options, checkpoint=path, resume=True)
    assert np.array_equal(again.attributions(X[:5])[0], full.attributions(X[:5])[0])


def test_plot_history_shows_reward_and_held_out_auc(synthetic, tmp_path):
    explainer = px.FEX(px.BlackBox(_synthetic_model, n_features=D), 2, seed=0, hidden=(8,))
    explainer.fit(synthetic[0][:160], epochs=3, batch_size=64)
    ax = explainer.plot_history(path=tmp_path / "history.png")
    assert (tmp_path / "history.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    twin = [a for a in ax.figure.axes if a is not ax][0]
    held = explainer.history_["holdout_deletion_auc"].dropna().to_numpy()
    assert np.allclose(twin.lines[0].get_ydata(), held)
    with pytest.raises(ValueError, match="not fitted"):
        px.FEX(px.BlackBox(_synthetic_model, n_features=D), 2).plot_history()


def test_feature_groups_give_one_value_per_patch():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(64, 16))
    groups = FeatureGroups.image_patches(4, 4, 2)
    bb = px.BlackBox(lambda Z: 1 / (1 + np.exp(-Z[:, :2].sum(1))), n_features=16)
    explainer = px.FEX(bb, 2, feature_groups=groups, seed=0, hidden=(16,), classes="all")
    explainer.fit(X, epochs=1, batch_size=32)
    # classes="all": every head is trained, 2 classes x (4 + 1) masks x 64 rows + f(X)
    assert explainer.n_queries_fit_ == 64 + 2 * (4 + 1) * 64
    lam, _ = explainer.attributions(X[:5])
    ids = groups.ids.numpy()
    for unit in range(4):
        assert np.ptp(lam[:, ids == unit], axis=1).max() == 0.0
    cnn = px.FEX(bb, 2, explainer="cnn", feature_groups=groups, seed=0)
    cnn.fit(X[:32], epochs=1, batch_size=32)
    assert cnn.explain(X[:3]).mean.shape == (3, 16)


@pytest.fixture(scope="module")
def digits_mlp():
    from probex.datasets import fit_network

    return fit_network("digits", "mlp", hidden=(32,), epochs=15, seed=0)


def test_deletion_auc_below_random_on_digits(digits_mlp):
    net, data = digits_mlp
    bb = px.BlackBox(net, n_features=64)
    groups = FeatureGroups.image_patches(8, 8, 2)
    explainer = px.FEX(bb, 10, feature_groups=groups, seed=0, hidden=(64,))
    explainer.fit(data.X_train[:512], epochs=6, batch_size=64)
    X = data.X_test[:60]
    lam, _ = explainer.attributions(X)
    kwargs = {"background": data.X_train, "feature_groups": groups}
    fex = deletion_auc(bb, X, lam, **kwargs)
    chance = random_reference(bb, X, "deletion", n_repeats=3, **kwargs)
    # paired over the same instances: FEX's curve falls faster by more than 4 standard
    # errors of the mean difference
    difference = chance.auc - fex.auc
    assert difference.mean() > 4 * difference.std(ddof=1) / np.sqrt(len(difference)), (
        fex.mean_auc, chance.mean_auc)


@pytest.mark.gpu
def test_fit_and_explain_on_cuda(synthetic):
    X, X_test = synthetic
    bb = px.BlackBox(_synthetic_model, n_features=D)
    explainer = px.FEX(bb, 2, seed=0, hidden=(16,), device="cuda").fit(X[:64], epochs=1)
    assert next(explainer.program.policy.parameters()).device.type == "cuda"
    before = bb.n_queries
    e = explainer.explain(X_test)
    assert bb.n_queries == before and e.mean.shape == (len(X_test), D)


def test_bad_input_is_named():
    """Each bad argument gets a ValueError that names it (no torch traceback)."""
    X = np.random.default_rng(3).normal(size=(64, D))

    def make(**kwargs):
        return px.FEX(px.BlackBox(_synthetic_model, n_features=D), 2, hidden=(8,), **kwargs)

    bad_rows = X.copy()
    bad_rows[2, 1] = np.nan
    with pytest.raises(ValueError, match="X contains 1 NaN"):
        make().fit(bad_rows, epochs=1)
    bad_rows[2, 1] = np.inf
    with pytest.raises(ValueError, match="X contains 0 NaN and 1 infinite"):
        make().fit(bad_rows, epochs=1)
    with pytest.raises(ValueError, match="X has 3 columns but the model expects 8"):
        make().fit(X[:, :3], epochs=1)
    for name, value in [("epochs", 0), ("epochs", 1.5), ("batch_size", -1), ("epochs", "a")]:
        with pytest.raises(ValueError, match=f"{name} must be an integer >= 1"):
            make().fit(X, **{"epochs": 1, name: value})
    with pytest.raises(ValueError, match="n_classes must be at least 2"):
        px.FEX(px.BlackBox(_synthetic_model, n_features=D), 1)
    for option, value in [("objective", "sgd"), ("reward", "odds"), ("classes", "some"),
                          ("replacement", "mode")]:
        with pytest.raises(ValueError, match=f"unknown {option}='{value}'"):
            make(**{option: value})
    with pytest.raises(ValueError, match="learning_rate must be positive"):
        make(learning_rate=0.0)
    with pytest.raises(ValueError, match="trajectory_length must be an integer >= 1"):
        make(trajectory_length=0)
    with pytest.raises(ValueError, match="holdout must be a fraction in"):
        make().fit(X, epochs=1, holdout=1.5)
    with pytest.raises(ValueError, match="patience must be an integer >= 1"):
        make().fit(X, epochs=1, patience=0)
    with pytest.raises(ValueError, match="min_epochs must be an integer >= 0"):
        make().fit(X, epochs=1, min_epochs=-1)
    with pytest.raises(ValueError, match="hidden layer width must be an integer >= 1"):
        px.FEX(px.BlackBox(_synthetic_model, n_features=D), 2, hidden=(0,))
    with pytest.raises(ValueError, match="overlaps"):
        make(feature_groups=[[0, 1, 2], [2, 3, 4, 5, 6, 7]])
    with pytest.raises(ValueError, match=r"features \[7\] are in no group"):
        make(feature_groups=[[0, 1, 2], [3, 4, 5, 6]])
    with pytest.raises(ValueError, match="feature_groups cover 9 features, the data have 8"):
        make(feature_groups=FeatureGroups(None, 9))
    with pytest.raises(ValueError, match="integer group ids"):
        make(feature_groups=[[0, 1], 2, 3])
    with pytest.raises(ValueError, match="baseline has 3 features"):
        make(background=np.zeros((5, 3))).fit(X, epochs=1)
    with pytest.raises(ValueError, match="not a valid torch device"):
        make().fit(X, epochs=1, device="tpu")
    fitted = make().fit(X, epochs=1, batch_size=32)
    with pytest.raises(ValueError, match="x contains 1 NaN"):
        fitted.explain(np.array([np.nan] + [0.0] * (D - 1)))
    with pytest.raises(ValueError, match="x has no rows"):
        fitted.explain(np.zeros((0, D)))
    with pytest.raises(ValueError, match="not a valid torch device"):
        fitted.explain(X[:2], device="tpu")
    # device= is accepted and the black box's feature names label the explanation
    names = [f"f{j}" for j in range(D)]
    named = px.FEX(px.BlackBox(_synthetic_model, feature_names=names), 2, hidden=(8,))
    e = named.fit(X, epochs=1, batch_size=32, device="cpu").explain(X[:3], device="cpu")
    assert e.summary().index.get_level_values(-1)[:D].tolist() == names
    assert e.idata.posterior["attribution"].coords["feature"].values.tolist() == names


def test_resume_refuses_a_checkpoint_of_another_fit(tmp_path):
    X = np.random.default_rng(4).normal(size=(64, D))
    path = tmp_path / "fex.pt"

    def make(hidden=(8,)):
        return px.FEX(px.BlackBox(_synthetic_model, n_features=D), 2, hidden=hidden, seed=1)

    make().fit(X, epochs=1, batch_size=16, checkpoint=path, checkpoint_every=2)
    assert [p.name for p in tmp_path.iterdir()] == ["fex.pt"]  # renamed into place, whole
    with pytest.raises(ValueError, match="fit on 64 rows; this fit has 48"):
        make().fit(X[:48], epochs=2, batch_size=16, checkpoint=path, resume=True)
    with pytest.raises(ValueError, match="batch_size=16; this fit has batch_size=8"):
        make().fit(X, epochs=1, batch_size=8, checkpoint=path, resume=True)
    with pytest.raises(ValueError, match=r"hidden=\(8,\); this fit has hidden=\(4,\)"):
        make(hidden=(4,)).fit(X, epochs=1, batch_size=16, checkpoint=path, resume=True)
    resumed = make().fit(X, epochs=1, batch_size=16, checkpoint=path, resume=True)
    assert resumed.history_["step"].tolist() == [0, 1, 2, 3]


@pytest.mark.parametrize("change,message", [
    ({"seed": 2}, "it was written with seed=1; this fit has seed=2"),
    ({"entropy_coef": 0.3}, "it was written with entropy_coef=1.0; this fit has "
                            "entropy_coef=0.3"),
    ({"data": "shuffled"}, "it was written with other training data"),
    ({"data": "other"}, "it was written with other training data"),
])
def test_resume_names_what_differs(tmp_path, change, message):
    """Today's fingerprint covers the seed, every setting and a hash of the data: a
    checkpoint of another seed, entropy weight, row order or data of the same shape is
    refused before any query, naming the difference."""
    X = np.random.default_rng(4).normal(size=(64, D))
    path = tmp_path / "fex.pt"
    # replacement="zero": the baseline does not follow the data, so the data alone differ
    px.FEX(px.BlackBox(_synthetic_model, n_features=D), 2, hidden=(8,), seed=1,
           replacement="zero").fit(X, epochs=1, batch_size=16, checkpoint=path)
    change = dict(change)
    data = change.pop("data", None)
    if data == "shuffled":
        X = X[np.random.default_rng(5).permutation(64)]
    elif data == "other":
        X = np.random.default_rng(6).normal(size=(64, D))
    bb = px.BlackBox(_synthetic_model, n_features=D)
    explainer = px.FEX(bb, 2, hidden=(8,), replacement="zero", **{"seed": 1, **change})
    with pytest.raises(ValueError, match="is of a different FEX") as info:
        explainer.fit(X, epochs=1, batch_size=16, checkpoint=path, resume=True)
    assert message in str(info.value) and str(info.value).count("it was written") == 1
    assert bb.n_queries == 64 and not explainer.is_fitted  # f(X) only: no update ran


def test_checkpoint_folder_is_checked_before_any_query(tmp_path, unwritable_folder):
    X = np.random.default_rng(4).normal(size=(32, D))
    for path, problem in [(tmp_path / "missing" / "fex.pt", "does not exist"),
                          (unwritable_folder / "fex.pt", "is not writable")]:
        bb = px.BlackBox(_synthetic_model, n_features=D)
        with pytest.raises(ValueError, match=problem):
            px.FEX(bb, 2, hidden=(8,)).fit(X, epochs=1, checkpoint=path)
        assert bb.n_queries == 0


@pytest.mark.gpu
def test_resume_on_cuda_matches_uninterrupted_fit(synthetic, tmp_path):
    X = synthetic[0][:96]

    def make(model=_synthetic_model):
        return px.FEX(px.BlackBox(model, n_features=D), 2, seed=4, hidden=(16,),
                      device="cuda")

    full = make().fit(X, epochs=2, batch_size=32)  # 6 updates
    path = tmp_path / "fex.pt"
    with pytest.raises(KeyboardInterrupt):  # stopped in update 6, after the save at 4
        make(_StopAfter(1 + 5)).fit(X, epochs=2, batch_size=32, checkpoint=path,
                                    checkpoint_every=4)
    resumed = make().fit(X, epochs=2, batch_size=32, checkpoint=path, resume=True)
    for a, b in zip(full.program.policy.parameters(), resumed.program.policy.parameters(),
                    strict=True):
        assert a.device.type == "cuda" and torch.equal(a, b)
    pd.testing.assert_frame_equal(full.history_, resumed.history_)
    assert resumed.n_queries_fit_ == full.n_queries_fit_ == 96 + 2 * 96 * (D + 1)
