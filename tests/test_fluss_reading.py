"""FLUSS reads each GPU log as ingest does (the `ingest:` plausibility thresholds, the board's TDP), and
a log that can no longer be read is that run's status, never the shard's crash."""

from __future__ import annotations

import shutil

import pandas as pd
import pytest

from dlenergy import fluss
from dlenergy.fluss import FlussParams


@pytest.fixture(scope="module")
def three_runs(tmp_path_factory):
    from dlenergy.ingest import ingest_dataset
    from dlenergy.simulate import DEFAULT_RATES, simulate_dataset

    src = tmp_path_factory.mktemp("sim") / "canonical"
    simulate_dataset(src, seed=11, scale="tiny", rates={k: 0 for k in DEFAULT_RATES})
    runs, epochs, _ = ingest_dataset(src)
    runs = runs[(runs["return_code"] == 0) & (runs["epochs_measured"] > 0)].sort_values("run_id").head(3)
    assert len(runs) == 3
    return src, runs, epochs


def test_a_log_changed_since_ingest_is_that_runs_status(three_runs, tmp_path):
    src, runs, epochs = three_runs
    ds = tmp_path / "ds"
    shutil.copytree(src, ds)
    victim = runs["run_id"].iloc[1]
    gpu = ds / "runs" / victim / "gpu.csv"
    gpu.write_text("timestamp, name\n2024/01/01 10:00:00.000, A100\n")  # no power column now
    before = fluss.stabilizing_epochs(src, runs, epochs, FlussParams()).set_index("run_id")
    after = fluss.stabilizing_epochs(ds, runs, epochs, FlussParams()).set_index("run_id")
    assert after.loc[victim, "status"] == "unreadable_gpu_log"
    assert str(gpu) in after.loc[victim, "reason"] and len(after.loc[victim, "reason"]) <= 200
    assert before.loc[victim, "status"] in fluss.SEGMENTED
    others = [r for r in runs["run_id"] if r != victim]
    pd.testing.assert_frame_equal(before.loc[others], after.loc[others])


def test_the_ingest_thresholds_reach_the_reading(three_runs):
    src, runs, epochs = three_runs
    ok = fluss.stabilizing_epochs(src, runs, epochs, FlussParams(), ingest={})
    assert ok["status"].isin(fluss.SEGMENTED).all()
    # every sample above a 1 W cap is dropped: past max_dropped_share the log is refused, as ingest would
    strict = fluss.stabilizing_epochs(src, runs, epochs, FlussParams(), ingest={"plausibility": {"max_power_w": 1.0}})
    assert (strict["status"] == "unreadable_gpu_log").all()
    assert strict["reason"].str.contains("gpu.csv").all()
