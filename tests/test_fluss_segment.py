"""FLUSS building blocks the mutation run found unchecked: the parameters' validation, the idealized
arc curves, the matrix profile wrapper, ``segment``'s NaN bridging and its IAC choice,
``epoch_synchronous``'s grid, ``stabilizing_epoch``'s early answer, and the numba/stumpy cache set-up.

Expected values are worked out by hand in the comments, or computed here through stumpy's own public
functions called directly (``stumpy.stump``, ``stumpy.fluss``), so that a wrong argument in dlenergy's
wrappers shows up as a difference."""

from __future__ import annotations

import logging
import re
import warnings

import numpy as np
import pandas as pd
import pytest
import stumpy

from dlenergy import fluss
from dlenergy.fluss import FlussParams

# a 300-point series with two regimes: a slow sine, then a fast one with a different amplitude
_i = np.arange(300, dtype=np.float64)
TWO_REGIMES = np.where(_i < 150, np.sin(_i / 5.0), 3.0 * np.sin(_i / 1.7) + 2.0) + 0.01 * np.cos(_i * 7.3)


# ----------------------------------------------------------------------------- FlussParams


def test_params_accept_center_and_name_the_bad_value():
    # "center" places the change half a subsequence after FLUSS's location: m // 2 = 12 // 2
    assert FlussParams(locate="center", subsequence_length=12).offset == 6
    with pytest.raises(ValueError, match=r"^fluss.transform must be 'none' or 'epoch_diff', not 'diff'$"):
        FlussParams(transform="diff")
    with pytest.raises(ValueError, match=r"^fluss.transform 'epoch_diff' needs points_per_epoch$"):
        FlussParams(transform="epoch_diff", points_per_epoch=0)
    with pytest.raises(ValueError, match=r"^fluss.locate must be 'start', 'center' or 'end', not 'mid'$"):
        FlussParams(locate="mid")


# ----------------------------------------------------------------------------- idealized arc curves


def test_parabola_iac_exact_and_default_is_stumpys():
    # 2 i (w - i) / w for w = 4, i = 0..3: 0, 2*1*3/4 = 1.5, 2*2*2/4 = 2, 2*3*1/4 = 1.5
    np.testing.assert_array_equal(fluss.idealized_arc_curve(4, "parabola"), [0.0, 1.5, 2.0, 1.5])
    # w = 5: 0, 2*1*4/5 = 1.6, 2*2*3/5 = 2.4, 2.4, 1.6
    np.testing.assert_allclose(fluss.idealized_arc_curve(5, "parabola"), [0.0, 1.6, 2.4, 2.4, 1.6], rtol=1e-15)
    # without a kind: stumpy's own fitted IAC (its private _iac, seed 0, bidirectional)
    from stumpy.floss import _iac

    np.testing.assert_array_equal(fluss.idealized_arc_curve(60), _iac(60, bidirectional=True))
    with pytest.raises(ValueError, match=r"^iac must be 'stumpy' or 'parabola', not 'cosine'$"):
        fluss.idealized_arc_curve(10, "cosine")


# ----------------------------------------------------------------------------- matrix profile


def test_matrix_profile_indices_are_stumps_z_normalized_by_default(caplog):
    m = 10
    with caplog.at_level(logging.WARNING, logger="dlenergy"):
        got = fluss.matrix_profile_indices(TWO_REGIMES, m)
    assert caplog.records == []  # the CPU stump was asked for: no fallback warning
    assert got.dtype == np.int64
    z = np.asarray(stumpy.stump(TWO_REGIMES, m)[:, 1], dtype=np.int64)
    raw = np.asarray(stumpy.stump(TWO_REGIMES, m, normalize=False)[:, 1], dtype=np.int64)
    assert (z != raw).any()  # the two choices differ on this series, so the test can tell them apart
    np.testing.assert_array_equal(got, z)
    np.testing.assert_array_equal(fluss.matrix_profile_indices(TWO_REGIMES, m, normalize=False), raw)
    # integer input is converted (stumpy itself refuses an int64 array)
    ints = np.random.default_rng(0).integers(0, 50, 120).tolist()
    exp = np.asarray(stumpy.stump(np.asarray(ints, dtype=np.float64), m)[:, 1], dtype=np.int64)
    np.testing.assert_array_equal(fluss.matrix_profile_indices(ints, m), exp)


