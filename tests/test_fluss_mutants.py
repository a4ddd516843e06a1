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


# batch 2
# ----------------------------------------------------------------------------- set_threads


@pytest.fixture
def numba_threads():
    """numba's thread count as it was before the test, restored after."""
    import numba

    before = numba.get_num_threads()
    yield numba
    numba.set_num_threads(before)


def test_set_threads_sets_numbas_thread_count_within_its_bounds(numba_threads):
    numba = numba_threads
    cap = numba.config.NUMBA_NUM_THREADS  # the threads numba launched: the most it can use
    assert fluss.set_threads(1) is None
    assert numba.get_num_threads() == 1
    assert fluss.set_threads(cap + 7) is None  # more than numba has: clamped to all of them
    assert numba.get_num_threads() == cap
    fluss.set_threads(-3)  # fewer than one: one
    assert numba.get_num_threads() == 1
    fluss.set_threads(str(cap))  # the value of a config file read as text
    assert numba.get_num_threads() == cap
    fluss.set_threads(1.0)
    assert numba.get_num_threads() == 1
    if cap >= 2:  # pragma: no branch - depends on NUMBA_NUM_THREADS
        fluss.set_threads(2)
        assert numba.get_num_threads() == 2
    # None and 0 mean "leave numba's setting alone"
    numba.set_num_threads(cap)
    fluss.set_threads(None)
    fluss.set_threads(0)
    assert numba.get_num_threads() == cap


# ----------------------------------------------------------------------------- epoch_of_time


def test_epoch_of_time_holds_each_epochs_end_and_clamps_past_the_last():
    labels = np.array([3, 4, 5])
    ends = np.array([10.0, 20.0, 30.0])  # epoch 3: (.., 10], epoch 4: (10, 20], epoch 5: (20, 30]
    got = [fluss.epoch_of_time(t, labels, ends) for t in (0.0, 10.0, 10.5, 20.0, 25.0, 30.0, 31.0, 1e9)]
    # an end belongs to the epoch it ends; after the last end, the last epoch
    assert got == [3, 3, 4, 4, 5, 5, 5, 5]
    assert fluss.epoch_of_time(7.0, np.array([0]), np.array([5.0])) == 0  # a single epoch


# ----------------------------------------------------------------------------- stabilizing_epochs

# run "a" has crc32 1 mod 2 (shard 1 of 2), run "d" crc32 0 mod 2; "a" has a 3-sample GPU log
# (100, 150, 100 W at 10:00:00, :01, :02) and one epoch over it, "d" has no GPU log
GPU_3 = (
    "timestamp, power.draw [W]\n"
    "2024/01/01 10:00:00.000, 100.00 W\n2024/01/01 10:00:01.000, 150.00 W\n2024/01/01 10:00:02.000, 100.00 W\n"
)
RAW = {"points_per_epoch": None, "transform": "none"}  # FLUSS on the 3 raw samples


@pytest.fixture
def tiny_dataset(tmp_path):
    (tmp_path / "runs" / "a").mkdir(parents=True)
    (tmp_path / "runs" / "a" / "gpu.csv").write_text(GPU_3)
    runs = pd.DataFrame(
        {
            "run_id": ["d", "a"],
            "environment": ["y", "x"],
            "gpu_model": [None, None],  # no TDP known: the power cap is max_power_w
            "architecture": ["m", "m"],
            "dataset": ["s", "s"],
        }
    )
    epochs = pd.DataFrame(
        {
            "run_id": ["a"],
            "epoch": [1],
            "start_time": [pd.Timestamp("2024-01-01 10:00:00")],
            "end_time": [pd.Timestamp("2024-01-01 10:00:02")],
        }
    )
    return tmp_path, runs, epochs


def _status(df):
    return dict(zip(df["run_id"], zip(df["status"], df["n_samples"], df["reason"])))


def test_stabilizing_epochs_reads_logs_with_the_ingest_thresholds(tiny_dataset):
    import zlib

    ds, runs, epochs = tiny_dataset
    assert (zlib.crc32(b"a") % 2, zlib.crc32(b"d") % 2) == (1, 0)
    missing = f"{ds / 'runs' / 'd' / 'gpu.csv'} missing"
    # explicit parameters: the 3 raw samples are too few for m = 10 (needs (2 x 3 + 1) x 10 = 70)
    got = fluss.stabilizing_epochs(ds, runs, epochs, fluss.FlussParams(**RAW))
    assert got["run_id"].tolist() == ["a", "d"]  # sorted by run id
    assert _status(got) == {
        "a": (
            "too_short",
            3,
            "3 points; FLUSS with m=10 and excl_factor=3 needs at least 70 (1 epochs, 3 GPU samples)",
        ),
        "d": ("no_gpu_log", 0, missing),
    }
    assert got["n_epochs"].tolist() == [1, 0]
    np.testing.assert_array_equal(got["first_epoch"].to_numpy(), [1.0, np.nan])
    # default parameters (30 points per epoch, epoch_diff): one epoch leaves no epoch-to-epoch difference
    default = fluss.stabilizing_epochs(ds, runs, epochs)
    assert _status(default)["a"] == ("too_short", 3, "the series has no finite value (1 epochs, 3 GPU samples)")
    # ingest thresholds: with max_power_w 120 the 150 W sample is dropped, 1 of 3 > 5 %: the log is refused
    strict = fluss.stabilizing_epochs(
        ds, runs, epochs, fluss.FlussParams(**RAW), ingest={"plausibility": {"max_power_w": 120}}
    )
    status, n, reason = _status(strict)["a"]
    assert (status, n) == ("unreadable_gpu_log", 0)
    assert "1 of 3 power samples dropped" in reason and "1 above 120 W" in reason
    assert _status(strict)["d"] == ("no_gpu_log", 0, missing)


def test_stabilizing_epochs_shards_default_to_one(tiny_dataset):
    ds, runs, epochs = tiny_dataset
    p = fluss.FlussParams(**RAW)
    # one shard unless told: shard 0 is every run, shard 1 none
    assert fluss.stabilizing_epochs(ds, runs, epochs, p, shard=0)["run_id"].tolist() == ["a", "d"]
    none = fluss.stabilizing_epochs(ds, runs, epochs, p, shard=1)
    assert none.empty and list(none.columns) == fluss.STAB_COLUMNS
    assert fluss.stabilizing_epochs(ds, runs, epochs, p, shard=1, n_shards=2)["run_id"].tolist() == ["a"]
    assert fluss.stabilizing_epochs(ds, runs, epochs, p, shard=0, n_shards=2)["run_id"].tolist() == ["d"]
    # a shard of an empty runs table is an empty table with its columns
    empty = fluss.stabilizing_epochs(ds, runs.iloc[0:0], epochs, p, shard=0, n_shards=2)
    assert empty.empty and list(empty.columns) == fluss.STAB_COLUMNS


def test_stabilizing_epochs_sets_the_configured_threads(tiny_dataset, numba_threads, monkeypatch):
    numba = numba_threads
    ds, runs, epochs = tiny_dataset
    calls = []
    real = numba.set_num_threads

    def spy(n):
        calls.append(n)
        real(n)

    monkeypatch.setattr(numba, "set_num_threads", spy)
    fluss.stabilizing_epochs(ds, runs, epochs, fluss.FlussParams(threads=1, **RAW))
    assert calls == [1] and numba.get_num_threads() == 1
    calls.clear()
    fluss.stabilizing_epochs(ds, runs, epochs, fluss.FlussParams(**RAW))  # threads None: numba's own setting
    fluss.stabilizing_epochs(ds, runs, epochs)  # no parameters at all: the defaults, threads None
    assert calls == []
