"""Energy integration against analytic values and the H100's own energy counter."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dlenergy.energy import cumtrapz, run_energy
from dlenergy.ingest import ingest_dataset


def _frame(t0, t, p, col="power_w"):
    ts = pd.Timestamp(t0) + pd.to_timedelta(t, unit="s")
    return pd.DataFrame(
        {
            "timestamp": ts.astype("datetime64[us]"),
            col: p,
            "t": (ts.astype("datetime64[us]").astype("int64") / 1e6).to_numpy(),
        }
    )


def test_linear_power_integrates_exactly():
    t = np.arange(0, 101, 1.0)
    gpu = _frame("2023-01-01", t, 100 + 2 * t)
    cpu = _frame("2023-01-01", t, np.full_like(t, 1000.0), "ram_used_mb")
    res = run_energy(gpu, cpu, None)
    assert res.metrics["gpu_energy_j"] == pytest.approx(100 * 100 + 100**2)  # ∫(100+2t) dt on [0,100]
    assert res.metrics["ram_energy_j"] == pytest.approx(1000 * 3.75e-4 * 100)
    assert res.metrics["mean_gpu_power_w"] == pytest.approx(200.0)
    assert res.metrics["sampling_period_s"] == pytest.approx(1.0)


def test_window_and_epochs_sum_to_run_and_boundary_sample_counts_twice():
    t = np.arange(0, 61, 1.0)
    p = np.where(t < 10, 20.0, 200.0)  # idle lead before train start
    gpu = _frame("2023-01-01", t, p)
    start = pd.Timestamp("2023-01-01") + pd.Timedelta(seconds=10)
    ends = start + pd.to_timedelta([10, 20, 30, 40, 50], unit="s")
    epochs = pd.DataFrame({"epoch": range(5), "end_time": ends})
    res = run_energy(gpu, None, epochs, start)
    assert res.metrics["duration_s"] == pytest.approx(50)
    assert res.metrics["gpu_energy_j"] == pytest.approx(200 * 50)  # idle lead excluded
    ep = res.epochs
    assert list(ep["epoch"]) == [0, 1, 2, 3, 4]
    assert ep["gpu_energy_j"].sum() == pytest.approx(res.metrics["gpu_energy_j"])
    assert np.allclose(ep["gpu_energy_j"], 2000.0)
    assert np.allclose(ep["duration_s"], 10.0)


def test_nan_power_is_bridged():
    t = np.arange(5.0)
    assert cumtrapz(t, np.array([1, np.nan, 1, 1, 1.0]))[-1] == pytest.approx(4.0)


def test_h100_fixture_within_3pct_of_counter_and_killed_run_in_ledger(h100_dir):
    from dlenergy.cleaning import clean

    runs, epochs, ledger = ingest_dataset(h100_dir)
    ref = pd.read_csv(h100_dir / "runs.csv").set_index("run_id")["reference_energy_j"]
    done = runs.set_index("run_id").loc["h100-resnet50-20261122T120733"]
    assert done["gpu_energy_j"] == pytest.approx(ref.loc[done.name], rel=0.03)
    assert done["epochs_measured"] == 22
    # per-epoch energies follow the board's counter epoch by epoch (1..21; epoch 0 starts at train_start)
    ep = epochs[epochs.run_id == done.name].set_index("epoch")
    counter = (
        pd.read_csv(h100_dir / "runs" / done.name / "epochs.csv").set_index("epoch")["nvml_energy_mJ"].diff() / 1e3
    )
    ratio = (ep["gpu_energy_j"] / counter).dropna()
    assert ratio.median() == pytest.approx(1.0, abs=0.03)
    assert ep["gpu_energy_j"].sum() == pytest.approx(done["gpu_energy_j"])
    res = clean(runs, epochs, ledger)
    killed = res.excluded.set_index("run_id").loc["h100-mobilenet_v2-20261122T115318"]
    assert killed["stage"] == "failed" and "137" in killed["reason"]
    assert list(res.runs["run_id"]) == [done.name]


# ------------------------------------------------------------------ the board's energy counter


def _counter_run(counter_mj, *, start_s=10.5, ends_s=(30.5, 60.0, 90.0)):
    t = np.arange(0, 101, 1.0)
    gpu = _frame("2023-01-01", t, 100 + t)
    gpu["energy_counter_mj"] = counter_mj(t)
    t0 = pd.Timestamp("2023-01-01")
    epochs = pd.DataFrame({"epoch": np.arange(len(ends_s)), "end_time": [t0 + pd.Timedelta(seconds=s) for s in ends_s]})
    return run_energy(gpu, None, epochs, t0 + pd.Timedelta(seconds=start_s))


def F(t):  # ∫ (100 + t) dt, J
    return 100 * t + t**2 / 2


def test_counter_energy_is_read_at_the_window_and_epoch_bounds():
    res = _counter_run(lambda t: 7e6 + 1000 * F(t))  # counter in mJ, starts at an arbitrary offset
    m, ep = res.metrics, res.epochs
    assert m["duration_s"] == 90 - 10.5  # the window ends at the last epoch's end, not the last sample
    # the counter is interpolated at train_start (10.5 s, between samples) and at each epoch end
    assert m["gpu_counter_energy_j"] == pytest.approx(F(90) - F(10.5), rel=1e-4)
    assert ep["gpu_counter_energy_j"].to_numpy() == pytest.approx(
        [F(30.5) - F(10.5), F(60) - F(30.5), F(90) - F(60)], rel=1e-3
    )
    # the integral uses the samples inside the window (11..90 s): exact for linear power
    assert m["gpu_energy_j"] == pytest.approx(F(90) - F(11))


def test_counter_reset_or_missing_gives_nan_not_a_wrong_number():
    reset = _counter_run(lambda t: np.where(t < 50, 1000 * F(t), 1000 * (F(t) - F(50))))
    assert np.isnan(reset.metrics["gpu_counter_energy_j"]) and reset.epochs["gpu_counter_energy_j"].isna().all()
    assert reset.epochs["gpu_counter_energy_j"].dtype == np.float64
    gaps = _counter_run(lambda t: np.where(t % 7 == 0, np.nan, 1000 * F(t)))  # [N/A] samples are bridged
    assert gaps.metrics["gpu_counter_energy_j"] == pytest.approx(F(90) - F(10.5), rel=1e-3)
    t = np.arange(0, 11, 1.0)
    none = run_energy(_frame("2023-01-01", t, 100 + t), None, None)
    assert np.isnan(none.metrics["gpu_counter_energy_j"])


def test_counter_check_table():
    from dlenergy.energy import counter_check

    runs = pd.DataFrame(
        {
            "run_id": ["b", "a", "c", "d"],
            "gpu_model": "X",
            "return_code": 0,
            "duration_s": 100.0,
            "sampling_period_s": 1.0,
            "epochs_measured": 2,
            "gpu_energy_j": [990.0, 1020.0, 500.0, 700.0],
            "gpu_counter_energy_j": [1000.0, 1000.0, np.nan, np.nan],
        }
    )
    epochs = pd.DataFrame(
        {
            "run_id": ["a", "a", "b", "b", "d", "d"],
            "epoch": [0, 1, 0, 1, 0, 1],
            "gpu_energy_j": [510.0, 510.0, 480.0, 510.0, 300.0, 400.0],
            "gpu_counter_energy_j": [500.0, 500.0, 500.0, 500.0, np.nan, 380.0],
        }
    )
    t = counter_check(runs, epochs).set_index("run_id")
    assert t.index.tolist() == ["a", "b", "d"]  # c has no counter at all
    # a, b: the counter is in the GPU log -> the training window
    assert (t.loc[["a", "b"], "span"] == "training window").all()
    assert t.loc[["a", "b"], "difference_j"].tolist() == [20.0, -10.0]
    assert t.loc[["a", "b"], "difference_pct"].tolist() == pytest.approx([2.0, -1.0])
    assert t.loc[["a", "b"], "epoch_ratio_min"].tolist() == pytest.approx([1.02, 0.96])
    # d: counter read at epoch ends only -> epoch 1 alone, both sides over it
    assert t.loc["d", "span"].startswith("epochs") and t.loc["d", "epochs_compared"] == 1
    assert (t.loc["d", "integrated_energy_j"], t.loc["d", "counter_energy_j"]) == (400.0, 380.0)
    assert counter_check(runs.assign(gpu_counter_energy_j=np.nan)).empty


def test_h100_counter_logged_at_epoch_ends_agrees_with_integrated_power(h100_dir):
    """The real H100 run logged NVML's energy counter at each epoch end (epochs.csv nvml_energy_mJ)."""
    from dlenergy.energy import counter_check

    runs, epochs, _ = ingest_dataset(h100_dir)
    ep = epochs.set_index(["run_id", "epoch"])["gpu_counter_energy_j"]
    done = "h100-resnet50-20261122T120733"
    assert np.isnan(ep.loc[(done, 0)]) and ep.loc[done].iloc[1:].notna().all()
    t = counter_check(runs, epochs)
    assert t["run_id"].tolist() == [done] and t.iloc[0]["epochs_compared"] == 21
    assert abs(t.iloc[0]["difference_pct"]) < 1.0
    assert t.iloc[0]["epoch_ratio_median"] == pytest.approx(1.0, abs=0.02)


