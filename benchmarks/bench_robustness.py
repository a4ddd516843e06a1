"""Cost of the outlier-seed sensitivity step (dlenergy.robustness) on a source the pipeline has ingested.

    python benchmarks/bench_robustness.py --results results/seaa2023 [--seeds 100] [--workers 2] [--probe 3]

Reads the pipeline's ``runs.parquet`` and ``ingest_ledger.csv`` of the source, then measures
(1) the CPU seconds of one seed per variant (the mean over ``--probe`` seeds, one process: the
machine's load does not inflate it much) and (2) the wall time and peak memory of the whole step
(``--seeds`` seeds, every variant, ``--workers`` joblib processes, as the ``robustness`` rule runs it).
Appends a section to benchmarks/results.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import resource
import sys
import time
from pathlib import Path

import pandas as pd
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from bench_pipeline import append_results, machine  # noqa: E402


def _load(results: Path):
    from dlenergy.io import LABEL_COLUMN

    runs = pd.read_parquet(results / "runs.parquet").drop(columns=[LABEL_COLUMN], errors="ignore")
    ledger = pd.read_csv(results / "ingest_ledger.csv", dtype=str, keep_default_na=False)
    return runs, ledger.drop(columns=[LABEL_COLUMN], errors="ignore")


def _cpu_per_seed(pre, cleaning, stats_cfg, rcfg, seed: int, probe: int) -> dict[str, float]:
    from dlenergy import robustness as R

    pre_a, cols, _ = R.add_authors_features(pre, rcfg.authors_features)
    out = {}
    for variant in R.VARIANTS:
        seeds = [seed] if variant == "none" else R.seed_list(seed + 1000, probe)
        t0 = time.process_time()
        for s in seeds:
            config = R.outlier_config(variant, s, cleaning, rcfg, cols)
            R.seed_statistics(R.kept_runs(pre_a if variant == "authors" else pre, config), stats_cfg)
        out[variant] = (time.process_time() - t0) / len(seeds)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--results", required=True, help="results/<source> of a pipeline run (runs.parquet, ...)")
    ap.add_argument("--seeds", type=int, default=100)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--probe", type=int, default=3)
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results.md"))
    args = ap.parse_args()
    from dlenergy import robustness as R
    from dlenergy import stats as S
    from dlenergy.cleaning import CleaningConfig

    cfg = yaml.safe_load((ROOT / "config.yaml").read_text())
    cleaning = CleaningConfig.from_dict({"seed": cfg["seed"], **cfg["cleaning"]})
    stats_cfg = S.StatsConfig.from_dict(cfg["stats"])
    rcfg = R.RobustnessConfig.from_dict({**cfg["robustness"], "n_seeds": args.seeds})
    runs, ledger = _load(Path(args.results))
    pre = R.pre_outlier_runs(runs, ledger, cleaning)
    groups = pre.groupby(list(cleaning.outlier_group)).ngroups
    cpu = _cpu_per_seed(pre, cleaning, stats_cfg, rcfg, cfg["seed"], args.probe)
    from joblib.externals.loky import get_reusable_executor

    t0, c0 = time.perf_counter(), os.times()
    summary, values, _ = R.robustness(runs, ledger, cleaning, stats_cfg, rcfg, seed=cfg["seed"], n_jobs=args.workers)
    wall = time.perf_counter() - t0
    get_reusable_executor().shutdown(wait=True)  # the workers exit: their CPU time and peak RSS are counted
    c1 = os.times()
    cpu_all = sum(getattr(c1, k) - getattr(c0, k) for k in ("user", "system", "children_user", "children_system"))
    rss = max(
        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    )
    load = os.getloadavg()[0]
    text = "\n".join(
        [
            f"\n## Outlier-seed sensitivity of `{Path(args.results).name}` ({len(pre)} runs enter the outlier stage, "
            f"{groups} groups)\n",
            f"- date: {dt.date.today().isoformat()}; machine: {machine()}; load average at the end {load:.1f}",
            f"- command: `python benchmarks/bench_robustness.py --results {args.results} --seeds {args.seeds} "
            f"--workers {args.workers}`",
            "- CPU seconds per seed (one process, mean of "
            f"{args.probe}): " + ", ".join(f"{v} {s:.2f} s" for v, s in cpu.items()),
            f"- the whole step ({args.seeds} seeds x {len(rcfg.variants)} variants, {args.workers} workers): "
            f"**wall {wall:.1f} s**, CPU {cpu_all:.1f} s (parent and workers), peak RSS "
            f"{rss / 1024:.0f} MiB per process; {summary['statistic'].nunique()} statistics, {len(values)} values",
            "",
        ]
    )
    print(text)
    append_results(text, args.out)


if __name__ == "__main__":
    main()
