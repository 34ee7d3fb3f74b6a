"""scikit-learn's bundled data sets (no download), split and ready to explain."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn import datasets as skdata
from sklearn.model_selection import train_test_split

from probex._checks import check_choice

__all__ = ["TabularData", "load_tabular", "fit_demo_model"]

_LOADERS = {
    "breast_cancer": (skdata.load_breast_cancer, "classification"),
    "digits": (skdata.load_digits, "classification"),
    "iris": (skdata.load_iris, "classification"),
    "diabetes": (skdata.load_diabetes, "regression"),
}


@dataclass(frozen=True)
class TabularData:
    """A train/test split with names. Arrays are float64 (X) and int or float (y)."""

    X_train: np.ndarray
    X_test: np.ndarray
    y_train: np.ndarray
    y_test: np.ndarray
    feature_names: list[str]
    target_names: list[str]
    task: str
    name: str

    @property
    def n_features(self) -> int:
        return self.X_train.shape[1]


def load_tabular(name: str = "breast_cancer", test_size: float = 0.25, seed: int = 0,
                 standardize: bool = False) -> TabularData:
    """Load a bundled scikit-learn data set and split it (stratified for classification).

    ``standardize`` centres and scales the features with the training mean and std.
    """
    check_choice("dataset", name, tuple(_LOADERS))
    loader, task = _LOADERS[name]
    bunch = loader()
    X, y = np.asarray(bunch.data, dtype=np.float64), np.asarray(bunch.target)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=test_size, random_state=seed,
        stratify=y if task == "classification" else None)
    if standardize:
        mean, std = X_train.mean(0), X_train.std(0)
        std = np.where(std > 0, std, 1.0)
        X_train, X_test = (X_train - mean) / std, (X_test - mean) / std
    names = [str(f) for f in getattr(bunch, "feature_names", [f"x{j}" for j in range(X.shape[1])])]
    targets = [str(t) for t in getattr(bunch, "target_names", ["target"])]
    return TabularData(X_train, X_test, y_train, y_test, names, targets, task, name)


def fit_demo_model(name: str = "breast_cancer", n_estimators: int = 100, seed: int = 0):
    """The random forest used by the demo, tests and benchmarks: (model, TabularData)."""
    from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor

    data = load_tabular(name, seed=seed)
    cls = RandomForestClassifier if data.task == "classification" else RandomForestRegressor
    model = cls(n_estimators=n_estimators, random_state=seed, n_jobs=1)
    model.fit(data.X_train, data.y_train)
    return model, data
