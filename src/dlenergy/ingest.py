"""Ingest a canonical (layout v1) dataset: per-run and per-epoch energy, plus a ledger of bad input.

Work is split in shards of runs (a stable hash of the run id), so Snakemake can ingest shards in
parallel and adding a run only touches its own shard.  Nothing here holds more than one run's
samples in memory at a time.

A run's bad file is that run's problem: any failure while reading or computing one run (a log that
does not parse, a plausibility check of :mod:`dlenergy.plausibility`, a file that resolves outside
the dataset, an unexpected error) puts that run in the ledger with a one-line printable reason
(``file:line: ...``, paths relative to the dataset, at most 200 characters); every other run is
computed exactly as without it.  :func:`ingest_run` is the one place that reads and checks a run;
``dlenergy validate`` calls it too, so the two always agree.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import hashlib
import os
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from . import RAM_W_PER_MB
from .clock import RunClock
from .energy import EPOCH_COLUMNS, run_energy
from .layout import CPU_FILE, EPOCHS_FILE, GPU_FILE, RUNS_DIR, RUNS_FILE, LayoutError, read_runs_table
from .parsing import LogReport, read_cpu_log, read_epochs_lines, read_gpu_log
from .plausibility import ImplausibleError, IngestConfig, check_row
from .series import max_gap
from .textlog import Damage, printable, read_text_lines

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
    # what the parsers and plausibility checks did (docs/layout.md, "Plausibility")
    "n_gpus",
    "gpu_energy_by_gpu_j",
    "gpu_bad_byte_lines",
    "power_samples_dropped",
    "power_samples_above_limit",
    "power_cap_w",
    "power_cap_source",
    "gpu_reordered_lines",
    "gpu_duplicate_timestamps",
    "gpu_missing_lines_filled",
    "cpu_dropped_lines",
    "ram_log_coverage",
    "clock_utc_offset_s",
    "converted_units",
]
INT_COLUMNS = [
    "epochs_measured",
    "n_gpu_samples",
    "gpu_cut_lines",
    "gpu_dropped_lines",
    "n_gpus",
    "gpu_bad_byte_lines",
    "power_samples_dropped",
    "power_samples_above_limit",
    "gpu_reordered_lines",
    "gpu_duplicate_timestamps",
    "gpu_missing_lines_filled",
    "cpu_dropped_lines",
]


def shard_of(run_id: str, n_shards: int) -> int:
    """Stable shard number of a run (crc32 of the id): adding a run never moves another."""
    return zlib.crc32(run_id.encode("utf-8")) % max(int(n_shards), 1)


def _runs_rows(path: Path) -> tuple[str, list[tuple[str, str]]]:
    """runs.csv's header and ``(run_id, line)`` of each row, ``run_id`` read by column name."""
    if not path.is_file():
        return "", []
    lines = read_text_lines(path, Damage())
    header = next(csv.reader([lines[0]]), []) if lines else []
    names = [c.strip() for c in header]
    at = names.index("run_id") if "run_id" in names else None
    out = []
    for line in lines[1:]:
        if not line.strip():
            continue
        fields = next(csv.reader([line]), [])
        rid = fields[at].strip() if at is not None and at < len(fields) else ""
        out.append((rid, line))
    return (lines[0] if lines else ""), out


def shard_members(dataset: str | Path, n_shards: int) -> list[str]:
    """Per shard, a digest of its runs.csv rows and of its runs' log files (name, size, mtime).

    Snakemake uses it as a params rerun trigger: a shard re-runs only when one of its own runs
    changed.  Rows are assigned by their ``run_id`` column, found by name (any column order).
    Cheap: reads runs.csv as text and stats the files, never parses a log.
    """
    dataset = Path(dataset)
    h = [hashlib.sha256() for _ in range(max(int(n_shards), 1))]
    header, rows = _runs_rows(dataset / RUNS_FILE)
    for hh in h:
        hh.update(header.encode())
    ids = set()
    for rid, line in rows:
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


# ----------------------------------------------------------------------------- one run


@dataclass
class RunOutcome:
    """One run read and checked: its row and epochs, or the reason it is refused."""

    run_id: str
    row: dict | None = None
    epochs: pd.DataFrame | None = None
    reason: str | None = None  # the ledger's reason: paths relative to the dataset, <= 200 characters
    detail: str | None = None  # the same with full paths, for `dlenergy validate`
    reports: dict[str, LogReport] = field(default_factory=dict)
    has_cpu_log: bool = False
    epochs_file_empty: bool = False


