"""ReCalX: level-controlled calibration data, the temperature-scaled black box (argmax,
interface, pickling), recovery of known temperatures end to end, lower CE_MAX than
global temperature scaling on breast_cancer, use by BayesSHAP, and the package
conventions (vocabulary with deprecated aliases, seeds reaching the runner, metadata,
sizes refused before allocating, keyword-only options)."""

import pickle

import arviz as az
import numpy as np
import pytest
import torch
from scipy import stats

import probex as px
from probex.datasets import fit_network
from probex.explainers import TemperatureScaledBlackBox, TemperatureScaling
from probex.explainers.recalx import perturbed_calibration, plot_temperatures
from probex.inference import NUTSRunner, SVIRunner
from probex.inference.map import MAPRunner
from probex.models.calibration import bin_edges
from probex.perturb import (
    GaussianPerturbation,
    MaskPerturbation,
    Perturbation,
    levels,
    perturb_by_level,
)


@pytest.fixture(scope="module")
def breast_cancer_mlp():
    net, data = fit_network("breast_cancer", seed=0)
    half = len(data.X_test) // 2
    split = {"X_cal": data.X_test[:half], "y_cal": data.y_test[:half],
             "X_eval": data.X_test[half:], "y_eval": data.y_test[half:]}
    return net, data, split


@pytest.fixture(scope="module")
def recalibrated(breast_cancer_mlp):
    net, data, split = breast_cancer_mlp
    bb = px.BlackBox(net, feature_names=data.feature_names)
    rc = px.ReCalX(bb, split["X_cal"], split["y_cal"], background=data.X_train, seed=0)
    return bb, rc


# ---------------------------------------------------------------- calibration data
def test_mask_perturbations_replace_exactly_the_level_fraction():
    X = np.random.default_rng(0).normal(size=(6, 7)) + 5.0  # no entry equals the baseline
    scheme = MaskPerturbation(replacement=np.zeros(7))
    edges = bin_edges(10)
    data = perturb_by_level(scheme, X, np.arange(6) % 2, edges, n_perturbations=40, seed=3)
    replaced = (data.inputs == 0).sum(1).double()
    assert torch.allclose(data.levels, replaced / 7)
    assert torch.equal(data.labels, torch.as_tensor(np.arange(6) % 2)[data.sample])
    low, high = edges[data.bins], edges[data.bins + 1]
    assert bool(((data.levels >= low - 1e-9) & (data.levels <= high)).all())
    # d = 7 < 10 bins: the bins holding no count m / 7 get no rows
    populated = {int(b) for b in data.bins.unique()}
    expected = {min(int(np.floor(m / 7 * 10 + 1e-9)), 9) for m in range(8)}
    assert populated == expected and len(populated) < 10
    again = perturb_by_level(scheme, X, np.arange(6) % 2, edges, 40, seed=3)
    assert torch.equal(again.inputs, data.inputs)  # seeded


def test_gaussian_perturbations_have_uniform_levels_inside_their_bin():
    rng = np.random.default_rng(1)
    background = rng.normal(size=(100, 5)) * [1, 2, 3, 4, 5]
    scheme = GaussianPerturbation(background, scale=0.7)
    edges = bin_edges(4)
    data = perturb_by_level(scheme, background[:50], np.zeros(50, dtype=int), edges, 20, seed=0)
    z = (data.inputs - torch.as_tensor(background[:50])[data.sample]) / scheme.std
    chi2 = stats.chi2.cdf((z / 0.7).pow(2).sum(1).numpy(), df=5)
    assert np.allclose(chi2, data.levels.numpy(), atol=1e-9)
    for b in range(4):
        inside = data.levels[data.bins == b].numpy()
        # uniform on [b/4, (b+1)/4): KS test of the 1000 levels of the bin
        assert stats.kstest(inside, stats.uniform(b / 4, 0.25).cdf).pvalue > 0.001


# ---------------------------------------------------------------- the black box
def near_tie_probabilities(n=4000, k=4, seed=0):
    """Rows whose two largest probabilities differ by one unit in the last place, the
    larger one after the smaller (argmax is not the first of the two)."""
    rng = np.random.default_rng(seed)
    probs = rng.dirichlet(np.ones(k), size=n)
    top = probs.max(1)
    first, second = rng.integers(0, k - 1, n), None
    second = first + 1 + rng.integers(0, k - 1 - first)
    probs[np.arange(n), first] = top
    probs[np.arange(n), second] = np.nextafter(top, 1.0)
    probs /= probs.sum(1, keepdims=True)
    return probs


