"""``dlenergy.stats.select``, ``add_derived``, ``ordered_groups`` and ``_groups`` on small hand-made tables.

``select``'s description and reason go into the stats tables' ``subset`` and ``note`` cells, so they are
compared as whole strings; ``add_derived``'s columns are worked out by hand (which rows get NaN included).
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import stats as ss
from stats_columns import NORMALITY

from dlenergy import stats as S


def _runs() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "architecture": ["resnet", "vgg", "resnet", "mobilenet", "vgg"],
            "environment": ["cloud", "cloud", "local", "cloud", None],
            "batch_size": [32, 64, 32, 32, 64],
        }
    )


# ----------------------------------------------------------------------------------------------
# select


def test_select_skips_none_filters_and_excludes_of_absent_columns():
    runs = _runs()
    sel = S.select(
        runs,
        include={"environment": None, "architecture": ["resnet", "vgg"]},
        exclude={"architecture": None, "gpu": ["a100"], "batch_size": 64},
    )
    # resnet or vgg (rows 0, 1, 2, 4), minus batch size 64 (rows 1, 4); the None filters and the
    # exclude of a column the table does not have are no filters and are not described
    assert list(sel.frame.index) == [0, 2]
    pd.testing.assert_frame_equal(sel.frame, runs.loc[[0, 2]])
    assert sel.description == "architecture in ['resnet', 'vgg']; batch_size not in [64]"
    assert sel.reason is None


def test_select_without_filters_is_all_runs():
    runs = _runs()
    for sel in (S.select(runs), S.select(runs, {"environment": None}, {"batch_size": None, "gpu": 1})):
        pd.testing.assert_frame_equal(sel.frame, runs)
        assert sel.description == "all runs"
        assert sel.reason is None


def test_select_include_of_an_absent_column_is_empty_and_says_which():
    runs = _runs()
    sel = S.select(
        runs,
        include={"architecture": "resnet", "batch_size": [32, 64], "gpu": "a100", "environment": "cloud"},
    )
    assert isinstance(sel.frame, pd.DataFrame)
    assert len(sel.frame) == 0
    pd.testing.assert_frame_equal(sel.frame, runs.iloc[[]])  # same columns and dtypes, no rows
    # the description stops at the absent column
    assert sel.description == "architecture == 'resnet'; batch_size in [32, 64]; gpu == 'a100'"
    assert sel.reason == "the runs table has no column 'gpu'"


def test_select_nothing_matches_lists_the_values_present():
    runs = _runs()
    sel = S.select(runs, include={"architecture": ["resnet", "vgg"], "environment": None, "batch_size": 128})
    assert len(sel.frame) == 0
    assert list(sel.frame.columns) == list(runs.columns)
    assert sel.description == "architecture in ['resnet', 'vgg']; batch_size == 128"
    # every filtered column's values (numbers by value), not those of the None filter (environment)
    assert sel.reason == (
        "no runs with architecture in ['resnet', 'vgg']; batch_size == 128 "
        "(values present: architecture: mobilenet, resnet, vgg; batch_size: 32, 64)"
    )
    runs["batch_size"] = [128, 8, 16, 8, 128]  # as text these would read 128, 16, 8
    assert (
        S.select(runs, include={"batch_size": 64}).reason
        == "no runs with batch_size == 64 (values present: batch_size: 8, 16, 128)"
    )


def test_select_on_an_empty_runs_table():
    empty = _runs().iloc[0:0]
    sel = S.select(empty, include={"architecture": "resnet"})
    assert len(sel.frame) == 0
    assert sel.description == "architecture == 'resnet'"
    assert sel.reason == "the runs table is empty"
    sel = S.select(empty)
    assert sel.description == "all runs"
    assert sel.reason == "the runs table is empty"


# ----------------------------------------------------------------------------------------------
# add_derived

FILLED = ["energy_per_image_j", "gpu_usage_pct", "f1", "mean_gpu_power_w", "gflops", "max_power_w"]
DERIVED = ["time_per_image_ms", "energy_kj", "duration_min", "ram_used_gb", "f1_per_kwh"]


def _approx_or_nan(got: pd.Series, want: list[float]):
    assert got.dtype == "float64", got.dtype
    assert len(got) == len(want)
    for have, w in zip(got.tolist(), want):
        if math.isnan(w):
            assert math.isnan(have), (have, w)
        else:
            assert have == pytest.approx(w, rel=1e-12), (have, w)


def test_add_derived_values_and_the_runs_without_images_or_energy():
    runs = pd.DataFrame(
        {
            "run_id": ["r1", "r2", "r3", "r4"],
            "data_label": ["synthetic"] * 4,
            "duration_s": [120.0, 90.0, 60.0, 30.0],
            "images_seen": [1000, 0, 1, 250],
            "energy_j": [7.2e6, 0.0, 1.0, 3600.0],
            "mean_ram_used_mb": [2048.0, 512.0, 1024.0, 256.0],
            "f1": [0.9, 0.5, 0.5, 0.25],
        }
    )
    d = S.add_derived(runs)
    assert "data_label" not in d.columns
    # ms per image = s / images x 1000: 120/1000, no images (NaN, not inf), 60/1, 30/250
    _approx_or_nan(d["time_per_image_ms"], [120.0, np.nan, 60000.0, 120.0])
    _approx_or_nan(d["energy_kj"], [7200.0, 0.0, 0.001, 3.6])
    _approx_or_nan(d["duration_min"], [2.0, 1.5, 1.0, 0.5])
    _approx_or_nan(d["ram_used_gb"], [2.0, 0.5, 1.0, 0.25])
    # F1 per kWh = f1 / (J / 3.6e6): 0.9 / 2 kWh, no energy (NaN, not inf), 0.5 / (1 J), 0.25 / 0.001 kWh
    _approx_or_nan(d["f1_per_kwh"], [0.45, np.nan, 1.8e6, 250.0])
    assert runs.columns[1] == "data_label"  # the input is left as it was


def test_add_derived_adds_every_missing_column_as_nan():
    runs = pd.DataFrame({"run_id": ["a", "b"], "data_label": ["x", "x"], "duration_s": [90.0, 30.0]})
    d = S.add_derived(runs)
    assert list(d.columns) == ["run_id", "duration_s", *DERIVED, *FILLED]
    assert d["run_id"].tolist() == ["a", "b"]
    _approx_or_nan(d["duration_min"], [1.5, 0.5])
    for c in [c for c in DERIVED if c != "duration_min"] + FILLED:
        _approx_or_nan(d[c], [np.nan, np.nan])


def test_add_derived_of_an_empty_runs_table_has_no_rows():
    runs = pd.DataFrame({c: pd.Series(dtype="float64") for c in ["duration_s", "energy_j", "f1"]})
    d = S.add_derived(runs)  # images_seen and mean_ram_used_mb missing
    assert len(d) == 0
    assert list(d.columns) == ["duration_s", "energy_j", "f1", *DERIVED, *[c for c in FILLED if c != "f1"]]
    # still number columns, as with runs (an empty Series without a dtype would be object)
    assert (d.dtypes == "float64").all(), d.dtypes.to_dict()
    d = S.add_derived(pd.DataFrame(columns=["run_id"]))
    assert len(d) == 0
    assert list(d.columns) == ["run_id", *DERIVED, *FILLED]
    assert (d.dtypes.drop("run_id") == "float64").all(), d.dtypes.to_dict()


def test_add_derived_reads_text_that_is_not_a_number_as_missing():
    runs = pd.DataFrame({"energy_j": ["3600000", "n/a"], "f1": [0.5, 0.5], "duration_s": ["60", "?"]})
    d = S.add_derived(runs)
    _approx_or_nan(d["energy_kj"], [3600.0, np.nan])
    _approx_or_nan(d["f1_per_kwh"], [0.5, np.nan])
    _approx_or_nan(d["duration_min"], [1.0, np.nan])


# ----------------------------------------------------------------------------------------------
# ordered_groups, _groups, normality_table


def test_ordered_groups_of_mixed_types_sorts_by_type_then_value():
    # the given order first (those present), then the numbers by value whatever their types, then the
    # rest by type name and value; None and duplicates dropped
    got = S.ordered_groups([2, "b", 1.5, None, "a", 1, 2, "c"], order=["c", "zz"])
    assert got == ["c", 1, 1.5, 2, "a", "b"]
    assert S.ordered_groups([np.int64(32), 16.0, 8, b"x", "a", np.float32(4.5)]) == [4.5, 8, 16.0, 32, b"x", "a"]


def test_groups_read_text_that_is_not_a_number_as_missing():
    df = pd.DataFrame({"g": ["a", "a", "a", "b", "b", "b", None], "v": ["1", "2.5", "x", "4", "5", "6", "7"]})
    kept, notes, data = S._groups(df, "v", "g", None, 3)
    assert list(data) == ["a", "b"]
    assert data["a"].tolist() == [1.0, 2.5] and data["b"].tolist() == [4.0, 5.0, 6.0]
    assert list(kept) == ["b"]
    assert notes == ["left out, n < 3: a (n=2)"]


def test_normality_table_of_a_boolean_variable():
    a, b = [1.0, 0.0, 0.0], [1.0, 1.0, 0.0, 1.0]
    df = pd.DataFrame({"g": ["A"] * 3 + ["B"] * 4, "flag": [bool(x) for x in a + b]})
    got = S.normality_table(df, ["flag"], "g")
    assert list(got.columns) == NORMALITY
    lev = ss.levene(np.array(a), np.array(b), center="median")
    assert got["group"].tolist() == ["A", "B"]
    assert got["n"].tolist() == [3, 4]
    assert got["levene_w"].tolist() == pytest.approx([lev.statistic] * 2, rel=1e-12)
    assert got["levene_p"].tolist() == pytest.approx([lev.pvalue] * 2, rel=1e-12)
    for i, x in enumerate((a, b)):
        w, p = ss.shapiro(x)
        assert got["shapiro_w"].iloc[i] == pytest.approx(w, rel=1e-12)
        assert got["shapiro_p"].iloc[i] == pytest.approx(p, rel=1e-12, abs=1e-15)


def test_normality_table_levene_p_exactly_at_alpha_is_not_equal_variances():
    a, b = [1.0, 2.0, 4.0], [2.0, 3.0, 7.0, 12.0]
    df = pd.DataFrame({"g": ["A"] * 3 + ["B"] * 4, "v": a + b})
    p = float(ss.levene(np.array(a), np.array(b), center="median").pvalue)
    assert 0.0 < p < 1.0
    got = S.normality_table(df, ["v"], "g", alpha=p)
    assert got["levene_p"].tolist() == [p, p]
    assert got["equal_variances"].tolist() == [False, False]
    # alpha just below p: equal variances
    got = S.normality_table(df, ["v"], "g", alpha=np.nextafter(p, 0.0))
    assert got["equal_variances"].tolist() == [True, True]


def test_normality_table_levene_undefined_when_every_run_is_equally_far_from_its_median():
    """|x - median| is 1 for every run of both groups: Levene's W is 0/0.  The row says why instead of a
    bare NaN; with different spreads (1 and 2, none within a group) W is infinite and p is 0."""
    df = pd.DataFrame({"g": ["A"] * 4 + ["B"] * 4, "v": [1.0, 1.0, 3.0, 3.0, 4.0, 4.0, 6.0, 6.0]})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = S.normality_table(df, ["v"], "g")
    assert got["levene_w"].isna().all() and got["levene_p"].isna().all()
    assert got["equal_variances"].tolist() == [None, None]
    assert got["note"].tolist() == ["Levene: every run equally far from its group's median: Levene undefined"] * 2
    # with a group left out (n < 3), both reasons, in that order
    short = pd.concat([df, pd.DataFrame({"g": ["C", "C"], "v": [1.0, 2.0]})], ignore_index=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = S.normality_table(short, ["v"], "g")
    levene = "Levene: left out, n < 3: C (n=2); every run equally far from its group's median: Levene undefined"
    assert got["note"].tolist() == [levene, levene, f"n=2 < 3: too few runs for Shapiro-Wilk; {levene}"]
    df.loc[df["g"] == "B", "v"] = [5.0, 5.0, 9.0, 9.0]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = S.normality_table(df, ["v"], "g")
    assert got["levene_w"].tolist() == [np.inf, np.inf] and got["levene_p"].tolist() == [0.0, 0.0]
    assert got["equal_variances"].tolist() == [False, False] and got["note"].tolist() == ["", ""]
