"""Energy integration against analytic values and the H100's own energy counter."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dlenergy.energy import cumtrapz, run_energy
from dlenergy.ingest import ingest_dataset
from dlenergy.parsing import read_cpu_log, read_epochs, read_gpu_log


def _frame(t0, t, p, col="power_w"):
    ts = pd.Timestamp(t0) + pd.to_timedelta(t, unit="s")
    return pd.DataFrame({"timestamp": ts.astype("datetime64[us]"), col: p,
                         "t": (ts.astype("datetime64[us]").astype("int64") / 1e6).to_numpy()})


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
    counter = pd.read_csv(h100_dir / "runs" / done.name / "epochs.csv").set_index("epoch")["nvml_energy_mJ"].diff() / 1e3
    ratio = (ep["gpu_energy_j"] / counter).dropna()
    assert ratio.median() == pytest.approx(1.0, abs=0.03)
    assert ep["gpu_energy_j"].sum() == pytest.approx(done["gpu_energy_j"])
    res = clean(runs, epochs, ledger)
    killed = res.excluded.set_index("run_id").loc["h100-mobilenet_v2-20261122T115318"]
    assert killed["stage"] == "failed" and "137" in killed["reason"]
    assert list(res.runs["run_id"]) == [done.name]
