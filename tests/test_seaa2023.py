"""SEAA 2023 adapter: the real measurements reproduce the paper's §4.1-4.2 numbers within 5 %.

Reads the copy that ships with the project (data/seaa2023/, unpacked and checked against its manifest by
the `seaa_dir` fixture); the paper's numbers come from the package's paper_targets.csv.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from dlenergy.cleaning import CleaningConfig, clean
from dlenergy.ingest import SOURCE_LEDGER, ingest_dataset
from dlenergy.io import dataset_label
from dlenergy.layout import LayoutError, read_runs_table
from dlenergy.scorecard import read_targets
from dlenergy.sources import capabilities
from dlenergy.sources.seaa2023 import LABEL, convert_seaa2023

REL = 0.05


@pytest.fixture(scope="module")
def seaa(tmp_path_factory, seaa_dir):
    out = tmp_path_factory.mktemp("seaa") / "canonical"
    ledger = convert_seaa2023(seaa_dir, out)
    runs, epochs, ing = ingest_dataset(out)
    res = clean(runs, epochs, ing, CleaningConfig(seed=42))
    return {"dir": out, "raw": seaa_dir, "ledger": ledger, "runs": runs, "ingest_ledger": ing, "clean": res}


@pytest.fixture(scope="module")
def targets():
    """The paper's numbers (package data dlenergy/data/paper_targets.csv) as {key: value}."""
    t = read_targets()
    return dict(zip(t["key"], pd.to_numeric(t["value"], errors="coerce")))


def _median(df, env, arch, col):
    sel = df[(df.environment == env) & (df.architecture == arch)][col]
    assert len(sel) >= 10, f"too few clean runs for {env}/{arch}: {len(sel)}"
    return float(sel.median())


def _close(got, want, what):
    assert got == pytest.approx(want, rel=REL), f"{what}: reproduced {got:.4g}, paper {want:.4g} (> {REL:.0%} apart)"


def test_conversion_layout(seaa):
    out = seaa["dir"]
    table = read_runs_table(out / "runs.csv", strict=True)  # raises on any structural problem
    runs = table.frame
    assert len(runs) == 309
    assert set(runs.environment) == {"cloud", "local_ml_engineer"}
    assert set(runs.gpu_model) == {"NVIDIA GeForce RTX 3090", "NVIDIA GeForce RTX 3070"}
    assert runs.loc[runs.environment == "cloud", "total_ram_gb"].eq(16).all()
    assert runs.loc[runs.environment == "local_ml_engineer", "total_ram_gb"].eq(32).all()
    assert runs.image_size.eq(128).all() and runs.return_code.eq(0).all()
    assert runs.run_id.str.match(r"^(cloud|local_ml_engineer)-[a-z0-9_]+-\d{8}T\d{6}$").all()
    assert runs.images_seen.notna().all() and runs.f1.notna().all()
    for rid in runs.run_id.head(5):
        assert (out / "runs" / rid / "gpu.csv").is_file() and (out / "runs" / rid / "cpu.csv").is_file()
        assert not (out / "runs" / rid / "epochs.csv").exists()
    info = json.loads((out / "dataset_info.json").read_text())
    assert info["synthetic"] is False and info["label"] == LABEL
    assert dataset_label(out) == LABEL


def test_unconverted_rows_in_ledger(seaa):
    led = pd.read_csv(seaa["dir"] / SOURCE_LEDGER)
    assert list(led.columns) == ["run_id", "stage", "reason"]
    assert len(led) == 60 and set(led.stage) == {"ingest"}
    assert led.run_id.str.startswith("local_normal_user-").all()
    assert led.reason.str.contains("has no logs").all()
    # ingest merges them into its ledger; cleaning counts them at stage "ingest"
    assert len(seaa["ingest_ledger"]) == 60
    summ = seaa["clean"].summary.set_index("stage")
    assert summ.loc["ingest", "excluded"] == 60 and summ.loc["ingest", "runs_out"] == 309
    assert summ.loc["short", "excluded"] == 0 and summ.loc["sampling", "excluded"] == 0  # no epoch markers
    assert summ.loc["outlier", "excluded"] > 0


