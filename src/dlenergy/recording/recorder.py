"""Layout-v1 writing while a command runs: the sampling thread, ``gpu.csv``/``cpu.csv`` lines, ``runs.csv``.

Every sample is flushed as soon as it is taken, so a run killed at any point keeps its logs (at worst
the last line is cut, which the parsers drop).  The ``runs.csv`` row is materialized in a temporary
file first and appended with a single ``write`` under an exclusive ``flock`` on the dataset folder
(:class:`DatasetLock`), so concurrent ``measure`` processes writing to one dataset never interleave
or leave half a row.
"""

from __future__ import annotations

import csv
import io
import logging
import math
import os
import tempfile
import threading
import time
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from .backends import GpuBackend, GpuSample
from .errors import MeasureError
from .runfolder import RUNS_FILE
from .sampler import ProcessTreeSampler

log = logging.getLogger("dlenergy.measure")

ENERGY_HEADER = "total_energy_consumption [mJ]"
CPU_HEADER = "timestamp,cpu usage (%),memory usage (MB)"

# --------------------------------------------------------------------------------------------
# GPU samples as nvidia-smi-style CSV lines
# --------------------------------------------------------------------------------------------


def smi_timestamp(ts: datetime) -> str:
    """nvidia-smi's timestamp format, millisecond precision.

    Examples
    --------
    >>> smi_timestamp(datetime(2026, 11, 22, 12, 7, 36, 555123))
    '2026/11/22 12:07:36.555'
    """
    return ts.strftime("%Y/%m/%d %H:%M:%S.") + f"{ts.microsecond // 1000:03d}"


def gpu_header(*, with_index: bool, with_energy: bool) -> str:
    """The header line of a polled backend's ``gpu.csv`` (nvidia-smi's names and units).

    Examples
    --------
    >>> gpu_header(with_index=True, with_energy=False).split(", ")[:3]
    ['timestamp', 'index', 'name']
    """
    cols = ["timestamp"]
    if with_index:
        cols.append("index")
    cols += [
        "name",
        "utilization.gpu [%]",
        "utilization.memory [%]",
        "memory.total [MiB]",
        "memory.used [MiB]",
        "power.draw [W]",
        "power.limit [W]",
        "temperature.gpu",
    ]
    if with_energy:
        cols.append(ENERGY_HEADER)
    return ", ".join(cols)


def _fmt(v, fmt: str, unit: str = "") -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "[N/A]"
    return format(v, fmt) + unit


def gpu_line(ts: datetime, s: GpuSample, *, with_index: bool, with_energy: bool) -> str:
    """One ``gpu.csv`` line for :func:`gpu_header` (``[N/A]`` for a missing value).

    Examples
    --------
    >>> gpu_line(datetime(2026, 1, 1), GpuSample(0, "Toy GPU", 150.0, 97), with_index=False, with_energy=False)
    '2026/01/01 00:00:00.000, Toy GPU, 97 %, [N/A], [N/A], [N/A], 150.00 W, [N/A], [N/A]'
    """
    vals = [smi_timestamp(ts)]
    if with_index:
        vals.append(str(s.index))
    vals += [
        s.name.replace(",", " "),
        _fmt(s.utilization_gpu, ".0f", " %"),
        _fmt(s.utilization_memory, ".0f", " %"),
        _fmt(s.memory_total_mib, ".0f", " MiB"),
        _fmt(s.memory_used_mib, ".0f", " MiB"),
        _fmt(s.power_w, ".2f", " W"),
        _fmt(s.power_limit_w, ".2f", " W"),
        _fmt(s.temperature_c, ".0f"),
    ]
    if with_energy:
        vals.append(_fmt(s.energy_mj, "d"))
    return ", ".join(vals)


# --------------------------------------------------------------------------------------------
# the sampling thread
# --------------------------------------------------------------------------------------------