@pytest.mark.parametrize("temperatures", [[3.0, 7.0, 0.3], [1e3, 1e-3, 1.7]])
def test_argmax_survives_rounding_ties(temperatures):
    probs = near_tie_probabilities()
    bb = px.BlackBox(lambda X: probs[X[:, 0].astype(int)], n_features=1)
    calibrated = TemperatureScaledBlackBox(bb, temperatures)
    X = np.arange(len(probs), dtype=float)[:, None]
    levels = np.random.default_rng(1).uniform(size=len(probs))
    reference = bb.predict(X).argmax(1)
    log_reference = bb.log_probabilities(X).argmax(1)
    naive = torch.log_softmax(bb.log_probabilities(X) / torch.as_tensor(
        calibrated.temperature(levels))[:, None], -1)
    assert int((naive.argmax(1) != log_reference).sum()) > 0  # rounding does bite
    assert torch.equal(calibrated.predict(X, level=levels).argmax(1), reference)
    assert torch.equal(calibrated.log_probabilities(X, level=levels).argmax(1), log_reference)
    exact_tie = np.full((1, 3), 1 / 3)
    tied = TemperatureScaledBlackBox(px.BlackBox(lambda X: exact_tie, n_features=1), [5.0])
    assert int(tied.predict(np.zeros((1, 1))).argmax(1)) == 0  # first index, as torch


def test_argmax_unchanged_on_every_test_input(breast_cancer_mlp, recalibrated):
    _, data, _ = breast_cancer_mlp
    bb, rc = recalibrated
    X = data.X_test
    reference = bb.predict(X).argmax(1)
    for level in [None, 0.0, 0.35, 1.0, np.linspace(0, 1, len(X))]:
        assert torch.equal(rc.predict(X, level=level).argmax(1), reference)
    masked = perturb_by_level(rc.scheme, X, data.y_test, rc._edges, 5, seed=9)
    assert torch.equal(rc.predict(masked.inputs, level=masked.levels).argmax(1),
                       bb.predict(masked.inputs).argmax(1))
    assert rc.temperatures.min() > 0 and not np.allclose(rc.temperatures, 1.0)


def test_calibrated_blackbox_interface(breast_cancer_mlp, recalibrated, tmp_path):
    _, data, split = breast_cancer_mlp
    bb, rc = recalibrated
    assert isinstance(rc, px.BlackBox) and rc.feature_names == data.feature_names
    # 10 bins x 10 perturbations of every calibration row (fewer than 200), queried once
    assert rc.n_queries_fit_ == 10 * 10 * len(split["X_cal"])
    assert rc.idata.observed_data["label"].size == rc.n_queries_fit_
    before = rc.n_queries
    X = data.X_test[:13]
    levels = np.linspace(0, 1, 13)
    probs = rc.predict(X, level=levels)
    assert rc.n_queries == before + 13
    expected = torch.softmax(bb.log_probabilities(X) / torch.as_tensor(
        rc.temperature(levels))[:, None], -1)
    assert torch.allclose(probs, expected, atol=1e-12)
    assert torch.allclose(rc(X, level=levels), probs[:, 1])
    assert torch.allclose(rc.predict(X), rc.predict(X, level=0.0))
    for bad, message in [(1.5, "levels must lie"), (np.zeros(4), "one entry per"),
                         (np.full(13, np.nan), "NaN")]:
        with pytest.raises(ValueError, match=message):
            rc.predict(X, level=bad)
    with pytest.raises(ValueError, match="already temperature-scaled"):
        TemperatureScaledBlackBox(rc, [1.0])
    with pytest.raises(ValueError, match="classifier"):
        TemperatureScaledBlackBox(px.BlackBox(lambda X: X[:, 0], task="regression",
                                              n_features=2), [1.0])
    with pytest.raises(ValueError, match="positive"):
        TemperatureScaledBlackBox(bb, [1.0, -2.0])
    with pytest.raises(ValueError, match="labels"):
        px.ReCalX(bb, X, np.full(13, 7), background=data.X_train, n_bins=2)
    assert rc.summary()["sd"].isna().all()  # MAP: a point, no posterior spread
    rc.idata.to_netcdf(tmp_path / "recalx.nc")
    assert (tmp_path / "recalx.nc").stat().st_size > 0
    path = tmp_path / "recalx.pkl"
    path.write_bytes(pickle.dumps(rc))
    restored = pickle.loads(path.read_bytes())
    assert torch.equal(restored.predict(X, level=levels), rc.predict(X, level=levels))
    assert np.array_equal(restored.temperatures, rc.temperatures)