@contextlib.contextmanager
def _reading(path: Path):
    """Any failure while reading ``path`` becomes a :class:`LayoutError` naming it."""
    try:
        yield
    except (LayoutError, MemoryError):
        raise
    except Exception as exc:
        raise LayoutError(f"{path}: cannot read: {type(exc).__name__}: {exc}") from exc


def _check_links(root: Path, rdir: Path, allow: bool) -> None:
    """Refuse a run folder or log that resolves outside the dataset (unless allowed)."""
    if allow:
        return
    for p in (rdir, rdir / GPU_FILE, rdir / CPU_FILE, rdir / EPOCHS_FILE):
        if not (p.exists() or p.is_symlink()):
            continue
        try:
            inside = p.resolve(strict=True).is_relative_to(root)
        except (OSError, RuntimeError):
            inside = False
        if not inside:
            raise LayoutError(
                f"{p}: resolves outside the dataset (a link to a file elsewhere); refused "
                "(set ingest.allow_external_links: true to read it)"
            )


def _train_start(rec: dict, clock: RunClock) -> pd.Timestamp | None:
    """``train_start`` on the run's clock (its zone, if written, converted: :mod:`dlenergy.clock`)."""
    ts = rec.get("train_start")
    if ts is None or pd.isna(ts):
        return None
    us = int(pd.Timestamp(ts).as_unit("us").asm8.view("i8"))
    off = rec.get("_tz_train_start")
    if off is not None and np.isfinite(off):
        clock.see(int(off))
        us += int((clock.offset_s - off) * 1_000_000)
    return pd.Timestamp(us, unit="us")


@dataclass
class _Loaded:
    gpu: pd.DataFrame
    cpu: pd.DataFrame | None
    epochs: pd.DataFrame | None
    epoch_lines: np.ndarray
    train_start: pd.Timestamp | None
    clock: RunClock


def board_tdp_w(gpu_model) -> float | None:
    """The board's TDP from the GPU table, the power cap of a log without ``power.limit`` (None: unknown)."""
    from .gpu_specs import UnknownGPUError, lookup_gpu

    try:
        return lookup_gpu(gpu_model).tdp_w
    except (UnknownGPUError, TypeError):
        return None


def _load(dataset: Path, rec: dict, cfg: IngestConfig, out: RunOutcome) -> _Loaded:
    """Read a run's files on one clock (order: gpu.csv, epochs.csv, cpu.csv, train_start)."""
    rdir = dataset / RUNS_DIR / rec["run_id"]
    _check_links(dataset.resolve(), rdir, cfg.allow_external_links)
    gpu_path = rdir / GPU_FILE
    if not gpu_path.is_file():
        raise LayoutError(f"{dataset / RUNS_FILE}:{rec['_line']}: run has no GPU log ({gpu_path} missing)")
    clock, p = RunClock(), cfg.plausibility
    with _reading(gpu_path):
        gpu, out.reports["gpu"] = read_gpu_log(gpu_path, config=p, clock=clock, tdp_w=board_tdp_w(rec.get("gpu_model")))
    if len(gpu) < 2:
        raise LayoutError(f"{gpu_path}: GPU log has {len(gpu)} readable sample(s), need at least 2")
    if gpu["power_w"].isna().all():
        raise LayoutError(f"{gpu_path}: no readable power value in the GPU log")
    epochs, ep_lines = None, np.zeros(0, dtype=np.int64)
    if (rdir / EPOCHS_FILE).is_file():
        with _reading(rdir / EPOCHS_FILE):
            epochs, ep_lines = read_epochs_lines(rdir / EPOCHS_FILE, clock=clock)
        out.epochs_file_empty = epochs.empty
    cpu = None
    if (rdir / CPU_FILE).is_file():
        out.has_cpu_log = True
        with _reading(rdir / CPU_FILE):
            cpu, out.reports["cpu"] = read_cpu_log(rdir / CPU_FILE, config=p, clock=clock)
    return _Loaded(gpu, cpu, epochs, ep_lines, _train_start(rec, clock), clock)


