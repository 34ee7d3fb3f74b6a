"""Shared test set-up: every test starts from a cleared param store, seeded, validated."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import matplotlib
import numpy as np
import pyro
import pytest
import torch

matplotlib.use("Agg")


@pytest.fixture(autouse=True)
def _clean_pyro_state():
    pyro.clear_param_store()
    pyro.set_rng_seed(0)
    with pyro.validation_enabled(True):
        yield
    pyro.clear_param_store()


def pytest_collection_modifyitems(config, items):
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs CUDA")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def demo_model():
    """The random forest on breast_cancer used by the demo: (model, TabularData)."""
    from probex.datasets import fit_demo_model

    return fit_demo_model("breast_cancer", n_estimators=50, seed=0)


@pytest.fixture(scope="session")
def demo_blackbox(demo_model):
    import probex as px

    model, data = demo_model
    return px.BlackBox(model, feature_names=data.feature_names)


def smooth_regression(X):
    """A smooth nonlinear regression function of 5 inputs (a black box whose local
    surrogates are not exact)."""
    X = np.asarray(X)
    return np.sin(X[:, 0]) + 0.5 * X[:, 1] ** 2 + X[:, 2] * X[:, 3] + 0.3 * X[:, 4]


@pytest.fixture(scope="session")
def smooth_setting():
    """(BlackBox of :func:`smooth_regression` with features x0..x4, 500 standard normal
    background rows, an instance x)."""
    import probex as px

    rng = np.random.default_rng(0)
    bb = px.BlackBox(smooth_regression, task="regression",
                     feature_names=[f"x{j}" for j in range(5)])
    return bb, rng.normal(size=(500, 5)), np.array([0.5, -1.0, 0.3, 0.8, 0.0])


@pytest.fixture
def rng():
    return np.random.default_rng(0)


@pytest.fixture(scope="session")
def in_ci() -> bool:
    return "CI" in os.environ


@pytest.fixture
def unwritable_folder(tmp_path):
    """A folder this process cannot create files in: a read-only tmp folder, or /sys when
    running as root (root ignores permission bits; sysfs refuses new files)."""
    folder = tmp_path / "read_only"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        for candidate in (folder, Path("/sys")):
            try:
                tempfile.NamedTemporaryFile(dir=candidate).close()
            except OSError:
                yield candidate
                return
        pytest.skip("no folder here refuses new files")
    finally:
        folder.chmod(0o700)
