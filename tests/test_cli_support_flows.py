"""What ``dlenergy estimate`` and ``dlenergy project`` compute, called directly in
:mod:`dlenergy.estimators.cli_support`: every figure of :func:`estimate_offline` (the ``--json``
output) from models whose targets are exact linear functions of the inputs (so each figure is
worked out by hand), and what :func:`check_logs` accepts and refuses, at its boundaries."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dlenergy.estimators import OfflineEpochEnergyEstimator, OfflinePowerEstimator
from dlenergy.estimators.cli_support import RefusedInput, _add_methods, check_logs, estimate_offline

GPU = "NVIDIA GeForce RTX 3090"  # 10,496 CUDA cores, 24 GB, TDP 350 W (data/gpu_specs.csv)
WHY = "the model extrapolates to an impossible value for these inputs"
#: quantiles of the out-of-fold ratio true / predicted, set by hand so that each bound is its own number
Q_POWER = {"q05": 0.8, "q50": 1.0, "q95": 1.5}
Q_EPOCH = {"q05": 0.5, "q50": 1.0, "q95": 2.0}


def power_w(gflops):
    return 50.0 * gflops


def epoch_energy_j(gflops):
    return 3000.0 - 400.0 * gflops


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    """A power model (50 W per GFLOP) and an epoch-energy model (3,000 J - 400 J per GFLOP), each a
    linear regression of an exactly linear target: GFLOPs 0.5 .. 5, batch 32 or 64, RTX 3090 only."""
    n = 20
    gflops = np.linspace(0.5, 5.0, n)
    runs = pd.DataFrame(
        {
            "gpu_model": GPU,
            "total_ram_gb": 16,
            "gflops": gflops,
            "training_size": 20000,
            "validation_size": 5000,
            "batch_size": np.where(np.arange(n) % 2 == 0, 32, 64),
            "image_size": 128,
            "duration_s": 600.0 + 10.0 * np.arange(n),
            "epochs_measured": 20 + np.arange(n) % 7,
        }
    )
    d = tmp_path_factory.mktemp("models")
    info = dict(source="unit", data_label="synthetic flows models", data_kind="synthetic")
    kw = dict(models=("linear",), n_iter=1, random_state=0)
    p = OfflinePowerEstimator(**kw).fit(runs, power_w(gflops) * runs["duration_s"])
    p.ratio_quantiles_ = Q_POWER
    p.save(d, **info)
    e = OfflineEpochEnergyEstimator(**kw).fit(runs, epoch_energy_j(gflops) * runs["epochs_measured"])
    e.ratio_quantiles_ = Q_EPOCH
    e.save(d, **info)
    return d


def inputs(**kw) -> dict:
    return {
        "gpu_model": GPU,
        "total_ram_gb": 16,
        "gflops": 2.5,
        "training_size": 20000,
        "validation_size": 5000,
        "batch_size": 32,
        "image_size": 128,
        **kw,
    }


FEATURES = {
    "cuda_cores": 10496.0,
    "memory_gb": 24.0,
    "tdp_w": 350.0,
    "total_ram_gb": 16.0,
    "gflops": 2.5,
    "training_size": 20000.0,
    "validation_size": 5000.0,
    "batch_size": 32.0,
    "image_size": 128.0,
}


def test_estimate_offline_with_a_duration(model_dir):
    """125 W x 900 s = 112,500 J (range x 0.8 .. x 1.5); 2,000 J x 25 epochs = 50,000 J (x 0.5 .. x 2);
    the epochs at 125 W would last 50,000 / 125 = 400 s."""
    out = estimate_offline(inputs(), epochs=25, duration_s=900.0, model_dir=model_dir)
    assert list(out) == [
        "method",
        "energy_j",
        "inputs",
        "gpu_spec",
        "features",
        "model_dir",
        "by_method",
        "models",
        "extrapolated",
        "notes",
        "warnings",
        "average_power_w",
        "epoch_energy_j",
        "implied_duration_s",
        "range_j",
        "fitted_on",
        "headline",
    ]
    assert out["method"] == "offline_power_based"
    assert out["inputs"] == {**inputs(), "epochs": 25, "duration_s": 900.0}
    assert out["features"] == pytest.approx(FEATURES, rel=1e-12)
    assert out["model_dir"] == str(model_dir)
    assert out["extrapolated"] is False and out["notes"] == [] and out["warnings"] == []
    assert out["average_power_w"] == pytest.approx(125.0, rel=1e-9)
    assert out["epoch_energy_j"] == pytest.approx(2000.0, rel=1e-9)
    assert out["implied_duration_s"] == pytest.approx(400.0, rel=1e-9)
    assert list(out["by_method"]) == ["offline_power_based", "offline_epoch_energy_based"]
    pb, eb = out["by_method"]["offline_power_based"], out["by_method"]["offline_epoch_energy_based"]
    assert list(pb) == ["energy_j", "range_j"] and list(eb) == ["energy_j", "range_j"]
    assert pb["energy_j"] == pytest.approx(112500.0, rel=1e-9)
    assert pb["range_j"] == pytest.approx([90000.0, 168750.0], rel=1e-9)
    assert eb["energy_j"] == pytest.approx(50000.0, rel=1e-9)
    assert eb["range_j"] == pytest.approx([25000.0, 100000.0], rel=1e-9)
    assert out["energy_j"] == pb["energy_j"] and out["range_j"] == pb["range_j"]
    assert out["fitted_on"] == {
        "kind": "synthetic",
        "source": "unit",
        "label": "synthetic flows models",
        "n_runs": 20,
        "model": "offline_power",
        "model_dir": str(model_dir),
    }
    assert out["headline"] == "Model fitted on SYNTHETIC data: unit (synthetic flows models, 20 runs)"
    assert list(out["models"]) == ["offline_power", "offline_epoch_energy"]
    for kind, target, unit, q in (
        ("offline_power", "average power", "W", Q_POWER),
        ("offline_epoch_energy", "average epoch energy", "J", Q_EPOCH),
    ):
        m = out["models"][kind]
        assert list(m) == [
            "model",
            "n_train",
            "cv",
            "source",
            "target",
            "target_unit",
            "data_label",
            "fitted_on",
            "ratio_quantiles",
        ]
        assert m["model"] == "Linear" and m["n_train"] == 20 and m["source"] == "unit"
        assert (m["target"], m["target_unit"]) == (target, unit)
        assert m["data_label"] == "synthetic flows models" and m["ratio_quantiles"] == q
        assert m["fitted_on"] == {**out["fitted_on"], "model": kind}
        assert m["cv"]["folds"] == 5 and m["cv"]["rmse"] < 1e-6


def test_estimate_offline_without_a_duration(model_dir):
    """No duration: the epoch-energy estimate answers, 2,000 J x 30 epochs = 60,000 J."""
    out = estimate_offline(inputs(), epochs=30, model_dir=model_dir)
    assert out["method"] == "offline_epoch_energy_based"
    assert list(out["by_method"]) == ["offline_epoch_energy_based"]
    assert out["inputs"] == {**inputs(), "epochs": 30, "duration_s": None}
    assert out["energy_j"] == pytest.approx(60000.0, rel=1e-9)
    assert out["range_j"] == pytest.approx([30000.0, 120000.0], rel=1e-9)
    assert out["average_power_w"] == pytest.approx(125.0, rel=1e-9)
    assert out["implied_duration_s"] == pytest.approx(480.0, rel=1e-9)
    assert out["fitted_on"]["model"] == "offline_epoch_energy"


def test_estimate_offline_epoch_model_alone_implies_no_duration(model_dir, tmp_path):
    """Without a power model there is no average power, hence no implied duration."""
    for f in ("offline_epoch_energy.joblib", "offline_epoch_energy.json"):
        (tmp_path / f).write_bytes((model_dir / f).read_bytes())
    out = estimate_offline(inputs(), epochs=25, model_dir=tmp_path)
    assert list(out["models"]) == ["offline_epoch_energy"]
    assert "average_power_w" not in out and "implied_duration_s" not in out
    assert out["epoch_energy_j"] == pytest.approx(2000.0, rel=1e-9)
    assert out["energy_j"] == pytest.approx(50000.0, rel=1e-9)


def test_estimate_offline_refuses_outside_the_domain_by_default(model_dir):
    """Without ``extrapolate`` (the default) inputs outside the training ranges are refused, every
    problem in one line; with it they are estimated and reported as warnings."""
    x = inputs(gflops=10.0, batch_size=512)
    problems = [
        "batch_size = 512 images is outside the training range [32, 64]",
        "gflops = 10 GFLOPs per forward pass is outside the training range [0.5, 5]",
    ]
    with pytest.raises(RefusedInput) as exc:
        estimate_offline(x, epochs=25, duration_s=900.0, model_dir=model_dir)
    assert str(exc.value) == (
        "inputs outside what the offline model was trained on (pass --extrapolate to estimate anyway, "
        "or --model-dir for another model): " + problems[0] + "; " + problems[1]
    )
    out = estimate_offline(
        inputs(gflops=4.0, batch_size=512), epochs=25, duration_s=900.0, extrapolate=True, model_dir=model_dir
    )
    assert out["extrapolated"] is True and out["warnings"] == [problems[0]]
    assert out["energy_j"] == pytest.approx(200.0 * 900.0, rel=1e-9)


def test_estimate_offline_refuses_a_negative_epoch_energy(model_dir):
    """At 10 GFLOPs the epoch-energy model extrapolates to 3,000 - 4,000 = -1,000 J per epoch."""
    with pytest.raises(RefusedInput) as exc:
        estimate_offline(inputs(gflops=10.0), epochs=25, duration_s=900.0, model_dir=model_dir, extrapolate=True)
    assert str(exc.value) == f"the predicted energy per epoch (J) would be -1000: {WHY}"


def test_estimate_offline_refuses_an_energy_that_rounds_to_zero(model_dir):
    """0.005 GFLOPs: 0.25 W; over the shortest positive duration (5e-324 s) the energy rounds to 0 J."""
    with pytest.raises(RefusedInput) as exc:
        estimate_offline(inputs(gflops=0.005), epochs=25, duration_s=5e-324, model_dir=model_dir, extrapolate=True)
    assert str(exc.value) == f"the offline power based energy (J) would be 0: {WHY}"


def test_add_methods_refuses_when_no_method_applies():
    out = {"features": FEATURES, "by_method": {}, "model_dir": "results/x/models"}
    with pytest.raises(RefusedInput) as exc:
        _add_methods(out, {}, 25, None)
    assert str(exc.value) == (
        "the power-based model needs --duration-s (the expected training duration) and there is "
        "no epoch-energy model in results/x/models"
    )


# ----------------------------------------------------------------------------- check_logs

T0 = pd.Timestamp("2024-05-01 10:00:00")
T0_S = 1714557600.0  # 2024-05-01 10:00:00 in seconds since 1970-01-01 (19,844 days x 86,400 s + 36,000 s)
NAMES = {"gpu": "run/gpu.csv", "cpu": "run/cpu.csv"}


def logs(power=(150.0, 150.0, 150.0), ram=None):
    gpu = pd.DataFrame({"t": T0_S + 2.0 * np.arange(len(power)), "power_w": np.asarray(power, dtype=float)})
    cpu = None if ram is None else pd.DataFrame({"t": T0_S + np.arange(len(ram)), "ram_used_mb": ram})
    ep = pd.DataFrame({"epoch": [1, 2], "end_time": [T0 + pd.Timedelta(seconds=20), T0 + pd.Timedelta(seconds=40)]})
    return gpu, cpu, ep


def test_check_logs_accepts_zero_and_small_readings():
    gpu, cpu, ep = logs(power=(0.0, 0.5, 150.0), ram=[0.0, 0.5, 2048.0])
    assert check_logs(gpu, cpu, ep, None, NAMES) is None


def test_check_logs_refuses_negative_power_and_memory():
    gpu, cpu, ep = logs(power=(150.0, -5.0, -7.5))
    with pytest.raises(RefusedInput) as exc:
        check_logs(gpu, cpu, ep, None, NAMES)
    assert str(exc.value) == (
        "run/gpu.csv: 2 negative power value(s) (first: -5 W): a measured energy cannot be negative"
    )
    gpu, cpu, ep = logs(ram=[2048.0, -1.0])
    with pytest.raises(RefusedInput) as exc:
        check_logs(gpu, cpu, ep, None, NAMES)
    assert str(exc.value) == "run/cpu.csv: negative memory usage: a measured RAM energy cannot be negative"


def test_check_logs_training_start_before_the_first_epoch_end():
    gpu, cpu, ep = logs()
    assert check_logs(gpu, cpu, ep, pd.Timestamp("2024-05-01 10:00:19.999999"), NAMES) is None
    with pytest.raises(RefusedInput) as exc:
        check_logs(gpu, cpu, ep, pd.Timestamp("2024-05-01 10:00:20"), NAMES)
    assert str(exc.value) == (
        "--train-start 2024-05-01 10:00:20 is not before the end of epoch 1 (2024-05-01 10:00:20): "
        "the training cannot start after its epochs"
    )


def test_check_logs_training_start_at_most_60_s_before_the_gpu_log():
    """Samples at 10:00:00 and 10:00:02: a start 59 s or 60 s before the first is accepted, 61 s is not."""
    gpu, cpu, ep = logs()
    for start in ("2024-05-01 09:59:01", "2024-05-01 09:59:00"):
        assert check_logs(gpu, cpu, ep, pd.Timestamp(start), NAMES) is None
    with pytest.raises(RefusedInput) as exc:
        check_logs(gpu, cpu, ep, pd.Timestamp("2024-05-01 09:58:59"), NAMES)
    assert str(exc.value) == (
        "--train-start 2024-05-01 09:58:59 is 61 s before the first sample of run/gpu.csv: "
        "the log does not cover the training's start"
    )
