"""Time ingest + per-run and per-epoch energy of the 309 real SEAA 2023 runs (134 MB of logs).

    python benchmarks/bench_seaa_ingest.py [--raw ../shared/data/seaa2023] [--workers 2]

The raw logs are first turned into layout v1 (not timed: that is the adapter, run once), then
ingested: single process, and sharded over ``--workers`` processes as the pipeline does.
"""

from __future__ import annotations

import argparse
import datetime as dt
import resource
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from bench_pipeline import append_results, machine  # noqa: E402


def _shard(args):
    from dlenergy.ingest import ingest_dataset

    ds, s, n = args
    r, e, l = ingest_dataset(ds, shard=s, n_shards=n)
    return len(r), len(e), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--raw", default=str(ROOT.parent / "shared" / "data" / "seaa2023"))
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results.md"))
    args = ap.parse_args()
    from dlenergy.ingest import ingest_dataset
    from dlenergy.sources.seaa2023 import convert_seaa2023

    with tempfile.TemporaryDirectory() as tmp:
        ds = Path(tmp) / "canonical"
        convert_seaa2023(args.raw, ds)
        t0 = time.perf_counter()
        runs, epochs, ledger = ingest_dataset(ds)
        single = time.perf_counter() - t0
        rss_single = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        with ProcessPoolExecutor(args.workers) as ex:
            list(ex.map(_shard, [(ds, 0, 1)] * 0))  # start workers before timing
            t0 = time.perf_counter()
            parts = list(ex.map(_shard, [(ds, s, args.workers * 2) for s in range(args.workers * 2)]))
            sharded = time.perf_counter() - t0
    text = (
        "\n".join(
            [
                f"\n## Ingest + energy of `seaa2023` ({len(runs)} runs, {sum(p[0] for p in parts)} in shards)\n",
                f"- date: {dt.date.today().isoformat()}; machine: {machine()}",
                f"- command: `python benchmarks/bench_seaa_ingest.py --workers {args.workers}`",
                f"- single process: **{single:.2f} s**, peak RSS {rss_single:.0f} MiB",
                f"- {args.workers} worker processes, {args.workers * 2} shards (as `snakemake --cores {args.workers}`): "
                f"**{sharded:.2f} s**, peak RSS per worker {max(p[2] for p in parts):.0f} MiB",
            ]
        )
        + "\n"
    )
    print(text)
    append_results(text, args.out)


if __name__ == "__main__":
    main()
