"""FLUSS helpers the mutation run found unchecked: the Figure 9 summaries (`cumulative_stable`,
`epoch_for_share`) on small hand-made tables, the numba cache helpers and `gpu_available`.

Every expected value below is worked out by hand in the comments next to it."""

from __future__ import annotations

import os
import shutil
import types

import numpy as np
import pandas as pd
import pytest

from dlenergy import fluss
from dlenergy.fluss import cumulative_stable, epoch_for_share

CURVE = ["group", "epoch", "n_runs", "n_stable", "share_stable"]
SUMMARY = ["group", "n_runs", "epoch_for_share", "share", "median_epoch", "max_epoch", "n_not_segmented"]


def curve_frame(rows):
    return pd.DataFrame(
        {
            "group": pd.Series([r[0] for r in rows], dtype=str),
            "epoch": np.array([r[1] for r in rows], dtype=np.int64),
            "n_runs": np.array([r[2] for r in rows], dtype=np.int64),
            "n_stable": np.array([r[3] for r in rows], dtype=np.int64),
            "share_stable": np.array([r[4] for r in rows], dtype=np.float64),
        }
    )


# ----------------------------------------------------------------------------- cumulative_stable


def test_cumulative_curve_per_environment_exact():
    # groups appear as y, x (not sorted); r5 and r6 are not segmented and count nowhere (also not
    # in the epoch range: r6's first epoch 0 would start the grid at 0)
    stab = pd.DataFrame(
        {
            "run_id": ["r1", "r2", "r3", "r4", "r5", "r6"],
            "environment": ["y", "x", "y", "x", "z", "x"],
            "first_epoch": [1, 1, 1, 1, 2, 0],
            "stabilizing_epoch": [2, 1, 4, 2, np.nan, np.nan],
            "status": ["ok", "no_change", "ok", "ok", "too_short", "no_epochs"],
        }
    )
    got = cumulative_stable(stab)  # by="environment" is the default
    # grid: first epoch 1 .. largest stabilizing epoch 4
    # all: epochs 1, 2, 2, 4 -> stable by 1: 1, by 2: 3, by 3: 3, by 4: 4 (of 4)
    # x:   epochs 1, 2       -> 1, 2, 2, 2 (of 2)
    # y:   epochs 2, 4       -> 0, 1, 1, 2 (of 2)
    want = curve_frame(
        [
            ("all", 1, 4, 1, 0.25), ("all", 2, 4, 3, 0.75), ("all", 3, 4, 3, 0.75), ("all", 4, 4, 4, 1.0),
            ("x", 1, 2, 1, 0.5), ("x", 2, 2, 2, 1.0), ("x", 3, 2, 2, 1.0), ("x", 4, 2, 2, 1.0),
            ("y", 1, 2, 0, 0.0), ("y", 2, 2, 1, 0.5), ("y", 3, 2, 1, 0.5), ("y", 4, 2, 2, 1.0),
        ]
    )  # fmt: skip
    pd.testing.assert_frame_equal(got, want)
    # another grouping column; the groups are the column's values as text
    by_gpu = cumulative_stable(stab.assign(gpu_model=[7, 7, 3, 3, 3, 7]), by="gpu_model")
    assert by_gpu["group"].drop_duplicates().tolist() == ["all", "3", "7"]
    # gpu 3: epochs 4, 2 -> 0, 1, 1, 2; gpu 7: epochs 2, 1 -> 1, 2, 2, 2
    assert by_gpu["n_stable"].tolist() == [1, 3, 3, 4, 0, 1, 1, 2, 1, 2, 2, 2]


def test_cumulative_curve_without_first_epoch_or_group_column_and_with_max_epoch():
    # no first epoch known -> the grid starts at 0; max_epoch 5 extends it past the largest epoch 3;
    # no "environment" column -> only "all"
    stab = pd.DataFrame(
        {
            "run_id": ["a", "b", "c"],
            "first_epoch": [np.nan, np.nan, np.nan],
            "stabilizing_epoch": [0.0, 3.0, 1.0],
            "status": ["ok", "ok", "no_change"],
        }
    )
    got = cumulative_stable(stab, max_epoch=5)
    # epochs 0, 1, 3: stable by 0: 1, by 1: 2, by 2: 2, by 3..5: 3 (of 3)
    want = curve_frame([("all", e, 3, n, n / 3) for e, n in zip(range(6), [1, 2, 2, 3, 3, 3])])
    pd.testing.assert_frame_equal(got, want)
    # max_epoch below the largest stabilizing epoch cuts the curve there
    assert cumulative_stable(stab, max_epoch=1)["n_stable"].tolist() == [1, 2]


