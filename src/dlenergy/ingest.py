"""Ingest a canonical (layout v1) dataset: per-run and per-epoch energy, plus a ledger of bad input.

Work is split in shards of runs (a stable hash of the run id), so Snakemake can ingest shards in
parallel and adding a run only touches its own shard.  Nothing here holds more than one run's
samples in memory at a time.
"""

from __future__ import annotations

import zlib
from pathlib import Path

import numpy as np
import pandas as pd

from . import RAM_W_PER_MB
from .energy import EPOCH_COLUMNS, run_energy
from .layout import CPU_FILE, EPOCHS_FILE, GPU_FILE, RUNS_DIR, RUNS_FILE, LayoutError, read_runs_table
from .parsing import read_cpu_log, read_epochs, read_gpu_log

LEDGER_COLUMNS = ["run_id", "stage", "reason"]
SOURCE_LEDGER = "source_ledger.csv"  #: written by source adapters: rows they could not convert

RUN_METRIC_COLUMNS = [
    "start_time",
    "end_time",
    "duration_s",
    "epochs_measured",
    "images_seen",
    "gpu_energy_j",
    "ram_energy_j",
    "energy_j",
    "energy_per_image_j",
    "mean_gpu_power_w",
    "gpu_usage_pct",
    "max_power_w",
    "sampling_period_s",
    "min_epoch_duration_s",
    "mean_ram_used_mb",
    "n_gpu_samples",
    "has_ram_log",
    "gpu_name_logged",
    "gpu_cut_lines",
    "gpu_dropped_lines",
    "has_epoch_markers",
    "gpu_counter_energy_j",
]


def shard_of(run_id: str, n_shards: int) -> int:
    """Stable shard number of a run (crc32 of the id): adding a run never moves another."""
    return zlib.crc32(run_id.encode("utf-8")) % max(int(n_shards), 1)


def shard_members(dataset: str | Path, n_shards: int) -> list[str]:
    """Per shard, a digest of its runs.csv rows and of its runs' log files (name, size, mtime).

    Snakemake uses it as a params rerun trigger: a shard re-runs only when one of its own runs
    changed.  Cheap: reads runs.csv as text and stats the files, never parses a log.
    """
    import hashlib

    dataset = Path(dataset)
    h = [hashlib.sha256() for _ in range(max(int(n_shards), 1))]
    text = (dataset / RUNS_FILE).read_text() if (dataset / RUNS_FILE).is_file() else ""
    lines = text.splitlines()
    header = lines[0] if lines else ""
    for hh in h:
        hh.update(header.encode())
    ids = set()
    for line in lines[1:]:
        rid = line.split(",", 1)[0].strip().strip('"')
        ids.add(rid)
        h[shard_of(rid, n_shards)].update(line.encode() + b"\n")
    runs_root = dataset / RUNS_DIR
    folders = sorted(p.name for p in runs_root.iterdir() if p.is_dir()) if runs_root.is_dir() else []
    for rid in sorted(ids | set(folders)):
        hh = h[shard_of(rid, n_shards)]
        rdir = runs_root / rid
        for name in (GPU_FILE, CPU_FILE, EPOCHS_FILE):
            p = rdir / name
            if p.is_file():
                st = p.stat()
                hh.update(f"{rid}/{name}:{st.st_size}:{st.st_mtime_ns}".encode())
    src = dataset / SOURCE_LEDGER
    if src.is_file():
        st = src.stat()
        h[0].update(f"{SOURCE_LEDGER}:{st.st_size}:{st.st_mtime_ns}".encode())
    return [hh.hexdigest() for hh in h]


