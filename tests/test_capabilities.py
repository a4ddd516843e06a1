"""capabilities(): which analyses a source's runs support, and why not."""

from __future__ import annotations

import pandas as pd

from dlenergy.sources import capabilities


def runs(rows, epochs=True):
    df = pd.DataFrame(
        rows, columns=["environment", "architecture", "dataset", "batch_size", "image_size", "total_ram_gb"]
    )
    df["gpu_model"] = df["environment"].map({"cloud": "RTX 3090", "local": "RTX 3070"})
    df["has_epoch_markers"] = epochs
    df["epochs_measured"] = 30 if epochs else 0
    return df


FULL = (
    [("cloud", a, "chess", 32, 128, 16) for a in ("vgg16", "mobilenet_v2")] * 3
    + [("local", "mobilenet_v2", "chess", 32, 128, 32)] * 3
    + [("cloud", "inception_v3", "dogs", 256, 128, ram) for ram in (8, 16, 24, 32)]
)


def test_everything_supported():
    caps = capabilities(runs(FULL))
    assert caps == {"epochs": None, "rq1": None, "rq2": None, "ram": None, "regression": None}


def test_no_epoch_markers():
    caps = capabilities(runs(FULL, epochs=False))
    assert "no epoch markers" in caps["epochs"]
    assert "0 of 13 runs" in caps["regression"]
    assert caps["rq1"] is None and caps["rq2"] is None and caps["ram"] is None


def test_one_environment_one_architecture():
    caps = capabilities(runs([("cloud", "vgg16", "chess", 32, 128, 16)] * 12))
    assert "2 architectures in one environment" in caps["rq1"] and "cloud: 1" in caps["rq1"]
    assert "2 environments for one architecture" in caps["rq2"] and "vgg16: 1" in caps["rq2"]
    assert "single RAM level" in caps["ram"] and "16" in caps["ram"]
    assert caps["epochs"] is None and caps["regression"] is None


def test_ram_levels_must_share_a_setting():
    # two RAM levels, but in different environments: not a RAM experiment
    caps = capabilities(runs([("cloud", "vgg16", "chess", 32, 128, 16), ("local", "vgg16", "chess", 32, 128, 32)]))
    assert caps["ram"] is not None
    assert caps["rq2"] is None and caps["rq1"] is not None


def test_regression_threshold():
    rows = [("cloud", "vgg16", "chess", 32, 128, 16)] * 9
    assert "9 of 9" in capabilities(runs(rows))["regression"]
    assert capabilities(runs(rows), min_regression_runs=9)["regression"] is None
    assert capabilities(runs(rows * 2))["regression"] is None


def test_epochs_from_epochs_measured_and_missing_columns():
    df = runs(FULL).drop(columns=["has_epoch_markers"])
    assert capabilities(df)["epochs"] is None
    bare = pd.DataFrame({"run_id": ["a", "b"]})
    caps = capabilities(bare)
    assert set(caps) == {"epochs", "rq1", "rq2", "ram", "regression"}
    assert all(v is not None for v in caps.values())
    assert "environment" in caps["rq1"] and "total_ram_gb" in caps["ram"]


def test_no_runs():
    assert all(v == "no runs" for v in capabilities(pd.DataFrame()).values())