def test_nothing_segmented_gives_empty_tables_with_their_columns():
    stab = pd.DataFrame(
        {
            "run_id": ["a", "b"],
            "environment": ["x", "y"],
            "first_epoch": [0, 0],
            "stabilizing_epoch": [np.nan, np.nan],
            "status": ["too_short", "no_epochs"],
        }
    )
    curve = cumulative_stable(stab)
    assert curve.empty and list(curve.columns) == CURVE
    summary = epoch_for_share(stab)
    assert summary.empty and list(summary.columns) == SUMMARY


# ----------------------------------------------------------------------------- epoch_for_share


@pytest.fixture
def ten_runs():
    """10 segmented runs in three environments (b listed first, c a single run) and 2 not segmented."""
    b = [3, 0, 5, 2, 7]
    a = [4, 1, 2, 6]
    c = [9]
    env = ["b"] * 5 + ["a"] * 4 + ["c"] + ["a", "d"]
    epochs = b + a + c + [np.nan, np.nan]
    status = ["ok", "no_change", "ok", "ok", "ok", "ok", "ok", "no_change", "ok", "ok", "too_short", "no_epochs"]
    return pd.DataFrame(
        {
            "run_id": [f"r{i:02d}" for i in range(12)],
            "environment": env,
            "first_epoch": 0,
            "stabilizing_epoch": np.array(epochs, dtype=np.float64),
            "status": status,
        }
    )


def test_epoch_for_share_exact_per_group(ten_runs):
    got = epoch_for_share(ten_runs, share=0.9)
    # all (10 runs): sorted 0 1 2 2 3 4 5 6 7 9; 90 % = 9 runs, the 9th is 7 (by 6 only 8 are stable);
    #   median (3 + 4) / 2 = 3.5; 2 runs not segmented
    # a (4): 1 2 4 6; 0.9 x 4 = 3.6 -> all 4 -> 6; median (2 + 4) / 2 = 3
    # b (5): 0 2 3 5 7; 0.9 x 5 = 4.5 -> all 5 -> 7; median 3
    # c (1): 9 -> 9; median 9
    # d: its only run is not segmented: no row
    want = pd.DataFrame(
        {
            "group": pd.Series(["all", "a", "b", "c"], dtype=str),
            "n_runs": np.array([10, 4, 5, 1], dtype=np.int64),
            "epoch_for_share": np.array([7, 6, 7, 9], dtype=np.int64),
            "share": [0.9] * 4,
            "median_epoch": [3.5, 3.0, 3.0, 9.0],
            "max_epoch": np.array([9, 6, 7, 9], dtype=np.int64),
            "n_not_segmented": [2.0, np.nan, np.nan, np.nan],
        }
    )
    pd.testing.assert_frame_equal(got, want)


def test_epoch_for_share_at_an_exact_share_boundary(ten_runs):
    s = epoch_for_share(ten_runs, share=0.5).set_index("group")["epoch_for_share"]
    # exactly half is enough: a (1 2 4 6) has 2 of 4 stable by epoch 2; all has 5 of 10 by 3
    # (0 1 2 2 3); b (0 2 3 5 7) needs 2.5 -> 3 runs -> 3; c -> 9
    assert s.to_dict() == {"all": 3, "a": 2, "b": 3, "c": 9}
    s = epoch_for_share(ten_runs, share=0.8).set_index("group")["epoch_for_share"]
    # 8 of 10 by 6; a: 3.2 -> 4 runs -> 6; b: exactly 4 of 5 -> 5
    assert s.to_dict() == {"all": 6, "a": 6, "b": 5, "c": 9}


def test_epoch_for_share_without_the_group_column(ten_runs):
    got = epoch_for_share(ten_runs.drop(columns="environment"), share=0.9)
    assert got["group"].tolist() == ["all"]
    assert got[["n_runs", "epoch_for_share", "max_epoch", "n_not_segmented"]].iloc[0].tolist() == [10, 7, 9, 2]


# ----------------------------------------------------------------------------- gpu_available


def test_gpu_available_follows_numba_cuda(monkeypatch):
    from numba import cuda

    monkeypatch.setattr(cuda, "is_available", lambda: True)
    assert fluss.gpu_available() is True
    monkeypatch.setattr(cuda, "is_available", lambda: 0)
    assert fluss.gpu_available() is False

    def broken():
        raise RuntimeError("CUDA driver library cannot be found")

    monkeypatch.setattr(cuda, "is_available", broken)
    assert fluss.gpu_available() is False