def test_sklearn_model_is_scaled_from_log_predict_proba(demo_model):
    model, data = demo_model
    bb = px.BlackBox(model)
    rc = px.ReCalX(bb, data.X_test[:60], data.y_test[:60], background=data.X_train,
                   n_bins=3, n_rows=60, n_perturbations=3)
    X = data.X_test[60:90]
    log_p = np.log(np.clip(model.predict_proba(X), np.finfo(float).tiny, None))
    expected = torch.softmax(torch.as_tensor(log_p) / rc.temperatures[0], -1)
    assert torch.allclose(rc.predict(X), expected, atol=1e-12)
    assert torch.equal(rc.predict(X, level=0.9).argmax(1), bb.predict(X).argmax(1))


# ---------------------------------------------------------------- fitting
TRUE_BIN_T = np.array([0.7, 1.2, 2.0, 3.5, 6.0])


def level_tempered_logits(X):
    """A model whose only signal is x_0 and whose logit is multiplied by a factor that
    depends on how many features were replaced by 0 (the mask level's bin). Labels
    follow sigmoid(x_0), so the true recalibration temperature in bin b is TRUE_BIN_T[b]
    (rows with x_0 replaced predict 1/2 whatever T: they carry no information on it)."""
    level = (X == 0).mean(1)
    factor = TRUE_BIN_T[np.minimum((level * 5 + 1e-9).astype(int), 4)]
    logit = factor * X[:, 0]
    return np.stack([np.zeros_like(logit), logit], axis=1)


def test_recalx_recovers_known_temperatures_within_posterior_intervals():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 10)) * 2.0
    y = (rng.random(300) < 1 / (1 + np.exp(-X[:, 0]))).astype(int)
    bb = px.BlackBox(level_tempered_logits, n_features=10, output="logits")
    scheme = MaskPerturbation(replacement=np.zeros(10))
    rc = px.ReCalX(bb, X, y, scheme=scheme, n_bins=5, n_rows=300, n_perturbations=10,
                   inference="laplace", seed=0)
    table = rc.summary(prob=0.99)
    inside = (table["lower"] < TRUE_BIN_T) & (TRUE_BIN_T < table["upper"])
    assert inside.all(), table  # all five 99% intervals: joint coverage ~95%
    assert (table["upper"] / table["lower"]).max() < 2.0
    assert rc.idata.posterior["temperature"].dims == ("chain", "draw", "level_bin")
    assert rc.idata.constant_data["rows_per_bin"].values.tolist() == [3000] * 5


def test_svi_and_nuts_paths_give_inference_data(tmp_path):
    rng = np.random.default_rng(2)
    X = rng.normal(size=(120, 10)) * 2.0
    y = (rng.random(120) < 1 / (1 + np.exp(-X[:, 0]))).astype(int)
    bb = px.BlackBox(level_tempered_logits, n_features=10, output="logits")
    scheme = MaskPerturbation(replacement=np.zeros(10))
    common = {"scheme": scheme, "n_bins": 3, "n_perturbations": 4, "seed": 1}
    nuts = px.ReCalX(bb, X, y, inference=NUTSRunner(num_samples=120, num_warmup=100,
                                                    num_chains=2, seed=1), **common)
    svi = px.ReCalX(bb, X, y, inference=SVIRunner(guide="mvn", num_steps=200,
                                                  learning_rate=0.05, seed=1), **common)
    mode = px.ReCalX(bb, X, y, **common)
    summary = nuts.summary()
    assert {"r_hat", "ess_bulk"} <= set(summary.columns)
    assert summary["r_hat"].max() < 1.05
    assert nuts.idata.sample_stats["diverging"].values.sum() == 0
    assert nuts.inference == "nuts" and svi.inference == "svi" and mode.inference == "map"
    # the three estimates agree to within the posterior spread
    sd = np.log(nuts.idata.posterior["temperature"].values).reshape(-1, 3).std(0)
    for other in (svi, mode):
        assert np.all(np.abs(np.log(other.temperatures) - np.log(nuts.temperatures)) < sd)
    ax = nuts.plot(truth=[1.0, 2.5, 5.0], reference={"global": 2.0},
                   path=tmp_path / "temperature.png")
    assert len(ax.collections) >= 1  # the credible band
    assert (tmp_path / "temperature.png").read_bytes()[:4] == b"\x89PNG"
    assert (tmp_path / "temperature.png").stat().st_size > 5_000


