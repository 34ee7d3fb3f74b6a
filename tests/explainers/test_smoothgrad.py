"""SmoothGrad: BlackBox.gradient, exactness on linear and logistic models, Monte Carlo
error, seeding, batching, the Hoeffding bound and the Lipschitz constant."""

import numpy as np
import pytest
import torch
from scipy import stats
from sklearn.linear_model import LogisticRegression

import probex as px
from probex.explainers.smoothgrad import (
    logistic_smoothgrad,
    smoothed_gradient_lipschitz,
    smoothgrad_deviation_bound,
    smoothgrad_sample_size,
)

D = 5
W = np.array([0.5, -1.0, 0.25, 0.0, 1.5])
BIAS = 0.3
X0 = np.array([0.2, 0.1, -0.3, 0.5, -0.1])


def logistic_blackbox(**kwargs):
    """f(a) = sigmoid(W.a + BIAS), a torch callable returning one log-odds column."""
    w = torch.as_tensor(W)
    return px.BlackBox(lambda t: t @ w + BIAS, output="logits", input_type="torch",
                       n_features=D, **kwargs)


# ---------------------------------------------------------------- BlackBox.gradient
def test_gradient_is_the_autograd_gradient_of_the_target_probability():
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(4, 6), torch.nn.Tanh(), torch.nn.Linear(6, 3))
    net = net.double()
    bb = px.BlackBox(net, target=2, batch_size=7)
    X = torch.randn(20, 4, dtype=torch.float64)
    values, grads = bb.gradient(X)
    assert bb.n_queries == 20 and values.shape == (20,) and grads.shape == (20, 4)
    expected = torch.func.vmap(torch.func.grad(lambda r: torch.softmax(net(r), -1)[2]))(X)
    torch.testing.assert_close(grads, expected, rtol=1e-12, atol=1e-14)
    torch.testing.assert_close(values, bb(X))
    # central finite differences of bb itself (float64 network): O(h^2) error
    h = 1e-5
    fd = torch.stack([(bb(X + h * e) - bb(X - h * e)) / (2 * h)
                      for e in torch.eye(4, dtype=torch.float64)], 1)
    torch.testing.assert_close(grads, fd, rtol=0, atol=1e-8)


def test_gradient_single_column_conventions_and_float32_modules():
    w = torch.as_tensor(W)
    x = torch.as_tensor(np.stack([X0, -X0]))
    s = torch.sigmoid(x @ w + BIAS)
    _, g1 = logistic_blackbox(target=1).gradient(x)
    _, g0 = logistic_blackbox(target=0).gradient(x)
    torch.testing.assert_close(g1, (s * (1 - s))[:, None] * w)
    torch.testing.assert_close(g0, -g1)
    prob = px.BlackBox(lambda t: torch.sigmoid(t @ w), input_type="torch", n_features=D)
    torch.testing.assert_close(prob.gradient(x)[0], torch.sigmoid(x @ w))
    reg = px.BlackBox(lambda t: (t**2).sum(1), task="regression", input_type="torch")
    torch.testing.assert_close(reg.gradient(x)[1], 2 * x)
    linear = torch.nn.Linear(D, 1)  # float32 module: gradients come back as float64
    values, grads = px.BlackBox(linear, task="regression").gradient(x)
    assert grads.dtype == torch.float64
    torch.testing.assert_close(grads, linear.weight.detach().double().expand(2, D))


def test_gradient_fails_clearly_for_non_differentiable_models():
    X = np.random.default_rng(0).normal(size=(40, D))
    sk = LogisticRegression().fit(X, X[:, 0] > 0)
    with pytest.raises(ValueError, match="differentiable"):
        px.BlackBox(sk).gradient(X)
    with pytest.raises(ValueError, match="differentiable"):
        px.BlackBox(lambda a: a @ W, task="regression").gradient(X)  # numpy callable
    detached = px.BlackBox(lambda t: (t @ torch.as_tensor(W)).detach(), task="regression",
                           input_type="torch")
    with pytest.raises(ValueError, match="autograd"):
        detached.gradient(X)
    with pytest.raises(ValueError, match="SmoothGrad needs gradients"):
        px.SmoothGrad(sk, sigma=0.5)
    nan = px.BlackBox(lambda t: t.sqrt().sum(1), task="regression", input_type="torch")
    with pytest.raises(ValueError, match="NaN"):
        nan.gradient(-np.ones((2, 3)))