# ----------------------------------------------------------------------------- numba cache helpers


def test_numba_cache_is_warm_looks_for_index_files(tmp_path, monkeypatch):
    cold = tmp_path / "cold"
    cold.mkdir()
    warm = tmp_path / "warm"
    (warm / "stumpy_abc").mkdir(parents=True)
    (warm / "stumpy_abc" / "aamp._aamp-186.py311.nbi").write_bytes(b"")
    data_only = tmp_path / "data_only"
    data_only.mkdir()
    (data_only / "aamp._aamp-186.py311.1.nbc").write_bytes(b"")

    monkeypatch.setenv("NUMBA_CACHE_DIR", str(cold))
    assert fluss.numba_cache_is_warm(warm) is True  # the argument wins over $NUMBA_CACHE_DIR
    assert fluss.numba_cache_is_warm(str(warm)) is True
    assert fluss.numba_cache_is_warm(cold) is False  # a directory without index files
    assert fluss.numba_cache_is_warm(data_only) is False
    assert fluss.numba_cache_is_warm(tmp_path / "missing") is False
    assert fluss.numba_cache_is_warm() is False  # $NUMBA_CACHE_DIR = cold
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(warm))
    assert fluss.numba_cache_is_warm() is True
    monkeypatch.delenv("NUMBA_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert fluss.numba_cache_dir() == tmp_path / "xdg" / "dlenergy" / "numba"
    assert fluss.numba_cache_is_warm() is False
    shutil.copytree(warm, tmp_path / "xdg" / "dlenergy" / "numba")
    assert fluss.numba_cache_is_warm() is True


def test_warm_numba_cache_runs_fluss_with_the_configured_settings():
    # the warm-up series is 400 points; with m = 200 FLUSS needs (2 x 3 + 1) x 200 = 1400 points, with
    # exclusion factor 2 (2 x 2 + 1) x 200 = 1000: the configuration reaches the segmentation
    with pytest.raises(ValueError, match=r"^400 points; FLUSS with m=200 and excl_factor=3 needs at least 1400$"):
        fluss.warm_numba_cache({"subsequence_length": 200})
    with pytest.raises(ValueError, match=r"^400 points; FLUSS with m=200 and excl_factor=2 needs at least 1000$"):
        fluss.warm_numba_cache({"subsequence_length": 200, "excl_factor": 2})


def _nbc_files(folder) -> int:
    return sum(name.endswith(".nbc") for _, _, names in os.walk(folder) for name in names)


@pytest.fixture
def private_cache(tmp_path, monkeypatch):
    """A copy of this process's numba cache as a not-yet-enabled cache: loading from it is seconds,
    where an empty one would compile stumpy's kernels (~25 s).  The process's cache is re-enabled after."""
    import numba

    home = fluss.enable_stumpy_cache()
    copy = tmp_path / "numba"
    shutil.copytree(home, copy, ignore=shutil.ignore_patterns("stumpy_iac"))
    monkeypatch.setattr(numba.config, "CACHE_DIR", numba.config.CACHE_DIR)
    monkeypatch.setattr(fluss, "_CACHE_ENABLED", None)
    yield copy
    fluss._CACHE_ENABLED = None
    fluss.enable_stumpy_cache(home)


def test_warm_numba_cache_reports_its_cache(private_cache, monkeypatch):
    clock = iter([100.0, 103.456, 200.0, 200.004])
    monkeypatch.setattr(fluss, "time", types.SimpleNamespace(perf_counter=lambda: next(clock)))
    before = _nbc_files(private_cache)
    info = fluss.warm_numba_cache(cache_dir=private_cache)
    after = _nbc_files(private_cache)
    # compiled: whether the call added compiled files (on a copy of a warm cache it does not)
    want = {"cache": str(private_cache), "compiled": after > before, "seconds": 3.46, "cache_files": after}
    assert info == want
    assert fluss.numba_cache_is_warm(private_cache)
    # a second call loads what the first left: nothing new, same files, 0.004 s rounds to 0.0
    again = fluss.warm_numba_cache(cache_dir=private_cache)
    assert again == {"cache": str(private_cache), "compiled": False, "seconds": 0.0, "cache_files": after}
    assert _nbc_files(private_cache) == after