def _check_window(dataset: Path, rec: dict, run: _Loaded, out: RunOutcome, cfg: IngestConfig) -> float:
    """The training window must lie on the logs (within the tolerance); returns the RAM log's coverage."""
    p, rdir = cfg.plausibility, dataset / RUNS_DIR / rec["run_id"]
    runs_at = f"{dataset / RUNS_FILE}:{rec['_line']}"
    gt = run.gpu["t"].to_numpy()
    ts = run.train_start.as_unit("us").asm8.view("i8") / 1e6 if run.train_start is not None else None
    ends = (
        run.epochs["end_time"].to_numpy().astype("datetime64[us]").astype("int64") / 1e6
        if run.epochs is not None and len(run.epochs)
        else np.zeros(0)
    )
    start, end = (ts if ts is not None else gt[0]), (ends[-1] if len(ends) else gt[-1])
    tol = max(p.window_tolerance_s, 2.0 * float(np.median(np.diff(gt))))  # two sampling periods at least
    if ts is not None and gt[0] - ts > tol:
        raise ImplausibleError(
            f"{runs_at}: train_start {run.train_start} is {gt[0] - ts:.0f} s before the GPU log's "
            f"first sample (tolerance {tol:g} s)"
        )
    if ts is not None and len(ends) and ts > ends[0]:
        raise ImplausibleError(f"{runs_at}: train_start {run.train_start} is after the first epoch end")
    if ts is not None and ts >= gt[-1]:
        raise ImplausibleError(f"{runs_at}: train_start {run.train_start} is at or after the GPU log's last sample")
    outside = np.flatnonzero((ends > gt[-1] + tol) | (ends < gt[0] - tol))
    if len(outside):
        i = int(outside[0])
        raise ImplausibleError(
            f"{rdir / EPOCHS_FILE}:{run.epoch_lines[i]}: epoch {int(run.epochs['epoch'].iloc[i])} ends outside the "
            f"GPU log ({run.gpu['timestamp'].iloc[0]} .. {run.gpu['timestamp'].iloc[-1]}, tolerance {tol:g} s)"
        )
    have = np.isfinite(run.gpu["power_w"].to_numpy())  # a stretch of [N/A] power is a gap too
    gap, at = max_gap(gt[have] * 1e6, out.reports["gpu"].lines[have], start * 1e6, end * 1e6)
    if gap > p.max_gap_s:
        raise ImplausibleError(
            f"{rdir / GPU_FILE}:{at}: no GPU sample for {gap:.0f} s inside the training window "
            f"(a logger pause or a clock jump; at most {p.max_gap_s:g} s)"
        )
    return _ram_coverage(run.cpu, start, end, rdir / CPU_FILE)


def _ram_coverage(cpu: pd.DataFrame | None, start: float, end: float, path: Path) -> float:
    if cpu is None:
        return np.nan
    ct = cpu["t"].to_numpy()
    n_in = int(((ct >= start) & (ct <= end)).sum())
    if n_in < 2:
        raise ImplausibleError(
            f"{path}: {n_in} RAM sample(s) inside the training window (a header only, or a log "
            "that misses the run): RAM energy unknown"
        )
    span = end - start
    return float(np.clip((min(ct[-1], end) - max(ct[0], start)) / span, 0.0, 1.0)) if span > 0 else np.nan


def _images(rec: dict, m: dict) -> float:
    v = rec.get("images_seen")
    if v is not None and np.isfinite(v):
        return float(v)
    n_ep = m["epochs_measured"] if m["epochs_measured"] else rec.get("epochs_trained", np.nan)
    size = rec.get("training_size")
    ok = n_ep is not None and pd.notna(n_ep) and size is not None and pd.notna(size)
    return float(n_ep) * float(size) if ok else np.nan


def _metrics(rec: dict, run: _Loaded, out: RunOutcome, coverage: float, m: dict) -> dict:
    g, c = out.reports["gpu"], out.reports.get("cpu")
    m.update(
        gpu_cut_lines=g.n_cut,
        gpu_dropped_lines=g.n_dropped,
        gpu_bad_byte_lines=g.n_bad_bytes,
        has_epoch_markers=run.epochs is not None and len(run.epochs) > 0,
        power_samples_dropped=g.power.n_dropped,
        power_samples_above_limit=g.power.n_above_cap,
        power_cap_w=g.power.cap_w,
        power_cap_source=g.power.cap_source,
        gpu_reordered_lines=g.n_reordered,
        gpu_duplicate_timestamps=g.n_duplicates,
        gpu_missing_lines_filled=g.n_filled,
        cpu_dropped_lines=c.n_dropped if c else 0,
        ram_log_coverage=coverage,
        clock_utc_offset_s=float(run.clock.offset_s) if run.clock.offset_s is not None else np.nan,
        converted_units=";".join(f"{k}:{u}" for k, u in {**g.units, **(c.units if c else {})}.items()),
    )
    images = _images(rec, m)
    m["images_seen"] = images
    m["energy_per_image_j"] = m["energy_j"] / images if np.isfinite(images) and images > 0 else np.nan
    row = {k: v for k, v in rec.items() if not k.startswith("_") and k != "images_seen"}
    if run.train_start is not None and "train_start" in row:
        row["train_start"] = run.train_start
    return {**row, **{k: m.get(k) for k in RUN_METRIC_COLUMNS}}


