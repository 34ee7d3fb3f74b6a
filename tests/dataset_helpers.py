"""Models for the data-set engine tests, importable by Dask workers and subprocesses."""

from __future__ import annotations

import time

import numpy as np


class SlowModel:
    """A classifier's predict_proba that sleeps ``delay`` seconds per call (so that a run
    lasts long enough to be interrupted)."""

    def __init__(self, model, delay: float):
        self.model = model
        self.delay = float(delay)

    def __call__(self, X):
        time.sleep(self.delay)
        return self.model.predict_proba(X)


class FailsOnHugeInputs:
    """predict_proba that raises for any row with a feature above 1e6 (a row the model
    cannot handle, although it is finite and of the right width)."""

    def __init__(self, model):
        self.model = model

    def __call__(self, X):
        if (np.abs(X) > 1e6).any():
            raise ValueError("feature value out of the model's range")
        return self.model.predict_proba(X)
