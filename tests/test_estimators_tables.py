"""Exact outcomes of the estimators' input validation (:mod:`dlenergy.estimators._tables`).

``check_runs`` hands what no runs table can be to scikit-learn's own validators; the expected errors and
warnings here come from calling those validators directly with the intended arguments (X named "X",
y named "y", the estimator named), never from dlenergy's output.
"""

from __future__ import annotations

import re
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator
from sklearn.exceptions import DataConversionWarning
from sklearn.utils import check_array, check_consistent_length, column_or_1d

from dlenergy.estimators import MLCO2Estimator
from dlenergy.estimators._tables import check_runs, column
from dlenergy.estimators.offline import RUN_INPUTS, offline_features
from dlenergy.gpu_specs import SPEC_COLUMNS, UnknownGPUError, lookup_gpu


class _Probe(BaseEstimator):
    """A bare estimator: no ``n_features_in_`` until fitted, so ``reset=False`` skips validate_data."""


def _raised(fn):
    """(type, message) of the exception ``fn()`` raises."""
    try:
        fn()
    except Exception as exc:  # whatever scikit-learn raises
        return type(exc), str(exc)
    raise AssertionError("expected an exception")


def _runs(n=3):
    return pd.DataFrame({"a": np.arange(n, dtype=float), "b": np.ones(n)})


def _assert_same_error(fn, expected_fn):
    exc_type, message = _raised(expected_fn)
    with pytest.raises(exc_type) as info:
        fn()
    assert type(info.value) is exc_type
    assert str(info.value) == message


# --- X that is not a DataFrame: scikit-learn's check_array, naming X and the estimator -----------------


def test_nan_in_array_x_names_x_and_the_estimator():
    X = np.array([[1.0, np.nan], [2.0, 3.0]])
    est = _Probe()
    _assert_same_error(
        lambda: check_runs(est, X, reset=False), lambda: check_array(X, input_name="X", estimator=_Probe())
    )
    message = _raised(lambda: check_runs(_Probe(), X, reset=False))[1]
    assert message.startswith("Input X contains NaN.\n_Probe does not accept missing values encoded as NaN")


def test_nan_in_array_x_through_an_estimator_fit():
    X = np.array([[1.0, np.inf]])
    _assert_same_error(
        lambda: MLCO2Estimator().fit(X, [1.0]),
        lambda: check_array(X, input_name="X", estimator=MLCO2Estimator()),
    )
    assert (
        _raised(lambda: MLCO2Estimator().fit(X, [1.0]))[1]
        == "Input X contains infinity or a value too large for dtype('float64')."
    )


def test_empty_array_x_names_the_estimator():
    X = np.empty((0, 2))
    _assert_same_error(
        lambda: check_runs(_Probe(), X, reset=False), lambda: check_array(X, input_name="X", estimator=_Probe())
    )
    assert _raised(lambda: check_runs(_Probe(), X, reset=False))[1] == (
        "Found array with 0 sample(s) (shape=(0, 2)) while a minimum of 1 is required by _Probe."
    )


def test_1d_array_x_is_refused_as_1d():
    X = np.array([1.0, 2.0])
    exc_type, message = _raised(lambda: check_runs(_Probe(), X, reset=False))
    assert exc_type is ValueError
    assert message.startswith("Expected 2D array, got 1D array instead")
    assert message == _raised(lambda: check_array(X, input_name="X", estimator=_Probe()))[1]


def test_finite_array_x_is_refused_naming_the_needed_columns():
    X = np.array([[1.0, 2.0], [3.0, 4.0]])
    with pytest.raises(ValueError) as info:
        check_runs(_Probe(), X, reset=False, needs=("gpu_model", "duration_s"))
    assert str(info.value) == (
        "_Probe reads a runs table: a pandas DataFrame with the columns gpu_model, duration_s (got an unnamed ndarray)"
    )


def test_list_x_is_converted_then_refused_as_an_ndarray():
    with pytest.raises(ValueError, match=re.escape("(got an unnamed ndarray)")):
        check_runs(_Probe(), [[1.0, 2.0]], reset=False, needs=("a",))


# --- the missing columns of a DataFrame ----------------------------------------------------------------


def test_missing_columns_are_listed_in_order():
    with pytest.raises(ValueError) as info:
        check_runs(_Probe(), _runs(), reset=False, needs=("a", "gpu_model", "b", "duration_s"))
    assert str(info.value) == "_Probe: the runs table lacks column(s) gpu_model, duration_s"


def test_dataframe_with_all_columns_is_returned_and_y_not_validated_is_none():
    runs = _runs()
    X, y = check_runs(_Probe(), runs, reset=False, needs=("a", "b"))
    assert X is runs
    assert y is None


# --- y: check_array(y, input_name="y", ensure_2d=False, dtype=float64, estimator) then column_or_1d -----


def test_nan_in_y_names_y():
    y = [1.0, np.nan, 2.0]
    _assert_same_error(
        lambda: check_runs(_Probe(), _runs(), y, reset=False),
        lambda: check_array(y, input_name="y", ensure_2d=False, dtype=np.float64, estimator=_Probe()),
    )
    assert _raised(lambda: check_runs(_Probe(), _runs(), y, reset=False))[1] == "Input y contains NaN."


def test_empty_y_names_the_estimator():
    y: list[float] = []
    _assert_same_error(
        lambda: check_runs(_Probe(), _runs(0), y, reset=False),
        lambda: check_array(y, input_name="y", ensure_2d=False, dtype=np.float64, estimator=_Probe()),
    )
    assert _raised(lambda: check_runs(_Probe(), _runs(0), y, reset=False))[1] == (
        "Found array with 0 sample(s) (shape=(0,)) while a minimum of 1 is required by _Probe."
    )