def test_gpu_fallback_warning_text(caplog):
    if fluss.gpu_available():  # pragma: no cover - depends on the machine
        pytest.skip("a CUDA GPU is present: gpu_stump runs instead")
    with caplog.at_level(logging.WARNING, logger="dlenergy"):
        fluss.matrix_profile_indices(TWO_REGIMES, 10, use_gpu=True)
    assert [r.getMessage() for r in caplog.records] == [
        "use_gpu: no CUDA GPU available to numba; using the parallel CPU stump"
    ]


# ----------------------------------------------------------------------------- segment


def _fluss_by_hand(y, m, n_regimes, excl_factor, iac, normalize):
    """FLUSS through stumpy's public functions, with the IAC given explicitly."""
    idx = np.asarray(stumpy.stump(np.asarray(y, dtype=np.float64), m, normalize=normalize)[:, 1], dtype=np.int64)
    cac, locs = stumpy.fluss(idx, L=m, n_regimes=n_regimes, excl_factor=excl_factor, custom_iac=iac(len(idx)))
    return np.sort(np.asarray(locs)), np.asarray(cac)


def test_segment_with_the_parabola_iac_and_z_normalization():
    p = FlussParams(iac="parabola", normalize=True, n_regimes=3, excl_factor=2, transform="none")

    def parabola(w):
        i = np.arange(w, dtype=np.float64)
        return 2.0 * i * (w - i) / w

    locs, cac = _fluss_by_hand(TWO_REGIMES, 10, 3, 2, parabola, normalize=True)
    seg = fluss.segment(TWO_REGIMES, p)
    np.testing.assert_array_equal(seg.regime_locs, locs)
    np.testing.assert_array_equal(seg.cac, cac)
    assert seg.regime_locs.dtype == np.int64 and len(seg.regime_locs) == 2  # n_regimes - 1 changes
    assert seg.n_samples == 300


def test_segment_bridges_nans_linearly():
    y = TWO_REGIMES.copy()
    y[[0, 40, 41, 42, 299]] = [np.nan, np.nan, np.inf, np.nan, np.nan]
    bridged = TWO_REGIMES.copy()
    # ends: the nearest finite value; inside: the straight line from sample 39 to sample 43
    bridged[0], bridged[299] = TWO_REGIMES[1], TWO_REGIMES[298]
    bridged[40:43] = TWO_REGIMES[39] + (TWO_REGIMES[43] - TWO_REGIMES[39]) * np.array([1, 2, 3]) / 4
    p = FlussParams(transform="none")
    locs, cac = _fluss_by_hand(bridged, 10, 2, 3, lambda w: fluss.idealized_arc_curve(w), normalize=False)
    seg = fluss.segment(y, p)
    np.testing.assert_array_equal(seg.regime_locs, locs)
    np.testing.assert_allclose(seg.cac, cac, rtol=1e-12)
    assert seg.n_samples == 300
    with pytest.raises(ValueError, match=r"^the series has no finite value$"):
        fluss.segment(np.array([np.nan, np.inf, -np.inf]), p)
    with pytest.raises(ValueError, match=r"^the series has no finite value$"):
        fluss.segment(np.array([]), p)
    # one finite point is a series, too short: (2 x 3 + 1) x 10 = 70 points needed
    with pytest.raises(ValueError, match=r"^1 points; FLUSS with m=10 and excl_factor=3 needs at least 70$"):
        fluss.segment(np.array([5.0]), p)


# ----------------------------------------------------------------------------- epoch_synchronous


def test_epoch_synchronous_grid_and_slice_means():
    # power = t on [0, 20] sampled every second; epochs [0, 10] and [10, 20], k = 2 slices each:
    # grid 0, 5, 10, 15, 20; the mean of t over [a, b] is (a + b) / 2: 2.5, 7.5, 12.5, 17.5
    t = np.arange(0.0, 21.0)
    x, grid = fluss.epoch_synchronous(t, t.copy(), np.array([0.0, 10.0]), np.array([10.0, 20.0]), 2)
    np.testing.assert_array_equal(grid, [0.0, 5.0, 10.0, 15.0, 20.0])
    np.testing.assert_allclose(x, [2.5, 7.5, 12.5, 17.5], rtol=1e-15)