# ------------------------------------------------------------------ every metric of a run, against hand values


def _two_gpu_run():
    """0..60 s at 1 Hz: idle (usage 5 %) before train_start = 10 s, two GPUs (100 W and 50 + t W) while
    training (usage 90 %, the sample at 10 s 70 %), epochs ending at 30 s and 60 s; RAM 1000 MB in the
    window (2000 MB at its first sample), 9000 MB outside it."""
    t = np.arange(0, 61, 1.0)
    gpu = _frame("2023-01-01", t, 100.0 + 50.0 + t)
    gpu["power_w_gpu0"] = 100.0
    gpu["power_w_gpu1"] = 50.0 + t
    gpu["gpu_usage_pct"] = np.where(t < 10, 5.0, 90.0)
    gpu.loc[t == 10, "gpu_usage_pct"] = 70.0
    gpu["power_limit_w"] = np.where(t < 30, 300.0, 350.0)
    gpu["gpu_name"] = ["NVIDIA A"] + ["NVIDIA B"] * 60
    cpu = _frame("2023-01-01", t, np.where((t >= 10) & (t <= 60), 1000.0, 9000.0), "ram_used_mb")
    cpu.loc[t == 10, "ram_used_mb"] = 2000.0
    cpu = cpu.iloc[:-1]  # the psutil log ends at 59 s
    t0 = pd.Timestamp("2023-01-01")
    epochs = pd.DataFrame({"epoch": [0.0, 1.0], "end_time": [t0 + pd.Timedelta(seconds=s) for s in (30, 60)]})
    return gpu, cpu, epochs, t0 + pd.Timedelta(seconds=10)