# ---------------------------------------------------------------- SmoothGrad
def test_linear_model_gives_its_weights_exactly():
    """Every per-sample gradient of f = c + w.a is w: no Monte Carlo error at all."""
    w = torch.as_tensor(W)
    bb = px.BlackBox(lambda t: 2.0 + t @ w, task="regression", input_type="torch",
                     feature_names=list("abcde"))
    e = px.SmoothGrad(bb, estimator="gaussian", sigma=0.7, seed=0).explain(X0, n_samples=300)
    np.testing.assert_allclose(e.mean, W, rtol=0, atol=1e-14)
    np.testing.assert_allclose(e.sd, 0.0, atol=1e-14)
    assert e.feature_names == list("abcde") and e.hdi(0.9).shape == (D, 2)
    assert e.method == "SmoothGrad" and e.inference == "monte_carlo"
    assert e.n_queries == 301 == bb.n_queries  # 300 gradients + f(x)
    const = e.idata.constant_data
    z = const["z"].values
    assert z.shape == (300, D)
    np.testing.assert_allclose(const["x"].values, X0)
    # the noise is N(0, sigma^2 I) in input units: sample sd 0.7 within 4 se (se ~ 0.7/sqrt(600))
    assert np.all(np.abs(z.std(0) - 0.7) < 4 * 0.7 / np.sqrt(600))
    np.testing.assert_allclose(e.idata.observed_data["response"].values, 2.0 + (X0 + z) @ W)


def test_logistic_model_matches_the_exact_smoothed_gradient_within_mc_error():
    bb = logistic_blackbox()
    phi = logistic_smoothgrad(W, BIAS, X0, sigma=0.5)
    e = px.SmoothGrad(bb, estimator="gaussian", sigma=0.5, seed=1).explain(X0, n_samples=4000)
    moving = W != 0
    # the mean of 4000 iid gradients is normal to O(n^-1/2): 4.5 se is a two-sided 7e-6 tail
    assert np.all(np.abs(e.mean - phi)[moving] < 4.5 * e.sd[moving])
    assert e.mean[~moving] == 0 and e.sd[~moving] == 0
    # the gradient at x itself differs from the smoothed one by far more than the error
    s = 1 / (1 + np.exp(-(X0 @ W + BIAS)))
    assert np.all(np.abs(s * (1 - s) * W - e.mean)[moving] > 10 * e.sd[moving])
    # the stored draws follow N(mean, se^2): their moments agree within 5 draw-se
    draws = e.idata.posterior["attribution"].values.reshape(-1, D)
    assert np.all(np.abs(draws.mean(0) - e.mean) <= 5 * e.sd / np.sqrt(len(draws)) + 1e-15)
    np.testing.assert_allclose(draws.std(0)[moving], e.sd[moving], rtol=0.06)


def test_standard_errors_are_calibrated_over_repetitions():
    """200 independent repetitions (a batch of copies of x): the 95% intervals cover the
    exact answer at the nominal rate. Binomial sd of the rate over 200 reps ~ 0.015."""
    phi = logistic_smoothgrad(W, BIAS, X0, sigma=0.5)
    e = px.SmoothGrad(logistic_blackbox(), estimator="gaussian",
                      sigma=0.5, seed=2).explain(np.tile(X0, (200, 1)),
                                                                      n_samples=300)
    assert e.mean.shape == (200, D) and len(e) == 200
    interval = e.hdi(0.95)
    covered = (interval[..., 0] <= phi) & (phi <= interval[..., 1])
    assert 0.91 <= covered[:, 0].mean() <= 0.99
    z = (e.mean[:, 0] - phi[0]) / e.sd[:, 0]
    assert abs(z.std() - 1) < 0.15 and abs(z.mean()) < 0.25


