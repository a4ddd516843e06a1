"""``estimators.evaluate.compare`` with estimators the paper does not name: the label falls back to the
method's own name, the paper's RMSE is NaN (a float column), and the predictions table is long with a
``method`` column and a fresh 0..n-1 index.

Expected values are worked out by hand: a constant prediction of 2000 J against measured 1000 J and
3000 J is off by 1 kJ on both runs."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.dummy import DummyRegressor

from dlenergy.estimators.evaluate import compare


def _runs():
    X = pd.DataFrame({"run_id": ["a", "b"], "x": [1.0, 2.0]})
    y = [1000.0, 3000.0]
    return X, y


def _const(v: float, X):
    return DummyRegressor(strategy="constant", constant=v).fit(X[["x"]], [0.0, 0.0])


class _OnX:
    """A fitted regressor that predicts from the column ``x`` only (``compare`` passes the whole table)."""

    def __init__(self, reg):
        self.reg = reg

    def predict(self, X):
        return self.reg.predict(X[["x"]])


def test_compare_unknown_method_keeps_its_name_and_a_nan_paper_rmse():
    X, y = _runs()
    table, preds = compare({"my_regressor": _OnX(_const(2000.0, X))}, X, y)
    assert table["method"].tolist() == ["my_regressor"]
    # not in METHOD_LABELS: the label is the method's own name (not None)
    assert table["label"].tolist() == ["my_regressor"]
    # |2000 - 1000| = |2000 - 3000| = 1000 J = 1 kJ: RMSE = MAE = 1 kJ, bias (+1 - 1) / 2 = 0
    assert table["rmse_kj"].tolist() == [1.0] and table["mae_kj"].tolist() == [1.0]
    assert table["bias_kj"].tolist() == [0.0]
    # not in the paper's Table 10: NaN in a float column (not None in an object column)
    assert table["paper_rmse_kj"].dtype == np.float64
    assert np.isnan(table["paper_rmse_kj"].to_numpy()).all()


def test_compare_predictions_are_long_with_a_method_column_and_a_fresh_index():
    X, y = _runs()
    ests = {"low": _OnX(_const(500.0, X)), "high": _OnX(_const(4000.0, X))}
    table, preds = compare(ests, X, y)
    assert table["label"].tolist() == ["low", "high"]
    # RMSE: low (0.5, 2.5) kJ off -> sqrt((0.25 + 6.25) / 2) = sqrt(3.25); high (3, 1) -> sqrt(5)
    np.testing.assert_allclose(table["rmse_kj"], [np.sqrt(3.25), np.sqrt(5.0)], rtol=1e-12)
    assert list(preds.columns) == ["method", "run_id", "true_kj", "predicted_kj"]
    assert preds["method"].tolist() == ["low", "low", "high", "high"]
    assert preds["run_id"].tolist() == ["a", "b", "a", "b"]
    assert preds["true_kj"].tolist() == [1.0, 3.0, 1.0, 3.0]
    assert preds["predicted_kj"].tolist() == [0.5, 0.5, 4.0, 4.0]
    # one row per (method, run), numbered 0..3 (not 0, 1, 0, 1 from each method's own frame)
    pd.testing.assert_index_equal(preds.index, pd.RangeIndex(4))