def test_run_metrics_of_a_two_gpu_run_by_hand():
    gpu, cpu, epochs, start = _two_gpu_run()
    m = run_energy(gpu, cpu, epochs, start).metrics
    t0 = pd.Timestamp("2023-01-01")
    assert (m["start_time"], m["end_time"]) == (t0 + pd.Timedelta(seconds=10), t0 + pd.Timedelta(seconds=60))
    assert m["duration_s"] == 50.0 and m["epochs_measured"] == 2 and m["min_epoch_duration_s"] == 20.0
    gpu1 = 50 * 50 + (60**2 - 10**2) / 2  # ∫ (50 + t) dt on [10, 60]
    assert m["gpu_energy_j"] == pytest.approx(100 * 50 + gpu1)
    assert m["n_gpus"] == 2 and [float(x) for x in m["gpu_energy_by_gpu_j"].split(";")] == pytest.approx([5000, gpu1])
    # RAM: 2000 MB at 10 s, 1000 MB at 11..59 s; the window's samples end at 59 s
    ram_mb_s = (2000 + 1000) / 2 + 1000 * 48
    assert m["ram_energy_j"] == pytest.approx(3.75e-4 * ram_mb_s) and m["has_ram_log"] is True
    assert m["energy_j"] == pytest.approx(m["gpu_energy_j"] + 3.75e-4 * ram_mb_s)
    assert m["mean_ram_used_mb"] == pytest.approx((2000 + 1000 * 49) / 50)  # samples at 10..59 s
    assert m["mean_gpu_power_w"] == pytest.approx(m["gpu_energy_j"] / 50)
    assert m["n_gpu_samples"] == 51 and m["sampling_period_s"] == 1.0
    assert m["gpu_usage_pct"] == pytest.approx((70 + 90 * 50) / 51)  # the 51 samples at 10..60 s
    assert m["max_power_w"] == 350.0 and m["gpu_name_logged"] == "NVIDIA A"


