"""Check a dataset against canonical layout v1 (docs/layout.md) before analysing it.

:func:`validate_dataset` returns every :class:`~dlenergy.layout.Problem` it finds, each with the file
and (where there is one) the 1-based line:

* ``fatal`` (an error): what the pipeline's ingest would refuse — ``runs.csv`` missing, a required
  column missing, a value of the wrong type, a duplicate or invalid run id, a row that cannot be read,
  a run with no ``gpu.csv`` — and every reason :func:`dlenergy.ingest.ingest_run` puts a run in the
  ingest ledger: a log without a timestamp or power column, a unit it does not know, fewer than two
  readable samples, epoch markers that are not integers / out of order / have end times that do not
  parse, and each plausibility check of :mod:`dlenergy.plausibility` (negative power or memory,
  too many implausible samples, a clock stepping back, a training window reaching past the logs,
  implausible sizes, files that resolve outside the dataset).
* not fatal (a warning): the dataset is usable but something is degraded — lines cut short, lines
  with a timestamp that does not parse or with bytes that are not UTF-8 (the parsers drop them),
  values that do not parse as numbers, power samples dropped as implausible, lines re-sorted or
  merged as duplicates, multi-GPU lines filled, a missing ``cpu.csv`` (no RAM energy), an empty
  ``epochs.csv`` (run killed before its first epoch), a log folder with no ``runs.csv`` row, empty
  values in ``gflops``/``total_ram_gb``/``validation_size`` (the run is excluded as "missing" by
  cleaning).

Each run goes through :func:`dlenergy.ingest.ingest_run` itself, with the same configuration, so
what passes here is exactly what the pipeline ingests.
"""

from __future__ import annotations

import re
from pathlib import Path

from .ingest import RunOutcome, ingest_run
from .layout import CPU_FILE, RUN_ID_ALLOWED, RUNS_DIR, RUNS_FILE, LayoutError, Problem, read_runs_table
from .parsing import LogReport
from .plausibility import IngestConfig

_WHERE = re.compile(r"^(?P<file>.+?):(?P<line>\d+): (?P<msg>.*)$", re.S)
MAX_LINES_LISTED = 20


def _from_error(msg: str, default_file: Path, run_id: str | None = None) -> Problem:
    """A message ``file:line: message`` (or ``file: message``) as a fatal Problem."""
    m = _WHERE.match(msg)
    if m:
        return Problem(m.group("file"), int(m.group("line")), m.group("msg"), True, run_id)
    first, _, rest = msg.partition(": ")
    if rest and (first.endswith(".csv") or "/" in first):
        return Problem(first, None, rest, True, run_id)
    return Problem(str(default_file), None, msg, True, run_id)


def _log_warnings(path: Path, rep: LogReport, run_id: str, kind: str) -> list[Problem]:
    out = []

    def warn(line, msg):
        out.append(Problem(str(path), line, msg, False, run_id))

    for line in rep.first_bad_lines[:MAX_LINES_LISTED]:
        warn(line, f"{kind} log line cut short (fewer fields than the header); dropped")
    if rep.n_cut > len(rep.first_bad_lines[:MAX_LINES_LISTED]):
        warn(None, f"{rep.n_cut - len(rep.first_bad_lines[:MAX_LINES_LISTED])} more cut line(s) dropped")
    if rep.n_bad_timestamp:
        warn(
            rep.bad_timestamp_lines[0] if rep.bad_timestamp_lines else None,
            f"{rep.n_bad_timestamp} line(s) with a timestamp that does not parse; dropped",
        )
    if rep.n_bad_bytes:
        warn(
            rep.bad_byte_lines[0] if rep.bad_byte_lines else None,
            f"{rep.n_bad_bytes} line(s) with bytes that are not UTF-8; dropped",
        )
    for col, n in rep.n_unparsed_values.items():
        warn(None, f"{n} value(s) of {col} are not numbers (unit or format not understood); read as missing")
    if rep.power is not None and (rep.power.n_nonfinite or rep.power.n_above_cap):
        warn(
            None,
            f"{rep.power.n_nonfinite + rep.power.n_above_cap} power sample(s) non-finite or above "
            f"{rep.power.cap_w:g} W; dropped",
        )
    if rep.n_reordered:
        warn(None, f"{rep.n_reordered} line(s) out of time order; re-sorted")
    if rep.n_duplicates:
        warn(None, f"{rep.n_duplicates} sample(s) with a timestamp already seen; merged (mean)")
    if rep.n_filled:
        warn(None, f"{rep.n_filled} missing GPU line(s) of a multi-GPU log filled from their neighbours")
    return out


