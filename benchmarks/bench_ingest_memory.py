"""Peak memory of ingesting one run with a large GPU log (issue 13, item 8: <= 2x the largest log).

    python benchmarks/bench_ingest_memory.py [--mb 200] [--no-append]

Writes a one-run layout-v1 dataset whose ``gpu.csv`` is about ``--mb`` MB (the native nvidia-smi
header, 10 Hz, as the SEAA logs), with a ``cpu.csv`` and 40 epoch markers, then ingests it in a fresh
subprocess and reads that process's peak RSS (``ru_maxrss`` of the child).  A second subprocess only
imports the same modules, so the table also shows what the interpreter, numpy, pandas and pyarrow
take before any log is read.  Memory is never asserted in the tests (timing and memory depend on the
machine); this script is where it is measured.
"""

from __future__ import annotations

import argparse
import datetime as dt
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from bench_pipeline import append_results, machine  # noqa: E402

HEADER = (
    "timestamp, name, utilization.gpu [%], utilization.memory [%], memory.total [MiB], memory.used [MiB], "
    "power.draw [W], power.limit [W], temperature.gpu\n"
)
RUNS = (
    "run_id,environment,gpu_model,architecture,dataset,batch_size,image_size,training_size,validation_size,"
    "total_ram_gb,gflops,return_code,train_start\n"
    "big,cloud,NVIDIA GeForce RTX 3090,vgg16,chesslive,32,128,23807,10203,16,15.5,0,{start}\n"
)
T0 = np.datetime64("2023-03-01T09:00:00.000", "ms")


def _gpu_block(i0: int, n: int, rng: np.random.Generator) -> str:
    """``n`` lines of a 10 Hz log starting at sample ``i0``."""
    ts = (T0 + np.arange(i0, i0 + n) * np.timedelta64(100, "ms")).astype(str)
    ts = np.char.replace(np.char.replace(ts, "-", "/"), "T", " ")
    usage = rng.integers(60, 100, n)
    power = np.round(rng.normal(250.0, 20.0, n), 2)
    mem = rng.integers(9000, 9100, n)
    lines = [
        f"{t}, NVIDIA GeForce RTX 3090, {u} %, {u // 3} %, 24268 MiB, {m} MiB, {p:.2f} W, 350.00 W, 65"
        for t, u, p, m in zip(ts, usage, power, mem)
    ]
    return "\n".join(lines) + "\n"


def write_dataset(root: Path, mb: float, seed: int = 0) -> tuple[Path, int]:
    """A one-run dataset whose gpu.csv is ``mb`` MB; returns the dataset and the number of samples."""
    rng = np.random.default_rng(seed)
    run = root / "runs" / "big"
    run.mkdir(parents=True)
    target, n, block = mb * 1e6, 0, 100_000
    with open(run / "gpu.csv", "w") as fh:
        fh.write(HEADER)
        while fh.tell() < target:
            fh.write(_gpu_block(n, block, rng))
            n += block
    span_s = n / 10.0
    with open(run / "cpu.csv", "w") as fh:
        fh.write("timestamp,cpu usage (%),memory usage (MB)\n")
        for s in range(0, int(span_s), 1):
            t = (T0 + np.timedelta64(s * 1000 + 17, "ms")).astype("datetime64[us]").astype(str)
            fh.write(f"{t},{rng.uniform(5, 40):.1f},{rng.uniform(3000, 3100):.3f}\n")
    ends = T0 + (np.linspace(5.0, span_s - 5.0, 41)[1:] * 1000).astype("int64").astype("timedelta64[ms]")
    lines = [f"{e},{str(t.astype('datetime64[us]')).replace('T', ' ')}" for e, t in enumerate(ends)]
    (run / "epochs.csv").write_text("epoch,end_time\n" + "\n".join(lines) + "\n")
    start = str((T0 + np.timedelta64(5000, "ms")).astype("datetime64[us]")).replace("T", " ")
    (root / "runs.csv").write_text(RUNS.format(start=start))
    return root, n


CHILD_INGEST = """
import resource, sys, time
from dlenergy.ingest import ingest_dataset
t0 = time.perf_counter()
runs, epochs, ledger = ingest_dataset(sys.argv[1])
wall = time.perf_counter() - t0
assert len(runs) == 1, ledger.to_string()
print(wall, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, runs["gpu_energy_j"].iloc[0], len(epochs))
"""
CHILD_IMPORT = """
import resource
import dlenergy.ingest, pandas, pyarrow.csv, numpy
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
"""


def _child(code: str, *args: str) -> list[str]:
    out = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, check=False)
    if out.returncode:
        raise SystemExit(out.stderr[-3000:])
    return out.stdout.split()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mb", type=float, default=200.0, help="size of gpu.csv in MB (1e6 bytes)")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results.md"))
    ap.add_argument("--no-append", action="store_true", help="print only, do not append to results.md")
    ap.add_argument("--label", default="", help="a note for the section title (e.g. 'before')")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        ds, n = write_dataset(Path(tmp) / "ds", args.mb)
        gen = time.perf_counter() - t0
        size_mb = (ds / "runs" / "big" / "gpu.csv").stat().st_size / 2**20
        wall, rss, energy, n_ep = (float(x) for x in _child(CHILD_INGEST, str(ds)))
        base = float(_child(CHILD_IMPORT)[0])
    text = (
        "\n".join(
            [
                f"\n## Ingest peak memory on one {size_mb:.0f} MiB gpu.csv{(' (' + args.label + ')') if args.label else ''}\n",
                f"- date: {dt.date.today().isoformat()}; machine: {machine()}",
                f"- command: `python benchmarks/bench_ingest_memory.py --mb {args.mb:g}`",
                f"- log: {n:,} samples (10 Hz, native nvidia-smi header), written in {gen:.1f} s; {int(n_ep)} epochs",
                f"- ingest: **peak RSS {rss:.0f} MiB = {rss / size_mb:.2f} x the log** ({wall:.1f} s); "
                f"the interpreter with numpy, pandas, pyarrow and dlenergy imported: {base:.0f} MiB",
                f"- GPU energy of the run: {energy:.6f} J",
            ]
        )
        + "\n"
    )
    print(text)
    if not args.no_append:
        append_results(text, args.out)


if __name__ == "__main__":
    main()
