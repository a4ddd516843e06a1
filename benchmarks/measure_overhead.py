"""CPU overhead of the `dlenergy measure` recorder (replay backend, no GPU needed).

Runs ``python -m dlenergy measure`` around ``sleep DURATION`` at each sampling period and reads the
CPU time of the measure process itself (``psutil.Process.cpu_times()`` user + system; the
``children_*`` fields, i.e. the command, are excluded) every 0.25 s while it runs.  Reports

* startup CPU s: CPU time spent before the command had run for 1 s (Python start, imports, first
  samples) -- a one-off cost;
* steady CPU %: CPU time per wall time from then to the end of the run -- the recurring cost of
  sampling the GPU (replayed trace) and the process tree and writing two CSV lines per tick;
* total CPU % over the whole run, the recorder's RSS, and the samples written.

Usage: ``python benchmarks/measure_overhead.py [--duration 20] [--periods 1 0.1] [--trace gpu.csv]``
(default trace: ../shared/data/h100-fixture/.../gpu.csv when present, else a synthetic one).
Prints a Markdown table.  NVML reads on a real GPU cost differently from the replay backend's
array lookup; this measures everything else the recorder does.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
H100_TRACE = ROOT.parent / "shared" / "data" / "h100-fixture" / "runs" / "h100-resnet50-20261122T120733" / "gpu.csv"


def synthetic_trace(path: Path) -> Path:
    t0 = datetime(2026, 1, 1)
    lines = [
        "timestamp, name, utilization.gpu [%], memory.used [MiB], power.draw [W], power.limit [W], temperature.gpu"
    ]
    for i in range(600):
        ts = (t0 + timedelta(seconds=i * 0.25)).strftime("%Y/%m/%d %H:%M:%S.%f")[:-3]
        lines.append(f"{ts}, Synthetic GPU, 90 %, 4000 MiB, {200 + (i % 7) * 10:.2f} W, 300.00 W, 60")
    path.write_text("\n".join(lines) + "\n")
    return path


def run_once(trace: Path, period: float, duration: float, workdir: Path) -> dict:
    ds = workdir / f"ds-{period:g}"
    cmd = [
        sys.executable,
        "-m",
        "dlenergy",
        "measure",
        "--out",
        str(ds),
        "--run-id",
        "overhead",
        "--architecture",
        "none",
        "--dataset",
        "none",
        "--batch-size",
        "1",
        "--image-size",
        "1",
        "--training-size",
        "1",
        "--period",
        str(period),
        "--",
        "sleep",
        str(duration),
    ]
    env = {**os.environ, "DLENERGY_GPU_BACKEND": f"replay:{trace}"}
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    proc = psutil.Process(p.pid)
    child_seen = None
    base = None  # (wall, cpu) once the command has run for 1 s
    last = None
    rss = 0.0
    while p.poll() is None:
        try:
            ct = proc.cpu_times()
            now = time.monotonic()
            cpu = ct.user + ct.system  # the measure process only, not its children
            rss = max(rss, proc.memory_info().rss / 2**20)
            if child_seen is None and proc.children():
                child_seen = now
            if child_seen is not None and base is None and now - child_seen >= 1.0:
                base = (now, cpu)
            last = (now, cpu)
        except psutil.NoSuchProcess:
            break
        time.sleep(0.25)
    err = p.communicate()[1]
    wall = time.monotonic() - t0
    if p.returncode != 0:
        raise RuntimeError(f"measure failed ({p.returncode}): {err}")
    samples = sum(1 for _ in open(ds / "runs" / "overhead" / "gpu.csv")) - 1
    steady = 100 * (last[1] - base[1]) / (last[0] - base[0])
    return {
        "period": period,
        "wall": wall,
        "samples": samples,
        "cpu_total": last[1],
        "startup": base[1],
        "steady_pct": steady,
        "total_pct": 100 * last[1] / (last[0] - t0),
        "rss": rss,
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--duration", type=float, default=20.0)
    ap.add_argument("--periods", type=float, nargs="+", default=[1.0, 0.1])
    ap.add_argument("--trace", type=Path, default=None)
    a = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        trace = a.trace or (H100_TRACE if H100_TRACE.is_file() else synthetic_trace(tmp / "trace.csv"))
        rows = [run_once(trace, p, a.duration, tmp) for p in a.periods]
    print(
        f"Recorder overhead: `dlenergy measure` (replay backend, {trace.name}) around `sleep {a.duration:g}`; "
        f"{platform.node()}, {psutil.cpu_count()} logical CPUs, {psutil.cpu_count(logical=False)} cores, "
        f"{len(psutil.pids())} processes running, Python {platform.python_version()}; "
        f"CPU % is of one core.\n"
    )
    print(
        "| period | wall s | samples | recorder CPU s (total) | startup CPU s | steady-state CPU % | total CPU % | recorder RSS MiB |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r['period']:g} s | {r['wall']:.1f} | {r['samples']} | {r['cpu_total']:.2f} | {r['startup']:.2f} | "
            f"{r['steady_pct']:.2f} | {r['total_pct']:.2f} | {r['rss']:.0f} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