def _run_problems(dataset: Path, rec: dict, out: RunOutcome) -> list[Problem]:
    rid = out.run_id
    rdir = dataset / RUNS_DIR / rid
    problems = []
    if out.detail is not None:
        problems.append(_from_error(out.detail, dataset / RUNS_FILE, rid))
    for key, kind in (("gpu", "GPU"), ("cpu", "CPU")):
        if key in out.reports:
            problems += _log_warnings(Path(out.reports[key].path), out.reports[key], rid, kind)
    if out.reason is None or "cpu" in out.reports:
        if not (rdir / CPU_FILE).is_file():
            problems.append(
                Problem(str(rdir / CPU_FILE), None, "no CPU/RAM log: the run will have no RAM energy", False, rid)
            )
    if out.epochs_file_empty:
        problems.append(
            Problem(
                str(rdir / "epochs.csv"), None, "epoch file is empty (run ended before its first epoch?)", False, rid
            )
        )
    return problems


def validate_dataset(path: str | Path, config: IngestConfig | dict | None = None) -> list[Problem]:
    """Every problem of the dataset at ``path`` (empty list: a clean layout-v1 dataset).

    ``config`` is the ``ingest:`` block of config.yaml (the same thresholds as the pipeline's ingest).
    """
    dataset = Path(path)
    cfg = config if isinstance(config, IngestConfig) else IngestConfig.from_dict(config)
    if not dataset.is_dir():
        return [Problem(str(dataset), None, "dataset folder not found")]
    runs_csv = dataset / RUNS_FILE
    try:
        table = read_runs_table(runs_csv, strict=False)
    except LayoutError as exc:
        return [_from_error(str(exc), runs_csv)]
    problems = list(table.problems)
    problems += [Problem(str(runs_csv), line, why, True, rid) for rid, line, why in table.skipped]
    frame = table.frame
    runs_root = dataset / RUNS_DIR
    folders = {p.name for p in runs_root.iterdir() if p.is_dir()} if runs_root.is_dir() else set()
    seen: set[str] = set()
    for rec in frame.to_dict("records"):
        rid = rec["run_id"]
        if rid is None or rid in seen or not re.match(RUN_ID_ALLOWED, str(rid)):
            continue  # already reported by read_runs_table
        seen.add(rid)
        if not (runs_root / rid).is_dir():
            problems.append(
                Problem(str(runs_csv), int(rec["_line"]), f"run '{rid}' has no log folder {runs_root / rid}", True, rid)
            )
            continue
        problems += _run_problems(dataset, rec, ingest_run(dataset, rec, cfg))
    known = set(frame["run_id"].dropna()) | {rid for rid, _, _ in table.skipped if rid}
    for orphan in sorted(folders - known):
        problems.append(
            Problem(
                str(runs_root / orphan),
                None,
                f"log folder has no row in {runs_csv} (ignored by the pipeline)",
                False,
                orphan,
            )
        )
    if not folders and not len(frame):
        problems.append(Problem(str(runs_csv), 1, "no runs: the table has no rows", False))
    return problems


def has_fatal(problems: list[Problem]) -> bool:
    return any(p.fatal for p in problems)


def format_problem(p: Problem) -> str:
    where = f"{p.file}:{p.line}" if p.line is not None else p.file
    return f"{where}: {'error' if p.fatal else 'warning'}: {p.message}"
