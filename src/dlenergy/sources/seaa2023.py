"""Adapter for the SEAA 2023 measurements: raw logs + metadata → canonical layout v1.

Data: del Rey et al., "Do DL models and training environments have an impact on energy
consumption?" (SEAA 2023, doi 10.1109/SEAA60479.2023.00031), CC BY 4.0, archived on Zenodo
(10.5281/zenodo.7828518, a snapshot of GAISSA-UPC/seaa2023_ect).  These are the RQ1/RQ2 runs
(Chesslive, five architectures) of del Rey et al. (2024) for two of its three environments.

Raw layout accepted (either of the two, found anywhere up to a few folders deep, so an unpacked
Zenodo/GitHub archive with its top-level folder works as well)::

    RAW/cloud/<arch>/gpu-power-<YYYYmmddTHHMMSS>.csv      nvidia-smi log (RTX 3090)
    RAW/cloud/<arch>/cpu-mem-usage-<stamp>.csv            psutil log
    RAW/local-v2/<arch>/...                               the same on the RTX 3070
    RAW/metadata/model_metrics.parquet                    one row per run, index
                                                          (train_environment, architecture, run)
    # or the repository layout
    RAW/data/metrics/raw/<env>/<arch>/...   RAW/data/metrics/interim/model_metrics.gzip (parquet)

Matching.  The metadata's ``run`` is the position of the run's files in timestamp order within
(train_environment, architecture) (the authors' ``build_metrics_dataset`` sorts the files by the
stamp in their names and numbers them).  The i-th GPU log (by stamp) of ``<env>/<arch>`` is matched
with metadata row ``run == i``; its CPU log is the one with the same stamp.  Metadata rows without
logs (the ``local`` environment, the GTX 750 Ti "Local Normal User", whose logs are not in this set),
logs without a metadata row, and CPU logs without a GPU log are not converted: each gets a row in
``source_ledger.csv`` (stage ``ingest``) with its reason, which ingest merges into the exclusion
ledger.

Canonical values and where each comes from:

* ``run_id`` = ``<environment>-<arch>-<stamp>``, with the canonical environment name below
  (e.g. ``cloud-vgg16-20230309T132750``, ``local_ml_engineer-mobilenet_v2-20230121T103916``).
* ``environment``: raw folder ``cloud`` → ``cloud`` (the paper's Cloud, RTX 3090), ``local-v2`` →
  ``local_ml_engineer`` (the paper's Local ML Engineer, RTX 3070), ``local`` →
  ``local_normal_user`` (GTX 750 Ti; metadata only here).
* ``gpu_model``: the ``name`` field of the first sample of the GPU log; if that is unreadable, the
  environment's GPU from the paper (§3.5).
* ``dataset`` = ``chesslive`` (the paper's Chesslive occupancy set, §3.4.3).
* ``batch_size``, ``training_size``, ``validation_size``, ``gflops`` (the metadata's ``GFLOPs``,
  i.e. 2 × the profiler's MACCs), ``f1`` (``f1-score``), ``accuracy``, ``precision``, ``recall``,
  ``epochs_trained`` (``trained epochs``), ``images_seen`` (``total seen images``) and ``auc``,
  ``split_number``: from the metadata.  Where the metadata lacks the sizes they are taken from the
  paper: 23,807 training and 10,203 test images (§3.4.3).  Note the metadata's GFLOPs for MobileNet V2
  (0.064) differs from the paper's Table 2 (0.20); the metadata value is kept (it is what the authors
  measured for these runs).
* ``image_size`` = 128 (pixel side): the paper states that all models take 128×128 inputs (Table 2
  caption and §3.5; the Chesslive squares are 50×50 images resized to the model input).  The
  metadata has no image size.
* ``total_ram_gb``: 16 GB in Cloud, 32 GB in both Local environments (§3.5).  The metadata has none.
* ``return_code`` = 0: the metadata holds only runs that finished and reported their validation
  metrics (the authors' MLflow runs), so every matched run completed.
* ``images_seen`` is the authors' "total seen images" = (training size − training size mod batch)
  + (validation size − validation size mod batch), times trained epochs: images of full batches of
  *both* the training and the validation pass of every epoch.  Energy per image in the pipeline is
  (GPU + RAM energy) / images_seen, the paper's normalisation (§3.7).
* No ``train_start`` and no ``epochs.csv``: this set has no epoch markers, so the training window is
  the whole GPU log (first to last sample).  The authors dropped the first and last three GPU samples
  (``skiprows=3, skipfooter=3``); the pipeline integrates every sample (≈ 6 s of a 20-100 min run,
  well under 1 % of the energy).

Reproduction of del Rey et al. (2024) §4.1-4.2 on these logs (convert → ingest → clean with the
default config, seed 42: 369 rows → 60 without logs → 309 runs → 32 Isolation Forest outliers →
277 clean runs; medians over clean runs; tests/test_seaa2023.py checks each within 5 %)::

    quantity                                   paper   reproduced
    Cloud J/image  VGG16                       0.39    0.394  (+1.0 %)
    Cloud J/image  Xception                    0.34    0.340  (-0.0 %)
    Cloud J/image  NASNet Mobile               0.34    0.338  (-0.5 %)
    Cloud J/image  MobileNet V2                0.14    0.143  (+1.9 %)
    Cloud GPU usage VGG16 / ResNet50 (%)       90 / 78     90.0 / 78.3
    Cloud GPU usage Xception / MobileNet V2    60 / 23     59.5 / 22.8
    MobileNet V2 J/image reduction, Local ML vs Cloud   43.6 %   43.4 %
    Local ML MobileNet V2 GPU usage (%)        56      55.7
    Cloud MobileNet V2 mean training power (W) 149.43  149.0 (mean of runs)

What the agreement depends on (checked, not tuned): the image count is the authors' "total seen
images" (training + validation full batches); normalising by training images only
(``epochs_trained × training_size``) gives 0.56 J/image for VGG16, 44 % off.  RAM energy
(3.75e-4 W/MB × process RSS) adds about 1.4 % (GPU-only: 0.389 J/image for VGG16).  Trimming 3
samples at each end, and cleaning itself, move the medians by well under 1 %.

Download.  Besides the embedded archive, the logs can come from the pinned Zenodo record
(``fetch: zenodo``, ``zenodo: {doi: 10.5281/zenodo.7828518}``): :func:`fetch_raw` resolves the
record's files, sizes and md5 checksums through Zenodo's records API and downloads and unpacks its
single archive (pooch, resumable, md5-checked, atomic unpack; :mod:`dlenergy.sources.zenodo_api`);
the unpacked snapshot of GAISSA-UPC/seaa2023_ect holds ``data/metrics/raw/``, which
:func:`convert_seaa2023` finds below its top-level folder.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..layout import CPU_FILE, GPU_FILE, RUNS_DIR, RUNS_REQUIRED, LayoutError
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

ZENODO_DOI = "10.5281/zenodo.7828518"
ZENODO_RECORD = "https://zenodo.org/records/7828518"
PAPER_DOI = "10.1109/SEAA60479.2023.00031"
LABEL = "SEAA 2023 measurements (del Rey et al., CC BY 4.0)"

#: raw environment folder -> (canonical environment, GPU of the paper §3.5, total RAM GB §3.5)
ENVIRONMENTS: dict[str, tuple[str, str, float]] = {
    "cloud": ("cloud", "NVIDIA GeForce RTX 3090", 16.0),
    "local-v2": ("local_ml_engineer", "NVIDIA GeForce RTX 3070", 32.0),
    "local": ("local_normal_user", "NVIDIA GeForce GTX 750 Ti", 32.0),
}
DATASET = "chesslive"
IMAGE_SIZE = 128  #: paper Table 2 / §3.5: every model takes 128x128 inputs
TRAINING_SIZE = 23807  #: paper §3.4.3 (70 % of 34,010)
VALIDATION_SIZE = 10203  #: paper §3.4.3 (30 %, used as the test set)

#: metadata column -> canonical runs.csv column
METADATA_COLUMNS = {**AUTHORS_COLUMNS, "split number": "split_number"}

_STAMP = re.compile(r"(\d{8}T\d{6})")
_METADATA_CANDIDATES = (
    "metadata/model_metrics.parquet",
    "data/metrics/interim/model_metrics.gzip",
    "model_metrics.parquet",
    "model_metrics.gzip",
)


@dataclass
class RawLayout:
    logs_root: Path  #: folder holding cloud/, local-v2/, ...
    metadata: Path


def locate(raw_dir: str | Path, max_depth: int = 4) -> RawLayout:
    """Find the log folder and the metadata file under ``raw_dir`` (shared layout or repository layout)."""
    raw_dir = Path(raw_dir)
    if not raw_dir.is_dir():
        raise LayoutError(f"{raw_dir}: SEAA 2023 raw folder not found")
    logs_root = metadata = None
    for d in walk_dirs(raw_dir, max_depth):
        if logs_root is not None and metadata is not None:
            break
        if metadata is None:
            for cand in _METADATA_CANDIDATES:
                if (d / cand).is_file():
                    metadata = d / cand
                    break
        if logs_root is None and any((d / env).is_dir() and _has_logs(d / env) for env in ENVIRONMENTS):
            logs_root = d
    if metadata is None:
        raise LayoutError(f"{raw_dir}: no SEAA 2023 metadata found (looked for {', '.join(_METADATA_CANDIDATES)})")
    if logs_root is None:
        raise LayoutError(f"{raw_dir}: no SEAA 2023 logs found (expected <env>/<arch>/gpu-power-<stamp>.csv)")
    return RawLayout(logs_root, metadata)


def _has_logs(env_dir: Path) -> bool:
    return any(arch.is_dir() and any(arch.glob("gpu-power-*.csv")) for arch in env_dir.iterdir())


def _stamp(path: Path) -> str | None:
    m = _STAMP.search(path.name)
    return m.group(1) if m else None


def _gpu_name(path: Path) -> str | None:
    """The ``name``/``gpu_name`` field of the first data line of an nvidia-smi log (None if unreadable)."""
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            header = [c.strip().lower() for c in fh.readline().split(",")]
            first = [c.strip() for c in fh.readline().split(",")]
    except OSError:
        return None
    for key in ("name", "gpu_name"):
        if key in header:
            i = header.index(key)
            if i < len(first) and first[i]:
                return first[i]
    return None


def read_metadata(path: str | Path) -> pd.DataFrame:
    """The metadata with ``train_environment, architecture, run`` as columns, whatever its index."""
    meta = pd.read_parquet(path)
    idx = [n for n in (meta.index.names or []) if n]
    if idx:
        meta = meta.reset_index()
    if "training environment" in meta.columns and "train_environment" not in meta.columns:
        meta = meta.rename(columns={"training environment": "train_environment"})
    missing = [c for c in ("train_environment", "architecture", "run") if c not in meta.columns]
    if missing:
        raise LayoutError(f"{path}: metadata lacks {', '.join(missing)} (index or columns)")
    meta["run"] = pd.to_numeric(meta["run"], errors="raise").astype("int64")
    return meta


def _scan_logs(logs_root: Path):
    """Yield (env_folder, arch, stamps, gpu files by stamp, cpu files by stamp) per <env>/<arch>."""
    for env_dir in sorted(p for p in logs_root.iterdir() if p.is_dir() and p.name in ENVIRONMENTS):
        for arch_dir in sorted(p for p in env_dir.iterdir() if p.is_dir()):
            gpu = {s: p for p in arch_dir.glob("gpu-power-*.csv") if (s := _stamp(p))}
            cpu = {s: p for p in arch_dir.glob("cpu-mem-usage-*.csv") if (s := _stamp(p))}
            yield env_dir.name, arch_dir.name, gpu, cpu


def build_runs(raw_dir: str | Path) -> tuple[pd.DataFrame, dict[str, tuple[Path, Path | None]], list[dict]]:
    """Match logs to metadata rows: ``(runs table, {run_id: (gpu log, cpu log)}, ledger rows)``."""
    lay = locate(raw_dir)
    meta = read_metadata(lay.metadata)
    ledger: list[dict] = []
    rows: list[dict] = []
    files: dict[str, tuple[Path, Path | None]] = {}
    seen_groups = set()
    for env_folder, arch, gpu, cpu in _scan_logs(lay.logs_root):
        env, default_gpu, ram_gb = ENVIRONMENTS[env_folder]
        seen_groups.add((env_folder, arch))
        stamps = sorted(gpu)
        for s in sorted(set(cpu) - set(gpu)):
            ledger.append(
                ledger_row(f"{env}-{arch}-{s}", f"{cpu[s]}: CPU log without a GPU log (gpu-power-{s}.csv missing)")
            )
        group = meta.loc[(meta["train_environment"] == env_folder) & (meta["architecture"] == arch)]
        by_run = {int(r["run"]): r for r in group.to_dict("records")}
        for i, s in enumerate(stamps):
            run_id = f"{env}-{arch}-{s}"
            rec = by_run.pop(i, None)
            if rec is None:
                ledger.append(
                    ledger_row(
                        run_id,
                        f"{gpu[s]}: logs without a metadata row ({lay.metadata} has no run {i} for "
                        f"({env_folder}, {arch}); {len(group)} row(s) for {len(stamps)} GPU log(s))",
                    )
                )
                continue
            row = {
                "run_id": run_id,
                "environment": env,
                "gpu_model": _gpu_name(gpu[s]) or default_gpu,
                "architecture": arch,
                "dataset": DATASET,
                "batch_size": rec.get("batch size"),
                "image_size": IMAGE_SIZE,
                "training_size": rec.get("training size", TRAINING_SIZE),
                "validation_size": rec.get("validation size", VALIDATION_SIZE),
                "total_ram_gb": ram_gb,
                "gflops": rec.get("GFLOPs"),
                "return_code": 0,
            }
            for src, dst in METADATA_COLUMNS.items():
                if dst not in row and src in rec:
                    row[dst] = rec[src]
            for col, default in (("training_size", TRAINING_SIZE), ("validation_size", VALIDATION_SIZE)):
                if row[col] is None or (isinstance(row[col], float) and np.isnan(row[col])):
                    row[col] = default
            row["source_env"] = env_folder
            row["source_run"] = i
            row["log_stamp"] = s
            rows.append(row)
            files[run_id] = (gpu[s], cpu.get(s))
        for r in sorted(by_run):
            ledger.append(
                ledger_row(
                    f"{env}-{arch}-run{r:03d}",
                    f"{lay.metadata}: metadata row ({env_folder}, {arch}, run {r}) has no logs "
                    f"(only {len(stamps)} GPU log(s) in {lay.logs_root / env_folder / arch})",
                )
            )
    # metadata of environments/architectures with no log folder at all (e.g. `local`)
    for (env_folder, arch), group in meta.groupby(["train_environment", "architecture"], sort=True):
        if (env_folder, arch) in seen_groups:
            continue
        env = ENVIRONMENTS.get(env_folder, (str(env_folder),))[0]
        for r in sorted(group["run"]):
            ledger.append(
                ledger_row(
                    f"{env}-{arch}-run{int(r):03d}",
                    f"{lay.metadata}: metadata row ({env_folder}, {arch}, run {int(r)}) has no logs "
                    f"(no folder {lay.logs_root / str(env_folder) / str(arch)})",
                )
            )
    runs = pd.DataFrame(rows)
    if len(runs):
        first = list(RUNS_REQUIRED)
        runs = runs[first + [c for c in runs.columns if c not in first]]
        runs = runs.sort_values("run_id", kind="stable").reset_index(drop=True)
        for c in ("batch_size", "training_size", "validation_size", "return_code", "image_size"):
            runs[c] = pd.to_numeric(runs[c]).astype("Int64")
    else:
        runs = pd.DataFrame(columns=list(RUNS_REQUIRED))
    return runs, files, ledger


def fetch_raw(
    dest: str | Path, *, api_base: str | None = None, file: str | None = None, known_hash: str | None = None
) -> Path:
    """Download the Zenodo record :data:`ZENODO_DOI` (records API, md5-checked) and unpack it into ``dest``.

    ``api_base`` defaults to Zenodo's records API; ``file`` (name or glob) picks a file when the
    record holds more than one archive; ``known_hash`` optionally pins it.  Returns ``dest``, to pass
    to :func:`convert_seaa2023`.  Failures raise a one-line
    :class:`~dlenergy.sources.download.DownloadError`.
    """
    from .zenodo_api import ZENODO_API, fetch_source

    cfg = {"zenodo": {"doi": ZENODO_DOI, "file": file, "known_hash": known_hash}}
    return fetch_source("seaa2023", cfg, dest, api_base=api_base or ZENODO_API)[0]


def convert_seaa2023(raw_dir: str | Path, out_dir: str | Path) -> pd.DataFrame:
    """Write the SEAA 2023 raw logs at ``raw_dir`` as a layout-v1 dataset at ``out_dir``.

    Writes ``runs.csv``, ``runs/<run_id>/gpu.csv`` and ``cpu.csv`` (hard links to, or copies of, the
    raw logs, unchanged), ``source_ledger.csv`` and ``dataset_info.json`` into a temporary folder that
    replaces ``out_dir`` only when complete.  Returns the ledger (``run_id, stage, reason``) of what
    could not be converted.
    """
    raw_dir, out_dir = Path(raw_dir), Path(out_dir)
    runs, files, ledger_rows = build_runs(raw_dir)
    if runs.empty:
        raise LayoutError(f"{raw_dir}: no SEAA 2023 run could be matched to the metadata")
    with atomic_dir(out_dir) as tmp:
        for run_id, (gpu, cpu) in files.items():
            rdir = tmp / RUNS_DIR / run_id
            link_or_copy(gpu, rdir / GPU_FILE)
            if cpu is not None:
                link_or_copy(cpu, rdir / CPU_FILE)
        write_runs_csv(runs, tmp)
        ledger = write_ledger(ledger_rows, tmp)
        write_info(
            tmp,
            {
                "label": LABEL,
                "source": "seaa2023",
                "doi": ZENODO_DOI,
                "record": ZENODO_RECORD,
                "paper_doi": PAPER_DOI,
                "license": "CC BY 4.0",
                "raw_dir": str(raw_dir),
                "n_runs": int(len(runs)),
                "n_not_converted": int(len(ledger)),
                "epoch_markers": False,
                "converted_by": "dlenergy.sources.seaa2023.convert_seaa2023",
            },
        )
    return ledger