def test_epoch_synchronous_zero_length_epoch_is_nan_without_a_warning():
    # a second epoch that starts and ends at 10 s: its slices have zero width, 0 / 0, NaN (no warning)
    t = np.arange(0.0, 11.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        x, grid = fluss.epoch_synchronous(t, np.full(11, 100.0), np.array([0.0, 10.0]), np.array([10.0, 10.0]), 2)
    np.testing.assert_array_equal(grid, [0.0, 5.0, 10.0, 10.0, 10.0])
    np.testing.assert_array_equal(x[:2], [100.0, 100.0])
    assert np.isnan(x[2:]).all() and len(x) == 4


# ----------------------------------------------------------------------------- stabilizing_epoch


def test_no_epochs_answer_is_the_full_record():
    gpu = pd.DataFrame({"t": [0.0, 1.0], "power_w": [100.0, 100.0]})
    none = pd.DataFrame(columns=["epoch", "start_time", "end_time"])
    got = fluss.stabilizing_epoch(gpu, none)
    assert list(got) == [
        "n_samples",
        "regime_index",
        "regime_time_s",
        "cac_min",
        "stabilizing_epoch",
        "status",
        "reason",
    ]
    assert got["n_samples"] == 0 and got["status"] == "no_epochs" and got["reason"] == "run has no epoch markers"
    assert all(np.isnan(got[k]) for k in ("regime_index", "regime_time_s", "cac_min", "stabilizing_epoch"))


# ----------------------------------------------------------------------------- numba / stumpy cache


def test_numba_cache_dir_defaults_to_the_users_cache(tmp_path, monkeypatch):
    monkeypatch.delenv("NUMBA_CACHE_DIR", raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert fluss.numba_cache_dir() == tmp_path / ".cache" / "dlenergy" / "numba"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert fluss.numba_cache_dir() == tmp_path / "xdg" / "dlenergy" / "numba"
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path / "nb"))
    assert fluss.numba_cache_dir() == tmp_path / "nb"


def test_enable_stumpy_cache_switches_every_kernel_to_the_given_folder(tmp_path, monkeypatch):
    import importlib

    import numba
    from numba.core.caching import NullCache
    from stumpy import cache

    kernels = []
    for module_name, func_name in cache.get_njit_funcs():
        func = getattr(importlib.import_module(f"stumpy.{module_name}"), func_name)
        monkeypatch.setattr(func, "_cache", NullCache())  # as if never enabled; restored afterwards
        kernels.append(func)
    assert len(kernels) > 10
    monkeypatch.setattr(fluss, "_CACHE_ENABLED", None)
    monkeypatch.setattr(numba.config, "CACHE_DIR", numba.config.CACHE_DIR)
    target = tmp_path / "a" / "b" / "numba"  # two missing parents
    assert fluss.enable_stumpy_cache(target) == target
    assert target.is_dir() and numba.config.CACHE_DIR == str(target)
    for func in kernels:
        assert type(func._cache).__name__ == "FunctionCache", func
        assert re.match(re.escape(str(target)), func._cache._cache_path), func._cache._cache_path
    # idempotent: a second call keeps the first folder
    assert fluss._CACHE_ENABLED == target
    assert fluss.enable_stumpy_cache(tmp_path / "other") == target and not (tmp_path / "other").exists()


# ----------------------------------------------------------------------------- stabilizing_epochs' table

# three runs, sorted "0", "a", "b": "0" has no GPU log, "a" has a 3-sample log (100, 150, 100 W) but no
# epoch rows, "b" the same log and one epoch over it
GPU_3 = (
    "timestamp, power.draw [W]\n"
    "2024/01/01 10:00:00.000, 100.00 W\n2024/01/01 10:00:01.000, 150.00 W\n2024/01/01 10:00:02.000, 100.00 W\n"
)


