"""`dlenergy estimate` (offline) and `dlenergy project` (online): JSON output, readable summary, and
refusals (exit 2) of inputs outside what the model or method supports."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from dlenergy.cli import app
from dlenergy.estimators import OfflineEpochEnergyEstimator, OfflinePowerEstimator

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
H100_RUN = SHARED / "data" / "h100-fixture" / "runs" / "h100-resnet50-20261122T120733"
runner = CliRunner()


def flat(r) -> str:
    """The command's output with rich's line wrapping undone."""
    return " ".join(r.output.split())

ARGS = ["--gpu", "NVIDIA GeForce RTX 3090", "--ram-gb", "16", "--gflops", "2.5", "--train-size", "20000",
        "--val-size", "5000", "--batch-size", "64", "--image-size", "128", "--epochs", "25"]


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    rng = np.random.default_rng(0)
    n = 40
    gpus = np.array(["NVIDIA GeForce GTX 750 Ti", "NVIDIA GeForce RTX 3070", "NVIDIA GeForce RTX 3090"])
    g = rng.integers(0, 3, n)
    gflops = rng.uniform(0.2, 10.0, n)
    img = rng.choice([75, 128, 224], n)
    power = 0.3 * np.array([60, 220, 350])[g] + 8 * gflops + 0.05 * img + rng.normal(0, 2, n)
    n_ep = rng.integers(20, 30, n)
    dur = n_ep * (20 + 3 * gflops)
    runs = pd.DataFrame({"run_id": [f"r{i}" for i in range(n)], "gpu_model": gpus[g], "total_ram_gb": rng.choice([16, 32], n),
                         "gflops": gflops, "training_size": 20000, "validation_size": 5000,
                         "batch_size": rng.choice([32, 64, 256], n), "image_size": img, "duration_s": dur,
                         "epochs_measured": n_ep, "energy_j": power * dur})
    d = tmp_path_factory.mktemp("models")
    kw = dict(models=("ridge", "kernel_ridge"), n_iter=3, random_state=1)
    OfflinePowerEstimator(**kw).fit(runs, runs["energy_j"]).save(d, source="unit", data_label="synthetic test models")
    OfflineEpochEnergyEstimator(**kw).fit(runs, runs["energy_j"]).save(d, source="unit", data_label="synthetic test models")
    return d


def test_estimate_json(model_dir):
    r = runner.invoke(app, ["estimate", *ARGS, "--model-dir", str(model_dir), "--json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["method"] == "offline_epoch_energy_based" and out["energy_j"] > 0
    assert out["inputs"]["gpu_model"] == "NVIDIA GeForce RTX 3090" and out["inputs"]["epochs"] == 25
    lo, hi = out["range_j"]
    assert lo < out["energy_j"] < hi
    assert out["average_power_w"] > 0 and out["features"]["tdp_w"] == 350
    r = runner.invoke(app, ["estimate", *ARGS, "--duration-s", "900", "--model-dir", str(model_dir), "--json"])
    out = json.loads(r.stdout)
    assert out["method"] == "offline_power_based"
    assert out["energy_j"] == pytest.approx(out["average_power_w"] * 900)


def test_estimate_summary(model_dir):
    r = runner.invoke(app, ["estimate", *ARGS, "--model-dir", str(model_dir)])
    assert r.exit_code == 0, r.output
    assert "kJ" in r.stdout and "Average power" in r.stdout and "synthetic test models" in r.stdout


def test_estimate_refuses_unknown_and_out_of_domain_gpu(model_dir):
    args = [a if a != "NVIDIA GeForce RTX 3090" else "Voodoo 5 5500" for a in ARGS]
    r = runner.invoke(app, ["estimate", *args, "--model-dir", str(model_dir)])
    assert r.exit_code == 2 and "unknown GPU 'Voodoo 5 5500'" in flat(r)
    args = [a if a != "NVIDIA GeForce RTX 3090" else "NVIDIA H100 80GB HBM3" for a in ARGS]
    r = runner.invoke(app, ["estimate", *args, "--model-dir", str(model_dir)])
    assert r.exit_code == 2 and "not among the GPUs the model was trained on" in flat(r)
    r = runner.invoke(app, ["estimate", *args, "--model-dir", str(model_dir), "--extrapolate", "--json"])
    assert r.exit_code == 0 and json.loads(r.stdout)["extrapolated"] is True


def test_estimate_without_model_says_run_the_pipeline(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    r = runner.invoke(app, ["estimate", *ARGS])
    assert r.exit_code == 1 and "snakemake" in flat(r)


def write_logs(folder: Path, n_epochs: int, epoch_s: float = 20.0, power: float = 150.0):
    """A tiny layout-v1 gpu.csv / epochs.csv: 1 Hz samples, constant power per epoch."""
    folder.mkdir(parents=True, exist_ok=True)
    t0 = pd.Timestamp("2024-05-01 10:00:00")
    n = int(n_epochs * epoch_s) + 1
    ts = [t0 + pd.Timedelta(seconds=i) for i in range(n)]
    p = [power * (0.6 if i < 3 * epoch_s else 1.0) for i in range(n)]
    lines = ["timestamp, name, utilization.gpu [%], power.draw [W]"]
    lines += [f"{t:%Y/%m/%d %H:%M:%S}.000, NVIDIA GeForce RTX 3090, 90 %, {x:.2f} W" for t, x in zip(ts, p)]
    (folder / "gpu.csv").write_text("\n".join(lines) + "\n")
    ends = [t0 + pd.Timedelta(seconds=epoch_s * (k + 1)) for k in range(n_epochs)]
    (folder / "epochs.csv").write_text("epoch,end_time\n" + "".join(f"{k},{e}\n" for k, e in enumerate(ends)))
    return folder / "gpu.csv", folder / "epochs.csv"


def test_project_synthetic_json_and_refusals(tmp_path):
    gpu, ep = write_logs(tmp_path / "run", 12)
    base = ["project", "--gpu-log", str(gpu), "--epochs", str(ep), "--stabilizing-epoch", "3", "--window", "5"]
    r = runner.invoke(app, [*base, "--planned-epochs", "30", "--json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["window_epochs"] == [3, 4, 5, 6, 7] and out["unstable_epochs"] == [0, 1, 2]
    # 3 epochs at 90 W x 20 s + 27 stable epochs at 150 W x 20 s
    assert out["energy_j"] == pytest.approx(3 * 90 * 20 + 27 * 150 * 20, rel=1e-3)
    assert out["inputs"]["planned_epochs"] == 30 and out["inputs"]["window"] == 5
    r = runner.invoke(app, [*base, "--planned-epochs", "30"])
    assert r.exit_code == 0 and "Projected energy" in r.stdout
    r = runner.invoke(app, [*base, "--planned-epochs", "30", "--window", "12"])
    assert r.exit_code == 2 and "measured stable epochs" in flat(r)
    r = runner.invoke(app, [*base, "--planned-epochs", "12", "--window", "10"])
    assert r.exit_code == 2 and "longer than the stable part" in flat(r)
    r = runner.invoke(app, [*base, "--planned-epochs", "5"])
    assert r.exit_code == 2 and "fewer than the 12 epochs" in flat(r)


def test_project_h100_fixture():
    if not H100_RUN.is_dir():
        pytest.skip(f"{H100_RUN} is absent: the real H100 fixture lives in ../shared (not shipped with the repo)")
    r = runner.invoke(app, ["project", "--gpu-log", str(H100_RUN / "gpu.csv"), "--epochs", str(H100_RUN / "epochs.csv"),
                            "--cpu-log", str(H100_RUN / "cpu.csv"), "--train-start", "2026-11-22 12:07:39.538487",
                            "--planned-epochs", "22", "--json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["window_epochs"] == [10, 11, 12, 13, 14]
    assert abs(out["energy_j"] / out["measured"]["energy_j"] - 1) < 0.05


def test_python_m_dlenergy_has_the_commands():
    r = subprocess.run([sys.executable, "-m", "dlenergy", "--help"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and "estimate" in r.stdout and "project" in r.stdout
