"""`dlenergy estimate` (offline) and `dlenergy project` (online): JSON output, readable summary, and
refusals (exit 2) of inputs outside what the model or method supports."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from dlenergy.cli import app
from dlenergy.estimators import OfflineEpochEnergyEstimator, OfflinePowerEstimator, write_skipped_model

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
H100_RUN = SHARED / "data" / "h100-fixture" / "runs" / "h100-resnet50-20261122T120733"
runner = CliRunner()


def flat(r) -> str:
    """The command's output with rich's line wrapping undone."""
    return " ".join(r.output.split())


ARGS = [
    "--gpu",
    "NVIDIA GeForce RTX 3090",
    "--ram-gb",
    "16",
    "--gflops",
    "2.5",
    "--train-size",
    "20000",
    "--val-size",
    "5000",
    "--batch-size",
    "64",
    "--image-size",
    "128",
    "--epochs",
    "25",
]


def training_runs(n: int = 40) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    gpus = np.array(["NVIDIA GeForce GTX 750 Ti", "NVIDIA GeForce RTX 3070", "NVIDIA GeForce RTX 3090"])
    g = rng.integers(0, 3, n)
    gflops = rng.uniform(0.2, 10.0, n)
    img = rng.choice([75, 128, 224], n)
    power = 0.3 * np.array([60, 220, 350])[g] + 8 * gflops + 0.05 * img + rng.normal(0, 2, n)
    n_ep = rng.integers(20, 30, n)
    dur = n_ep * (20 + 3 * gflops)
    return pd.DataFrame(
        {
            "run_id": [f"r{i}" for i in range(n)],
            "gpu_model": gpus[g],
            "total_ram_gb": rng.choice([16, 32], n),
            "gflops": gflops,
            "training_size": 20000,
            "validation_size": 5000,
            "batch_size": rng.choice([32, 64, 256], n),
            "image_size": img,
            "duration_s": dur,
            "epochs_measured": n_ep,
            "energy_j": power * dur,
        }
    )


KW = dict(models=("ridge", "kernel_ridge"), n_iter=3, random_state=1)


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    runs = training_runs()
    d = tmp_path_factory.mktemp("models")
    info = dict(source="unit", data_label="synthetic test models", data_kind="synthetic")
    OfflinePowerEstimator(**KW).fit(runs, runs["energy_j"]).save(d, **info)
    OfflineEpochEnergyEstimator(**KW).fit(runs, runs["energy_j"]).save(d, **info)
    return d


@pytest.fixture(scope="module")
def results_tree(tmp_path_factory, model_dir):
    """results/seaa2023/models (a REAL power model, the epoch-energy model skipped as the pipeline does
    for logs without epoch markers) and results/sample/models (both SYNTHETIC models)."""
    root = tmp_path_factory.mktemp("project")
    runs = training_runs(36)
    real = root / "results" / "seaa2023" / "models"
    OfflinePowerEstimator(**KW).fit(runs, runs["energy_j"]).save(
        real, source="seaa2023", data_label="SEAA 2023 measurements (test copy)", data_kind="real"
    )
    write_skipped_model(real, "offline_epoch_energy", "none of the runs has epoch markers", source="seaa2023")
    shutil.copytree(model_dir, root / "results" / "sample" / "models")
    return root


def test_estimate_json(model_dir):
    r = runner.invoke(app, ["estimate", *ARGS, "--model-dir", str(model_dir), "--json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["method"] == "offline_epoch_energy_based" and out["energy_j"] > 0
    assert out["inputs"]["gpu_model"] == "NVIDIA GeForce RTX 3090" and out["inputs"]["epochs"] == 25
    lo, hi = out["range_j"]
    assert lo < out["energy_j"] < hi
    assert out["average_power_w"] > 0 and out["features"]["tdp_w"] == 350
    assert out["fitted_on"] == {
        "kind": "synthetic",
        "source": "unit",
        "label": "synthetic test models",
        "n_runs": 40,
        "model": "offline_epoch_energy",
        "model_dir": str(model_dir),
    }
    assert out["headline"] == "Model fitted on SYNTHETIC data: unit (synthetic test models, 40 runs)"
    r = runner.invoke(app, ["estimate", *ARGS, "--duration-s", "900", "--model-dir", str(model_dir), "--json"])
    out = json.loads(r.stdout)
    assert out["method"] == "offline_power_based"
    assert out["energy_j"] == pytest.approx(out["average_power_w"] * 900)


def test_estimate_summary(model_dir):
    r = runner.invoke(app, ["estimate", *ARGS, "--model-dir", str(model_dir)])
    assert r.exit_code == 0, r.output
    assert "kJ" in r.stdout and "Average power" in r.stdout and "synthetic test models" in r.stdout
    assert r.stdout.splitlines()[0] == "Model fitted on SYNTHETIC data: unit (synthetic test models, 40 runs)"


def test_estimate_prefers_the_real_power_model(results_tree, monkeypatch):
    monkeypatch.chdir(results_tree)
    r = runner.invoke(app, ["estimate", *ARGS, "--duration-s", "900"])
    assert r.exit_code == 0, r.output
    first = r.stdout.splitlines()[0]
    assert first == "Model fitted on REAL measurements: seaa2023 (SEAA 2023 measurements (test copy), 36 runs)"
    assert "no offline epoch energy model" in flat(r) and "did not train this model" in flat(r)
    out = json.loads(runner.invoke(app, ["estimate", *ARGS, "--duration-s", "900", "--json"]).stdout)
    assert out["method"] == "offline_power_based" and out["energy_j"] == pytest.approx(out["average_power_w"] * 900)
    assert out["fitted_on"]["kind"] == "real" and out["fitted_on"]["source"] == "seaa2023"
    assert out["fitted_on"]["n_runs"] == 36 and out["model_dir"] == "results/seaa2023/models"
    assert out["headline"] == first


def test_estimate_without_duration_falls_back_to_the_synthetic_epoch_model_and_says_so(results_tree, monkeypatch):
    monkeypatch.chdir(results_tree)
    r = runner.invoke(app, ["estimate", *ARGS])
    assert r.exit_code == 0, r.output
    assert r.stdout.splitlines()[0] == "Model fitted on SYNTHETIC data: unit (synthetic test models, 40 runs)"
    assert (
        "results/seaa2023/models has only a power model, which needs --duration-s: falling back to the "
        "epoch-energy model of results/sample/models"
    ) in flat(r)
    out = json.loads(runner.invoke(app, ["estimate", *ARGS, "--json"]).stdout)
    assert out["method"] == "offline_epoch_energy_based" and out["fitted_on"]["kind"] == "synthetic"
    assert any("falling back" in n for n in out["notes"])


def test_estimate_real_power_model_alone_needs_a_duration(results_tree, tmp_path, monkeypatch):
    shutil.copytree(results_tree / "results" / "seaa2023", tmp_path / "results" / "seaa2023")
    monkeypatch.chdir(tmp_path)
    r = runner.invoke(app, ["estimate", *ARGS])
    assert r.exit_code == 2 and "Traceback" not in r.output
    assert r.stderr.strip().splitlines() == [
        "error: results/seaa2023/models has only a power model (energy = predicted mean power x duration) and no "
        "epoch-energy model: pass --duration-s (the expected training duration in seconds)"
    ]


def test_estimate_refuses_unknown_and_out_of_domain_gpu(model_dir):
    args = [a if a != "NVIDIA GeForce RTX 3090" else "Voodoo 5 5500" for a in ARGS]
    r = runner.invoke(app, ["estimate", *args, "--model-dir", str(model_dir)])
    assert r.exit_code == 2 and "unknown GPU 'Voodoo 5 5500'" in flat(r)
    args = [a if a != "NVIDIA GeForce RTX 3090" else "NVIDIA H100 80GB HBM3" for a in ARGS]
    r = runner.invoke(app, ["estimate", *args, "--model-dir", str(model_dir)])
    assert r.exit_code == 2 and "not among the GPUs the model was trained on" in flat(r)
    assert len(r.stderr.strip().splitlines()) == 1 and r.stderr.startswith("error: inputs outside"), r.stderr
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
    r = runner.invoke(
        app,
        [
            "project",
            "--gpu-log",
            str(H100_RUN / "gpu.csv"),
            "--epochs",
            str(H100_RUN / "epochs.csv"),
            "--cpu-log",
            str(H100_RUN / "cpu.csv"),
            "--train-start",
            "2026-11-22 12:07:39.538487",
            "--planned-epochs",
            "22",
            "--json",
        ],
    )
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["window_epochs"] == [10, 11, 12, 13, 14]
    assert abs(out["energy_j"] / out["measured"]["energy_j"] - 1) < 0.05


def test_python_m_dlenergy_has_the_commands():
    r = subprocess.run([sys.executable, "-m", "dlenergy", "--help"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and "estimate" in r.stdout and "project" in r.stdout


# ----------------------------------------------------------------------------- refusals: one line, exit 2


def refused_in_one_line(r, *phrases: str) -> None:
    assert r.exit_code == 2, (r.exit_code, r.output)
    assert "Traceback" not in r.output and r.stdout == ""
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), r.stderr
    for p in phrases:
        assert p in lines[0], (p, lines[0])


def with_arg(args: list[str], option: str, value: str) -> list[str]:
    out = list(args)
    if option in out:
        out[out.index(option) + 1] = value
    else:
        out += [option, value]
    return out


@pytest.mark.parametrize(
    "option, value, phrase",
    [
        ("--gflops", "nan", "--gflops must be a finite number, not nan"),
        ("--ram-gb", "inf", "--ram-gb must be a finite number, not inf"),
        ("--ram-gb", "-16", "--ram-gb -16 is out of range: it must be > 0"),
        ("--ram-gb", "0", "--ram-gb 0 is out of range"),
        ("--gflops", "0", "--gflops 0 is out of range"),
        ("--gflops", "1e30", "--gflops 1e+30 is out of range"),
        ("--train-size", "0", "--train-size 0 is out of range: it must be >= 1"),
        ("--val-size", "-1", "--val-size -1 is out of range: it must be >= 0"),
        ("--batch-size", "-64", "--batch-size -64 is out of range"),
        ("--image-size", "0", "--image-size 0 is out of range"),
        ("--epochs", "0", "--epochs 0 is out of range"),
        ("--duration-s", "inf", "--duration-s must be a finite number, not inf"),
        ("--duration-s", "0", "--duration-s 0 is out of range: it must be > 0"),
        ("--duration-s", "-900", "--duration-s -900 is out of range"),
    ],
)
def test_estimate_refuses_absurd_numbers(model_dir, option, value, phrase):
    r = runner.invoke(app, ["estimate", *with_arg(ARGS, option, value), "--model-dir", str(model_dir), "--extrapolate"])
    refused_in_one_line(r, phrase)


def test_estimate_never_answers_a_negative_energy(tmp_path):
    """A linear power model falling with GFLOPs (300 - 20 x GFLOPs W), extrapolated to 100 GFLOPs,
    predicts -1,700 W: refused, with --extrapolate too."""
    runs = training_runs()
    runs["energy_j"] = (300.0 - 20.0 * runs["gflops"]) * runs["duration_s"]
    OfflinePowerEstimator(models=("linear",), n_iter=1).fit(runs, runs["energy_j"]).save(tmp_path, source="unit")
    base = ["estimate", *ARGS, "--duration-s", "900", "--model-dir", str(tmp_path), "--extrapolate", "--json"]
    out = json.loads(runner.invoke(app, base).stdout)
    assert out["average_power_w"] == pytest.approx(300.0 - 20.0 * 2.5, rel=1e-6)
    r = runner.invoke(app, with_arg(base, "--gflops", "100"))
    refused_in_one_line(r, "the predicted average power (W) would be -1700", "impossible value")


@pytest.mark.parametrize(
    "extra, phrases",
    [
        (["--train-start", "not a date"], ["--train-start 'not a date' is not a date and time"]),
        (
            ["--train-start", "2024-05-01 10:00:30"],
            ["is not before the end of epoch 0", "cannot start after its epochs"],
        ),
        (["--train-start", "2024-05-01 12:00:00"], ["cannot start after its epochs"]),
        (
            ["--train-start", "2024-04-30 10:00:00"],
            ["s before the first sample", "does not cover the training's start"],
        ),
        (["--planned-epochs", "0"], ["--planned-epochs 0 is out of range"]),
        (["--window", "0"], ["--window 0 is out of range"]),
        (["--stabilizing-epoch", "-2"], ["--stabilizing-epoch -2 is out of range"]),
        (["--stabilizing-epoch", "ten"], ["--stabilizing-epoch must be an epoch number or 'auto'"]),
        (["--start", "middle"], ["--start must be 'stabilizing' or 'latest'"]),
    ],
)
def test_project_refuses_bad_inputs(tmp_path, extra, phrases):
    gpu, ep = write_logs(tmp_path / "run", 12)
    args = ["project", "--gpu-log", str(gpu), "--epochs", str(ep), "--stabilizing-epoch", "3", "--planned-epochs", "30"]
    for i in range(0, len(extra), 2):
        args = with_arg(args, extra[i], extra[i + 1])
    refused_in_one_line(runner.invoke(app, args), *phrases)


def test_project_refuses_negative_power_and_missing_files(tmp_path):
    gpu, ep = write_logs(tmp_path / "run", 12, power=-150.0)
    base = ["project", "--gpu-log", str(gpu), "--epochs", str(ep), "--stabilizing-epoch", "3", "--planned-epochs", "30"]
    # the parser ingest uses refuses the log: the same reason, one line, exit 2
    refused_in_one_line(runner.invoke(app, base), "gpu.csv:2: negative power draw", "power is never negative")
    gone = with_arg(base, "--gpu-log", str(tmp_path / "nope.csv"))
    refused_in_one_line(runner.invoke(app, gone), "--gpu-log", "no such file")


def test_project_power_based_duration_keeps_the_unstable_epochs(tmp_path):
    """Eq. 1 projected: 3 unstable epochs (60 s) + 27 stable epochs at the window's 20 s: 600 s at 150 W."""
    gpu, ep = write_logs(tmp_path / "run", 12)
    r = runner.invoke(
        app,
        [
            "project",
            "--gpu-log",
            str(gpu),
            "--epochs",
            str(ep),
            "--stabilizing-epoch",
            "3",
            "--planned-epochs",
            "30",
            "--json",
        ],
    )
    pb = json.loads(r.stdout)["by_method"]["online_power_based"]
    assert pb["projected_duration_s"] == pytest.approx(600.0, rel=1e-9)  # without the unstable part: 540 s
    assert pb["energy_j"] == pytest.approx(150.0 * 600.0, rel=1e-9)


def test_refusals_in_a_real_process_have_no_traceback(tmp_path):
    """The same through `python -m dlenergy` (no CliRunner): one stderr line, exit 2."""
    gpu, ep = write_logs(tmp_path / "run", 12)
    for args in (
        ["estimate", *with_arg(ARGS, "--gflops", "nan")],
        [
            "project",
            "--gpu-log",
            str(gpu),
            "--epochs",
            str(ep),
            "--planned-epochs",
            "30",
            "--train-start",
            "not a date",
        ],
    ):
        r = subprocess.run([sys.executable, "-m", "dlenergy", *args], capture_output=True, text=True, timeout=120)
        assert r.returncode == 2 and "Traceback" not in r.stderr and r.stdout == ""
        assert len(r.stderr.strip().splitlines()) == 1 and r.stderr.startswith("error: "), r.stderr
