"""``project_online`` (the work behind ``dlenergy project``) called directly on small hand-written logs.

The logs: a gpu.csv sampled at 1 Hz with one power level per epoch (epoch ``k`` holds the samples in
``(end_{k-1}, end_k]``, the sample at a boundary counted by both neighbours, as the paper's
replication package does), an epochs.csv with the epoch ends, and optionally a cpu.csv on the same
clock.  The expected energies are worked out independently of ``dlenergy.energy``: each epoch's
energy is numpy's trapezoid over the samples it holds, then equation 2 of the paper by hand,
``E = E_w x s / w + E_u`` (window energy ``E_w`` of ``w`` stable epochs, ``s`` stable epochs planned,
``E_u`` the energy of the unstable epochs before the stabilizing epoch), and equation 1, the
window's mean power times ``d_u + s x d_w / w``.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from dlenergy.estimators.cli_support import RefusedInput, project_online

T0 = pd.Timestamp("2024-05-01 10:00:00")
EPOCH_S = 10
#: the paper's RAM power per MB of memory used (W/MB)
RAM_W_PER_MB = 3.75e-4


def refused(message: str):
    """``pytest.raises(RefusedInput)`` for exactly ``message``."""
    return pytest.raises(RefusedInput, match="^" + re.escape(message) + "$")


def gpu_csv(path: Path, t_s, power_w) -> Path:
    lines = ["timestamp, name, utilization.gpu [%], power.draw [W]"]
    lines += [
        f"{T0 + pd.Timedelta(seconds=float(t)):%Y/%m/%d %H:%M:%S}.000, NVIDIA GeForce RTX 3090, 90 %, {p:.2f} W"
        for t, p in zip(t_s, power_w)
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


def epochs_csv(path: Path, ends_s) -> Path:
    path.write_text("epoch,end_time\n" + "".join(f"{k},{T0 + pd.Timedelta(seconds=e)}\n" for k, e in enumerate(ends_s)))
    return path


def write_logs(folder: Path, powers) -> tuple[Path, Path, np.ndarray, np.ndarray]:
    """gpu.csv and epochs.csv of ``len(powers)`` epochs of 10 s; the sample times (s) and powers (W)."""
    folder.mkdir(parents=True, exist_ok=True)
    t = np.arange(len(powers) * EPOCH_S + 1, dtype=np.float64)
    p = np.array([powers[max(i - 1, 0) // EPOCH_S] for i in range(len(t))], dtype=np.float64)
    gpu = gpu_csv(folder / "gpu.csv", t, p)
    ep = epochs_csv(folder / "epochs.csv", [EPOCH_S * (k + 1) for k in range(len(powers))])
    return gpu, ep, t, p


def epoch_energies(t: np.ndarray, y: np.ndarray, bounds) -> np.ndarray:
    """Trapezoid of ``y`` over the samples between consecutive ``bounds`` (both ends included)."""
    out = []
    for a, b in zip(bounds[:-1], bounds[1:]):
        k = (t >= a) & (t <= b)
        out.append(np.trapezoid(y[k], t[k]))
    return np.array(out)


def check_projection(out, E_ep, d_ep, s0, window_epochs, planned):
    """Equations 1 and 2 by hand on the epochs' energies ``E_ep`` and durations ``d_ep`` (epochs 0..n-1)."""
    w = len(window_epochs)
    s = planned - s0
    E_w, d_w = E_ep[window_epochs].sum(), d_ep[window_epochs].sum()
    E_u, d_u = E_ep[:s0].sum(), d_ep[:s0].sum()
    E = E_w * s / w + E_u
    assert out["window_epochs"] == list(window_epochs)
    assert out["unstable_epochs"] == list(range(s0))
    assert out["stable_epochs_planned"] == s
    assert out["energy_j"] == pytest.approx(E, rel=1e-12)
    assert out["by_method"]["online_epoch_energy_based"]["energy_j"] == pytest.approx(E, rel=1e-12)
    t_proj = d_u + s * d_w / w
    assert out["by_method"]["online_power_based"]["projected_duration_s"] == pytest.approx(t_proj, rel=1e-12)
    assert out["by_method"]["online_power_based"]["energy_j"] == pytest.approx(E_w / d_w * t_proj, rel=1e-12)
    assert out["window_energy_j"] == pytest.approx(E_w, rel=1e-12)
    assert out["unstable_energy_j"] == pytest.approx(E_u, rel=1e-12, abs=1e-9)
    assert out["measured"]["epochs"] == len(E_ep)
    assert out["measured"]["energy_j"] == pytest.approx(E_ep.sum(), rel=1e-12)
    assert out["measured"]["duration_s"] == pytest.approx(d_ep.sum(), rel=1e-12)
    assert out["remaining_energy_j"] == pytest.approx(E - E_ep.sum(), rel=1e-9)


