"""Canonical measurement-dataset layout v1 (see docs/layout.md).

    DATASET/runs.csv                  one row per run
    DATASET/runs/<run_id>/gpu.csv     nvidia-smi --query-gpu CSV log (required)
    DATASET/runs/<run_id>/cpu.csv     psutil log: timestamp, cpu usage (%), memory usage (MB) (optional)
    DATASET/runs/<run_id>/epochs.csv  epoch, end_time [, any extra columns] (optional)

This module holds the names of the layout and reads ``runs.csv`` with a row-level
validation that names the file and line of every problem.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from .clock import NAT, split_times
from .textlog import Damage, read_text_lines

LAYOUT_VERSION = 1

RUNS_FILE = "runs.csv"
RUNS_DIR = "runs"
GPU_FILE = "gpu.csv"
CPU_FILE = "cpu.csv"
EPOCHS_FILE = "epochs.csv"

#: required columns of runs.csv and their kind
RUNS_REQUIRED: dict[str, str] = {
    "run_id": "str",
    "environment": "str",
    "gpu_model": "str",
    "architecture": "str",
    "dataset": "str",
    "batch_size": "int",
    "image_size": "int",
    "training_size": "int",
    "validation_size": "int",
    "total_ram_gb": "float",
    "gflops": "float",
    "return_code": "int",
}
#: optional columns with a known kind; any other extra column is kept as it is
RUNS_OPTIONAL: dict[str, str] = {
    "f1": "float",
    "accuracy": "float",
    "precision": "float",
    "recall": "float",
    "epochs_trained": "float",
    "images_seen": "float",
    "train_start": "datetime",
    "command_start": "datetime",
}

#: columns that may be empty in a row without making the row unreadable; an empty
#: value in one of the others is reported as a problem and left to the cleaning
#: stage "missing", which excludes the run with that reason.
NULLABLE_REQUIRED = {"gflops", "total_ram_gb", "validation_size"}

RUN_ID_ALLOWED = r"^[A-Za-z0-9][A-Za-z0-9._\-]*$"


class LayoutError(ValueError):
    """A dataset does not follow the canonical layout; the message names the file and line."""


@dataclass
class Problem:
    """One problem found in a dataset file."""

    file: str
    line: int | None
    message: str
    fatal: bool = True
    run_id: str | None = None

    def __str__(self) -> str:  # pragma: no cover - formatting
        where = f"{self.file}:{self.line}" if self.line is not None else self.file
        kind = "error" if self.fatal else "warning"
        return f"{where}: {kind}: {self.message}"


@dataclass
class RunsTable:
    frame: pd.DataFrame
    problems: list[Problem] = field(default_factory=list)
    #: rows that could not be read (bytes that are not UTF-8, a wrong number of fields):
    #: ``(run_id or None, line, reason)``; ingest puts each in its ledger, the other rows are read
    skipped: list[tuple[str | None, int, str]] = field(default_factory=list)


def run_dir(dataset: Path, run_id: str) -> Path:
    return Path(dataset) / RUNS_DIR / run_id


def _read_rows(path: Path) -> tuple[list[str], list[list[str]], list[int], list[tuple[str | None, int, str]]]:
    """Header, rows and their file lines; rows that cannot be read are returned apart."""
    damage = Damage(keep=None)
    lines = read_text_lines(path, damage)
    if not "".join(lines).strip():
        raise LayoutError(f"{path}:1: runs table is empty (no header line)")
    if 1 in damage.bad_byte_lines:
        raise LayoutError(f"{path}:1: the header holds bytes that are not UTF-8 (a binary file, or another encoding)")
    header = [c.strip() for c in next(csv.reader([lines[0]]))]
    id_at = header.index("run_id") if "run_id" in header else None
    bad_bytes = set(damage.bad_byte_lines)
    rows, numbers, skipped = [], [], []
    for n, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        fields = next(csv.reader([line]))
        rid = fields[id_at].strip() if id_at is not None and id_at < len(fields) else None
        rid = rid if rid and re.match(RUN_ID_ALLOWED, rid) else None
        if n in bad_bytes:
            skipped.append((rid, n, "the row holds bytes that are not UTF-8; row not read"))
        elif len(fields) != len(header):
            skipped.append((rid, n, f"the row has {len(fields)} fields, the header has {len(header)}; row not read"))
        else:
            rows.append(fields)
            numbers.append(n)
    return header, rows, numbers, skipped


def read_runs_table(path: str | Path, *, strict: bool = True) -> RunsTable:
    """Read and type-check ``runs.csv``.

    Line numbers are 1-based file lines (the header is line 1).  With ``strict``
    (the pipeline's default) a structural problem — missing file, missing
    required column, duplicate run id, a value of the wrong type — raises
    :class:`LayoutError` naming the file and line.  Empty values in
    :data:`NULLABLE_REQUIRED` columns are kept as missing (the cleaning stage
    excludes such runs with a ledger entry).  Without ``strict`` every problem is
    returned in :attr:`RunsTable.problems` instead.  A row that cannot be read at all
    (bytes that are not UTF-8, a field count other than the header's) is left out and listed
    in :attr:`RunsTable.skipped`: that run's problem, not the table's.  A UTF-8 byte-order
    mark and ``\r`` line ends are accepted.  Timestamps (``train_start``) follow
    :mod:`dlenergy.clock`: the column holds the wall time as written, and ``_tz_<column>`` the
    zone offset (s) when a value has one.
    """
    path = Path(path)
    problems: list[Problem] = []
    if not path.is_file():
        raise LayoutError(f"{path}: runs table not found (layout v1 needs DATASET/{RUNS_FILE})")
    header, rows, numbers, skipped = _read_rows(path)
    raw = (
        pd.DataFrame(rows, columns=header, dtype=object).astype(str)
        if rows
        else pd.DataFrame({c: pd.Series(dtype=str) for c in header})
    )
    missing = [c for c in RUNS_REQUIRED if c not in raw.columns]
    if missing:
        raise LayoutError(f"{path}:1: header lacks required column(s) {', '.join(missing)}")

    out = raw.copy()
    lines = np.asarray(numbers, dtype=np.int64)
    for col, kind in {**RUNS_REQUIRED, **{k: v for k, v in RUNS_OPTIONAL.items() if k in raw.columns}}.items():
        problems += _typed_column(raw, out, col, kind, str(path), lines)

    ids = out["run_id"]
    dup = ids.duplicated(keep="first") & ids.notna()
    for i in np.flatnonzero(dup.to_numpy()):
        problems.append(Problem(str(path), int(lines[i]), f"duplicate run_id {ids.iloc[i]!r}"))
    badid = ids.notna() & ~ids.fillna("").str.match(RUN_ID_ALLOWED)
    for i in np.flatnonzero(badid.to_numpy()):
        problems.append(Problem(str(path), int(lines[i]), f"run_id {ids.iloc[i]!r} is not a valid folder name"))

    # integer columns as nullable Int64 so missing values survive
    for col, kind in RUNS_REQUIRED.items():
        if kind == "int":
            vals = out[col]
            out[col] = pd.array(np.where(vals.notna(), vals.fillna(0).round(), 0).astype("int64"), dtype="Int64")
            out.loc[vals.isna(), col] = pd.NA
    # extra columns: numbers when every non-empty value is one, else kept as text
    for col in raw.columns:
        if col in RUNS_REQUIRED or col in RUNS_OPTIONAL:
            continue
        s = raw[col].str.strip()
        nonempty = s.ne("")
        num = pd.to_numeric(s.where(nonempty, None), errors="coerce")
        if nonempty.any() and num[nonempty].notna().all():
            out[col] = num.astype("float64")
    out.insert(len(out.columns), "_line", lines)
    fatal = [p for p in problems if p.fatal]
    if strict and fatal:
        raise LayoutError("\n".join(str(p) for p in fatal))
    return RunsTable(out, problems, skipped)


def _typed_column(
    raw: pd.DataFrame, out: pd.DataFrame, col: str, kind: str, path: str, lines: np.ndarray
) -> list[Problem]:
    """Type one column of ``raw`` into ``out``; the problems of its values."""
    problems = []
    s = raw[col].str.strip()
    empty = s.eq("") | s.str.lower().isin(["nan", "none", "null", "na", "n/a"])
    if kind == "str":
        for i in np.flatnonzero(empty.to_numpy()):
            problems.append(Problem(path, int(lines[i]), f"empty value in required column '{col}'"))
        out[col] = s.where(~empty, None)
        return problems
    if kind == "datetime":
        us, offsets = split_times(pa.array(s.where(~empty, "").tolist(), pa.string()))
        bad = pd.Series(us == NAT, index=s.index) & ~empty
        out[col] = pd.Series(us.view("datetime64[us]"), index=s.index)
        if offsets is not None:
            out[f"_tz_{col}"] = offsets
    else:
        num = pd.to_numeric(s.where(~empty, None), errors="coerce")
        bad = num.isna() & ~empty
        if kind == "int":
            bad = bad | (num.notna() & (num != np.round(num)))
        out[col] = num.astype("float64") if kind != "int" else num.astype("Float64").astype("float64")
    for i in np.flatnonzero(bad.to_numpy()):
        problems.append(
            Problem(path, int(lines[i]), f"column '{col}': expected {kind} value, got {raw[col].iloc[i]!r}")
        )
    if col in RUNS_REQUIRED and col not in NULLABLE_REQUIRED:
        for i in np.flatnonzero(empty.to_numpy()):
            problems.append(Problem(path, int(lines[i]), f"empty value in required column '{col}'"))
    elif col in RUNS_REQUIRED:
        for i in np.flatnonzero(empty.to_numpy()):
            problems.append(
                Problem(
                    path,
                    int(lines[i]),
                    f"empty value in column '{col}' (run will be excluded as missing)",
                    fatal=False,
                    run_id=str(raw["run_id"].iloc[i]),
                )
            )
    return problems