def test_epoch_table_of_a_two_gpu_run_by_hand():
    gpu, cpu, epochs, start = _two_gpu_run()
    ep = run_energy(gpu, cpu, epochs, start).epochs
    t0 = pd.Timestamp("2023-01-01")
    assert ep["start_time"].tolist() == [t0 + pd.Timedelta(seconds=s) for s in (10, 30)]
    assert ep["end_time"].tolist() == [t0 + pd.Timedelta(seconds=s) for s in (30, 60)]
    assert ep["duration_s"].tolist() == [20.0, 30.0] and ep["epoch"].dtype == np.int64
    F = lambda a, b: 150 * (b - a) + (b**2 - a**2) / 2  # ∫ (150 + t) dt
    assert ep["gpu_energy_j"].tolist() == pytest.approx([F(10, 30), F(30, 60)])
    ram = 3.75e-4 * np.array([(2000 + 1000) / 2 + 1000 * 19, 1000 * 29])  # RAM samples end at 59 s
    assert ep["ram_energy_j"].tolist() == pytest.approx(ram)
    assert ep["energy_j"].tolist() == pytest.approx([F(10, 30) + ram[0], F(30, 60) + ram[1]])
    assert ep["mean_gpu_power_w"].tolist() == pytest.approx([F(10, 30) / 20, F(30, 60) / 30])
    floats = ("gpu_energy_j", "ram_energy_j", "gpu_counter_energy_j", "mean_gpu_power_w")
    assert all(ep[c].dtype == np.float64 for c in floats)


def test_logged_gpu_name_skips_a_first_line_without_one():
    """An empty name on the log's first line is missing (the parser reads it as NA), not the name "nan"."""
    gpu, cpu, epochs, start = _two_gpu_run()
    gpu["gpu_name"] = pd.Series([None] + ["NVIDIA B"] * 60, dtype="category")
    assert run_energy(gpu, cpu, epochs, start).metrics["gpu_name_logged"] == "NVIDIA B"
    gpu["gpu_name"] = pd.Series([None] * 61, dtype="category")
    assert run_energy(gpu, cpu, epochs, start).metrics["gpu_name_logged"] is None


def test_without_ram_log_or_epochs_or_second_gpu():
    gpu, _, epochs, start = _two_gpu_run()
    one = gpu.drop(columns=["power_w_gpu0", "power_w_gpu1", "power_limit_w", "gpu_name"])
    res = run_energy(one, None, epochs, start)
    m, ep = res.metrics, res.epochs
    assert m["n_gpus"] == 1 and m["gpu_energy_by_gpu_j"] == "" and np.isnan(m["max_power_w"])
    assert m["has_ram_log"] is False and np.isnan(m["ram_energy_j"]) and np.isnan(m["mean_ram_used_mb"])
    assert m["energy_j"] == m["gpu_energy_j"] and (ep["energy_j"] == ep["gpu_energy_j"]).all()
    assert ep["ram_energy_j"].isna().all() and ep["ram_energy_j"].dtype == np.float64
    assert m["gpu_name_logged"] is None
    none = run_energy(one, None, None, start)
    assert none.epochs.empty and set(none.epochs.columns) == set(ep.columns)
    assert none.metrics["end_time"] == pd.Timestamp("2023-01-01") + pd.Timedelta(seconds=60)
    assert np.isnan(none.metrics["min_epoch_duration_s"]) and none.metrics["epochs_measured"] == 0
    # a missing train_start (NaT) starts the window at the first GPU sample; a nanosecond one is read as such
    assert run_energy(one, None, epochs, pd.NaT).metrics["duration_s"] == 60.0
    assert run_energy(one, None, epochs, start + pd.Timedelta(1, "ns")).metrics["duration_s"] == pytest.approx(50.0)
    # without epochs the window ends at the last GPU sample, also for a RAM log that runs on (to 70 s)
    cpu = _frame("2023-01-01", np.arange(0, 71, 1.0), np.full(71, 1000.0), "ram_used_mb")
    assert run_energy(one, cpu, None, start).metrics["ram_energy_j"] == pytest.approx(3.75e-4 * 1000 * 50)


