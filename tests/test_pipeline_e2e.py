"""The Snakemake pipeline end to end on the tiny simulated config (what CI runs)."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


def _workdir(tmp: Path) -> Path:
    wd = tmp / "wf"
    wd.mkdir()
    shutil.copy(ROOT / "Snakefile", wd)
    shutil.copy(ROOT / "config.yaml", wd)
    shutil.copytree(ROOT / "workflow", wd / "workflow")
    shutil.copytree(ROOT / "profiles", wd / "profiles")
    return wd


def _snakemake(wd: Path, *args: str, check=True) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONHASHSEED="0")
    cmd = [sys.executable, "-m", "snakemake", "--cores", "2", "--config", "source=tiny", *args]
    proc = subprocess.run(cmd, cwd=wd, env=env, capture_output=True, text=True, timeout=1800)
    if check and proc.returncode != 0:
        raise AssertionError(f"snakemake failed ({proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr[-6000:]}")
    return proc


def _digest(folder: Path) -> dict[str, str]:
    out = {}
    for p in sorted(folder.rglob("*")):
        if p.is_file() and p.suffix in {".csv", ".md", ".tex"} and "benchmarks" not in p.parts:
            out[str(p.relative_to(folder))] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    wd = _workdir(tmp_path_factory.mktemp("e2e"))
    _snakemake(wd)
    return wd


def test_pipeline_outputs_and_ledger(tiny_run):
    res = tiny_run / "results" / "tiny"
    gt = pd.read_csv(tiny_run / "data" / "tiny" / "canonical" / "ground_truth.csv").set_index("run_id")
    runs = pd.read_parquet(res / "runs.parquet").set_index("run_id")
    clean = pd.read_parquet(res / "clean" / "runs.parquet")
    excluded = pd.read_csv(res / "clean" / "excluded.csv").set_index("run_id")
    summary = pd.read_csv(res / "clean" / "summary.csv")
    # every run accounted for exactly once: kept or excluded
    assert sorted(list(clean.run_id) + list(excluded.index)) == sorted(gt.index)
    # the synthetic label is visible in the outputs
    assert (clean["data_label"].str.contains("synthetic")).all()
    assert excluded["data_label"].str.contains("synthetic").all()
    # planted defects land at their stage
    stage_for = {
        "failed": "failed",
        "oom": "failed",
        "missing": "missing",
        "short": "short",
        "coarse_sampling": "sampling",
        "outlier": "outlier",
    }
    for rid, row in gt.iterrows():
        if row.defect in stage_for:
            assert excluded.loc[rid, "stage"] == stage_for[row.defect], (rid, row.defect)
    # energies recovered for the runs that completed
    ok = gt[gt.defect.isin(["none", "cut_lines"])].index
    rel = (runs.loc[ok, "energy_j"] / gt.loc[ok, "energy_j"] - 1).abs()
    assert rel.max() < 0.005
    assert summary.iloc[-1]["runs_out"] == len(clean)
    # the analyses the source supports are listed, with the reason for those it does not
    an = pd.read_csv(res / "clean" / "analyses.csv").set_index("analysis")
    assert set(an.index) == {"epochs", "rq1", "rq2", "ram", "regression"}
    assert an.loc["epochs", "supported"] and an.loc["rq1", "supported"]
    assert (an["reason_skipped"].fillna("") != "").eq(~an["supported"]).all()
    # each rule wrote its log and benchmark
    assert (tiny_run / "logs" / "tiny" / "clean.log").is_file()
    assert (res / "benchmarks" / "clean.tsv").is_file()


def test_rerun_is_deterministic(tiny_run, tmp_path):
    """Two clean runs of the pipeline give identical tables."""
    first = _digest(tiny_run / "results" / "tiny")
    wd2 = _workdir(tmp_path)
    _snakemake(wd2)
    second = _digest(wd2 / "results" / "tiny")
    assert first == second and len(first) > 3


def test_nothing_to_do_after_a_run(tiny_run):
    proc = _snakemake(tiny_run, "-n")
    assert "Nothing to be done" in (proc.stdout + proc.stderr)


def test_results_follow_a_change_of_the_library(tiny_run, tmp_path):
    """The rules call dlenergy: a changed library module re-runs them, not only a changed rule script."""
    import dlenergy

    lib = tmp_path / "lib"
    shutil.copytree(Path(dlenergy.__file__).parent, lib / "dlenergy", ignore=shutil.ignore_patterns("__pycache__"))
    with open(lib / "dlenergy" / "energy.py", "a") as fh:
        fh.write("\n# a change\n")
    env = dict(os.environ, PYTHONPATH=str(lib))
    proc = subprocess.run(
        [sys.executable, "-m", "snakemake", "--cores", "2", "--config", "source=tiny", "-n"],
        cwd=tiny_run,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    assert (
        str(lib)
        in subprocess.run(
            [sys.executable, "-c", "import dlenergy; print(dlenergy.__file__)"], env=env, capture_output=True, text=True
        ).stdout
    )
    assert "Nothing to be done" not in out and "ingest_shard" in out and "stats_rq1" in out
    assert "simulate" not in out.split("Job stats:")[-1].split("Reasons:")[0]  # the dataset stays


def test_failed_rule_leaves_no_partial_output(tmp_path):
    wd = _workdir(tmp_path)
    bad = tmp_path / "bad"
    (bad / "runs").mkdir(parents=True)
    (bad / "runs.csv").write_text(
        "run_id,environment,gpu_model,architecture,dataset,batch_size,image_size,training_size,validation_size,"
        "total_ram_gb,gflops,return_code\nr1,cloud,RTX,vgg16,chess,big,128,10,1,16,1.0,0\n"
    )
    proc = subprocess.run(
        [sys.executable, "-m", "snakemake", "--cores", "2", "--config", "source=local", f"data_dir={bad}"],
        cwd=wd,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode != 0
    logs = "".join(p.read_text() for p in (wd / "logs" / "local").rglob("*.log"))
    assert "runs.csv:2: error: column 'batch_size': expected int value, got 'big'" in logs
    assert not any((wd / "results" / "local" / "shards").rglob("*.parquet"))
    assert not (wd / "results" / "local" / "runs.parquet").exists()


def test_slurm_profile_dry_run(tiny_run):
    proc = _snakemake(tiny_run, "-n", "--profile", str(tiny_run / "profiles" / "slurm"), check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]


def test_adding_a_run_reruns_only_its_shard(tiny_run):
    """Issue 8: after adding one run, the plan touches one ingest shard (plus the aggregates)."""
    from dlenergy.ingest import shard_of
    from dlenergy.simulate import add_run

    ds = tiny_run / "data" / "tiny" / "canonical"
    rid = add_run(ds, seed=4242)
    proc = _snakemake(tiny_run, "-n", "--workflow-profile", "none")  # job details (the default profile hides them)
    out = proc.stdout + proc.stderr
    stats = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].isdigit():
            stats[parts[0]] = int(parts[1])
    assert stats.get("ingest_shard") == 1, out[-3000:]
    assert stats.get("simulate", 0) == 0
    n_shards = 4
    assert f"shard={shard_of(rid, n_shards):03d}" in out


def test_recorded_runs_through_the_whole_pipeline_as_a_local_source(tmp_path):
    """What a practitioner does: record runs with `dlenergy measure` (here on a replayed GPU trace that
    carries the board's energy counter), then run the whole pipeline on them as the `local` source."""
    sys.path.insert(0, str(ROOT / "tests"))
    from test_measure import env_with, measure_cmd, write_trace

    trace = write_trace(tmp_path / "trace.csv", n=600, dt=0.01, step_w=0.5)
    ds = tmp_path / "my-study"
    child = """
        import time, dlenergy
        for epoch in range(4):
            time.sleep(0.5)
            dlenergy.mark_epoch(val_f1=0.5 + 0.1 * epoch)
    """
    for i in range(3):
        rec = subprocess.run(
            measure_cmd(ds, f"run-{i}", child, period=0.05),
            env=env_with(f"replay:{trace}"),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert rec.returncode == 0, rec.stderr
    wd = _workdir(tmp_path)
    proc = subprocess.run(
        [sys.executable, "-m", "snakemake", "--cores", "2", "--config", "source=local", f"data_dir={ds}"],
        cwd=wd,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert proc.returncode == 0, proc.stderr[-6000:]
    res = wd / "results" / "local"
    runs = pd.read_parquet(res / "runs.parquet")
    assert sorted(runs["run_id"]) == ["run-0", "run-1", "run-2"] and (runs["epochs_measured"] == 4).all()
    check = pd.read_csv(res / "tables" / "energy_check.csv")
    assert sorted(check["run_id"]) == ["run-0", "run-1", "run-2"]
    assert (check["span"] == "training window").all()
    assert (check["difference_j"].abs() <= 2 * check["sampling_period_s"] * 400 + 2 * 0.01 * 400).all()
    # three runs support no statistics: the analyses say why instead of failing
    an = pd.read_csv(res / "clean" / "analyses.csv").set_index("analysis")
    assert not an.loc["rq1", "supported"] and an.loc["rq1", "reason_skipped"]
    assert (res / "scorecard.md").is_file()