def test_cloud_energy_per_image(seaa, targets):
    c = seaa["clean"].runs
    want = {a: targets[f"rq1_cloud_chesslive.energy_j_per_image.{a}"] for a in ("vgg16", "xception", "nasnet_mobile")}
    want["mobilenet_v2"] = targets["rq2_mobilenet_v2.cloud_energy_j_per_image"]
    for arch, w in want.items():
        _close(_median(c, "cloud", arch, "energy_per_image_j"), w, f"Cloud {arch} median J/image")


def test_cloud_gpu_usage(seaa, targets):
    c = seaa["clean"].runs
    want = {a: targets[f"rq1_cloud_chesslive.gpu_usage_pct.{a}"] for a in ("vgg16", "resnet50", "xception")}
    want["mobilenet_v2"] = targets["rq2_mobilenet_v2.gpu_usage_pct.cloud"]
    for arch, w in want.items():
        _close(_median(c, "cloud", arch, "gpu_usage_pct"), w, f"Cloud {arch} median GPU usage %")
    # MobileNet V2 and NASNet Mobile drop below 50 % (§4.1)
    assert _median(c, "cloud", "nasnet_mobile", "gpu_usage_pct") < 50


def test_mobilenet_local_ml_vs_cloud(seaa, targets):
    c = seaa["clean"].runs
    rq2 = "rq2_mobilenet_v2."
    cloud = _median(c, "cloud", "mobilenet_v2", "energy_per_image_j")
    local = _median(c, "local_ml_engineer", "mobilenet_v2", "energy_per_image_j")
    _close(
        1 - local / cloud,
        targets[rq2 + "energy_reduction_vs_cloud.local_ml_engineer"],
        "MobileNet V2 J/image reduction Local ML vs Cloud",
    )
    _close(
        _median(c, "local_ml_engineer", "mobilenet_v2", "gpu_usage_pct"),
        targets[rq2 + "gpu_usage_pct.local_ml_engineer"],
        "Local ML MobileNet V2 median GPU usage %",
    )
    _close(
        float(c[(c.environment == "cloud") & (c.architecture == "mobilenet_v2")].mean_gpu_power_w.mean()),
        targets[rq2 + "mean_training_power_w.cloud"],
        "Cloud MobileNet V2 mean training power W",
    )


def test_capabilities_of_seaa(seaa):
    caps = capabilities(seaa["clean"].runs)
    assert caps["rq1"] is None and caps["rq2"] is None
    assert "no epoch markers" in caps["epochs"]
    assert caps["ram"] is not None and caps["regression"] is not None


def test_reconvert_replaces_atomically(seaa, tmp_path):
    out = tmp_path / "canon"
    out.mkdir()
    (out / "stale.txt").write_text("old")
    convert_seaa2023(seaa["raw"], out)
    assert not (out / "stale.txt").exists() and (out / "runs.csv").is_file()
    assert [p.name for p in tmp_path.iterdir()] == ["canon"]  # no temporary folder left behind


# -- small synthetic raw folders: matching rules, repository layout, errors ------------------------


def _gpu_log(path: Path, start: str, n=20, renamed=False):
    t0 = pd.Timestamp(start)
    if renamed:
        lines = [
            "timestamp,gpu_name,gpu_usage,gpu_memory_usage,gpu_total_memory,gpu_memory_used,gpu_power_draw,gpu_max_power,gpu_temperature"
        ]
        fmt = "{t},NVIDIA GeForce RTX 3090,50 %,10 %,24268 MiB,100 MiB,{p:.2f} W,350.00 W,50"
        ts = lambda t: t.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
    else:
        lines = [
            "timestamp, name, utilization.gpu [%], utilization.memory [%], memory.total [MiB], memory.used [MiB], power.draw [W], power.max_limit [W], temperature.gpu"
        ]
        fmt = "{t}, NVIDIA GeForce RTX 3090, 50 %, 10 %, 24268 MiB, 100 MiB, {p:.2f} W, 350.00 W, 50"
        ts = lambda t: t.strftime("%Y/%m/%d %H:%M:%S.%f")[:-3]
    lines += [fmt.format(t=ts(t0 + pd.Timedelta(seconds=i)), p=100.0) for i in range(n)]
    path.write_text("\n".join(lines) + "\n")