def test_edge_windows_two_samples_and_an_epoch_before_the_first_sample():
    t = np.array([0.0, 1.0, 2.0, 3.0])
    gpu = _frame("2023-01-01", t, [100.0, 200.0, 300.0, 400.0])
    t0 = pd.Timestamp("2023-01-01")
    # window [1.5, 3]: two samples (2 s, 3 s); epoch 0 ends at 1.8 s, before the window's first sample
    epochs = pd.DataFrame({"epoch": [0, 1], "end_time": [t0 + pd.Timedelta(seconds=s) for s in (1.8, 3.0)]})
    res = run_energy(gpu, None, epochs, t0 + pd.Timedelta(seconds=1.5))
    assert res.metrics["gpu_energy_j"] == pytest.approx(350.0)
    assert res.epochs["gpu_energy_j"].tolist() == pytest.approx([0.0, 350.0])
    cpu = _frame("2023-01-01", [1.5, 2.5], [1000.0, 3000.0], "ram_used_mb")  # a two-sample RAM log
    assert run_energy(gpu, cpu, epochs, t0 + pd.Timedelta(seconds=1.5)).metrics["ram_energy_j"] == pytest.approx(
        3.75e-4 * 2000.0
    )
    short = run_energy(gpu.iloc[:2], None, None, None).metrics  # a 1 s run
    assert short["mean_gpu_power_w"] == pytest.approx(150.0)
    halves = pd.DataFrame({"epoch": [0, 1], "end_time": [t0 + pd.Timedelta(seconds=s) for s in (0.25, 0.5)]})
    half = run_energy(_frame("2023-01-01", [0.0, 0.25, 0.5], [100.0] * 3), None, halves, None)
    assert half.metrics["duration_s"] == 0.5 and half.metrics["mean_gpu_power_w"] == pytest.approx(100.0)
    assert half.epochs["mean_gpu_power_w"].tolist() == pytest.approx([100.0, 100.0])
    # one sample in the window: no energy (NaN, as floats)
    one = run_energy(gpu, None, epochs.iloc[1:], t0 + pd.Timedelta(seconds=2.5))
    assert np.isnan(one.metrics["gpu_energy_j"]) and one.epochs["gpu_energy_j"].isna().all()
    assert one.epochs["gpu_energy_j"].dtype == np.float64
    # the mean RAM used counts the samples at both ends of the window
    cpu4 = _frame("2023-01-01", t, [4000.0, 1000.0, 1000.0, 4000.0], "ram_used_mb")
    assert run_energy(gpu, cpu4, None, None).metrics["mean_ram_used_mb"] == 2500.0
    with pytest.raises(ValueError, match="GPU log has no samples"):
        run_energy(gpu.iloc[:0], None, None, None)


def test_cumtrapz_values():
    assert cumtrapz(np.array([0.0, 1.0, 3.0]), np.array([2.0, 4.0, 4.0])).tolist() == [0.0, 3.0, 11.0]
    assert cumtrapz(np.array([5.0]), np.array([7.0])).tolist() == [0.0]
    assert cumtrapz(np.zeros(0), np.zeros(0)).tolist() == []
    allnan = cumtrapz(np.arange(3.0), np.full(3, np.nan))
    assert len(allnan) == 3 and np.isnan(allnan).all()