def test_recalx_lowers_ce_max_below_uncalibrated_and_global_scaling(breast_cancer_mlp,
                                                                     recalibrated):
    _, data, split = breast_cancer_mlp
    bb, rc = recalibrated
    ts = TemperatureScaling(bb, split["X_cal"], split["y_cal"])
    assert ts.n_bins == 1 and ts.temperatures[0] > 1  # the MLP is overconfident
    scores = perturbed_calibration({"uncalibrated": bb, "global": ts, "recalx": rc},
                                   split["X_eval"], split["y_eval"], background=data.X_train,
                                   n_perturbations=10, seed=11)
    ce_max = {name: result.ce_max for name, result in scores.items()}
    assert ce_max["recalx"] < ce_max["uncalibrated"], ce_max
    assert ce_max["recalx"] < ce_max["global"], ce_max
    assert scores["recalx"].ce_avg < scores["uncalibrated"].ce_avg


def test_bayesshap_explains_the_calibrated_model_at_each_level(breast_cancer_mlp,
                                                                recalibrated):
    _, data, _ = breast_cancer_mlp
    bb, rc = recalibrated
    x = data.X_test[3]
    before = rc.n_queries
    e = px.BayesSHAP(rc, background=data.X_train, seed=0).explain(x, n_samples=300)
    assert e.n_queries == 300 and rc.n_queries == before + 300
    assert e.feature_names == data.feature_names
    z = torch.as_tensor(e.idata.constant_data["z"].values)
    levels = e.idata.constant_data["levels"].values
    inputs = MaskPerturbation(data.X_train).to_inputs(torch.as_tensor(x), z)
    answered = e.idata.observed_data["response"].values
    assert np.allclose(answered, rc(inputs, level=levels).numpy(), atol=1e-12)
    assert not np.allclose(answered, bb(inputs).numpy(), atol=1e-3)  # calibration acts


class EveryOtherFeature(Perturbation):
    """A scheme probex does not know: masks that replace a random subset of the even
    features only (levels 0 .. 1/2), sampled by the scheme itself."""

    kernel = "none"

    def __init__(self, n_features):
        self.n_features = n_features

    def sample_z(self, n, generator, batch_shape=()):
        z = torch.ones(*batch_shape, n, self.n_features, dtype=torch.float64)
        z[..., ::2] = torch.bernoulli(torch.full((*batch_shape, n, self.n_features // 2), 0.5,
                                                 dtype=torch.float64), generator=generator)
        return z

    def to_inputs(self, x, z):
        return z * x.unsqueeze(-2)

    def levels(self, z):
        return 1.0 - z.mean(-1)


def test_unknown_schemes_are_sorted_into_bins_from_their_own_samples():
    scheme = EveryOtherFeature(8)
    data = perturb_by_level(scheme, np.ones((5, 8)), np.zeros(5, dtype=int), bin_edges(4),
                            n_perturbations=6, seed=0)
    # levels 0, 1/8, 2/8, 3/8 fill bins 0 and 1; 4/8 (all even features) is bin 2;
    # levels above 1/2 never occur, so bin 3 stays empty
    assert torch.bincount(data.bins, minlength=4).tolist() == [30, 30, 30, 0]
    assert bool((data.inputs[:, 1::2] == 1).all())
    assert torch.allclose(data.levels, (data.inputs == 0).double().mean(1))


def test_gaussian_scheme_with_bayeslime(demo_model):
    model, data = demo_model
    bb = px.BlackBox(model)
    rc = px.ReCalX(bb, data.X_test[:40], data.y_test[:40], scheme="gaussian",
                   background=data.X_train, n_bins=4, n_rows=40, n_perturbations=5)
    assert rc.scheme.__class__ is GaussianPerturbation
    explainer = px.BayesLIME(rc, background=data.X_train, seed=0)
    e = explainer.explain(data.X_test[50], n_samples=200)
    z = torch.as_tensor(e.idata.constant_data["z"].values)
    levels = e.idata.constant_data["levels"].values
    inputs = explainer.perturbation.to_inputs(torch.as_tensor(data.X_test[50]), z)
    assert np.allclose(e.idata.observed_data["response"].values,
                       rc(inputs, level=levels).numpy(), atol=1e-12)
    assert len(np.unique(rc.temperature(levels))) > 1  # several bins were used


@pytest.mark.gpu
def test_recalx_on_cuda(breast_cancer_mlp):
    net, data, split = breast_cancer_mlp
    bb = px.BlackBox(net.to("cuda"), device="cuda")
    try:
        rc = px.ReCalX(bb, split["X_cal"], split["y_cal"], background=data.X_train, n_bins=4)
        probs = rc.predict(data.X_test, level=np.linspace(0, 1, len(data.X_test)))
        assert probs.device.type == "cuda"
        assert torch.equal(probs.argmax(1), bb.predict(data.X_test).argmax(1))
    finally:
        net.to("cpu")


# ---------------------------------------------------------------- conventions
def tempered_data(n=120, seed=2):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 10)) * 2.0
    y = (rng.random(n) < 1 / (1 + np.exp(-X[:, 0]))).astype(int)
    bb = px.BlackBox(level_tempered_logits, n_features=10, output="logits")
    return bb, X, y, MaskPerturbation(replacement=np.zeros(10))