def test_same_seed_same_numbers_and_no_global_rng_use():
    bb = logistic_blackbox()
    state = torch.get_rng_state()
    a = px.SmoothGrad(bb, estimator="gaussian", sigma=0.3, seed=5).explain(X0, n_samples=200)
    b = px.SmoothGrad(bb, estimator="gaussian", sigma=0.3, seed=5).explain(X0, n_samples=200)
    c = px.SmoothGrad(bb, estimator="gaussian", sigma=0.3, seed=6).explain(X0, n_samples=200)
    assert torch.equal(state, torch.get_rng_state())
    assert np.array_equal(a.mean, b.mean)
    assert np.array_equal(a.idata.posterior["attribution"], b.idata.posterior["attribution"])
    assert not np.allclose(a.mean, c.mean)


def test_batch_rows_equal_single_instance_explanations(tmp_path):
    bb = logistic_blackbox()
    X = np.stack([X0, -X0, 2 * X0])
    batch = px.SmoothGrad(bb, estimator="gaussian", sigma=0.4, seed=3).explain(X, n_samples=250)
    single = px.SmoothGrad(bb, estimator="gaussian", sigma=0.4, seed=3).explain(X[0], n_samples=250)
    assert batch.mean.shape == batch.sd.shape == (3, D) and batch.hdi(0.9).shape == (3, D, 2)
    grads = batch.idata.constant_data["gradients"].values
    for i in range(3):
        np.testing.assert_allclose(batch[i].mean, grads[i].mean(0), rtol=1e-12)
        np.testing.assert_allclose(batch[i].sd, grads[i].std(0, ddof=1) / np.sqrt(250))
        phi = logistic_smoothgrad(W, BIAS, X[i], sigma=0.4)
        assert np.all(np.abs(batch[i].mean - phi) <= 4.5 * batch[i].sd + 1e-15)
    np.testing.assert_allclose(batch[0].mean, single.mean, atol=4.5 * np.sqrt(2) * single.sd.max())
    assert batch.n_queries == 3 * 251
    path = batch.to_netcdf(tmp_path / "sg.nc")
    back = px.Explanation.from_netcdf(path)
    np.testing.assert_array_equal(back.mean, batch.mean)
    np.testing.assert_array_equal(back.hdi(0.8), batch.hdi(0.8))
    assert back.method == "SmoothGrad" and float(back.attrs["sigma"]) == 0.4
    batch[1].plot(path=tmp_path / "sg.png")
    assert (tmp_path / "sg.png").stat().st_size > 5_000
    table = batch[1].summary()
    np.testing.assert_allclose(table["mean"].to_numpy(), batch[1].mean)
    # closed-form (normal) marginals: the interval columns are the analytic ones, and no
    # sampler diagnostics (the draws only serve plots)
    np.testing.assert_allclose(table[["hdi_2.5%", "hdi_97.5%"]].to_numpy(), batch[1].hdi())
    assert "ess_bulk" not in table.columns


def test_wraps_torch_modules_and_validates_arguments():
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(D, 8), torch.nn.Tanh(), torch.nn.Linear(8, 2))
    sg = px.SmoothGrad(net, estimator="gaussian",
                       sigma=0.5, n_samples=64, feature_names=list("vwxyz"))
    e = sg.explain(X0)
    assert e.feature_names == list("vwxyz") and e.n_queries == 65 and sg.device.type == "cpu"
    # the explained output is the class-1 probability: its gradients sum with class 0's to 0
    g1 = e.idata.constant_data["gradients"].values
    g0 = px.BlackBox(net, target=0).gradient(X0 + e.idata.constant_data["z"].values)[1]
    np.testing.assert_allclose(g1, -g0.numpy(), atol=1e-6)
    for bad in (0.0, -1.0, float("nan")):
        with pytest.raises(ValueError, match="sigma"):
            px.SmoothGrad(net, estimator="gaussian", sigma=bad)
    with pytest.raises(ValueError, match="n_samples"):
        sg.explain(X0, n_samples=1)
    with pytest.raises(ValueError, match="options"):
        px.SmoothGrad(px.BlackBox(net), target=0)
    with pytest.raises(ValueError, match="features"):
        sg.explain(np.zeros(D + 1))
    with pytest.raises(ValueError, match="NaN"):
        sg.explain(np.full(D, np.nan))