def _three_runs(tmp_path, gpu_model=None):
    for rid in ("a", "b"):
        (tmp_path / "runs" / rid).mkdir(parents=True)
        (tmp_path / "runs" / rid / "gpu.csv").write_text(GPU_3)
    runs = pd.DataFrame(
        {
            "run_id": ["b", "0", "a"],
            "environment": ["env-b", "env-0", "env-a"],
            "gpu_model": [gpu_model, "model-0", gpu_model],
            "architecture": ["arch-b", "arch-0", "arch-a"],
            "dataset": ["data-b", "data-0", "data-a"],
        }
    )
    epochs = pd.DataFrame(
        {
            "run_id": ["b"],
            "epoch": [7],
            "start_time": [pd.Timestamp("2024-01-01 10:00:00")],
            "end_time": [pd.Timestamp("2024-01-01 10:00:02")],
        }
    )
    return runs, epochs


RAW = FlussParams(points_per_epoch=None, transform="none")


def test_stabilizing_epochs_rows_carry_each_runs_settings_and_status(tmp_path):
    runs, epochs = _three_runs(tmp_path)
    got = fluss.stabilizing_epochs(tmp_path, runs, epochs, RAW).set_index("run_id")
    assert list(got.index) == ["0", "a", "b"]  # a missing log ("0", first) does not stop the runs after it
    for rid in ("0", "a", "b"):
        row = got.loc[rid]
        assert (row.environment, row.architecture, row.dataset) == (f"env-{rid}", f"arch-{rid}", f"data-{rid}")
    assert got.loc["0", "gpu_model"] == "model-0"
    assert got["status"].tolist() == ["no_gpu_log", "no_epochs", "too_short"]
    assert got.loc["a", "reason"] == "run has no epoch markers" and got.loc["a", "n_samples"] == 0
    assert got["n_epochs"].tolist() == [0, 0, 1]
    np.testing.assert_array_equal(got["first_epoch"].to_numpy(), [np.nan, np.nan, 7.0])
    assert got.loc["b", "n_samples"] == 3


def test_stabilizing_epochs_caps_power_at_the_boards_tdp(tmp_path):
    # a Tesla T4's TDP is 70 W: cap 70 x 1.2 = 84 W, so all three samples (100, 150, 100 W) are dropped and
    # the log is refused; with no known board the cap is max_power_w (2000 W) and the log is read
    runs, epochs = _three_runs(tmp_path, gpu_model="Tesla T4")
    got = fluss.stabilizing_epochs(tmp_path, runs, epochs, RAW).set_index("run_id")
    assert got.loc["b", "status"] == "unreadable_gpu_log" and got.loc["b", "n_samples"] == 0
    assert "3 above 84 W" in got.loc["b", "reason"], got.loc["b", "reason"]
    assert got.loc["a", "status"] == "unreadable_gpu_log"


# ----------------------------------------------------------------------------- stabilizing_epoch's branches

T0 = pd.Timestamp("2024-01-01 10:00:00")
S0 = T0.value / 1e9  # the window's start in seconds since 1970, as stabilizing_epoch reads timestamps


def _epochs(n: int, seconds: float = 10.0, first: int = 1) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "epoch": np.arange(first, first + n),
            "start_time": [T0 + pd.Timedelta(seconds=seconds * i) for i in range(n)],
            "end_time": [T0 + pd.Timedelta(seconds=seconds * (i + 1)) for i in range(n)],
        }
    )


def test_too_few_or_no_finite_samples_inside_the_window():
    ep = _epochs(2)  # window [0, 20] s
    # one sample inside (t = 5 s); the ones at -5 s and 25 s are outside the window and not counted
    gpu = pd.DataFrame({"t": S0 + np.array([-5.0, 5.0, 25.0]), "power_w": [100.0, 100.0, 100.0]})
    got = fluss.stabilizing_epoch(gpu, ep)
    assert (got["status"], got["n_samples"], got["reason"]) == ("too_short", 1, "1 GPU samples in the training window")
    # three samples inside, none finite
    gpu = pd.DataFrame({"t": S0 + np.array([1.0, 2.0, 3.0]), "power_w": [np.nan, np.nan, np.inf]})
    got = fluss.stabilizing_epoch(gpu, ep)
    assert (got["status"], got["n_samples"], got["reason"]) == ("too_short", 3, "3 GPU samples in the training window")
    assert np.isnan(got["stabilizing_epoch"]) and np.isnan(got["cac_min"])


