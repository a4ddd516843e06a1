"""Time a clean end-to-end Snakemake run: wall time and peak RSS overall and per stage.

    python benchmarks/bench_pipeline.py --source sample --cores 2
    python benchmarks/bench_pipeline.py --source full --cores 2 --add-run   # + incremental re-run

The run happens in a scratch copy of the workflow (so results/ of the checkout are untouched);
per-stage numbers come from Snakemake's own ``benchmark:`` files.  Results are appended to
``benchmarks/results.md`` with the machine, date and command.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]


def machine() -> str:
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    cpu = platform.processor() or platform.machine()
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{os.cpu_count()} cores ({cpu}), {mem:.0f} GiB RAM, Python {platform.python_version()}"


def append_results(text: str, out: str | Path) -> None:
    """Append a section to benchmarks/results.md (created with its header when absent)."""
    out = Path(out)
    if not out.exists():
        out.write_text(
            "# Benchmarks\n\nWritten by the scripts in `benchmarks/`; numbers from the machine named in each section.\n"
        )
    with out.open("a") as fh:
        fh.write(text)


def run(cmd: list[str], cwd: Path) -> tuple[float, float]:
    t0 = time.perf_counter()
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode:
        sys.stderr.write(proc.stdout[-3000:] + proc.stderr[-5000:])
        raise SystemExit(f"command failed: {' '.join(cmd)}")
    peak = max(before, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) / 1024  # MiB (largest process)
    return wall, peak


def stage_table(bench_dir: Path) -> pd.DataFrame:
    rows = []
    for f in sorted(bench_dir.glob("*.tsv")):
        b = pd.read_csv(f, sep="\t")
        stage = f.stem.rsplit("_", 1)[0] if f.stem[-3:].isdigit() else f.stem  # ingest_003 -> ingest
        rows.append(
            {"stage": stage, "jobs": 1, "wall_s": float(b["s"].iloc[0]), "max_rss_mb": float(b["max_rss"].iloc[0])}
        )
    df = pd.DataFrame(rows)
    if df.empty:
        return df
    return (
        df.groupby("stage", sort=False)
        .agg(
            jobs=("jobs", "sum"),
            sum_wall_s=("wall_s", "sum"),
            max_job_wall_s=("wall_s", "max"),
            max_rss_mb=("max_rss_mb", "max"),
        )
        .reset_index()
    )


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--source", default="sample")
    ap.add_argument("--cores", type=int, default=2)
    ap.add_argument("--add-run", action="store_true", help="then add one run to the dataset and time the re-run")
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results.md"))
    args = ap.parse_args()

    wd = Path(tempfile.mkdtemp(prefix="dlenergy-bench-"))
    for f in ("Snakefile", "config.yaml"):
        shutil.copy(ROOT / f, wd)
    shutil.copytree(ROOT / "workflow", wd / "workflow")
    sm = [sys.executable, "-m", "snakemake", "--cores", str(args.cores), "--config", f"source={args.source}"]
    wall, peak = run(sm, wd)
    stages = stage_table(wd / "results" / args.source / "benchmarks")
    n_runs = len(pd.read_parquet(wd / "results" / args.source / "runs.parquet"))
    lines = [
        f"\n## End-to-end `{args.source}` ({n_runs} runs), --cores {args.cores}\n",
        f"- date: {dt.date.today().isoformat()}; machine: {machine()}",
        f"- command: `python benchmarks/bench_pipeline.py --source {args.source} --cores {args.cores}"
        + (" --add-run`" if args.add_run else "`"),
        f"- **wall time {wall:.1f} s**, peak RSS of the largest process {peak:.0f} MiB\n",
        stages.to_markdown(index=False, floatfmt=".2f") if not stages.empty else "(no benchmark files)",
    ]
    if args.add_run:
        from dlenergy.simulate import add_run  # noqa: WPS433

        ds = wd / "data" / args.source / "canonical"
        rid = add_run(ds, seed=12345)
        wall2, _ = run(sm, wd)
        lines.append(f"\n- incremental: added run `{rid}`, re-run wall time **{wall2:.1f} s**")
    text = "\n".join(lines) + "\n"
    print(text)
    append_results(text, args.out)
    if not args.keep:
        shutil.rmtree(wd, ignore_errors=True)


if __name__ == "__main__":
    main()
