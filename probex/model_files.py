"""Loading a user's fitted model and rows from files, with named errors.

SECURITY: a joblib or pickle file runs code when it is loaded. Load such files only from a
source you trust, and say so explicitly (``trust=True``; ``--trust-model`` on the command
line). A ``.skops`` file (scikit-learn's safer format, via the optional ``skops`` package)
is loaded without running code: only types skops considers safe are accepted unless
``trust=True``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

__all__ = ["ModelFileError", "load_model", "load_rows", "read_aligned_frame"]

_PICKLE_SUFFIXES = (".joblib", ".pkl", ".pickle", ".jbl")


class ModelFileError(ValueError):
    """A problem with a user's model or data file, stated without a traceback."""


def load_model(path, *, trust: bool = False):
    """The fitted estimator stored at ``path`` (joblib/pickle or skops).

    Raises:
        ModelFileError: missing file, an untrusted pickle, a file that is not a model.
    """
    file = Path(path)
    if not file.is_file():
        raise ModelFileError(f"model file {str(path)!r} does not exist")
    if file.suffix == ".skops":
        model = _load_skops(file, trust)
    else:
        if not trust:
            raise ModelFileError(
                f"{str(path)!r} is a joblib/pickle file, and loading one runs the code it "
                "contains: pass --trust-model (trust=True) only if it comes from a source you "
                "trust, or save the model with skops (skops.io.dump) as a .skops file")
        model = _load_pickle(file)
    if not (hasattr(model, "predict_proba") or hasattr(model, "predict")):
        raise ModelFileError(f"{str(path)!r} holds a {type(model).__name__}, not a fitted "
                             "estimator")
    return model


def _load_pickle(file: Path):
    import joblib

    try:
        return joblib.load(file)
    except Exception as err:  # joblib raises many types for foreign files
        what = ("it looks like a data file, not a saved model (joblib/pickle or .skops)"
                if file.suffix.lower() in (".csv", ".txt", ".tsv", ".json") else
                f"it is not a joblib/pickle file holding a model ({type(err).__name__})")
        raise ModelFileError(f"could not load a model from {str(file)!r}: {what}") from None


def _load_skops(file: Path, trust: bool):
    try:
        import skops.io as sio
    except ImportError:
        raise ModelFileError("reading .skops files needs the skops package "
                             "(pip install skops)") from None
    try:
        untrusted = sio.get_untrusted_types(file=file)
        if untrusted and not trust:
            raise ModelFileError(f"{str(file)!r} holds types skops does not consider safe: "
                                 f"{', '.join(untrusted)}; pass --trust-model if you trust it")
        return sio.load(file, trusted=untrusted or None)
    except ModelFileError:
        raise
    except Exception as err:
        raise ModelFileError(f"could not load a model from {str(file)!r}: "
                             f"{type(err).__name__}: {err}") from None


def read_aligned_frame(path, model, what: str = "data"):
    """A CSV with a header of feature names as a DataFrame whose columns are the model's
    ``feature_names_in_`` in order (extra columns dropped; all columns when the model has
    no names); a named ModelFileError for a missing, unreadable or empty file or for
    missing columns. Values are not checked."""
    import pandas as pd

    file = Path(path)
    if not file.is_file():
        raise ModelFileError(f"{what} file {str(path)!r} does not exist")
    try:
        frame = pd.read_csv(file)
    except Exception as err:  # noqa: BLE001 - pandas raises many types
        raise ModelFileError(f"could not read {str(path)!r} as CSV: {err}") from None
    if frame.empty:
        raise ModelFileError(f"{str(path)!r} has no rows")
    expected = getattr(model, "feature_names_in_", None)
    if expected is not None:
        missing = [c for c in expected if c not in frame.columns]
        if missing:
            raise ModelFileError(f"{str(path)!r} lacks columns the model was trained on: "
                                 f"{', '.join(map(str, missing))}")
        frame = frame[list(expected)]
    return frame


def load_rows(path, model, what: str = "data") -> tuple[np.ndarray, list[str]]:
    """Rows of a CSV with a header of feature names, ordered as the model's
    ``feature_names_in_`` (extra columns are ignored); (n, d) float64 and the names."""
    import pandas as pd

    frame = read_aligned_frame(path, model, what)
    if getattr(model, "feature_names_in_", None) is None:
        n_expected = getattr(model, "n_features_in_", None)
        if n_expected is not None and frame.shape[1] != n_expected:
            raise ModelFileError(f"{str(path)!r} has {frame.shape[1]} columns but the model "
                                 f"expects {n_expected} features")
    non_numeric = [c for c in frame.columns if not pd.api.types.is_numeric_dtype(frame[c])]
    if non_numeric:
        raise ModelFileError(f"{str(path)!r} has non-numeric columns: "
                             f"{', '.join(map(str, non_numeric))}")
    values = frame.to_numpy(dtype=np.float64)
    if not np.isfinite(values).all():
        bad = sorted({frame.columns[j] for j in np.argwhere(~np.isfinite(values))[:, 1]})
        raise ModelFileError(f"{str(path)!r} has missing or infinite values in: "
                             f"{', '.join(map(str, bad))}")
    return values, [str(c) for c in frame.columns]
