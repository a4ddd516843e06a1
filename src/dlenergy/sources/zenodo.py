"""Adapter for the paper's full replication package (Zenodo 10.5281/zenodo.11505891) → layout v1.

The package (``data.zip`` of GAISSA-UPC/dl-training-energy-estimation) unpacks to ``data/metrics/``;
the adapter finds it anywhere up to a few folders below ``raw_root``::

    data/metrics/raw/<env>/<arch>/<dataset>/gpu-<stamp>.csv        nvidia-smi log (also gpu-power-<stamp>.csv)
    data/metrics/raw/<env>/<arch>/<dataset>/cpu-<stamp>.csv        psutil log (also cpu-mem-usage-<stamp>.csv)
    data/metrics/raw/<env>/<arch>/<dataset>/epoch_end-<stamp>.csv  epoch, end_time
    data/metrics/processed/dl-training-energy-consumption-dataset.gzip   run settings and metrics (parquet)

Environments.  Raw folders are ``server`` and ``desktop`` (the authors' code later renames
``desktop`` runs on an RTX 3070 to ``desktop-v2``); the parquet names them "Server",
"Desktop ML Engineer" and "Desktop Normal User".  Canonical names: ``cloud`` (Server, RTX 3090),
``local_ml_engineer`` (RTX 3070), ``local_normal_user`` (GTX 750 Ti).  A ``desktop`` folder's runs
are assigned by the GPU named in each GPU log, with the authors' rule (RTX 3070 → ML Engineer,
otherwise Normal User); ``desktop-v2``/``server`` (and the SEAA names ``local-v2``/``cloud``/``local``)
map directly.

Matching.  Within one (environment, architecture, dataset), GPU logs (by the stamp in their name,
the file's creation time) are matched one-to-one to parquet rows by the nearest ``start time`` (the
first sample of the run, seconds after the stamp) within :data:`MATCH_TOLERANCE`; when the parquet
has no usable start times, or time matching leaves a group with as many logs as rows but unmatched
pairs, they are matched in order (the authors' own rule: their code zips the stamp-sorted files
with the MLflow runs ordered by start time).  CPU and epoch files go with the GPU log of the same
stamp.  Rows without logs, logs without a row and CPU/epoch files without a GPU log go to
``source_ledger.csv`` with their reason.

Canonical values: ``run_id`` = ``<environment>-<arch>-<dataset>-<stamp>`` (the parquet's MLflow
``run_id`` is kept as ``source_run_id``); ``image_size`` from "(128, 128)" → 128; ``total_ram_gb``
from ``total ram (GB)``; ``gflops`` from ``GFLOPs``; ``return_code`` from ``return code`` (missing →
0, as the authors fill it); ``train_start`` from ``start time``; ``epochs_trained``, ``images_seen``
(``total seen images``), ``f1`` (``f1-score``), ``accuracy``, ``precision``, ``recall`` when present.
Logs are hard-linked (or copied) unchanged; epoch files become ``epochs.csv``.

Download.  :func:`fetch_raw` resolves the pinned record :data:`ZENODO_DOI` through Zenodo's
records API (file names, sizes, md5) and downloads and unpacks its archive (pooch, resumable,
md5-checked, atomic unpack; :mod:`dlenergy.sources.zenodo_api`); the pipeline does the same for
``fetch: zenodo`` (``sources.zenodo.zenodo``) when no ``data_dir`` is given.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..layout import CPU_FILE, EPOCHS_FILE, GPU_FILE, RUNS_DIR, RUNS_REQUIRED, LayoutError
from ._common import (
    AUTHORS_COLUMNS,
    atomic_dir,
    ledger_row,
    link_or_copy,
    walk_dirs,
    write_info,
    write_ledger,
    write_runs_csv,
)
from .seaa2023 import _gpu_name

ZENODO_DOI = "10.5281/zenodo.11505891"
ZENODO_RECORD = "https://zenodo.org/records/11505891"
LABEL = "del Rey et al. (2024) replication package (Zenodo 10.5281/zenodo.11505891, CC BY 4.0)"
PROCESSED_NAME = "dl-training-energy-consumption-dataset.gzip"
MATCH_TOLERANCE = pd.Timedelta("10min")

#: parquet column -> canonical runs.csv column (value taken as is)
COLUMNS = {
    "gpu model": "gpu_model",
    **AUTHORS_COLUMNS,
    "total ram (GB)": "total_ram_gb",
    "return code": "return_code",
    "start time": "train_start",
}
#: canonical environment -> GPU of the paper (§3.5), used when neither parquet nor log names one
ENV_GPU = {
    "cloud": "NVIDIA GeForce RTX 3090",
    "local_ml_engineer": "NVIDIA GeForce RTX 3070",
    "local_normal_user": "NVIDIA GeForce GTX 750 Ti",
}
_ENV_ALIASES = {
    "server": "cloud",
    "cloud": "cloud",
    "desktop ml engineer": "local_ml_engineer",
    "desktop-v2": "local_ml_engineer",
    "local-v2": "local_ml_engineer",
    "local ml engineer": "local_ml_engineer",
    "local ml engineer/gamer": "local_ml_engineer",
    "local_ml_engineer": "local_ml_engineer",
    "desktop normal user": "local_normal_user",
    "local normal user": "local_normal_user",
    "local": "local_normal_user",
    "local_normal_user": "local_normal_user",
}
_STAMP = re.compile(r"(\d{8}T\d{6})")


def canonical_environment(name: str, gpu_name: str | None = None) -> str:
    """Canonical environment of a raw folder or parquet environment name (``desktop`` needs the GPU)."""
    key = str(name).strip().lower()
    if key in _ENV_ALIASES:
        return _ENV_ALIASES[key]
    if key == "desktop":
        return "local_ml_engineer" if gpu_name and "3070" in gpu_name else "local_normal_user"
    return re.sub(r"[^a-z0-9]+", "_", key).strip("_") or "unknown"


def image_side(value) -> int | None:
    """``"(128, 128)"`` / ``"128x128"`` / ``128`` → 128 (the first number; None if there is none)."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    m = re.search(r"\d+", str(value))
    return int(m.group(0)) if m else None