class Recorder:
    """Samples a polled GPU backend and a process tree on a monotonic schedule.

    Tick *k* is due at ``t0 + k * period`` (``time.monotonic``), so the schedule does not drift
    with the time each sample takes; a tick that is overrun by more than a period is skipped
    (counted in :attr:`missed`) rather than taken late in a burst.  Every line is flushed.
    A streaming backend (``polled = False``) writes ``gpu.csv`` itself between :meth:`start` and
    :meth:`stop`; the thread then samples the process tree only.
    """

    def __init__(self, gpu_path: Path, cpu_path: Path, backend: GpuBackend, period: float):
        if not period > 0:
            raise MeasureError(f"sampling period must be positive, got {period}")
        self.period = float(period)
        self.backend = backend
        self.gpu_path, self.cpu_path = gpu_path, cpu_path
        self.samples = 0
        self.missed = 0
        self.errors = 0
        self.cpu_lines = 0
        self._tree: ProcessTreeSampler | None = None
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="dlenergy-recorder", daemon=True)
        self._gpu_fh = None
        self._with_index = len(backend.devices) > 1
        self._with_energy = backend.has_energy_counter
        self._cpu_fh = _open_log(cpu_path, CPU_HEADER)
        if backend.polled:
            self._gpu_fh = _open_log(gpu_path, gpu_header(with_index=self._with_index, with_energy=self._with_energy))

    def start(self) -> None:
        """Start the backend's stream (if any), take a first sample, start the thread."""
        if not self.backend.polled:
            self.backend.start(self.gpu_path, self.period)
        self.tick()  # a first sample before the command starts
        self._thread.start()

    def attach(self, pid: int) -> None:
        """Follow the process tree of ``pid`` (the command) from the next tick on."""
        try:
            self._tree = ProcessTreeSampler(pid)
        except Exception as exc:
            log.warning("cannot follow process %s: %s", pid, exc)

    def _write_gpu(self, now: datetime) -> None:
        lines = [
            gpu_line(now, s, with_index=self._with_index, with_energy=self._with_energy) for s in self.backend.sample()
        ]
        self._gpu_fh.write("".join(x + "\n" for x in lines))
        self._gpu_fh.flush()

    def _write_cpu(self, now: datetime) -> None:
        got = self._tree.sample()
        if got is not None:
            self._cpu_fh.write(f"{now.isoformat()},{got[0]:.3f},{got[1]:.3f}\n")
            self._cpu_fh.flush()
            self.cpu_lines += 1

    def tick(self) -> None:
        """Take one sample now (GPU line(s) and process-tree line); a failure is counted and logged."""
        with self._lock:
            now = datetime.now()
            try:
                if self._gpu_fh is not None:
                    self._write_gpu(now)
                if self._tree is not None:
                    self._write_cpu(now)
                self.samples += 1
            except Exception as exc:
                self.errors += 1
                if self.errors <= 3:
                    log.warning("sampling failed: %r", exc)

    def _run(self) -> None:
        t0 = time.monotonic()
        k = 1
        while True:
            due = t0 + k * self.period
            if self._stop.wait(max(0.0, due - time.monotonic())):
                return
            self.tick()
            k += 1
            late = time.monotonic() - (t0 + k * self.period)
            if late > 0:  # this tick overran the next one: skip the ticks already past
                skip = int(late // self.period) + 1
                self.missed += skip
                k += skip

    def stop(self) -> None:
        """Stop the thread, take a last sample (the end of the run), close the logs."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
        self.tick()
        if not self.backend.polled:
            self.backend.stop()
        with self._lock:
            for fh in (self._gpu_fh, self._cpu_fh):
                if fh is not None and not fh.closed:
                    fh.close()
        if self.cpu_lines == 0:  # the command never ran long enough: no CPU log rather than a header alone
            self.cpu_path.unlink(missing_ok=True)
        self.backend.close()


def _open_log(path: Path, header: str):
    fh = open(path, "w", encoding="utf-8", newline="")
    fh.write(header + "\n")
    fh.flush()
    return fh


# --------------------------------------------------------------------------------------------
# runs.csv
# --------------------------------------------------------------------------------------------


def csv_line(values: Sequence) -> str:
    """One CSV line (``None`` as an empty cell).

    Examples
    --------
    >>> csv_line(["a", None, "b, c", 1])
    'a,,"b, c",1\\n'
    """
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow(["" if v is None else v for v in values])
    return buf.getvalue()


class DatasetLock:
    """Exclusive ``flock`` on the dataset folder (falls back to ``.runs.csv.lock`` where a folder cannot be locked).

    Examples
    --------
    >>> import tempfile
    >>> with DatasetLock(Path(tempfile.mkdtemp())) as lock:
    ...     lock.fd is not None
    True
    """

    def __init__(self, dataset: Path):
        self.dataset = dataset
        self.fd: int | None = None

    def __enter__(self):
        import fcntl

        try:
            self.fd = os.open(self.dataset, os.O_RDONLY)
            fcntl.flock(self.fd, fcntl.LOCK_EX)
        except OSError:
            if self.fd is not None:
                os.close(self.fd)
            self.fd = os.open(self.dataset / f".{RUNS_FILE}.lock", os.O_RDWR | os.O_CREAT, 0o644)
            fcntl.flock(self.fd, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc):
        import fcntl

        if self.fd is not None:
            fcntl.flock(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)
            self.fd = None


def _read_header_and_ids(path: Path) -> tuple[list[str], set[str]]:
    with open(path, newline="", encoding="utf-8") as fh:
        rows = csv.reader(fh, skipinitialspace=True)
        header = [c.strip() for c in next(rows, [])]
        if "run_id" not in header:
            return header, set()
        k = header.index("run_id")
        return header, {r[k].strip() for r in rows if len(r) > k}


def run_exists(dataset: Path, run_id: str) -> bool:
    """Whether ``DATASET/runs.csv`` already has a row for ``run_id``."""
    runs = Path(dataset) / RUNS_FILE
    if runs.is_file() and runs.stat().st_size:
        return run_id in _read_header_and_ids(runs)[1]
    return False


def append_run_row(dataset: str | Path, row: dict) -> Path:
    """Append one row to ``DATASET/runs.csv`` atomically; create the file with a header when absent.

    Under an exclusive lock on the dataset folder: the row is written to a temporary file in the
    dataset folder, then appended to ``runs.csv`` with one ``write`` on an ``O_APPEND`` descriptor and
    ``fsync``.  When the row has columns that the existing header lacks, the whole table is rewritten
    with the wider header into a temporary file and moved over ``runs.csv`` (``os.replace``), so a
    reader sees either the old or the new table.  Raises :class:`MeasureError` on a duplicate run id.

    Examples
    --------
    >>> import tempfile
    >>> ds = Path(tempfile.mkdtemp())
    >>> _ = append_run_row(ds, {"run_id": "a", "return_code": 0})
    >>> _ = append_run_row(ds, {"run_id": "b", "return_code": 137, "seed": 3})
    >>> (ds / "runs.csv").read_text().splitlines()
    ['run_id,return_code,seed', 'a,0,', 'b,137,3']
    """
    dataset = Path(dataset)
    path = dataset / RUNS_FILE
    with DatasetLock(dataset):
        if not path.is_file() or path.stat().st_size == 0:
            _write_replace(path, csv_line(list(row)) + csv_line(list(row.values())))
            return path
        header, ids = _read_header_and_ids(path)
        if str(row.get("run_id")) in ids:
            raise MeasureError(f"{path}: run_id {row.get('run_id')!r} already present; row not appended")
        missing = [k for k in row if k not in header]
        if missing:
            _rewrite_wider(path, header + missing, row)
        else:
            _append_line(path, csv_line([row.get(c) for c in header]).encode("utf-8"))
    return path


def _rewrite_wider(path: Path, wide: list[str], row: dict) -> None:
    """Rewrite ``runs.csv`` with the wider header ``wide`` and ``row`` at the end (atomically)."""
    with open(path, newline="", encoding="utf-8") as fh:
        old = list(csv.reader(fh))
    text = csv_line(wide) + "".join(csv_line(r + [""] * (len(wide) - len(r))) for r in old[1:] if r)
    text += csv_line([row.get(c) for c in wide])
    _write_replace(path, text)


def _append_line(path: Path, line: bytes) -> None:
    """Append ``line`` to ``path`` with one ``write``, staged in a temporary file next to it."""
    fd_tmp, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".row", dir=path.parent)
    try:
        os.write(fd_tmp, line)
        os.fsync(fd_tmp)
        os.lseek(fd_tmp, 0, os.SEEK_SET)
        data = os.read(fd_tmp, len(line) + 1)
        fd = os.open(path, os.O_WRONLY | os.O_APPEND)
        try:
            with open(path, "rb") as fh:  # a file edited by hand may lack its last newline
                fh.seek(-1, os.SEEK_END)
                if fh.read(1) != b"\n":
                    data = b"\n" + data
            n = os.write(fd, data)
            if n != len(data):  # pragma: no cover - regular files write fully or raise
                raise OSError(f"short write to {path} ({n} of {len(data)} bytes)")
            os.fsync(fd)
        finally:
            os.close(fd)
    finally:
        os.close(fd_tmp)
        os.unlink(tmp)


def _file_mode(path: Path) -> int:
    """The existing file's mode, else 0o666 less the umask (mkstemp's 0o600 is too strict for a dataset)."""
    try:
        return path.stat().st_mode & 0o777
    except FileNotFoundError:
        mask = os.umask(0)
        os.umask(mask)
        return 0o666 & ~mask


def _write_replace(path: Path, text: str) -> None:
    mode = _file_mode(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
