"""The online estimators' exact-value tests (paper §4.3, equations 1 and 2): every number, column and
reason of ``online_terms`` and ``explain`` on small hand-built epoch tables, worked out by hand.  They
kill the mutation survivors of ``dlenergy.estimators.online`` (docs/testing.md, "Surviving mutants");
the broader behaviour is tested in tests/test_estimators.py (section "online")."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.utils import get_tags

from dlenergy.estimators import OnlineEpochEnergyEstimator, OnlinePowerEstimator, online_terms

# One run of 8 epochs (0..7), stabilizing epoch 2, window 3: the window is epochs 2..4 with
# E_w = 10 + 20 + 30 = 60 J, d_w = 2 + 4 + 4 = 10 s, P_w = 6 W; the unstable epochs 0, 1 give
# E_u = 4 + 4 = 8 J, d_u = 2 s; s = 8 - 2 = 6 stable epochs.
E = [4.0, 4.0, 10.0, 20.0, 30.0, 40.0, 50.0, 60.0]
D = [1.0, 1.0, 2.0, 4.0, 4.0, 5.0, 5.0, 6.0]
COLUMNS = [
    "run_id",
    "energy_j",
    "stabilizing_epoch",
    "window_start",
    "window_end",
    "E_w",
    "d_w",
    "P_w",
    "E_u",
    "s",
    "reason",
]


def epochs_of(runs: dict[str, int]) -> pd.DataFrame:
    """The epochs table of runs ``{run_id: epochs measured}`` (the first n of E, D), rows reversed."""
    rows = [{"run_id": r, "epoch": k, "duration_s": D[k], "energy_j": E[k]} for r, n in runs.items() for k in range(n)]
    return pd.DataFrame(rows[::-1])


def one_run(e, d) -> pd.DataFrame:
    return pd.DataFrame({"epoch": np.arange(len(e)), "energy_j": e, "duration_s": d})


def hand_table():
    """Five runs, the failing ones first (the column order must not come from the first row):
    d: no stabilizing epoch; b: 4 epochs measured of 10 planned, the window 2..4 is not measured;
    c: no epochs at all; a: measured, 8 epochs; e: 8 epochs measured of 12 planned (s = 12 - 2 = 10)."""
    runs = pd.DataFrame(
        {
            "run_id": ["d", "b", "c", "a", "e"],
            "planned_epochs": [np.nan, 10, np.nan, np.nan, 12],
            "duration_s": [np.nan, np.nan, np.nan, 50.0, np.nan],
        }
    )
    return runs, epochs_of({"a": 8, "b": 4, "d": 8, "e": 8})


S0 = {"a": 2, "b": 2, "c": 2, "e": 2}  # "d" has none


def expected(energy_a: float, energy_e: float) -> pd.DataFrame:
    nan = np.nan
    ok = dict(stabilizing_epoch=2, window_start=2, window_end=4, E_w=60.0, d_w=10.0, P_w=6.0, E_u=8.0, reason="")
    rows = [
        {"run_id": "d", "energy_j": nan, "reason": "no stabilizing epoch for this run"},
        {
            "run_id": "b",
            "energy_j": nan,
            "stabilizing_epoch": 2,
            "window_start": 2,
            "reason": "window 2..4 needs 3 measured stable epochs; 2 stable epoch(s) measured from epoch 2",
        },
        {"run_id": "c", "energy_j": nan, "stabilizing_epoch": 2, "window_start": 2, "reason": "no epochs"},
        {"run_id": "a", "energy_j": energy_a, **ok, "s": 6},
        {"run_id": "e", "energy_j": energy_e, **ok, "s": 10},
    ]
    return pd.DataFrame([{c: r.get(c, nan) for c in COLUMNS} for r in rows], columns=COLUMNS)


def test_explain_epoch_energy_table_exact():
    """Equation 2: E = E_w x s / w + E_u: a: 60 x 6 / 3 + 8 = 128 J; e (12 planned): 60 x 10 / 3 + 8 = 208 J."""
    runs, ep = hand_table()
    out = OnlineEpochEnergyEstimator(window=3, stabilizing_epoch=S0).explain(runs, ep)
    assert list(out.columns) == COLUMNS
    pd.testing.assert_frame_equal(out, expected(128.0, 208.0), check_dtype=False)
    fitted = OnlineEpochEnergyEstimator(window=3, stabilizing_epoch=S0).fit(runs, np.ones(len(runs)))
    np.testing.assert_array_equal(fitted.predict(runs, ep), [np.nan, np.nan, np.nan, 128.0, 208.0])


def test_explain_power_table_exact():
    """Equation 1: E = P_w x t: a: 6 W x 50 s (measured) = 300 J; e (no duration_s, still training):
    t = d_u + s x d_w / w = 2 + 10 x 10 / 3 = 106/3 s, 6 x 106/3 = 212 J."""
    runs, ep = hand_table()
    out = OnlinePowerEstimator(window=3, stabilizing_epoch=S0).explain(runs, ep)
    pd.testing.assert_frame_equal(out, expected(300.0, 212.0), check_dtype=False, rtol=1e-12)


def test_all_rows_failing_still_have_every_column():
    runs, ep = hand_table()
    out = OnlineEpochEnergyEstimator(window=3, stabilizing_epoch=S0).explain(runs.iloc[:3], ep)
    assert list(out.columns) == COLUMNS
    assert out["reason"].tolist() == expected(0, 0)["reason"].tolist()[:3]


def test_empty_epochs_table_and_empty_runs_table():
    runs, ep = hand_table()
    est = OnlineEpochEnergyEstimator(window=3, stabilizing_epoch=2)
    out = est.explain(runs, ep.iloc[:0])
    assert out["reason"].tolist() == ["no epochs"] * 5 and out["energy_j"].isna().all()
    p = est.predict(runs.iloc[:0], ep)
    assert p.dtype == np.float64 and p.shape == (0,)


def test_online_terms_exact():
    ep = one_run(E, D).iloc[::-1]
    t = online_terms(ep, s0=2, window=3)
    assert t == {
        "ok": True,
        "E_w": 60.0,
        "d_w": 10.0,
        "P_w": 6.0,
        "E_u": 8.0,
        "d_u": 2.0,
        "s": 6,
        "w": 3,
        "window_epochs": [2, 3, 4],
        "unstable_epochs": [0, 1],
    }
    # a later start: epochs 5, 6 (40 + 50 J, 5 + 5 s), s and E_u still from s0 = 2
    t = online_terms(ep, s0=2, window=2, start=5)
    assert (t["window_epochs"], t["E_w"], t["d_w"], t["P_w"], t["E_u"], t["s"]) == ([5, 6], 90.0, 10.0, 9.0, 8.0, 6)
    # a window of one epoch
    t = online_terms(ep, s0=2, window=1)
    assert (t["ok"], t["window_epochs"], t["E_w"], t["P_w"]) == (True, [2], 10.0, 5.0)
    # a run of one epoch
    t = online_terms(one_run([7.0], [2.0]), s0=0, window=1)
    assert (t["ok"], t["E_w"], t["P_w"], t["E_u"], t["s"]) == (True, 7.0, 3.5, 0.0, 1)


def test_online_terms_refusals_exact():
    ep = one_run(E, D)
    assert online_terms(ep.iloc[:0], s0=2, window=3) == {"ok": False, "reason": "no epochs"}
    assert online_terms(ep, s0=2, window=0) == {"ok": False, "reason": "window must be >= 1, got 0"}
    assert online_terms(ep, s0=3, window=2, start=1) == {
        "ok": False,
        "reason": "window start 1 is before the stabilizing epoch 3",
    }
    assert online_terms(ep.iloc[:4], s0=2, window=3, planned_epochs=10) == {
        "ok": False,
        "reason": "window 2..4 needs 3 measured stable epochs; 2 stable epoch(s) measured from epoch 2",
    }


def test_window_power_for_zero_and_short_windows():
    """P_w = E_w / d_w for any d_w > 0 (also under 1 s); NaN for a window of zero duration."""
    e = [1.0, 2.0, 3.0, 4.0]
    t = online_terms(one_run(e, [1.0, 0.0, 0.0, 1.0]), s0=1, window=2)
    assert t["ok"] and t["E_w"] == 5.0 and t["d_w"] == 0.0 and np.isnan(t["P_w"])
    t = online_terms(one_run(e, [1.0, 0.25, 0.25, 1.0]), s0=1, window=2)
    assert (t["E_w"], t["d_w"], t["P_w"]) == (5.0, 0.5, 10.0)


def random_runs(n: int = 200):
    """n runs of 10 epochs with E_k = 2**k J (a window's energy tells which epochs it holds)."""
    ids = [f"run{i}" for i in range(n)]
    ep = pd.DataFrame(
        [{"run_id": r, "epoch": k, "duration_s": 1.0, "energy_j": 2.0**k} for r in ids for k in range(10)]
    )
    return pd.DataFrame({"run_id": ids}), ep


def test_random_start_range_and_window_terms():
    """s0 = 3, w = 4, epochs 0..9: the start is uniform in [3, 9 - 4 + 1] = [3, 6]; both ends occur over
    200 runs; the terms are those of the drawn window: E_w = 2**a x (2**4 - 1), E_u = 1 + 2 + 4, s = 7."""
    runs, ep = random_runs()
    est = OnlineEpochEnergyEstimator(window=4, start="random", stabilizing_epoch=3, random_state=7)
    out = est.explain(runs, ep)
    a = out["window_start"].to_numpy()
    assert a.min() == 3 and a.max() == 6 and set(a) == {3, 4, 5, 6}
    np.testing.assert_array_equal(out["window_end"], a + 3)
    np.testing.assert_array_equal(out["E_w"], 2.0**a * 15)
    np.testing.assert_array_equal(out["d_w"], 4.0)
    np.testing.assert_array_equal(out["E_u"], 7.0)
    np.testing.assert_array_equal(out["s"], 7)
    np.testing.assert_array_equal(out["energy_j"], 2.0**a * 15 * 7 / 4 + 7)
    # the same run id and seed give the same start, whatever the other rows; a run without epochs
    # (no draw possible) is refused, not an error
    sub = pd.DataFrame({"run_id": ["run150", "missing", "run3"]})
    again = est.explain(sub, ep.iloc[::-1])
    assert again["window_start"].tolist()[::2] == [a[150], a[3]]
    assert again["reason"].tolist() == ["", "no epochs", ""]
    # random_state None is seed 0, not seed 1
    starts = {rs: est.set_params(random_state=rs).explain(runs, ep)["window_start"].tolist() for rs in (None, 0, 1)}
    assert starts[None] == starts[0] and starts[0] != starts[1]


def test_planned_epochs_missing_for_some_runs():
    """planned_epochs NaN: the measured epochs count (a: s = 6); given: e: s = 10."""
    runs, ep = hand_table()
    out = OnlineEpochEnergyEstimator(window=3, stabilizing_epoch=2).explain(runs.iloc[3:], ep)
    assert out["s"].tolist() == [6, 10] and out["energy_j"].tolist() == [128.0, 208.0]


def test_stabilizing_epoch_not_a_number_or_none():
    runs, ep = hand_table()
    two = runs.iloc[3:].reset_index(drop=True)  # a, e
    est = OnlineEpochEnergyEstimator(window=3, stabilizing_epoch={"a": 2, "e": None})
    assert est.explain(two, ep)["reason"].tolist() == ["", "no stabilizing epoch for this run"]
    col = two.assign(stabilizing_epoch=["n/a", 2])
    out = OnlineEpochEnergyEstimator(window=3, stabilizing_epoch=None).explain(col, ep)
    assert out["reason"].tolist() == ["no stabilizing epoch for this run", ""]
    assert out["energy_j"].iloc[1] == 208.0


def test_score_uses_sample_weight():
    runs, ep = hand_table()
    two = runs.iloc[3:]
    est = OnlineEpochEnergyEstimator(window=3, stabilizing_epoch=2)  # predicts 128, 208
    y, w = np.array([100.0, 250.0]), np.array([1.0, 3.0])
    p = np.array([128.0, 208.0])
    ybar = (w * y).sum() / w.sum()
    r2w = 1 - (w * (y - p) ** 2).sum() / (w * (y - ybar) ** 2).sum()
    r2 = 1 - ((y - p) ** 2).sum() / ((y - y.mean()) ** 2).sum()
    assert r2w != pytest.approx(r2)
    assert est.score(two, y, sample_weight=w, epochs=ep) == pytest.approx(r2w, rel=1e-12)


def test_parameters_columns_and_tags():
    runs, ep = hand_table()
    assert get_tags(OnlinePowerEstimator()).requires_fit is False
    with pytest.raises(ValueError, match=r"^start must be 'stabilizing', 'random' or an epoch number, not 'middle'$"):
        OnlinePowerEstimator(start="middle").explain(runs, ep)
    with pytest.raises(ValueError, match=r"^OnlinePowerEstimator: the runs table lacks column\(s\) run_id$"):
        OnlinePowerEstimator(stabilizing_epoch=2).explain(runs.drop(columns="run_id"), ep)
    with pytest.raises(ValueError, match=r"^OnlineEpochEnergyEstimator needs the per-epoch measurements"):
        OnlineEpochEnergyEstimator().explain(runs)
