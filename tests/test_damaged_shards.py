"""Damaged-data suite, issue 13 item 4: incremental re-runs stay exact whatever the column order.

``runs.csv`` may have its columns in any order (they are matched by name).  A shard's digest (the
Snakemake rerun trigger) must follow the run's own row, found by its ``run_id`` column: change one
run's row and exactly that run's shard re-runs, and the result changes.
"""

from __future__ import annotations

import csv
import io
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from damaged import VICTIM, copy_dataset

from dlenergy.ingest import ingest_dataset, shard_members, shard_of

ROOT = Path(__file__).resolve().parents[1]
N_SHARDS = 4


def _reorder_columns(ds: Path) -> None:
    """run_id last, environment first: a valid runs.csv (columns are matched by name)."""
    rows = list(csv.reader(io.StringIO((ds / "runs.csv").read_text())))
    order = [
        rows[0].index(c) for c in ["environment", *[c for c in rows[0] if c not in ("environment", "run_id")], "run_id"]
    ]
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows([[r[i] for i in order] for r in rows])
    (ds / "runs.csv").write_text(out.getvalue())


def _set_return_code(ds: Path, run_id: str, code: int) -> None:
    df = pd.read_csv(ds / "runs.csv", dtype=str, keep_default_na=False)
    df.loc[df.run_id == run_id, "return_code"] = str(code)
    df.to_csv(ds / "runs.csv", index=False)


def test_shard_digest_follows_the_run_id_column_by_name(tmp_path):
    ds = copy_dataset(tmp_path)
    _reorder_columns(ds)
    runs, _, ledger = ingest_dataset(ds)
    assert ledger.empty and len(runs) == 6  # the reordered table reads as the original
    before = shard_members(ds, N_SHARDS)
    _set_return_code(ds, VICTIM, 1)
    after = shard_members(ds, N_SHARDS)
    changed = [s for s in range(N_SHARDS) if before[s] != after[s]]
    assert changed == [shard_of(VICTIM, N_SHARDS)]
    # the first field is the environment: taken as the id it would name another shard (the old defect)
    assert shard_of("cloud", N_SHARDS) != shard_of(VICTIM, N_SHARDS)


# ----------------------------------------------------------------------------- the pipeline


def _workdir(tmp: Path) -> Path:
    wd = tmp / "wf"
    wd.mkdir()
    shutil.copy(ROOT / "Snakefile", wd)
    shutil.copy(ROOT / "config.yaml", wd)
    shutil.copytree(ROOT / "workflow", wd / "workflow")
    return wd


def _snakemake(wd: Path, ds: Path, *args: str) -> str:
    env = dict(os.environ, PYTHONHASHSEED="0")
    cmd = [
        sys.executable,
        "-m",
        "snakemake",
        "--cores",
        "2",
        "results/local/clean/runs.parquet",
        *args,
        "--config",
        "source=local",
        f"data_dir={ds}",
    ]  # config.yaml's ingest.n_shards: 4
    proc = subprocess.run(cmd, cwd=wd, env=env, capture_output=True, text=True, timeout=900)
    if proc.returncode != 0:
        raise AssertionError(f"snakemake failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}")
    return proc.stdout + proc.stderr


@pytest.mark.slow
def test_pipeline_reruns_exactly_the_changed_runs_shard(tmp_path):
    ds = copy_dataset(tmp_path)
    _reorder_columns(ds)
    wd = _workdir(tmp_path)
    _snakemake(wd, ds)
    clean = pd.read_parquet(wd / "results/local/clean/runs.parquet")
    assert VICTIM in set(clean.run_id)
    # the victim's row changes: return code 1 (a failed run), columns still reordered
    rows = (ds / "runs.csv").read_text().splitlines()
    at = rows[0].split(",").index("return_code")
    rows = [
        ",".join(p[:at] + ["1"] + p[at + 1 :]) if p[-1] == VICTIM else ln
        for ln, p in ((ln, ln.split(",")) for ln in rows)
    ]
    (ds / "runs.csv").write_text("\n".join(rows) + "\n")
    dry = _snakemake(wd, ds, "-n")
    shards = sorted(set(re.findall(r"rule ingest_shard:.*?wildcards: (?:source=\w+, )?shard=(\d{3})", dry, flags=re.S)))
    assert shards == [f"{shard_of(VICTIM, N_SHARDS):03d}"], dry[:6000]
    _snakemake(wd, ds)
    clean = pd.read_parquet(wd / "results/local/clean/runs.parquet")
    excluded = pd.read_csv(wd / "results/local/clean/excluded.csv").set_index("run_id")
    assert VICTIM not in set(clean.run_id)
    assert excluded.loc[VICTIM, "stage"] == "failed"