# ----------------------------------------------------------------------------- answers


def test_project_defaults_window_5_from_the_papers_epoch_10(tmp_path):
    """No options: a window of 5 epochs from the paper's stabilizing epoch 10; the inputs echoed."""
    powers = [60.0] * 10 + [150.0, 152.0, 154.0, 156.0, 158.0]
    gpu, ep, t, p = write_logs(tmp_path / "run", powers)
    out = project_online(gpu, ep, 20)
    E_ep = epoch_energies(t, p, np.arange(16) * EPOCH_S)
    check_projection(out, E_ep, np.full(15, 10.0), 10, [10, 11, 12, 13, 14], 20)
    # epoch 10 holds one 0.5 x (60 + 150) W s step and nine seconds at 150 W; epochs 11..14 likewise
    assert out["window_energy_j"] == pytest.approx(
        sum(0.5 * (a + b) + 9 * b for a, b in zip(powers[9:14], powers[10:15])), rel=1e-12
    )
    assert out["measured"]["has_ram_log"] is False
    assert out["inputs"] == {
        "gpu_log": str(gpu),
        "epochs": str(ep),
        "planned_epochs": 20,
        "window": 5,
        "stabilizing_epoch": 10,
        "stabilizing_epoch_source": "the paper's epoch 10",
        "start": "stabilizing",
        "cpu_log": None,
        "train_start": None,
    }


def test_project_latest_window(tmp_path):
    """``start="latest"``: the window is the last 3 measured epochs (9, 10, 11), not 3, 4, 5."""
    powers = [60.0, 62.0, 64.0] + [150.0 + 2 * k for k in range(9)]
    gpu, ep, t, p = write_logs(tmp_path / "run", powers)
    out = project_online(gpu, ep, 20, window=3, stabilizing_epoch=3, start="latest")
    E_ep = epoch_energies(t, p, np.arange(13) * EPOCH_S)
    check_projection(out, E_ep, np.full(12, 10.0), 3, [9, 10, 11], 20)
    assert out["inputs"]["start"] == "latest" and out["inputs"]["window"] == 3
    assert out["inputs"]["stabilizing_epoch_source"] == "given"
    # the same logs from the stabilizing epoch: window 3, 4, 5
    out = project_online(gpu, ep, 20, window=3, stabilizing_epoch=3, start="stabilizing")
    check_projection(out, E_ep, np.full(12, 10.0), 3, [3, 4, 5], 20)


def test_project_latest_window_clamped_at_the_stabilizing_epoch(tmp_path):
    """6 epochs, stabilizing epoch 3, window 3: the latest window is 3..5 (it does not start before 3)."""
    powers = [60.0, 62.0, 64.0, 150.0, 152.0, 154.0]
    gpu, ep, t, p = write_logs(tmp_path / "run", powers)
    out = project_online(gpu, ep, 10, window=3, stabilizing_epoch=3, start="latest")
    check_projection(out, epoch_energies(t, p, np.arange(7) * EPOCH_S), np.full(6, 10.0), 3, [3, 4, 5], 10)
    # from epoch 4 the window 4..6 (not 3..5, before the stabilizing epoch) lacks epoch 6: refused
    with refused("window 4..6 needs 3 measured stable epochs; 2 stable epoch(s) measured from epoch 4"):
        project_online(gpu, ep, 10, window=3, stabilizing_epoch=4, start="latest")


def test_project_with_a_cpu_log_adds_ram_energy(tmp_path):
    """RAM energy (memory used x 3.75e-4 W/MB, trapezoid) is added to every epoch; GPU energy apart."""
    powers = [60.0, 70.0, 80.0] + [150.0 + k for k in range(9)]
    gpu, ep, t, p = write_logs(tmp_path / "run", powers)
    ram_mb = 8000.0 + 100.0 * t
    cpu = tmp_path / "run" / "cpu.csv"
    cpu.write_text(
        "timestamp,cpu usage (%),memory usage (MB)\n"
        + "".join(f"{T0 + pd.Timedelta(seconds=float(x))},5.0,{m:.1f}\n" for x, m in zip(t, ram_mb))
    )
    out = project_online(gpu, ep, 30, window=5, stabilizing_epoch=3, cpu_log=cpu)
    bounds = np.arange(13) * EPOCH_S
    E_gpu = epoch_energies(t, p, bounds)
    E_ram = epoch_energies(t, ram_mb * RAM_W_PER_MB, bounds)
    assert E_ram[0] == pytest.approx(10 * (8000 + 500) * 3.75e-4)  # 31.875 J: not negligible
    check_projection(out, E_gpu + E_ram, np.full(12, 10.0), 3, [3, 4, 5, 6, 7], 30)
    assert out["measured"]["gpu_energy_j"] == pytest.approx(E_gpu.sum(), rel=1e-12)
    assert out["measured"]["has_ram_log"] is True
    assert out["inputs"]["cpu_log"] == str(cpu)


