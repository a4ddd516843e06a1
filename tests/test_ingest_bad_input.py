"""Bad input: a clear error naming file and line, or a ledger entry with its reason."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from dlenergy.cleaning import clean
from dlenergy.ingest import ingest_dataset, shard_of
from dlenergy.layout import LayoutError, read_runs_table

HEADER = "run_id,environment,gpu_model,architecture,dataset,batch_size,image_size,training_size,validation_size,total_ram_gb,gflops,return_code"


def _gpu(path: Path, n=30, power=100.0):
    lines = ["timestamp, name, utilization.gpu [%], power.draw [W], power.limit [W]"]
    lines += [f"2023/01/01 00:00:{i:02d}.000, RTX, 50 %, {power:.2f} W, 350.00 W" for i in range(n)]
    path.write_text("\n".join(lines) + "\n")


def make_dataset(root: Path, ids=("a", "b", "c")) -> Path:
    (root / "runs").mkdir(parents=True)
    rows = [HEADER] + [f"{r},cloud,RTX 3090,vgg16,chess,32,128,1000,100,16,10.5,0" for r in ids]
    (root / "runs.csv").write_text("\n".join(rows) + "\n")
    for r in ids:
        (root / "runs" / r).mkdir()
        _gpu(root / "runs" / r / "gpu.csv")
    return root


def test_good_dataset(tmp_path):
    runs, epochs, ledger = ingest_dataset(make_dataset(tmp_path))
    assert list(runs.run_id) == ["a", "b", "c"] and ledger.empty
    assert np.allclose(runs.gpu_energy_j, 100.0 * 29)
    # no epoch markers: images = epochs_trained x training_size is unknown -> NaN, cleaning says why
    assert runs.energy_per_image_j.isna().all()
    res = clean(runs, epochs, ledger)
    assert set(res.excluded.stage) == {"missing"}
    assert res.excluded.reason.str.contains("energy_per_image_j").all()


def test_missing_runs_table(tmp_path):
    (tmp_path / "runs").mkdir()
    with pytest.raises(LayoutError, match=r"runs\.csv: runs table not found"):
        ingest_dataset(tmp_path)


def test_non_numeric_batch_size_names_file_and_line(tmp_path):
    d = make_dataset(tmp_path)
    text = (
        (d / "runs.csv")
        .read_text()
        .replace("b,cloud,RTX 3090,vgg16,chess,32", "b,cloud,RTX 3090,vgg16,chess,thirty-two")
    )
    (d / "runs.csv").write_text(text)
    with pytest.raises(
        LayoutError, match=r"runs\.csv:3: error: column 'batch_size': expected int value, got 'thirty-two'"
    ):
        ingest_dataset(d)


def test_missing_required_column(tmp_path):
    d = make_dataset(tmp_path)
    df = pd.read_csv(d / "runs.csv").drop(columns=["gflops"])
    df.to_csv(d / "runs.csv", index=False)
    with pytest.raises(LayoutError, match=r"runs\.csv:1: header lacks required column\(s\) gflops"):
        ingest_dataset(d)


def test_duplicate_run_id(tmp_path):
    d = make_dataset(tmp_path)
    (d / "runs.csv").write_text(
        (d / "runs.csv").read_text() + "a,cloud,RTX 3090,vgg16,chess,32,128,1000,100,16,10.5,0\n"
    )
    with pytest.raises(LayoutError, match=r"runs\.csv:5: error: duplicate run_id 'a'"):
        ingest_dataset(d)


def test_ledger_for_missing_empty_and_headless_logs_and_orphans(tmp_path):
    d = make_dataset(tmp_path, ids=("a", "b", "c", "d"))
    (d / "runs" / "b" / "gpu.csv").unlink()  # row with no logs
    (d / "runs" / "c" / "gpu.csv").write_text("")  # empty log
    (d / "runs" / "d" / "gpu.csv").write_text("timestamp, utilization.gpu [%]\n2023/01/01 00:00:00.000, 5 %\n")
    (d / "runs" / "zz").mkdir()  # logs with no runs.csv row
    _gpu(d / "runs" / "zz" / "gpu.csv")
    runs, epochs, ledger = ingest_dataset(d)
    assert list(runs.run_id) == ["a"]
    led = ledger.set_index("run_id")["reason"]
    assert "runs.csv:3" in led["b"] and "no GPU log" in led["b"]
    assert "c/gpu.csv:1: GPU log is empty" in led["c"]
    assert "d/gpu.csv:1: GPU log header has no power draw" in led["d"]
    assert "have no row in" in led["zz"]
    res = clean(runs, epochs, ledger)
    assert set(res.excluded.query("stage == 'ingest'").run_id) == {"b", "c", "d", "zz"}
    assert res.summary.set_index("stage").loc["ingest", "excluded"] == 4


def test_shards_partition_the_runs(tmp_path):
    ids = [f"run{i}" for i in range(12)]
    d = make_dataset(tmp_path, ids=ids)
    parts = [ingest_dataset(d, shard=s, n_shards=3)[0] for s in range(3)]
    got = sorted(sum((list(p.run_id) for p in parts), []))
    assert got == sorted(ids)
    for s, p in enumerate(parts):
        assert all(shard_of(r, 3) == s for r in p.run_id)


def test_runs_table_non_strict_lists_problems(tmp_path):
    d = make_dataset(tmp_path)
    (d / "runs.csv").write_text(
        (d / "runs.csv")
        .read_text()
        .replace(
            "b,cloud,RTX 3090,vgg16,chess,32,128,1000,100,16,10.5,0",
            "b,cloud,RTX 3090,vgg16,chess,32,128,1000,100,16,,x",
        )
    )
    t = read_runs_table(d / "runs.csv", strict=False)
    msgs = [(p.line, p.fatal, p.message) for p in t.problems]
    assert (3, True, "column 'return_code': expected int value, got 'x'") in msgs
    assert any(line == 3 and not fatal and "gflops" in m for line, fatal, m in msgs)