def _flat_cac(monkeypatch, cac_value: float, change: int):
    """segment() answering a corrected arc curve of constant ``cac_value`` with its change at ``change``
    (segment itself is tested above; here only what stabilizing_epoch does with its answer)."""

    def fake(x, params=None):
        return fluss.Segmentation(np.array([change]), np.full(len(x), cac_value), len(x))

    monkeypatch.setattr(fluss, "segment", fake)


@pytest.mark.parametrize("cac_value", [1.0, 1.5])
def test_a_curve_never_below_one_is_one_regime_from_the_first_epoch(monkeypatch, cac_value):
    ep = _epochs(4, first=3)  # epochs 3..6 over [0, 40] s, 1 Hz samples
    gpu = pd.DataFrame({"t": S0 + np.arange(0.0, 41.0), "power_w": np.full(41, 150.0)})
    _flat_cac(monkeypatch, cac_value, change=35)
    got = fluss.stabilizing_epoch(gpu, ep, FlussParams(points_per_epoch=None, transform="none"))
    assert got == {
        "n_samples": 41,
        "regime_index": got["regime_index"],  # NaN (checked below)
        "regime_time_s": got["regime_time_s"],
        "cac_min": 1.0,
        "stabilizing_epoch": 3,
        "status": "no_change",
        "reason": "corrected arc curve has no minimum below 1: one regime, stable from the first epoch",
    }
    assert np.isnan(got["regime_index"]) and np.isnan(got["regime_time_s"])


def test_a_change_is_located_with_an_empty_reason(monkeypatch):
    ep = _epochs(4, first=3)
    gpu = pd.DataFrame({"t": S0 + np.arange(0.0, 41.0), "power_w": np.full(41, 150.0)})
    _flat_cac(monkeypatch, 0.25, change=12)
    # raw series: the change at sample 12, plus locate "end"'s offset m = 10: sample 22, t = 22 s, in epoch
    # (20, 30], the third epoch: label 5
    got = fluss.stabilizing_epoch(gpu, ep, FlussParams(points_per_epoch=None, transform="none"))
    assert (got["status"], got["reason"], got["stabilizing_epoch"]) == ("ok", "", 5)
    assert (got["regime_index"], got["regime_time_s"], got["cac_min"]) == (22, 22.0, 0.25)


def test_two_samples_in_the_window_go_on_to_fluss():
    # 2 samples are enough to go on (fewer are "too_short" at once); FLUSS then refuses the 2-point series
    ep = _epochs(2)
    gpu = pd.DataFrame({"t": S0 + np.array([5.0, 15.0]), "power_w": [100.0, 120.0]})
    got = fluss.stabilizing_epoch(gpu, ep, FlussParams(points_per_epoch=None, transform="none"))
    reason = "2 points; FLUSS with m=10 and excl_factor=3 needs at least 70 (2 epochs, 2 GPU samples)"
    assert (got["status"], got["n_samples"], got["reason"]) == ("too_short", 2, reason)


def test_a_change_past_the_end_is_clamped_to_the_last_point(monkeypatch):
    ep = _epochs(4, first=3)
    gpu = pd.DataFrame({"t": S0 + np.arange(0.0, 41.0), "power_w": np.full(41, 150.0)})
    _flat_cac(monkeypatch, 0.5, change=38)
    # raw: 38 + 10 = 48 is past the last sample (index 40): the change is the last sample, t = 40 s, epoch 6
    got = fluss.stabilizing_epoch(gpu, ep, FlussParams(points_per_epoch=None, transform="none"))
    assert (got["regime_index"], got["regime_time_s"], got["stabilizing_epoch"]) == (40, 40.0, 6)
    # epoch-synchronous, 5 points per epoch, no differencing: 20 points; 12 + 10 is clamped to 19, in the
    # 4th epoch (19 // 5 = 3): label 6; its time is the grid point 19, 38 s (slices of 2 s)
    _flat_cac(monkeypatch, 0.5, change=12)
    got = fluss.stabilizing_epoch(gpu, ep, FlussParams(points_per_epoch=5, transform="none"))
    assert (got["regime_index"], got["regime_time_s"], got["stabilizing_epoch"]) == (19, 38.0, 6)