@dataclass
class PackageLayout:
    raw: Path
    processed: Path


def locate(raw_root: str | Path, max_depth: int = 5) -> PackageLayout:
    """Find ``metrics/raw`` and the processed parquet under ``raw_root``."""
    raw_root = Path(raw_root)
    if not raw_root.is_dir():
        raise LayoutError(f"{raw_root}: replication package folder not found")
    for d in walk_dirs(raw_root, max_depth):
        cand = d / "processed" / PROCESSED_NAME
        if cand.is_file() and (d / "raw").is_dir():
            return PackageLayout(d / "raw", cand)
    raise LayoutError(
        f"{raw_root}: no replication package found (expected data/metrics/raw/ and "
        f"data/metrics/processed/{PROCESSED_NAME})"
    )


def read_processed(path: str | Path) -> pd.DataFrame:
    meta = pd.read_parquet(path)
    if any(n for n in (meta.index.names or [])):
        meta = meta.reset_index()
    for need in ("training environment", "architecture", "dataset"):
        if need not in meta.columns:
            raise LayoutError(f"{path}: processed dataset lacks column '{need}'")
    meta["_env"] = [
        canonical_environment(e, g)
        for e, g in zip(meta["training environment"], meta.get("gpu model", [None] * len(meta)))
    ]
    if "start time" in meta.columns:
        st = pd.to_datetime(meta["start time"], errors="coerce")
        if getattr(st.dt, "tz", None) is not None:
            st = st.dt.tz_localize(None)
        meta["_start"] = st
    else:
        meta["_start"] = pd.NaT
    return meta


@dataclass
class _Log:
    env: str
    arch: str
    dataset: str
    stamp: str
    gpu: Path
    cpu: Path | None
    epochs: Path | None
    gpu_name: str | None

    @property
    def time(self) -> pd.Timestamp:
        return pd.Timestamp(pd.to_datetime(self.stamp, format="%Y%m%dT%H%M%S"))


def _stamped(folder: Path, prefix: str) -> dict[str, Path]:
    out = {}
    for p in folder.glob(f"{prefix}*.csv"):
        m = _STAMP.search(p.name)
        if m:
            out[m.group(1)] = p
    return out


