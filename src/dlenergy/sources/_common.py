"""Helpers shared by the source adapters: atomic dataset folders, linking logs, the source ledger."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pandas as pd

from ..ingest import LEDGER_COLUMNS, SOURCE_LEDGER
from ..layout import LAYOUT_VERSION, RUNS_FILE

INFO_FILE = "dataset_info.json"

#: the authors' metadata column names (SEAA 2023 metadata and the replication package's processed
#: dataset share them) -> canonical runs.csv columns; each adapter adds the columns only it has
AUTHORS_COLUMNS = {
    "batch size": "batch_size",
    "training size": "training_size",
    "validation size": "validation_size",
    "GFLOPs": "gflops",
    "f1-score": "f1",
    "accuracy": "accuracy",
    "precision": "precision",
    "recall": "recall",
    "AUC": "auc",
    "trained epochs": "epochs_trained",
    "total seen images": "images_seen",
}


def walk_dirs(root: Path, max_depth: int) -> Iterator[Path]:
    """Folders under ``root`` (itself first), breadth-first, to ``max_depth`` levels, hidden ones skipped."""
    queue = [(Path(root), 0)]
    while queue:
        d, depth = queue.pop(0)
        yield d
        if depth < max_depth:
            queue.extend((c, depth + 1) for c in sorted(d.iterdir()) if c.is_dir() and not c.name.startswith("."))


def link_or_copy(src: Path, dst: Path) -> None:
    """Hard-link ``src`` to ``dst`` (same file system), else copy it; the log is kept byte for byte."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def replace_dir(tmp: Path, out: Path) -> None:
    """Put the finished folder ``tmp`` at ``out`` with renames only (an old ``out`` is swapped out first).

    ``os.replace`` cannot replace a non-empty folder, so an existing ``out`` is renamed aside, ``tmp`` is
    renamed into place, and only then the old one is removed: at no point is a half-written folder at
    ``out``.
    """
    tmp, out = Path(tmp), Path(out)
    old = None
    if out.exists() or out.is_symlink():
        old = out.with_name(f".{out.name}.old-{os.getpid()}-{uuid.uuid4().hex[:8]}")
        os.replace(out, old)
    try:
        os.replace(tmp, out)
    except BaseException:
        if old is not None:
            os.replace(old, out)
        raise
    if old is not None:
        if old.is_dir() and not old.is_symlink():
            shutil.rmtree(old, ignore_errors=True)
        else:
            old.unlink(missing_ok=True)


@contextlib.contextmanager
def atomic_dir(out: str | Path) -> Iterator[Path]:
    """Yield a temporary folder next to ``out``; on success it becomes ``out``, on error it is removed."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    try:
        yield tmp
        replace_dir(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def write_runs_csv(runs: pd.DataFrame, dataset: Path) -> None:
    runs.to_csv(dataset / RUNS_FILE, index=False)


def write_ledger(rows: list[dict], dataset: Path) -> pd.DataFrame:
    ledger = pd.DataFrame(rows, columns=LEDGER_COLUMNS)
    if len(ledger):
        ledger = ledger.sort_values(["run_id"], kind="stable").reset_index(drop=True)
    ledger.to_csv(dataset / SOURCE_LEDGER, index=False)
    return ledger


def write_info(dataset: Path, info: dict) -> None:
    info = {"synthetic": False, "layout_version": LAYOUT_VERSION, **info}
    (dataset / INFO_FILE).write_text(json.dumps(info, indent=2, sort_keys=False, default=str) + "\n")


def ledger_row(run_id: str, reason: str) -> dict:
    return {"run_id": run_id, "stage": "ingest", "reason": reason}