def test_project_from_a_train_start_after_the_first_sample(tmp_path):
    """--train-start 4 s after the first sample: epoch 0 runs 6 s and holds samples 4..10 only."""
    powers = [60.0, 70.0, 80.0] + [150.0 + k for k in range(9)]
    gpu, ep, t, p = write_logs(tmp_path / "run", powers)
    out = project_online(gpu, ep, 30, window=5, stabilizing_epoch=3, train_start="2024-05-01 10:00:04")
    bounds = np.r_[4, np.arange(1, 13) * EPOCH_S]
    d_ep = np.r_[6.0, np.full(11, 10.0)]
    check_projection(out, epoch_energies(t, p, bounds), d_ep, 3, [3, 4, 5, 6, 7], 30)
    assert out["unstable_energy_j"] == pytest.approx(6 * 60 + 0.5 * (60 + 70) + 9 * 70 + 0.5 * (70 + 80) + 9 * 80)
    assert out["inputs"]["train_start"] == "2024-05-01 10:00:04"


def test_project_on_two_gpu_samples(tmp_path):
    """Two samples (100 W, then 120 W 10 s later) are enough: epoch 0 holds 1,100 J; 4 planned epochs."""
    gpu = gpu_csv(tmp_path / "gpu.csv", [0, 10], [100.0, 120.0])
    ep = epochs_csv(tmp_path / "epochs.csv", [10])
    out = project_online(gpu, ep, 4, window=1, stabilizing_epoch=0)
    assert out["window_epochs"] == [0] and out["unstable_epochs"] == []
    assert out["energy_j"] == pytest.approx(4 * 1100.0)
    assert out["by_method"]["online_power_based"]["energy_j"] == pytest.approx(110.0 * 40.0)
    assert out["remaining_energy_j"] == pytest.approx(3 * 1100.0)


def test_project_auto_stabilizing_epoch_from_fluss(tmp_path):
    """``stabilizing_epoch="auto"``: FLUSS finds the simulated step from 60 W to 150 W at epoch 6."""
    powers = [60.0] * 6 + [150.0] * 10
    gpu, ep, t, p = write_logs(tmp_path / "run", powers)
    out = project_online(gpu, ep, 20, stabilizing_epoch="auto")
    check_projection(out, epoch_energies(t, p, np.arange(17) * EPOCH_S), np.full(16, 10.0), 6, [6, 7, 8, 9, 10], 20)
    assert out["inputs"]["stabilizing_epoch"] == 6
    assert out["inputs"]["stabilizing_epoch_source"] == "FLUSS on the log so far"


# ----------------------------------------------------------------------------- refusals


@pytest.mark.parametrize("missing", ["--gpu-log", "--epochs", "--cpu-log"])
def test_project_refuses_a_missing_file(tmp_path, missing):
    gpu, ep, _, _ = write_logs(tmp_path / "run", [100.0] * 4)
    paths = {"--gpu-log": gpu, "--epochs": ep, "--cpu-log": None}
    gone = tmp_path / "nope.csv"
    paths[missing] = gone
    with refused(f"{missing} {gone}: no such file"):
        project_online(
            paths["--gpu-log"], paths["--epochs"], 4, window=1, stabilizing_epoch=0, cpu_log=paths["--cpu-log"]
        )


def test_project_refuses_one_gpu_sample(tmp_path):
    gpu = gpu_csv(tmp_path / "gpu.csv", [0], [100.0])
    ep = epochs_csv(tmp_path / "epochs.csv", [10])
    with refused(f"{gpu}: 1 GPU sample(s); need at least 2"):
        project_online(gpu, ep, 4, window=1, stabilizing_epoch=0)


def test_project_refuses_before_the_first_epoch_ends(tmp_path):
    gpu = gpu_csv(tmp_path / "gpu.csv", [0, 1, 2], [100.0] * 3)
    ep = epochs_csv(tmp_path / "epochs.csv", [])
    with refused(f"{ep}: no epoch has ended yet"):
        project_online(gpu, ep, 4, window=1, stabilizing_epoch=0)


def test_project_refuses_an_epoch_of_no_duration(tmp_path):
    """Epochs 0 and 1 end at the same time: epoch 1 lasts 0 s; the message names the epochs file."""
    gpu = gpu_csv(tmp_path / "gpu.csv", np.arange(21), [100.0] * 21)
    ep = epochs_csv(tmp_path / "epochs.csv", [10, 10, 20])
    with refused(
        f"{ep}: epoch 1 has a duration that is not positive in the logs (is the GPU log shorter than the "
        "epochs, or --train-start wrong?)"
    ):
        project_online(gpu, ep, 4, window=1, stabilizing_epoch=0)