def test_counter_edge_cases():
    # two readings are enough; a flat counter (an idle stretch) is not a reset
    flat = _counter_run(lambda t: np.where(t < 40, 1000 * F(t), 1000 * F(40)), start_s=10.0)
    assert flat.metrics["gpu_counter_energy_j"] == pytest.approx(F(40) - F(10))
    assert flat.epochs["gpu_counter_energy_j"].tolist() == pytest.approx(
        [F(30.5) - F(10), F(40) - F(30.5), 0.0], rel=1e-3
    )
    two = _counter_run(lambda t: np.where((t == 0) | (t == 100), 1000 * F(t), np.nan), start_s=0.0, ends_s=(100.0,))
    assert two.metrics["gpu_counter_energy_j"] == pytest.approx(F(100) - F(0))
    # bounds outside the counter's readings are NaN; the first and last readings themselves count
    late = _counter_run(lambda t: np.where(t >= 10, 1000 * F(t), np.nan), start_s=5.0, ends_s=(50.0, 101.0))
    assert np.isnan(late.metrics["gpu_counter_energy_j"]) and late.epochs["gpu_counter_energy_j"].isna().all()
    edge = _counter_run(lambda t: np.where(t >= 10, 1000 * F(t), np.nan), start_s=10.0, ends_s=(50.0, 100.0))
    assert edge.epochs["gpu_counter_energy_j"].tolist() == pytest.approx([F(50) - F(10), F(100) - F(50)])


def test_counter_logged_at_epoch_ends():
    t = np.arange(0, 41, 1.0)
    gpu = _frame("2023-01-01", t, np.full_like(t, 100.0))
    t0 = pd.Timestamp("2023-01-01")
    mj = ["1000", "4000", "4000", "[N/A]", "9500", "2000"]  # flat, unreadable, then a reset
    epochs = pd.DataFrame(
        {"epoch": range(6), "end_time": [t0 + pd.Timedelta(seconds=s) for s in range(5, 36, 6)], "nvml_energy_mJ": mj}
    )
    got = run_energy(gpu, None, epochs, t0).epochs["gpu_counter_energy_j"].to_numpy()
    assert np.isnan(got[0]) and got[1:3].tolist() == [3.0, 0.0]
    assert np.isnan(got[3:]).all()  # around the unreadable reading, and the reset


def test_counter_check_columns_pass_through():
    from dlenergy.energy import COUNTER_CHECK_COLUMNS, counter_check

    runs = pd.DataFrame(
        {
            "run_id": ["b", "a"],
            "gpu_model": ["X", "Y"],
            "return_code": [0, 137],
            "duration_s": [100.0, 50.0],
            "sampling_period_s": [1.0, 0.5],
            "epochs_measured": [3, 2],
            "gpu_energy_j": [990.0, 1020.0],
            "gpu_counter_energy_j": [1000.0, 1000.0],
        }
    )
    t = counter_check(runs)
    assert list(t.columns) == COUNTER_CHECK_COLUMNS and t.index.tolist() == [0, 1]
    assert t[["run_id", "gpu_model", "return_code", "duration_s", "sampling_period_s", "epochs_compared"]].to_dict(
        "list"
    ) == {
        "run_id": ["a", "b"],
        "gpu_model": ["Y", "X"],
        "return_code": [137, 0],
        "duration_s": [50.0, 100.0],
        "sampling_period_s": [0.5, 1.0],
        "epochs_compared": [2, 3],
    }
    empty = counter_check(runs.assign(gpu_counter_energy_j=np.nan))
    assert list(empty.columns) == COUNTER_CHECK_COLUMNS
    assert counter_check(runs.drop(columns="sampling_period_s"))["sampling_period_s"].isna().all()
    # epochs with a counter energy of 0 J (or none) are not compared; 0.5 J is
    epochs = pd.DataFrame(
        {"run_id": ["c"] * 3, "epoch": [0, 1, 2], "gpu_energy_j": [1.0, 0.6, 2.0], "gpu_counter_energy_j": [0, 0.5, 2]}
    )
    runs_c = runs.iloc[:1].assign(run_id="c", gpu_counter_energy_j=np.nan)
    c = counter_check(runs_c, epochs).iloc[0]
    assert c["epochs_compared"] == 2 and (c["integrated_energy_j"], c["counter_energy_j"]) == (2.6, 2.5)