def scan_logs(raw: Path) -> tuple[list[_Log], list[dict]]:
    logs, ledger = [], []
    for env_dir in sorted(p for p in raw.iterdir() if p.is_dir()):
        for arch_dir in sorted(p for p in env_dir.iterdir() if p.is_dir()):
            for ds_dir in sorted(p for p in arch_dir.iterdir() if p.is_dir()):
                gpu = _stamped(ds_dir, "gpu")
                cpu = _stamped(ds_dir, "cpu")
                ep = _stamped(ds_dir, "epoch_end")
                for kind, files in (("CPU", cpu), ("epoch", ep)):
                    for s in sorted(set(files) - set(gpu)):
                        name = canonical_environment(env_dir.name)
                        ledger.append(
                            ledger_row(
                                f"{name}-{arch_dir.name}-{ds_dir.name}-{s}",
                                f"{files[s]}: {kind} file without a GPU log of stamp {s}",
                            )
                        )
                for s in sorted(gpu):
                    gname = _gpu_name(gpu[s])
                    logs.append(
                        _Log(
                            canonical_environment(env_dir.name, gname),
                            arch_dir.name,
                            ds_dir.name,
                            s,
                            gpu[s],
                            cpu.get(s),
                            ep.get(s),
                            gname,
                        )
                    )
    return logs, ledger


def _match_group(logs: list[_Log], rows: pd.DataFrame) -> tuple[list[tuple[_Log, dict]], list[_Log], list[dict]]:
    """One-to-one matching of one group's logs and parquet rows (nearest start time, else order)."""
    logs = sorted(logs, key=lambda l: l.stamp)
    rows = rows.sort_values("_start", kind="stable", na_position="last")
    recs = rows.to_dict("records")
    pairs: list[tuple[_Log, dict]] = []
    if len(recs) and rows["_start"].notna().all():
        # greedy on the smallest time differences: each log and row used once
        cand = []
        for i, l in enumerate(logs):
            for j, r in enumerate(recs):
                d = abs(r["_start"] - l.time)
                if d <= MATCH_TOLERANCE:
                    cand.append((d, i, j))
        used_l, used_r = set(), set()
        for _, i, j in sorted(cand):
            if i not in used_l and j not in used_r:
                used_l.add(i)
                used_r.add(j)
                pairs.append((logs[i], recs[j]))
        if len(pairs) == min(len(logs), len(recs)) or len(logs) != len(recs):
            rest_l = [l for i, l in enumerate(logs) if i not in used_l]
            rest_r = [r for j, r in enumerate(recs) if j not in used_r]
            return pairs, rest_l, rest_r
    # the authors' rule: stamp-sorted files zipped with start-time-sorted rows
    n = min(len(logs), len(recs))
    return list(zip(logs[:n], recs[:n])), logs[n:], recs[n:]


