"""The figures draw the explanation's numbers: bar lengths are the means, whiskers the
intervals, a waterfall adds up to the surrogate's output at x; misuse gets a message."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pytest

import probex as px
from probex import plots

NAMES = ["a", "b", "c", "d"]


def additive(X):
    X = np.asarray(X)
    return 2.0 * X[:, 0] - 1.0 * X[:, 1] + 0.5 * X[:, 2] * X[:, 3]


@pytest.fixture(scope="module")
def setting():
    rng = np.random.default_rng(0)
    bb = px.BlackBox(additive, task="regression", feature_names=NAMES)
    return bb, rng.normal(size=(300, 4)), np.array([1.0, 0.5, -1.0, 2.0])


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def is_png(path, at_least=10_000) -> bool:
    return path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > at_least


def test_bar_draws_the_means_largest_on_top(setting, tmp_path):
    bb, background, x = setting
    e = px.BayesLIME(bb, background=background, seed=0).explain(x, n_samples=300)
    ax = plots.bar(e, prob=0.9, path=tmp_path / "bar.png")
    widths = [patch.get_width() for patch in ax.patches]
    order = np.argsort(-np.abs(e.mean))[::-1]
    np.testing.assert_allclose(widths, e.mean[order])
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels[-1] == f"{NAMES[order[-1]]} = {x[order[-1]]:.4g}"
    assert is_png(tmp_path / "bar.png")


def test_waterfall_adds_up_to_the_surrogate_at_x(setting, tmp_path):
    bb, background, x = setting
    for explainer in (px.BayesSHAP(bb, background=background, seed=0),
                      px.BayesLIME(bb, background=background, perturbation="mask", seed=0)):
        e = explainer.explain(x, n_samples=200)
        ax = plots.waterfall(e, max_features=3, path=tmp_path / "waterfall.png")
        bars = ax.patches
        assert len(bars) == 4  # three features and the rest summed
        lefts = np.array([p.get_x() for p in bars])
        widths = np.array([p.get_width() for p in bars])
        np.testing.assert_allclose(lefts[1:], lefts[:-1] + widths[:-1])  # a chain
        assert widths.sum() == pytest.approx(e.mean.sum())
        top = ax.child_axes[0] if ax.child_axes else None
        assert top is not None and len(top.get_xticks()) == 2
        assert is_png(tmp_path / "waterfall.png")
    # BayesSHAP's efficiency: base + sum(phi) = f(x) exactly
    e = px.BayesSHAP(bb, background=background, seed=0).explain(x, n_samples=200)
    base = float(e.idata.closed_form["base_value"])
    assert base + e.mean.sum() == pytest.approx(float(additive(x[None])[0]))


def test_waterfall_refuses_slopes(setting):
    bb, background, x = setting
    e = px.BayesLIME(bb, background=background, seed=0).explain(x, n_samples=100)
    with pytest.raises(ValueError, match="bar"):
        plots.waterfall(e)


def test_batch_summary_both_kinds(setting, tmp_path):
    bb, background, x = setting
    X = background[:25]
    e = px.BayesLIME(bb, background=background, seed=0).explain(X, n_samples=150)
    axes = plots.batch_summary(e, max_features=3, ncols=2, path=tmp_path / "dep.png")
    assert axes.shape == (2, 2) and not axes[1, 1].get_visible()
    first = np.argsort(-np.abs(e.mean).mean(0))[0]
    assert axes[0, 0].get_title() == NAMES[first]
    points = np.vstack([c.get_offsets() for c in axes[0, 0].collections[1:3]])
    assert len(points) == 25 and set(np.round(points[:, 0], 12)) <= set(np.round(X[:, first],
                                                                                   12))
    assert is_png(tmp_path / "dep.png")
    ax = plots.batch_summary(e, kind="beeswarm", X=X, path=tmp_path / "swarm.png")
    assert [t.get_text() for t in ax.get_yticklabels()][-1] == NAMES[first]
    assert is_png(tmp_path / "swarm.png")
    with pytest.raises(TypeError, match="bar or waterfall"):
        plots.batch_summary(e[0])
    with pytest.raises(ValueError, match="shape"):
        plots.batch_summary(e, X=X[:3])


def test_compare_attributions_and_checks_say_what_is_missing(setting, tmp_path):
    bb, background, x = setting
    a = px.BayesLIME(bb, background=background, seed=0).explain(x, n_samples=150)
    b = px.BayesLIME(bb, background=background, seed=1).explain(x, n_samples=150)
    ax = plots.compare_attributions({"seed 0": a, "seed 1": b}, path=tmp_path / "c.png")
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["seed 0", "seed 1"]
    assert is_png(tmp_path / "c.png")
    with pytest.raises(ValueError, match="no sampler|none"):
        plots.plot_energy(a)
    with pytest.raises(ValueError, match="prior_predictive=True"):
        plots.plot_ppc(a, group="prior")
    assert plots.plot_ppc(a, path=tmp_path / "ppc.png") is not None
    assert plots.plot_pair(a, features=["a", "b"]) is not None
    assert plots.plot_trace(a, features="a").shape == (2, 2)
    with pytest.raises(ValueError, match="unknown features"):
        plots.plot_trace(a, features=["z"])
    batch = px.BayesLIME(bb, background=background, seed=0).explain(background[:2],
                                                                      n_samples=100)
    with pytest.raises(TypeError, match="instance="):
        plots.plot_trace(batch)
    assert plots.plot_trace(batch, instance=1, features=["a"]).shape == (2, 2)