# ---------------------------------------------------------------- theory
def test_deviation_frequency_stays_under_the_hoeffding_bound():
    """|d f / d a_j| <= |w_j| / 4 for a logistic model, so Hoeffding bounds
    P(||phi_n - phi||_inf >= eps). Over 200 seeded repetitions at an n where the bound is
    between 0.05 and 0.5 the observed frequency must stay below it; a biased estimator
    (e.g. the plain gradient at x, off by > 0.05 here) would deviate every time."""
    grad_bound = np.abs(W) / 4
    eps, n = 0.05, 300
    bound = smoothgrad_deviation_bound(n, eps, grad_bound)
    assert 0.05 < bound < 0.5
    assert smoothgrad_deviation_bound(smoothgrad_sample_size(eps, 0.05, 1.5 / 4, D), eps,
                                      [1.5 / 4] * D) <= 0.05
    phi = logistic_smoothgrad(W, BIAS, X0, sigma=0.5)
    e = px.SmoothGrad(logistic_blackbox(), estimator="gaussian",
                      sigma=0.5, seed=4).explain(np.tile(X0, (200, 1)),
                                                                      n_samples=n)
    deviation = np.abs(e.mean - phi).max(1)
    assert np.mean(deviation >= eps) <= bound
    s = 1 / (1 + np.exp(-(X0 @ W + BIAS)))
    assert np.abs(s * (1 - s) * W - phi).max() > eps


def test_expected_explanation_is_lipschitz_with_the_theory_constant():
    """phi(x) of a logistic model is exact (quadrature); over random pairs the ratio
    ||phi(x) - phi(x')|| / ||x - x'|| stays below sqrt(2/pi) (||w|| / 4) / sigma."""
    rng = np.random.default_rng(0)
    line = np.linspace(-5, 5, 2001)[:, None] * W / np.linalg.norm(W)  # the steepest direction
    for sigma in (0.1, 0.5, 2.0):
        L = smoothed_gradient_lipschitz(np.linalg.norm(W) / 4, sigma)
        x = np.concatenate([rng.normal(size=(500, D)), line[:-1]])
        dx = np.concatenate([rng.normal(size=(500, D)) * rng.uniform(1e-3, 1, size=(500, 1)),
                             np.diff(line, axis=0)])
        ratio = (np.linalg.norm(logistic_smoothgrad(W, BIAS, x + dx, sigma)
                                - logistic_smoothgrad(W, BIAS, x, sigma), axis=1)
                 / np.linalg.norm(dx, axis=1))
        assert ratio.max() <= L
        if sigma >= 0.5:  # past the model's own curvature scale the constant is tight to ~4x
            assert ratio.max() > 0.25 * L
    # the quadrature itself against plain Monte Carlo: 4e5 draws of s' <= 1/4 give a
    # standard error <= 1.5 * 0.25 / sqrt(4e5) = 6e-4 per coordinate; 3e-3 is 5 se
    nodes = stats.norm(0.3, 0.5 * np.linalg.norm(W)).rvs(size=400_000, random_state=1)
    mc = np.mean(np.exp(-nodes) / (1 + np.exp(-nodes)) ** 2) * W
    np.testing.assert_allclose(logistic_smoothgrad(W, 0.3, np.zeros(D), 0.5), mc, atol=3e-3)


@pytest.mark.gpu
def test_cuda_gives_the_cpu_numbers():
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(D, 8), torch.nn.Tanh(), torch.nn.Linear(8, 2))
    cpu = px.SmoothGrad(net, estimator="gaussian", sigma=0.5, seed=0).explain(X0, n_samples=500)
    gpu = px.SmoothGrad(net.cuda(), estimator="gaussian",
                        sigma=0.5, device="cuda", seed=0).explain(X0,
                                                                             n_samples=500)
    np.testing.assert_allclose(gpu.mean, cpu.mean, atol=1e-6)
