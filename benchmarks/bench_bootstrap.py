"""Cost of the seeded bootstrap CIs in the stats tables (dlenergy.uncertainty, config stats.bootstrap).

    python benchmarks/bench_bootstrap.py results/seaa2023/clean/runs.parquet [more runs.parquet ...]
        [--repeats 3] [--out benchmarks/results.md]

For each cleaned runs table: the time of every ``dlenergy.stats.*_tables`` function with the CIs off
(``n_resamples: 0``) and on (config.yaml's ``stats.bootstrap``), best of ``--repeats``, as CPU time of
this process (``time.process_time``, robust to a busy machine) and wall time.  The added time is what
the CIs cost the stats rules (which also import libraries and draw figures, unchanged by the CIs).
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from pathlib import Path

import pandas as pd
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from bench_pipeline import append_results, machine  # noqa: E402

from dlenergy import stats as S  # noqa: E402

FUNCTIONS = {
    "stats_rq1": S.rq1_tables,
    "stats_rq2": S.rq2_tables,
    "stats_tradeoff": S.tradeoff_tables,
    "stats_ram": S.ram_tables,
}


def best_time(f, runs, cfg, repeats: int) -> tuple[float, float]:
    cpu, wall = [], []
    for _ in range(repeats):
        c0, w0 = time.process_time(), time.perf_counter()
        f(runs, cfg)
        cpu.append(time.process_time() - c0)
        wall.append(time.perf_counter() - w0)
    return min(cpu), min(wall)


def measure(path: Path, repeats: int) -> pd.DataFrame:
    config = yaml.safe_load((ROOT / "config.yaml").read_text())
    stats_cfg = {**config["stats"], "seed": config["seed"]}
    on = S.StatsConfig.from_dict(stats_cfg)
    off = S.StatsConfig.from_dict({**stats_cfg, "bootstrap": {"n_resamples": 0}})
    runs = pd.read_parquet(path).drop(columns=["data_label"], errors="ignore")
    rows = []
    for rule, f in FUNCTIONS.items():
        c_off, w_off = best_time(f, runs, off, repeats)
        c_on, w_on = best_time(f, runs, on, repeats)
        rows.append(
            {
                "rule": rule,
                "cpu_off_s": c_off,
                "cpu_on_s": c_on,
                "added_cpu_s": c_on - c_off,
                "wall_off_s": w_off,
                "wall_on_s": w_on,
                "added_wall_s": w_on - w_off,
            }
        )
    out = pd.DataFrame(rows)
    total = out.drop(columns="rule").sum().to_dict()
    return pd.concat([out, pd.DataFrame([{"rule": "total", **total}])], ignore_index=True).round(2)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("runs", nargs="+", help="results/<source>/clean/runs.parquet")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results.md"))
    args = ap.parse_args()
    boot = yaml.safe_load((ROOT / "config.yaml").read_text())["stats"].get("bootstrap", {})
    text = [
        f"\n## Bootstrap CIs in the stats tables (`stats.bootstrap`: {boot})\n",
        f"- date: {dt.date.today()}; machine: {machine()}",
        f"- command: `python benchmarks/bench_bootstrap.py {' '.join(args.runs)} --repeats {args.repeats}`",
        "- best of the repeats; CPU time of the process (the machine is shared) and wall time\n",
    ]
    for p in args.runs:
        t = measure(Path(p), args.repeats)
        n = len(pd.read_parquet(p, columns=["run_id"]))
        text += [f"`{p}` ({n} cleaned runs):\n", t.to_markdown(index=False), ""]
        print(f"{p}\n{t.to_string(index=False)}\n")
    append_results("\n".join(text) + "\n", args.out)


if __name__ == "__main__":
    main()
