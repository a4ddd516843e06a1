"""The evaluation helpers of the estimators (``errors_kj``, ``online_sweep`` with a non-default window,
``predict_energy``, ``compare``) and the epochs-table checks of ``_tables`` (``check_epochs``, the planned
epochs ``n_epochs`` / ``epochs_column``).

Expected values are worked out by hand or by an independent implementation (equations 1 and 2 written over
plain lists, as in tests/test_estimators_offline.py), never copied from the code."""

from __future__ import annotations

import math
import re
import statistics

import numpy as np
import pandas as pd
import pytest
from online_sweep_reference import E, eq1, eq2, errs, random_start, sweep_tables
from sklearn.dummy import DummyClassifier, DummyRegressor

from dlenergy.estimators import CarbontrackerEstimator, MLCO2Estimator, OnlinePowerEstimator
from dlenergy.estimators._tables import epochs_column, n_epochs
from dlenergy.estimators.evaluate import compare, errors_kj, online_sweep, predict_energy
from dlenergy.scorecard import read_targets

KEYS = ["n_runs", "n_missing", "rmse_kj", "mae_kj", "mape_pct", "bias_kj"]


# ----------------------------------------------------------------------------- errors_kj


def test_errors_kj_by_hand_with_missing_values():
    # finite pairs: (1000, 1500), (2000, 1000), (4000, 4000) J -> errors 0.5, -1.0, 0 kJ;
    # a missing measurement (None) and a missing prediction (None) are not counted
    got = errors_kj([1000.0, 2000.0, 4000.0, None, 3000.0], [1500.0, 1000.0, 4000.0, 3000.0, None])
    assert list(got) == KEYS
    assert got["n_runs"] == 3 and got["n_missing"] == 2
    assert got["rmse_kj"] == pytest.approx(math.sqrt((0.25 + 1.0) / 3), rel=1e-12)
    assert got["mae_kj"] == pytest.approx(1.5 / 3, rel=1e-12)
    assert got["mape_pct"] == pytest.approx((50.0 + 50.0 + 0.0) / 3, rel=1e-12)
    assert got["bias_kj"] == pytest.approx(-0.5 / 3, rel=1e-12)


def test_errors_kj_of_a_single_run_and_of_none():
    # one finite pair: 2500 J predicted for 2000 J measured -> 0.5 kJ over, 25 %
    one = errors_kj(np.array([2000.0, np.nan]), np.array([2500.0, 1.0]))
    assert one == {"n_runs": 1, "n_missing": 1, "rmse_kj": 0.5, "mae_kj": 0.5, "mape_pct": 25.0, "bias_kj": 0.5}
    # no finite pair: every error NaN, all runs missing
    none = errors_kj(np.array([np.nan, 1000.0]), np.array([5.0, np.inf]))
    assert list(none) == KEYS
    assert none["n_runs"] == 0 and none["n_missing"] == 2
    assert all(math.isnan(none[k]) for k in KEYS[2:])


# ----------------------------------------------------------------------------- online_sweep (window 2)


