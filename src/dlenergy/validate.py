"""Check a dataset against canonical layout v1 (docs/layout.md) before analysing it.

:func:`validate_dataset` returns every :class:`~dlenergy.layout.Problem` it finds, each with the file
and (where there is one) the 1-based line:

* ``fatal`` (an error): the dataset does not follow layout v1 where it matters — ``runs.csv`` missing,
  a required column missing, a value of the wrong type, a duplicate or invalid run id, a run with no
  ``gpu.csv``, a log without a timestamp or power column (or with power in a unit other than W), a
  log with fewer than two readable samples, epoch markers that are not integers / out of order / have
  end times that do not parse.  Such runs would stop the pipeline or be excluded at ingest.
* not fatal (a warning): the dataset is usable but something is degraded — lines cut short (logger
  killed mid-line; the parsers drop them), values that do not parse as numbers, a missing ``cpu.csv``
  (no RAM energy), an empty ``epochs.csv`` (run killed before its first epoch), epoch ends outside
  the GPU log, a log folder with no ``runs.csv`` row, empty values in ``gflops``/``total_ram_gb``/
  ``validation_size`` (the run is excluded as "missing" by cleaning).

Parsing uses the pipeline's own parsers (:mod:`dlenergy.parsing`), so what passes here is what the
pipeline reads.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from .layout import (
    CPU_FILE,
    EPOCHS_FILE,
    GPU_FILE,
    RUN_ID_ALLOWED,
    RUNS_DIR,
    RUNS_FILE,
    LayoutError,
    Problem,
    read_runs_table,
)
from .parsing import GPU_COLUMNS, LogReport, _norm_header, read_cpu_log, read_epochs, read_gpu_log

#: canonical GPU column -> accepted units in a native nvidia-smi header (``power.draw [W]``)
GPU_UNITS = {"power_w": {"w"}, "power_limit_w": {"w"}, "gpu_usage_pct": {"%"}, "mem_usage_pct": {"%"},
             "mem_total_mib": {"mib", "mb"}, "mem_used_mib": {"mib", "mb"}}
_WHERE = re.compile(r"^(?P<file>.+?):(?P<line>\d+): (?P<msg>.*)$", re.S)
MAX_LINES_LISTED = 20


def _from_error(exc: Exception, default_file: Path, run_id: str | None = None) -> Problem:
    """A :class:`LayoutError` message ``file:line: message`` (or ``file: message``) as a Problem."""
    msg = str(exc)
    m = _WHERE.match(msg)
    if m:
        return Problem(m.group("file"), int(m.group("line")), m.group("msg"), True, run_id)
    prefix = f"{default_file}: "
    if msg.startswith(prefix):
        msg = msg[len(prefix):]
    return Problem(str(default_file), None, msg, True, run_id)


def _header(path: Path) -> list[str]:
    with open(path, encoding="utf-8", errors="replace") as fh:
        return [c.strip() for c in fh.readline().strip("\r\n").split(",")]


def _unit(name: str) -> str | None:
    m = re.search(r"\[([^\]]*)\]\s*$", name)
    return m.group(1).strip().lower() if m else None


def _check_gpu_units(path: Path, run_id: str) -> list[Problem]:
    out = []
    header = _header(path)
    for col in header:
        norm = _norm_header(col)
        unit = _unit(col)
        if unit is None:
            continue
        for canon, names in GPU_COLUMNS.items():
            if norm in names and canon in GPU_UNITS and unit not in GPU_UNITS[canon]:
                fatal = canon == "power_w"
                out.append(Problem(str(path), 1, f"column '{col}' is in [{unit}], expected "
                                   f"[{'/'.join(sorted(GPU_UNITS[canon])).upper().replace('MIB', 'MiB')}]"
                                   + (" (power must be in watts)" if fatal else ""), fatal, run_id))
    return out


def _log_warnings(path: Path, rep: LogReport, run_id: str, kind: str) -> list[Problem]:
    out = []
    if rep.n_cut:
        listed = rep.first_bad_lines[:MAX_LINES_LISTED]
        for line in listed:
            out.append(Problem(str(path), line, f"{kind} log line cut short (fewer fields than the header); dropped",
                               False, run_id))
        if rep.n_cut > len(listed):
            out.append(Problem(str(path), None, f"{rep.n_cut - len(listed)} more cut line(s) dropped", False, run_id))
    if rep.n_bad_timestamp:
        out.append(Problem(str(path), None, f"{rep.n_bad_timestamp} line(s) with a timestamp that does not parse; dropped",
                           False, run_id))
    for col, n in rep.n_unparsed_values.items():
        out.append(Problem(str(path), None, f"{n} value(s) of {col} are not numbers (unit or format not understood); "
                           "read as missing", False, run_id))
    return out


def _check_run(dataset: Path, run_id: str, line: int | None, train_start) -> list[Problem]:
    problems: list[Problem] = []
    rdir = dataset / RUNS_DIR / run_id
    runs_csv = str(dataset / RUNS_FILE)
    if not rdir.is_dir():
        return [Problem(runs_csv, line, f"run '{run_id}' has no log folder {rdir}", True, run_id)]
    gpu_path = rdir / GPU_FILE
    gpu = None
    if not gpu_path.is_file():
        problems.append(Problem(runs_csv, line, f"run '{run_id}' has no GPU log ({gpu_path} missing)", True, run_id))
    else:
        problems += _check_gpu_units(gpu_path, run_id)
        try:
            gpu, rep = read_gpu_log(gpu_path)
        except LayoutError as exc:
            problems.append(_from_error(exc, gpu_path, run_id))
        else:
            problems += _log_warnings(gpu_path, rep, run_id, "GPU")
            if len(gpu) < 2:
                problems.append(Problem(str(gpu_path), None, f"GPU log has {len(gpu)} readable sample(s), need at least 2",
                                        True, run_id))
                gpu = None
            elif gpu["power_w"].isna().all():
                problems.append(Problem(str(gpu_path), None, "no readable power value in the GPU log", True, run_id))
    cpu_path = rdir / CPU_FILE
    if not cpu_path.is_file():
        problems.append(Problem(str(cpu_path), None, "no CPU/RAM log: the run will have no RAM energy", False, run_id))
    else:
        try:
            _, rep = read_cpu_log(cpu_path)
        except LayoutError as exc:
            problems.append(_from_error(exc, cpu_path, run_id))
        else:
            problems += _log_warnings(cpu_path, rep, run_id, "CPU")
    ep_path = rdir / EPOCHS_FILE
    if ep_path.is_file():
        try:
            ep = read_epochs(ep_path)
        except LayoutError as exc:
            problems.append(_from_error(exc, ep_path, run_id))
        else:
            if ep.empty:
                problems.append(Problem(str(ep_path), None, "epoch file is empty (run ended before its first epoch?)",
                                        False, run_id))
            elif gpu is not None:
                ends = ep["end_time"].astype("datetime64[us]").astype("int64").to_numpy() / 1e6
                t = gpu["t"].to_numpy()
                outside = np.flatnonzero((ends < t[0]) | (ends > t[-1] + 5.0))
                for i in outside[:MAX_LINES_LISTED]:
                    problems.append(Problem(str(ep_path), int(i) + 2,
                                            f"epoch {int(ep['epoch'].iloc[i])} ends outside the GPU log "
                                            f"({gpu['timestamp'].iloc[0]} .. {gpu['timestamp'].iloc[-1]})", False, run_id))
                if train_start is not None and not pd.isna(train_start):
                    ts = pd.Timestamp(train_start).tz_localize(None).value / 1e9
                    if ts > ends[0]:
                        problems.append(Problem(runs_csv, line, f"train_start {train_start} is after the first epoch end",
                                                True, run_id))
    return problems


def validate_dataset(path: str | Path) -> list[Problem]:
    """Every problem of the dataset at ``path`` (empty list: a clean layout-v1 dataset)."""
    dataset = Path(path)
    if not dataset.is_dir():
        return [Problem(str(dataset), None, "dataset folder not found")]
    runs_csv = dataset / RUNS_FILE
    try:
        table = read_runs_table(runs_csv, strict=False)
    except LayoutError as exc:
        return [_from_error(exc, runs_csv)]
    problems = list(table.problems)
    frame = table.frame
    runs_root = dataset / RUNS_DIR
    folders = {p.name for p in runs_root.iterdir() if p.is_dir()} if runs_root.is_dir() else set()
    ids = frame["run_id"]
    seen: set[str] = set()
    for rec in frame.to_dict("records"):
        rid = rec["run_id"]
        if rid is None or rid in seen or not re.match(RUN_ID_ALLOWED, str(rid)):
            continue  # already reported by read_runs_table
        seen.add(rid)
        problems += _check_run(dataset, rid, int(rec["_line"]), rec.get("train_start"))
    known = set(ids.dropna())
    for orphan in sorted(folders - known):
        problems.append(Problem(str(runs_root / orphan), None,
                                f"log folder has no row in {runs_csv} (ignored by the pipeline)", False, orphan))
    if not folders and not len(frame):
        problems.append(Problem(str(runs_csv), 1, "no runs: the table has no rows", False))
    return problems


def has_fatal(problems: list[Problem]) -> bool:
    return any(p.fatal for p in problems)


def format_problem(p: Problem) -> str:
    where = f"{p.file}:{p.line}" if p.line is not None else p.file
    return f"{where}: {'error' if p.fatal else 'warning'}: {p.message}"