def ingest_run(dataset: str | Path, rec: dict, config: IngestConfig | None = None) -> RunOutcome:
    """Read, check and compute one run (a ``runs.csv`` record with ``_line``); never raises for
    anything in the run's files: the reason is in :attr:`RunOutcome.reason` instead."""
    dataset, cfg = Path(dataset), config or IngestConfig()
    out = RunOutcome(str(rec["run_id"]))
    try:
        run = _load(dataset, rec, cfg, out)
        coverage = _check_window(dataset, rec, run, out, cfg)
        epochs = (
            run.epochs[["epoch", "end_time"] + [c for c in run.epochs.columns if c not in ("epoch", "end_time")]]
            if run.epochs is not None
            else None
        )
        res = run_energy(run.gpu, run.cpu, epochs, run.train_start, ram_w_per_mb=cfg.ram_w_per_mb)
        bad = check_row(rec, res.metrics["epochs_measured"] or None, cfg.plausibility)
        if bad:
            raise ImplausibleError(f"{dataset / RUNS_FILE}:{rec['_line']}: {bad}")
        out.row = _metrics(rec, run, out, coverage, res.metrics)
        if len(res.epochs):
            ep = res.epochs.copy()
            ep.insert(0, "run_id", out.run_id)
            out.epochs = ep[EPOCH_COLUMNS]
    except MemoryError:
        raise
    except Exception as exc:
        out.reason = reason_text(exc, dataset)
        out.detail = printable(exc if isinstance(exc, LayoutError) else f"{type(exc).__name__}: {exc}", 1000)
    return out


def reason_text(exc: BaseException, dataset: Path) -> str:
    """A ledger reason: the message with paths relative to the dataset, printable, <= 200 chars."""
    msg = str(exc) if isinstance(exc, LayoutError) else f"{type(exc).__name__}: {exc}"
    for root in {str(dataset), str(dataset.resolve())}:
        msg = msg.replace(root.rstrip(os.sep) + os.sep, "")
    return printable(msg)


# ----------------------------------------------------------------------------- the dataset


def _config(config: IngestConfig | dict | None, ram_w_per_mb: float) -> IngestConfig:
    cfg = config if isinstance(config, IngestConfig) else IngestConfig.from_dict(config)
    if ram_w_per_mb != RAM_W_PER_MB:
        cfg = dataclasses.replace(cfg, ram_w_per_mb=ram_w_per_mb)
    return cfg


def _dataset_ledger(dataset: Path, table, shard: int | None, n_shards: int) -> list[dict]:
    """Ledger rows that are not about one run's logs: unreadable runs.csv rows, orphan folders,
    and the source adapter's own ledger."""
    mine = lambda rid: shard is None or shard_of(rid, n_shards) == shard
    ledger, skipped_ids = [], set()
    for rid, line, why in table.skipped:
        key = rid or f"{RUNS_FILE}:{line}"
        skipped_ids.add(rid)
        if mine(key):
            ledger.append({"run_id": key, "stage": "ingest", "reason": printable(f"{RUNS_FILE}:{line}: {why}")})
    runs_root = dataset / RUNS_DIR
    folders = {p.name for p in runs_root.iterdir() if p.is_dir()} if runs_root.is_dir() else set()
    for orphan in sorted(folders - set(table.frame["run_id"]) - skipped_ids):
        if mine(orphan):
            ledger.append(
                {
                    "run_id": orphan,
                    "stage": "ingest",
                    "reason": printable(f"logs in {RUNS_DIR}/{orphan} have no row in {RUNS_FILE}"),
                }
            )
    src_ledger = dataset / SOURCE_LEDGER
    if src_ledger.is_file() and (shard is None or shard == 0):
        prev = pd.read_csv(src_ledger, dtype=str, keep_default_na=False)
        ledger.extend(prev[LEDGER_COLUMNS].to_dict("records"))
    return ledger