# the hand-made table of tests/test_estimators_offline.py: two runs of 10 epochs, epochs 0-1 unstable
def test_online_sweep_with_window_2_and_two_repeats():
    runs, ep = sweep_tables()
    # hand check: w = 2 from epoch 8 (the last window that fits): run b 40 J over 2 s x 10 s = 200 J
    assert eq1("b", 8, 8, 2) == 200.0 and eq2("a", 8, 8, 2) == (22 + 24) * 2 / 2 + sum(E["a"][:8])
    t = read_targets()
    paper = {k: float(v) for k, v in zip(t["key"], t["value"]) if k.startswith("rq32_online.window_5_random")}
    rows = []
    for method, eq in (("power_based", eq1), ("epoch_energy_based", eq2)):
        rows.append(  # window 3 from s0 = 2 (no window of 5: no paper number)
            {
                "sweep": "window",
                "method": method,
                "window": 3,
                "stabilizing_epoch": 2,
                **errs({r: eq(r, 2, 2, 3) for r in "ab"}),
                "rmse_sd_kj": math.nan,
                "repeats": math.nan,
                "paper_rmse_kj": math.nan,
            }
        )
        for s0 in (1, 8, 9):  # w = 2: from epoch 8 the window still fits, from 9 it does not
            rows.append(
                {
                    "sweep": "stabilizing_epoch",
                    "method": method,
                    "window": 2,
                    "stabilizing_epoch": s0,
                    **errs({r: eq(r, s0, s0, 2) for r in "ab"}),
                    "rmse_sd_kj": math.nan,
                    "repeats": math.nan,
                    "paper_rmse_kj": math.nan,
                }
            )
        reps = [errs({r: eq(r, 2, random_start(r, 7 + i, 2, 2), 2) for r in "ab"}) for i in range(2)]
        rows.append(
            {
                "sweep": "random_start",
                "method": method,
                "window": 2,
                "stabilizing_epoch": 2,
                "n_runs": 2,
                "n_missing": 0,
                **{k: statistics.mean(x[k] for x in reps) for k in ("rmse_kj", "mae_kj", "mape_pct", "bias_kj")},
                "rmse_sd_kj": statistics.stdev(x["rmse_kj"] for x in reps),
                "repeats": 2,
                "paper_rmse_kj": paper[f"rq32_online.window_5_random_start_rmse_kj.{method}"],
            }
        )
    expected = pd.DataFrame(rows)
    got = online_sweep(runs, ep, stabilizing_epoch=2, window=2, windows=[3], starts=[1, 8, 9], repeats=2, seed=7)
    # the two draws differ (else the SD would be 0 and say nothing)
    assert reps[0]["rmse_kj"] != reps[1]["rmse_kj"]
    assert math.isnan(expected.loc[3, "rmse_kj"]) and not math.isnan(expected.loc[2, "rmse_kj"])
    pd.testing.assert_frame_equal(got, expected, check_dtype=False, rtol=1e-12, atol=1e-15)


# ----------------------------------------------------------------------------- predict_energy, compare


def test_predict_energy_returns_float64_of_any_regressor():
    X = pd.DataFrame({"x": [1.0, 2.0, 3.0]})
    # an estimator without epochs: its own predict
    reg = DummyRegressor(strategy="constant", constant=1234.5).fit(X, [0.0, 0.0, 0.0])
    assert predict_energy(reg, X).tolist() == [1234.5] * 3
    # integer predictions come back as float64
    clf = DummyClassifier(strategy="constant", constant=5000).fit(X, [5000, 7000, 5000])
    got = predict_energy(clf, X, None)
    assert got.dtype == np.float64 and got.tolist() == [5000.0] * 3


def test_compare_by_hand():
    runs = pd.DataFrame(
        {
            "run_id": ["r1", "r2", "r3"],
            "gpu_model": ["NVIDIA GeForce RTX 3090"] * 3,  # spec TDP 350 W
            "duration_s": [10.0, 20.0, 4.0],
            "epochs_measured": [4, 2, 3],
        }
    )
    ep = pd.DataFrame(
        {"run_id": ["r1", "r1", "r2", "r2"], "epoch": [1, 0, 0, 1], "energy_j": [9.0, 1000.0, 700.0, 1.0]}
    )
    y = [3000.0, 1400.0, None]  # r3 has no measured energy
    ests = {"mlco2": MLCO2Estimator().fit(runs, [1.0, 1.0, 1.0]), "carbontracker": CarbontrackerEstimator()}
    table, preds = compare(ests, runs, y, epochs=ep)
    # MLCO2: 350 W x (10, 20, 4) s = 3500, 7000, 1400 J; Carbontracker: 1st epoch x epochs = 4000, 1400, NaN J
    t = {k: float(v) for k, v in zip(read_targets()["key"], read_targets()["value"]) if k.startswith("table10_")}
    assert table["method"].tolist() == ["mlco2", "carbontracker"]
    assert table["label"].tolist() == ["MLCO2", "Carbontracker (1st epoch)"]
    assert table["n_runs"].tolist() == [2, 2] and table["n_missing"].tolist() == [1, 1]
    rmse = [math.sqrt((0.5**2 + 5.6**2) / 2), math.sqrt((1.0**2 + 0.0**2) / 2)]
    np.testing.assert_allclose(table["rmse_kj"], rmse, rtol=1e-12)
    np.testing.assert_allclose(table["mape_pct"], [(500 / 3000 + 5600 / 1400) * 50, 1000 / 3000 * 50], rtol=1e-12)
    np.testing.assert_allclose(
        table["paper_rmse_kj"], [t["table10_test_rmse_kj.mlco2"], np.nan]
    )  # Table 10 has no Carbontracker row
    assert preds["run_id"].tolist() == ["r1", "r2", "r3"] * 2
    np.testing.assert_allclose(preds["true_kj"], [3.0, 1.4, np.nan] * 2)
    np.testing.assert_allclose(preds["predicted_kj"], [3.5, 7.0, 1.4, 4.0, 1.4, np.nan], rtol=1e-12)