def ingest_dataset(
    dataset: str | Path,
    *,
    shard: int | None = None,
    n_shards: int = 1,
    ram_w_per_mb: float = RAM_W_PER_MB,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Ingest the runs of one shard (all runs when ``shard`` is None).

    Returns ``(runs, epochs, ledger)``: ``runs`` has every runs.csv column plus
    :data:`RUN_METRIC_COLUMNS`, one row per runs.csv row *with logs*; ``epochs`` has
    :data:`dlenergy.energy.EPOCH_COLUMNS`; ``ledger`` (``run_id, stage, reason``) records runs.csv rows
    without logs, log folders without a runs.csv row, and unreadable logs (stage ``ingest``).
    Structural errors in runs.csv raise :class:`LayoutError` naming the file and line.
    """
    dataset = Path(dataset)
    table = read_runs_table(dataset / RUNS_FILE, strict=True)
    runs = table.frame
    if shard is not None:
        keep = runs["run_id"].map(lambda r: shard_of(r, n_shards) == shard).to_numpy(dtype=bool)
        runs = runs.loc[keep]
    ledger: list[dict] = []

    runs_root = dataset / RUNS_DIR
    folders = {p.name for p in runs_root.iterdir() if p.is_dir()} if runs_root.is_dir() else set()
    known = set(table.frame["run_id"])
    for orphan in sorted(folders - known):
        if shard is None or shard_of(orphan, n_shards) == shard:
            ledger.append(
                {"run_id": orphan, "stage": "ingest",
                 "reason": f"logs in {runs_root / orphan} have no row in {dataset / RUNS_FILE}"}
            )

    # an adapter (seaa2023, zenodo) records what it could not convert in DATASET/source_ledger.csv
    src_ledger = dataset / SOURCE_LEDGER
    if src_ledger.is_file() and (shard is None or shard == 0):
        prev = pd.read_csv(src_ledger, dtype=str, keep_default_na=False)
        ledger.extend(prev[LEDGER_COLUMNS].to_dict("records"))

    rows, epoch_frames = [], []
    for rec in runs.to_dict("records"):
        rid = rec["run_id"]
        rdir = runs_root / rid
        line = rec.pop("_line")
        gpu_path = rdir / GPU_FILE
        if not gpu_path.is_file():
            ledger.append({"run_id": rid, "stage": "ingest",
                           "reason": f"{dataset / RUNS_FILE}:{line}: run has no GPU log ({gpu_path} missing)"})
            continue
        try:
            gpu, grep = read_gpu_log(gpu_path)
            if len(gpu) < 2:
                raise LayoutError(f"{gpu_path}: GPU log has {len(gpu)} readable sample(s), need at least 2")
            cpu = None
            if (rdir / CPU_FILE).is_file():
                cpu, _ = read_cpu_log(rdir / CPU_FILE)
            epochs = read_epochs(rdir / EPOCHS_FILE) if (rdir / EPOCHS_FILE).is_file() else None
            res = run_energy(gpu, cpu, epochs, rec.get("train_start"), ram_w_per_mb=ram_w_per_mb)
        except LayoutError as exc:
            ledger.append({"run_id": rid, "stage": "ingest", "reason": str(exc)})
            continue
        m = res.metrics
        m["gpu_cut_lines"] = grep.n_cut
        m["gpu_dropped_lines"] = grep.n_dropped
        m["has_epoch_markers"] = epochs is not None and len(epochs) > 0
        if np.isfinite(rec.get("images_seen", np.nan) if rec.get("images_seen") is not None else np.nan):
            images = float(rec["images_seen"])
        else:
            n_ep = m["epochs_measured"] if m["epochs_measured"] else rec.get("epochs_trained", np.nan)
            images = float(n_ep) * float(rec["training_size"]) if n_ep is not None and pd.notna(n_ep) and pd.notna(rec["training_size"]) else np.nan
        m["images_seen"] = images
        m["energy_per_image_j"] = m["energy_j"] / images if images and np.isfinite(images) and images > 0 else np.nan
        rec.pop("images_seen", None)
        rows.append({**rec, **{k: m.get(k) for k in RUN_METRIC_COLUMNS}})
        if len(res.epochs):
            ep = res.epochs.copy()
            ep.insert(0, "run_id", rid)
            epoch_frames.append(ep[EPOCH_COLUMNS])

    base_cols = [c for c in table.frame.columns if c not in ("_line", "images_seen")]
    out_runs = pd.DataFrame(rows, columns=base_cols + RUN_METRIC_COLUMNS)
    out_epochs = (
        pd.concat(epoch_frames, ignore_index=True) if epoch_frames else pd.DataFrame(columns=EPOCH_COLUMNS)
    )
    out_runs = _types(out_runs)
    out_epochs = out_epochs.astype({"run_id": "str", "epoch": "int64"})
    for c in ("start_time", "end_time"):
        out_epochs[c] = pd.to_datetime(out_epochs[c]).astype("datetime64[us]")
    return out_runs, out_epochs, pd.DataFrame(ledger, columns=LEDGER_COLUMNS)


def _types(df: pd.DataFrame) -> pd.DataFrame:
    for c in ("start_time", "end_time"):
        df[c] = pd.to_datetime(df[c]).astype("datetime64[us]")
    for c in ("epochs_measured", "n_gpu_samples", "gpu_cut_lines", "gpu_dropped_lines"):
        df[c] = df[c].astype("int64")
    for c in ("has_ram_log", "has_epoch_markers"):
        df[c] = df[c].astype(bool)
    return df


def combine(parts: list[tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]]):
    """Concatenate shard results in a deterministic order (by run id, then epoch)."""
    runs = pd.concat([p[0] for p in parts], ignore_index=True).sort_values("run_id", kind="stable")
    epochs = pd.concat([p[1] for p in parts], ignore_index=True).sort_values(["run_id", "epoch"], kind="stable")
    ledger = pd.concat([p[2] for p in parts], ignore_index=True).sort_values(["run_id", "stage"], kind="stable")
    return runs.reset_index(drop=True), epochs.reset_index(drop=True), ledger.reset_index(drop=True)