def ingest_dataset(
    dataset: str | Path,
    *,
    shard: int | None = None,
    n_shards: int = 1,
    ram_w_per_mb: float = RAM_W_PER_MB,
    config: IngestConfig | dict | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Ingest the runs of one shard (all runs when ``shard`` is None).

    Returns ``(runs, epochs, ledger)``: ``runs`` has every runs.csv column plus
    :data:`RUN_METRIC_COLUMNS`, one row per runs.csv row whose logs pass; ``epochs`` has
    :data:`dlenergy.energy.EPOCH_COLUMNS`; ``ledger`` (``run_id, stage, reason``) records runs.csv
    rows without logs or that cannot be read, log folders without a row, and runs refused by
    :func:`ingest_run` (stage ``ingest``).  ``config`` is the ``ingest:`` block of config.yaml
    (:class:`~dlenergy.plausibility.IngestConfig`).  Structural errors in runs.csv raise
    :class:`LayoutError` naming the file and line.

    Examples
    --------
    >>> import tempfile
    >>> from dlenergy.simulate import simulate_dataset
    >>> ds = tempfile.mkdtemp() + "/ds"
    >>> _ = simulate_dataset(ds, seed=1, scale="tiny")
    >>> runs, epochs, ledger = ingest_dataset(ds, config={"plausibility": {"window_tolerance_s": 30}})
    >>> len(runs), ledger.empty, bool((runs["energy_j"] > 0).all())
    (18, True, True)
    """
    dataset = Path(dataset)
    cfg = _config(config, ram_w_per_mb)
    table = read_runs_table(dataset / RUNS_FILE, strict=True)
    runs = table.frame
    if shard is not None:
        keep = runs["run_id"].map(lambda r: shard_of(r, n_shards) == shard).to_numpy(dtype=bool)
        runs = runs.loc[keep]
    ledger = _dataset_ledger(dataset, table, shard, n_shards)
    rows, epoch_frames = [], []
    for rec in runs.to_dict("records"):
        out = ingest_run(dataset, rec, cfg)
        if out.reason is not None:
            ledger.append({"run_id": out.run_id, "stage": "ingest", "reason": out.reason})
            continue
        rows.append(out.row)
        if out.epochs is not None:
            epoch_frames.append(out.epochs)
    base_cols = [c for c in table.frame.columns if not c.startswith("_") and c != "images_seen"]
    out_runs = _types(pd.DataFrame(rows, columns=base_cols + RUN_METRIC_COLUMNS))
    out_epochs = pd.concat(epoch_frames, ignore_index=True) if epoch_frames else pd.DataFrame(columns=EPOCH_COLUMNS)
    out_epochs = out_epochs.astype({"run_id": "str", "epoch": "int64"})
    for c in ("start_time", "end_time"):
        out_epochs[c] = pd.to_datetime(out_epochs[c]).astype("datetime64[us]")
    return out_runs, out_epochs, pd.DataFrame(ledger, columns=LEDGER_COLUMNS)


def _types(df: pd.DataFrame) -> pd.DataFrame:
    for c in ("start_time", "end_time"):
        df[c] = pd.to_datetime(df[c]).astype("datetime64[us]")
    for c in INT_COLUMNS:
        df[c] = df[c].astype("int64")
    for c in ("has_ram_log", "has_epoch_markers"):
        df[c] = df[c].astype(bool)
    for c in ("power_cap_w", "ram_log_coverage", "clock_utc_offset_s"):
        df[c] = df[c].astype("float64")
    for c in ("gpu_energy_by_gpu_j", "power_cap_source", "converted_units"):
        df[c] = df[c].astype("str")
    return df


def combine(parts: list[tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]]):
    """Concatenate shard results in a deterministic order (by run id, then epoch)."""
    runs = pd.concat([p[0] for p in parts], ignore_index=True).sort_values("run_id", kind="stable")
    epochs = pd.concat([p[1] for p in parts], ignore_index=True).sort_values(["run_id", "epoch"], kind="stable")
    ledger = pd.concat([p[2] for p in parts], ignore_index=True).sort_values(["run_id", "stage"], kind="stable")
    return runs.reset_index(drop=True), epochs.reset_index(drop=True), ledger.reset_index(drop=True)