# ----------------------------------------------------------------------------- the epochs table, planned epochs


def test_carbontracker_reads_planned_epochs_before_epochs_measured():
    ep = pd.DataFrame({"run_id": ["p", "p", "q"], "epoch": [0, 1, 0], "energy_j": [30.0, 99.0, 50.0]})
    only_planned = pd.DataFrame({"run_id": ["p", "q"], "planned_epochs": [10, 4]})
    both = only_planned.assign(epochs_measured=[2, 1])
    only_measured = both.drop(columns="planned_epochs")
    assert epochs_column(only_planned) == "planned_epochs" and epochs_column(both) == "planned_epochs"
    assert epochs_column(only_measured) == "epochs_measured"
    assert epochs_column({"planned_epochs": [1]}) == "epochs_measured"  # not a DataFrame
    assert n_epochs(both).tolist() == [10.0, 4.0] and n_epochs(only_measured).tolist() == [2.0, 1.0]
    est = CarbontrackerEstimator()
    # first epoch's energy x planned epochs: 30 x 10, 50 x 4 (a table without epochs_measured is enough)
    assert est.fit(only_planned, [1.0, 1.0]).predict(only_planned, ep).tolist() == [300.0, 200.0]
    assert CarbontrackerEstimator().predict(both, ep).tolist() == [300.0, 200.0]
    assert CarbontrackerEstimator().predict(only_measured, ep).tolist() == [60.0, 50.0]


def test_check_epochs_refusals():
    runs = pd.DataFrame({"run_id": ["p"], "epochs_measured": [2]})
    ep = pd.DataFrame({"run_id": ["p"], "epoch": [0], "energy_j": [1.0]})
    ct = CarbontrackerEstimator()
    msg = "CarbontrackerEstimator needs the per-epoch measurements: pass epochs=<epochs table> "
    msg += "(columns run_id, epoch, energy_j, as in clean/epochs.parquet)"
    with pytest.raises(ValueError, match=re.escape(msg)):
        ct.predict(runs)
    with pytest.raises(
        ValueError, match=re.escape("CarbontrackerEstimator: epochs must be a pandas DataFrame, not list")
    ):
        ct.predict(runs, [1, 2])
    with pytest.raises(
        ValueError, match=re.escape("CarbontrackerEstimator: the epochs table lacks column(s) epoch, energy_j")
    ):
        ct.predict(runs, ep[["run_id"]])
    with pytest.raises(ValueError, match=re.escape("the epochs table lacks column(s) energy_j")):
        ct.predict(runs, ep.drop(columns="energy_j"))
    # the online estimators need the durations too
    online = OnlinePowerEstimator(window=1, stabilizing_epoch=0).fit(runs.assign(duration_s=[2.0]), [1.0])
    with pytest.raises(ValueError, match=re.escape("(columns run_id, epoch, duration_s, energy_j, as in")):
        online.predict(runs.assign(duration_s=[2.0]))
    with pytest.raises(
        ValueError, match=re.escape("OnlinePowerEstimator: the epochs table lacks column(s) duration_s")
    ):
        online.predict(runs.assign(duration_s=[2.0]), ep)


def test_online_sweep_refuses_zero_repeats():
    """The random-start rows are a mean over repeats: none is a clear refusal, not a KeyError."""
    with pytest.raises(ValueError, match=r"repeats must be >= 1 .* got 0"):
        online_sweep(pd.DataFrame(), pd.DataFrame(), stabilizing_epoch=1, repeats=0)