def test_integer_y_is_returned_as_float64():
    _, y = check_runs(_Probe(), _runs(), [1, 2, 3], reset=False)
    assert y.dtype == np.float64
    np.testing.assert_array_equal(y, np.array([1.0, 2.0, 3.0]))


def test_column_vector_y_warns_and_is_flattened():
    y = np.array([[1.0], [2.0], [3.0]])
    with warnings.catch_warnings(record=True) as expected:
        warnings.simplefilter("always")
        column_or_1d(y, warn=True)
    with warnings.catch_warnings(record=True) as got:
        warnings.simplefilter("always")
        _, out = check_runs(_Probe(), _runs(), y, reset=False)
    conversion = [w for w in got if issubclass(w.category, DataConversionWarning)]
    assert len(conversion) == 1
    assert str(conversion[0].message) == str(expected[0].message)
    assert str(conversion[0].message).startswith("A column-vector y was passed when a 1d array was expected.")
    np.testing.assert_array_equal(out, np.array([1.0, 2.0, 3.0]))
    assert out.shape == (3,)


def test_y_of_another_length_than_x_is_refused():
    y = [1.0, 2.0]
    _assert_same_error(
        lambda: check_runs(_Probe(), _runs(3), y, reset=False),
        lambda: check_consistent_length(np.zeros(3), np.zeros(2)),
    )
    assert _raised(lambda: check_runs(_Probe(), _runs(3), y, reset=False))[1] == (
        "Found input variables with inconsistent numbers of samples: [3, 2]"
    )


# --- column: a column as float64, non-numbers NaN --------------------------------------------------------


def test_column_of_integers_is_float64():
    out = column(pd.DataFrame({"n": [1, 2, 3]}), "n")
    assert out.dtype == np.float64
    np.testing.assert_array_equal(out, np.array([1.0, 2.0, 3.0]))


def test_column_non_numbers_become_nan():
    out = column(pd.DataFrame({"n": ["4", "x", None, 2.5]}), "n")
    assert out.dtype == np.float64
    np.testing.assert_array_equal(out, np.array([4.0, np.nan, np.nan, 2.5]))


# --- offline_features: the runs-table check of the offline estimators ------------------------------------


def _offline_runs(gpu: str) -> pd.DataFrame:
    return pd.DataFrame([{c: (gpu if c == "gpu_model" else 1.0) for c in RUN_INPUTS}])


def test_offline_features_names_the_missing_inputs():
    runs = _offline_runs("RTX 3090").drop(columns=["gflops", "batch_size"])
    with pytest.raises(ValueError) as info:
        offline_features(runs)
    assert type(info.value) is ValueError
    assert str(info.value) == "runs table lacks input column(s) gflops, batch_size"


def test_offline_features_refuses_an_unknown_gpu_by_default():
    expected_type, expected_message = _raised(lambda: lookup_gpu("Voodoo 3"))
    assert expected_type is UnknownGPUError
    with pytest.raises(UnknownGPUError) as info:
        offline_features(_offline_runs("Voodoo 3"))
    assert str(info.value) == expected_message
    coerced = offline_features(_offline_runs("Voodoo 3"), errors="coerce")
    assert coerced[list(SPEC_COLUMNS)].isna().all(axis=None)


def test_offline_features_are_float64_on_the_runs_index():
    runs = pd.DataFrame([{c: ("RTX 3090" if c == "gpu_model" else 2) for c in RUN_INPUTS}] * 2, index=[5, 7])
    F = offline_features(runs)
    assert list(F.index) == [5, 7]
    assert (F.dtypes == np.float64).all()
    spec = lookup_gpu("RTX 3090")
    for c in SPEC_COLUMNS:
        np.testing.assert_array_equal(F[c].to_numpy(), np.full(2, float(getattr(spec, c))))
    for c in RUN_INPUTS[1:]:
        np.testing.assert_array_equal(F[c].to_numpy(), np.full(2, 2.0))


def test_offline_features_non_number_settings_become_nan():
    runs = _offline_runs("RTX 3090").astype(object)
    runs.loc[0, "batch_size"] = "x"
    F = offline_features(runs)
    assert np.isnan(F.loc[0, "batch_size"])
    assert F.loc[0, "gflops"] == 1.0


def test_predict_complete_gives_nan_for_an_unknown_gpu():
    from sklearn.linear_model import LinearRegression

    from dlenergy.estimators.offline import _predict_complete

    known = pd.concat([_offline_runs("RTX 3090")] * 3, ignore_index=True)
    known["batch_size"] = [1.0, 2.0, 3.0]
    F = offline_features(known)
    regressor = LinearRegression().fit(F, 10.0 * F["batch_size"].to_numpy())
    runs = pd.concat([_offline_runs("RTX 3090"), _offline_runs("Voodoo 3")], ignore_index=True)
    out = _predict_complete(regressor, runs)
    np.testing.assert_allclose(out[0], 10.0, rtol=1e-9)
    assert np.isnan(out[1])


def test_select_picks_the_best_model_of_the_scores_it_has():
    from dlenergy.estimators.offline import _select

    table = pd.DataFrame(
        {"model": ["a", "b", "c"], "rmse": [1.0, 2.0, np.nan], "mae": [np.nan, 3.0, 2.0], "r2": [0.1, 0.9, 0.5]}
    )
    assert _select(table, "r2") == "b"
    assert _select(table, "rmse") == "a"
    assert _select(table, "mae") == "c"
    with pytest.raises(ValueError) as info:
        _select(table, "mse")
    assert str(info.value) == "select_by must be rmse, mae or r2, not 'mse'"