def test_old_names_still_work_with_a_warning_and_give_the_same_fit():
    bb, X, y, scheme = tempered_data()
    new = px.ReCalX(bb, X, y, scheme=scheme, n_bins=3, n_rows=50, n_perturbations=4)
    with pytest.warns(DeprecationWarning, match="'n_samples' is renamed 'n_rows'"):
        old = px.ReCalX(bb, X, y, scheme=scheme, n_bins=3, n_samples=50, n_perturbations=4)
    assert np.array_equal(old.temperatures, new.temperatures)
    assert new.n_queries_fit_ == 50 * 3 * 4  # the subsample of 50 rows, 3 bins x 4 copies
    with pytest.warns(DeprecationWarning, match="renamed 'n_queries_fit_'"):
        assert new.n_calibration_queries == new.n_queries_fit_
    with pytest.raises(TypeError, match="both 'n_samples' and its new name 'n_rows'"):
        px.ReCalX(bb, X, y, scheme=scheme, n_rows=50, n_samples=50)
    ts = TemperatureScaling(bb, X, y)
    assert ts.n_queries_fit_ == len(X)
    with pytest.warns(DeprecationWarning):
        assert ts.n_calibration_queries == len(X)


def test_seed_and_progress_are_keyword_only():
    bb, X, y, scheme = tempered_data()
    with pytest.raises(TypeError):
        px.ReCalX(bb, X, y, scheme, 3, "map", None, 50, 4, None, 0)
    with pytest.raises(TypeError):
        TemperatureScaling(bb, X, y, "map", None, 0)
    with pytest.raises(TypeError):
        perturb_by_level(scheme, X, y, bin_edges(3), 4, 0)


def test_the_seed_reaches_a_configured_runner_and_leaves_the_global_rng_alone():
    bb, X, y, scheme = tempered_data()
    common = {"scheme": scheme, "n_bins": 3, "n_rows": 60, "n_perturbations": 4}

    def laplace(runner_seed, seed):
        runner = MAPRunner(laplace=True, num_draws=200, seed=runner_seed)
        return px.ReCalX(bb, X, y, inference=runner, seed=seed, **common)

    state = torch.get_rng_state()
    first = laplace(runner_seed=5, seed=1)
    assert torch.equal(torch.get_rng_state(), state)  # the user's RNG did not move
    same = laplace(runner_seed=99, seed=1)  # the runner's own seed is overridden
    other = laplace(runner_seed=5, seed=2)
    draws = first.idata.posterior["temperature"].values
    assert np.array_equal(draws, same.idata.posterior["temperature"].values)
    assert np.array_equal(first.temperatures, same.temperatures)
    assert not np.array_equal(draws, other.idata.posterior["temperature"].values)
    assert first.idata.posterior.attrs["seed"] == 1


