"""Input validation shared by the estimators: the runs table and the epochs table, scikit-learn style.

Every estimator reads a **runs table** (a pandas DataFrame, one row per run, columns by name). Its
``fit`` and ``predict`` call :func:`check_runs`, which

* gives scikit-learn's own errors for what no runs table can be (1-D, empty, sparse, complex,
  non-finite arrays: :func:`sklearn.utils.check_array`);
* sets (``fit``) or checks (``predict``, once fitted) ``n_features_in_`` and ``feature_names_in_``
  from the X it is given (:func:`sklearn.utils.validation.validate_data` with ``skip_check_array=True``: the table
  keeps its string and missing values);
* requires ``y`` in ``fit`` (a finite number per run, the measured energy in joules);
* refuses anything but a DataFrame, and a table without the columns the estimator reads.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from sklearn.utils import check_array, check_consistent_length, column_or_1d
from sklearn.utils.validation import validate_data

#: the columns of the epochs table an estimator reads
EPOCH_COLUMNS = ("run_id", "epoch", "duration_s", "energy_j")


def check_runs(estimator, X, y="no_validation", *, reset: bool, needs: Sequence[str] = ()):
    """Validate a runs table ``X`` (and the target ``y`` in ``fit``) for ``estimator``.

    Parameters
    ----------
    estimator : BaseEstimator
        The estimator; ``n_features_in_`` and ``feature_names_in_`` are set on it when ``reset``.
    X : pandas.DataFrame
        The runs table.
    y : array-like of shape (n_runs,), None or "no_validation"
        The measured energy (J) in ``fit``; None is refused (the estimators require ``y``);
        ``"no_validation"`` in ``predict``.
    reset : bool
        True in ``fit`` (record the columns), False in ``predict`` (check them).
    needs : sequence of str
        The columns the estimator reads.

    Returns
    -------
    X : pandas.DataFrame
    y : numpy.ndarray of float64, or None when not validated

    Examples
    --------
    >>> import pandas as pd
    >>> from dlenergy.estimators import MLCO2Estimator
    >>> runs = pd.DataFrame({"gpu_model": ["RTX 3090"], "duration_s": [10.0]})
    >>> est = MLCO2Estimator().fit(runs, [3000.0])
    >>> est.n_features_in_, list(est.feature_names_in_)
    (2, ['gpu_model', 'duration_s'])
    """
    if not isinstance(X, pd.DataFrame):
        X = check_array(X, input_name="X", estimator=estimator)
    if reset or hasattr(estimator, "n_features_in_"):  # an unfitted formula (requires_fit False) has none to check
        validate_data(estimator, X, y, reset=reset, skip_check_array=True)
    y_out = None
    if not (isinstance(y, str) and y == "no_validation"):
        y_out = column_or_1d(
            check_array(y, input_name="y", ensure_2d=False, dtype=np.float64, estimator=estimator), warn=True
        )
        check_consistent_length(X, y_out)
    name = type(estimator).__name__
    if not isinstance(X, pd.DataFrame):
        raise ValueError(
            f"{name} reads a runs table: a pandas DataFrame with the columns {', '.join(needs)} "
            f"(got an unnamed {type(X).__name__})"
        )
    missing = [c for c in needs if c not in X.columns]
    if missing:
        raise ValueError(f"{name}: the runs table lacks column(s) {', '.join(missing)}")
    return X, y_out


def check_epochs(estimator, epochs, needs: Sequence[str] = EPOCH_COLUMNS) -> pd.DataFrame:
    """The per-epoch table (``run_id, epoch, duration_s, energy_j``) an estimator was given, or a
    ValueError saying what is missing."""
    name = type(estimator).__name__
    if epochs is None:
        raise ValueError(
            f"{name} needs the per-epoch measurements: pass epochs=<epochs table> "
            f"(columns {', '.join(needs)}, as in clean/epochs.parquet)"
        )
    if not isinstance(epochs, pd.DataFrame):
        raise ValueError(f"{name}: epochs must be a pandas DataFrame, not {type(epochs).__name__}")
    missing = [c for c in needs if c not in epochs.columns]
    if missing:
        raise ValueError(f"{name}: the epochs table lacks column(s) {', '.join(missing)}")
    return epochs


def column(X: pd.DataFrame, name: str) -> np.ndarray:
    """Column ``name`` of the runs table as float64 (non-numbers: NaN)."""
    return pd.to_numeric(X[name], errors="coerce").to_numpy(dtype=np.float64)


def n_epochs(X: pd.DataFrame) -> np.ndarray:
    """Planned epochs of each run: ``planned_epochs`` when the table has it, else ``epochs_measured``."""
    return column(X, "planned_epochs" if "planned_epochs" in X else "epochs_measured")


def epochs_column(X) -> str:
    """The column :func:`n_epochs` reads (for the list of needed columns)."""
    return "planned_epochs" if isinstance(X, pd.DataFrame) and "planned_epochs" in X else "epochs_measured"


def score_with_epochs(estimator, X, y, sample_weight=None, epochs=None) -> float:
    """R² of ``estimator.predict(X, epochs)`` against ``y``: ``score`` for the estimators that read
    the epochs table."""
    from sklearn.metrics import r2_score

    return float(r2_score(y, estimator.predict(X, epochs), sample_weight=sample_weight))