def _cpu_log(path: Path, start: str, n=20):
    t0 = pd.Timestamp(start)
    lines = ["timestamp,cpu usage (%),memory usage (MB),temperature (Celsius)"]
    lines += [f"{(t0 + pd.Timedelta(seconds=i)).isoformat()},5.0,1000.0,40.0" for i in range(n)]
    path.write_text("\n".join(lines) + "\n")


def _metadata(path: Path, rows: list[tuple[str, str, int]]):
    df = pd.DataFrame(
        [
            {
                "train_environment": e,
                "architecture": a,
                "run": r,
                "split number": 0,
                "training size": 23807,
                "validation size": 10203,
                "batch size": 32,
                "GFLOPs": 10.0,
                "accuracy": 0.9,
                "precision": 0.9,
                "recall": 0.9,
                "AUC": 0.9,
                "trained epochs": 2,
                "total seen images": 67904,
                "f1-score": 0.9,
            }
            for e, a, r in rows
        ]
    ).set_index(["train_environment", "architecture", "run"])
    path.parent.mkdir(parents=True, exist_ok=True)
    df.to_parquet(path)


def test_repository_layout_and_ledger(tmp_path):
    top = tmp_path / "seaa2023_ect-1.0" / "data" / "metrics"
    d = top / "raw" / "cloud" / "vgg16"
    d.mkdir(parents=True)
    stamps = ["20230101T100000", "20230101T110000", "20230101T120000"]
    for i, s in enumerate(stamps):
        _gpu_log(d / f"gpu-power-{s}.csv", f"2023-01-01 {10 + i}:00:01", renamed=bool(i % 2))
        if i < 2:
            _cpu_log(d / f"cpu-mem-usage-{s}.csv", f"2023-01-01 {10 + i}:00:02")
    _cpu_log(d / "cpu-mem-usage-20230101T130000.csv", "2023-01-01 13:00:00")  # CPU log without GPU log
    # rows 0 and 1 match the first two logs; the third log has no row; (cloud, resnet50) has no logs
    _metadata(
        top / "interim" / "model_metrics.gzip", [("cloud", "vgg16", 0), ("cloud", "vgg16", 1), ("cloud", "resnet50", 0)]
    )
    out = tmp_path / "canon"
    ledger = convert_seaa2023(tmp_path, out)
    runs = read_runs_table(out / "runs.csv").frame
    assert list(runs.run_id) == [f"cloud-vgg16-{s}" for s in stamps[:2]]
    assert all((out / "runs" / rid / "cpu.csv").is_file() for rid in runs.run_id)
    reasons = dict(zip(ledger.run_id, ledger.reason))
    assert "logs without a metadata row" in reasons[f"cloud-vgg16-{stamps[2]}"]
    assert "CPU log without a GPU log" in reasons["cloud-vgg16-20230101T130000"]
    assert "has no logs" in reasons["cloud-resnet50-run000"]
    r, e, led = ingest_dataset(out)
    assert len(r) == 2 and np.allclose(r.gpu_energy_j, 100.0 * 19)
    assert set(led.run_id) == set(ledger.run_id)
    assert np.allclose(r.energy_per_image_j, r.energy_j / 67904)


def test_missing_metadata_is_a_clear_error(tmp_path):
    d = tmp_path / "cloud" / "vgg16"
    d.mkdir(parents=True)
    _gpu_log(d / "gpu-power-20230101T100000.csv", "2023-01-01 10:00:01")
    with pytest.raises(LayoutError, match="no SEAA 2023 metadata"):
        convert_seaa2023(tmp_path, tmp_path / "out")
    assert not (tmp_path / "out").exists()