def test_idata_carries_the_package_metadata_through_netcdf(tmp_path):
    bb, X, y, scheme = tempered_data()
    rc = px.ReCalX(bb, X, y, scheme=scheme, n_bins=3, n_rows=60, n_perturbations=4,
                   inference="laplace", seed=7)
    rc.idata.to_netcdf(tmp_path / "t.nc", engine="h5netcdf")
    restored = az.from_netcdf(tmp_path / "t.nc", engine="h5netcdf")
    for idata in (rc.idata, restored):
        for group in ("posterior", "observed_data", "constant_data"):
            attrs = idata[group].attrs
            assert attrs["method"] == "ReCalX" and attrs["inference"] == "laplace"
            assert attrs["seed"] == 7 and attrs["n_queries_fit"] == 60 * 3 * 4
            assert attrs["probex_version"] == px.__version__
            assert attrs["scheme"] == "MaskPerturbation"
    assert TemperatureScaling(bb, X, y).idata.posterior.attrs["method"] == "TemperatureScaling"


def test_sizes_that_cannot_fit_are_refused_before_allocating(monkeypatch):
    bb, X, y, scheme = tempered_data()

    def no_queries(*args, **kwargs):  # nothing may be perturbed, queried or fitted
        raise AssertionError("the black box was queried")

    monkeypatch.setattr(bb, "log_probabilities", no_queries)
    # issue 13: n_bins=10**9 ran 10 minutes to 8.4 GB; 120 rows x 1e9 bins x 10 copies x
    # 10 features x 8 bytes = 9.6e13 bytes = 87.3 TiB
    with pytest.raises(ValueError, match=r"about 87\.3 TiB .* than the 2\.0 GiB") as error:
        px.ReCalX(bb, X, y, scheme=scheme, n_bins=10**9)
    assert "n_bins" in str(error.value) and "n_rows" in str(error.value)
    # the estimate counts the rows actually used: min(n_rows, len(X_cal))
    assert levels.level_data_bytes(120, 10, 10, 10) == 120 * 10 * 10 * 10 * 8
    with pytest.raises(ValueError, match=r"about 2\.8 GiB"):  # 3000 x 100 x 125 x 10 x 8
        px.ReCalX(bb, np.zeros((3000, 10)), np.zeros(3000, dtype=int), scheme=scheme,
                  n_rows=None, n_bins=100, n_perturbations=125)
    with pytest.raises(ValueError, match="n_bins=1001 is more than the 1000"):
        px.ReCalX(bb, X[:1], y[:1], scheme=scheme, n_bins=1001, n_perturbations=1)
    with pytest.raises(ValueError, match="calibration data would hold"):
        perturbed_calibration(bb, X, y, scheme=scheme, n_bins=10**6, n_perturbations=10**4)


@pytest.mark.parametrize("argument, value", [
    ("n_bins", 2.5), ("n_bins", 0), ("n_rows", 0), ("n_rows", 10.0), ("n_perturbations", 0),
    ("n_perturbations", True), ("seed", -1), ("seed", 2**32), ("seed", 1.5)])
def test_bad_counts_and_seeds_are_refused_by_name(argument, value):
    bb, X, y, scheme = tempered_data()
    with pytest.raises(ValueError, match=argument):
        px.ReCalX(bb, X, y, scheme=scheme, **{argument: value})


def test_plot_options_are_keyword_only(tmp_path):
    bb, X, y, scheme = tempered_data()
    rc = px.ReCalX(bb, X, y, scheme=scheme, n_bins=3, n_rows=40, n_perturbations=3,
                   inference="laplace")
    with pytest.raises(TypeError):
        rc.plot(0.9)
    with pytest.raises(TypeError):
        plot_temperatures(rc, 0.9)
    ax = plot_temperatures(rc, prob=0.8, path=tmp_path / "t.png")
    assert len(ax.collections) == 1  # the 80% band of the Laplace draws
    lower, upper = rc.summary(0.8)[["lower", "upper"]].to_numpy().T
    band = ax.collections[0].get_paths()[0].vertices[:, 1]
    assert np.isclose(band.min(), lower.min()) and np.isclose(band.max(), upper.max())


def test_public_names_keep_their_old_homes():
    from probex import calibrated_blackbox, plots
    from probex.explainers import recalx
    from probex.inference import temperatures
    from probex.metrics import calibration_by_perturbation as metric

    homes = {"TemperatureScaledBlackBox": calibrated_blackbox, "fit_temperatures": temperatures,
             "TemperatureFit": temperatures, "plot_temperatures": plots,
             "perturbed_calibration": metric, "perturb_by_level": levels}
    for name, module in homes.items():
        assert getattr(recalx, name) is getattr(module, name), name
    assert set(homes) | {"ReCalX", "TemperatureScaling"} == set(recalx.__all__)
