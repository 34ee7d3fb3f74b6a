"""Property-based checks of the public surface: random shapes, dtypes and values give
either a ValueError/TypeError that names the problem, or finite outputs of the right
shape (hypothesis)."""

import re

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import probex as px

D = 3
W = np.array([1.0, -0.5, 2.0])


def _classifier(X):
    p = 1.0 / (1.0 + np.exp(-np.clip(X @ W, -30, 30)))
    return np.c_[1 - p, p]


class Logistic(torch.nn.Module):
    def forward(self, x):
        score = x @ torch.as_tensor(W, dtype=x.dtype)
        return torch.stack([torch.zeros_like(score), score], 1)


BACKGROUND = np.random.default_rng(0).normal(size=(30, D))
EXPLAINERS = {
    "bayeslime": lambda: px.BayesLIME(px.BlackBox(_classifier, n_features=D),
                                      background=BACKGROUND, n_samples=20),
    "bayesshap": lambda: px.BayesSHAP(px.BlackBox(_classifier, n_features=D),
                                      background=BACKGROUND, n_samples=10),
    "eagle": lambda: px.EAGLE(px.BlackBox(_classifier, n_features=D), background=BACKGROUND,
                              n_samples=20),
    "clime": lambda: px.CLIME(px.BlackBox(_classifier, n_features=D), n_samples=20),
    "smoothgrad": lambda: px.SmoothGrad(Logistic().double(), n_samples=8,
                                        feature_names=list("abc")),
    "rise": lambda: px.RISE(px.BlackBox(_classifier, n_features=D), background=BACKGROUND,
                            n_samples=20, n_draws=2),
}

values = st.one_of(
    hnp.arrays(dtype=st.sampled_from([np.float64, np.float32, np.int64, np.bool_,
                                      np.complex128]),
               shape=hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4),
               elements=None),
    st.lists(st.one_of(st.floats(allow_nan=True), st.text(max_size=3), st.none()),
             max_size=4),
)
SETTINGS = settings(max_examples=25, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow])


def _check_result(e, x):
    x = np.asarray(x)
    shape = (D,) if x.ndim == 1 else (x.shape[0], D)
    assert e.mean.shape == shape and e.sd.shape == shape
    assert np.isfinite(e.mean).all() and np.isfinite(e.sd).all()


@pytest.mark.parametrize("name", sorted(EXPLAINERS))
@SETTINGS
@given(x=values)
def test_explain_answers_or_names_the_problem(name, x):
    explainer = EXPLAINERS[name]()
    try:
        e = explainer.explain(x)
    except (ValueError, TypeError) as err:
        assert re.match(r"x (has|must|contains|could not)", str(err)), str(err)
        return
    _check_result(e, x)


@SETTINGS
@given(X=values)
def test_blackbox_answers_or_names_the_problem(X):
    bb = px.BlackBox(_classifier, n_features=D)
    try:
        out = bb(X)
    except (ValueError, TypeError) as err:
        assert re.match(r"model input (has|must|contains|could not)", str(err)), str(err)
        return
    assert out.shape == (np.asarray(X).shape[0],) and torch.isfinite(out).all()