def build_runs(raw_root: str | Path):
    lay = locate(raw_root)
    meta = read_processed(lay.processed)
    logs, ledger = scan_logs(lay.raw)
    groups: dict[tuple[str, str, str], list[_Log]] = {}
    for l in logs:
        groups.setdefault((l.env, l.arch, l.dataset), []).append(l)
    rows, files = [], {}
    meta_groups = {k: g for k, g in meta.groupby(["_env", "architecture", "dataset"], sort=True)}
    for key in sorted(set(groups) | set(meta_groups)):
        glogs = groups.get(key, [])
        grows = meta_groups.get(key, meta.iloc[0:0])
        pairs, rest_logs, rest_rows = _match_group(glogs, grows)
        env, arch, dataset = key
        for l in rest_logs:
            ledger.append(
                ledger_row(
                    f"{env}-{arch}-{dataset}-{l.stamp}",
                    f"{l.gpu}: logs without a row in {lay.processed} "
                    f"({len(grows)} row(s) for {len(glogs)} GPU log(s) of {key})",
                )
            )
        for r in rest_rows:
            rid = str(r.get("run_id") or "unknown")
            ledger.append(
                ledger_row(
                    f"{env}-{arch}-{dataset}-{rid}",
                    f"{lay.processed}: row (run_id {rid}, start {r.get('start time')}) of {key} "
                    f"has no logs in {lay.raw}",
                )
            )
        for l, r in pairs:
            run_id = f"{env}-{arch}-{dataset}-{l.stamp}"
            row = {
                "run_id": run_id,
                "environment": env,
                "architecture": arch,
                "dataset": dataset,
                "image_size": image_side(r.get("image size")),
            }
            for src, dst in COLUMNS.items():
                if src in r:
                    row[dst] = r[src]
            if not row.get("gpu_model") or pd.isna(row.get("gpu_model")):
                row["gpu_model"] = l.gpu_name or ENV_GPU.get(env)
            rc = row.get("return_code")
            row["return_code"] = 0 if rc is None or pd.isna(rc) else rc
            for col in RUNS_REQUIRED:
                row.setdefault(col, None)
            row["source_run_id"] = r.get("run_id")
            row["source_environment"] = r.get("training environment")
            row["log_stamp"] = l.stamp
            rows.append(row)
            files[run_id] = l
    runs = pd.DataFrame(rows)
    if len(runs):
        first = list(RUNS_REQUIRED)
        runs = runs[first + [c for c in runs.columns if c not in first]]
        for c in ("batch_size", "image_size", "training_size", "validation_size", "return_code"):
            runs[c] = pd.to_numeric(runs[c], errors="coerce").round().astype("Int64")
        if "train_start" in runs.columns:
            ts = pd.to_datetime(runs["train_start"], errors="coerce")
            runs["train_start"] = ts.dt.strftime("%Y-%m-%d %H:%M:%S.%f").where(ts.notna(), "")
        runs = runs.sort_values("run_id", kind="stable").reset_index(drop=True)
    else:
        runs = pd.DataFrame(columns=list(RUNS_REQUIRED))
    return runs, files, ledger, lay


def fetch_raw(
    dest: str | Path, *, api_base: str | None = None, file: str | None = None, known_hash: str | None = None
) -> Path:
    """Download the replication package (record :data:`ZENODO_DOI`, records API) and unpack it into ``dest``.

    ``file`` (name or glob) picks the archive when the record holds several; ``known_hash``
    optionally pins it.  Returns ``dest``, to pass to :func:`convert_zenodo`.
    """
    from .zenodo_api import ZENODO_API, fetch_source

    cfg = {"zenodo": {"doi": ZENODO_DOI, "file": file, "known_hash": known_hash}}
    return fetch_source("zenodo", cfg, dest, api_base=api_base or ZENODO_API)[0]


def convert_zenodo(raw_root: str | Path, out_dir: str | Path) -> pd.DataFrame:
    """Write the replication package at ``raw_root`` as a layout-v1 dataset at ``out_dir``.

    Writes atomically (temporary folder, then rename) ``runs.csv``, ``runs/<run_id>/gpu.csv``,
    ``cpu.csv``, ``epochs.csv``, ``source_ledger.csv`` and ``dataset_info.json``; returns the ledger.
    """
    raw_root, out_dir = Path(raw_root), Path(out_dir)
    runs, files, ledger_rows, lay = build_runs(raw_root)
    if runs.empty:
        raise LayoutError(f"{raw_root}: no run of the replication package could be matched to {lay.processed}")
    with atomic_dir(out_dir) as tmp:
        for run_id, l in files.items():
            rdir = tmp / RUNS_DIR / run_id
            link_or_copy(l.gpu, rdir / GPU_FILE)
            if l.cpu is not None:
                link_or_copy(l.cpu, rdir / CPU_FILE)
            if l.epochs is not None:
                link_or_copy(l.epochs, rdir / EPOCHS_FILE)
        write_runs_csv(runs, tmp)
        ledger = write_ledger(ledger_rows, tmp)
        write_info(
            tmp,
            {
                "label": LABEL,
                "source": "zenodo",
                "doi": ZENODO_DOI,
                "record": ZENODO_RECORD,
                "license": "CC BY 4.0",
                "raw_dir": str(raw_root),
                "n_runs": int(len(runs)),
                "n_not_converted": int(len(ledger)),
                "converted_by": "dlenergy.sources.zenodo.convert_zenodo",
            },
        )
    return ledger
