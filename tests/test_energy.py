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
