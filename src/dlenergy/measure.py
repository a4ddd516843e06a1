"""Record a new measurement run in layout v1: ``dlenergy measure``.

``measure`` starts a training command, samples the GPU(s) and the command's process tree at a fixed
period while it runs, and writes ::

    DATASET/runs/<run_id>/gpu.csv     nvidia-smi-style CSV (one line per GPU per sample)
    DATASET/runs/<run_id>/cpu.csv     timestamp, cpu usage (%), memory usage (MB) of the process tree
    DATASET/runs/<run_id>/epochs.csv  written by the command itself through :mod:`dlenergy.markers`
    DATASET/runs.csv                  one row appended when the command ends

Every sample is flushed as soon as it is taken, so a run killed at any point keeps its logs (at worst
the last line is cut, which the parsers drop).  The ``runs.csv`` row is materialized in a temporary
file first and appended with a single ``write`` under an exclusive ``flock`` on the dataset folder,
so concurrent ``measure`` processes writing to one dataset never interleave or leave half a row.

GPU backends (pluggable, chosen by ``--backend`` or the ``DLENERGY_GPU_BACKEND`` environment
variable; default ``auto``):

``nvml``          :class:`NvmlBackend`, nvidia-ml-py (``pynvml``) in-process: power, utilization,
                  memory, temperature, enforced power limit and, where the board has one
                  (Volta and newer), the cumulative energy counter
                  (``nvmlDeviceGetTotalEnergyConsumption``, mJ) as ``total_energy_consumption [mJ]``.
``nvidia-smi``    :class:`NvidiaSmiBackend`, ``nvidia-smi --query-gpu=... --format=csv -lms <ms>``
                  as a subprocess whose lines are copied (and flushed) into ``gpu.csv``.
``replay:PATH``   :class:`ReplayBackend`, replays a recorded ``gpu.csv`` trace on the wall clock
                  (for tests and demos without a GPU).
``none``          behave as if the machine had no GPU (``measure`` refuses to start).
``auto``          NVML when it loads and sees a GPU, else ``nvidia-smi`` when on ``PATH`` and it
                  lists a GPU, else no GPU: ``measure`` exits with :data:`EXIT_NO_GPU` **before**
                  starting the command.

Return-code convention (column ``return_code`` and the exit status of ``measure``): the command's
own exit status; a command killed by signal *N* is recorded as ``128 + N`` (the shell's
convention: SIGKILL -> 137, SIGTERM -> 143, SIGINT -> 130); a command that cannot be started is
recorded as 127.  ``measure``'s own failures use the sysexits codes :data:`EXIT_USAGE` (64),
:data:`EXIT_NO_GPU` (69) and :data:`EXIT_CANTCREAT` (73) and then start no command.
"""

from __future__ import annotations

import csv
import io
import logging
import math
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from .markers import ENV_RUN_DIR, ENV_TRAIN_START, TRAIN_START_FILE, read_train_start

# Names of layout v1, as in dlenergy.layout (a test checks they agree).  Not imported from there:
# layout imports pandas, and the recorder should start fast and stay small next to a training job.
RUNS_FILE, RUNS_DIR, GPU_FILE, CPU_FILE, EPOCHS_FILE = "runs.csv", "runs", "gpu.csv", "cpu.csv", "epochs.csv"
RUN_ID_ALLOWED = r"^[A-Za-z0-9][A-Za-z0-9._\-]*$"
RUNS_REQUIRED = (
    "run_id", "environment", "gpu_model", "architecture", "dataset", "batch_size", "image_size",
    "training_size", "validation_size", "total_ram_gb", "gflops", "return_code",
)


def _run_dir(dataset: Path, run_id: str) -> Path:
    return Path(dataset) / RUNS_DIR / run_id

log = logging.getLogger("dlenergy.measure")

#: environment variables
ENV_BACKEND = "DLENERGY_GPU_BACKEND"
ENV_RUN_ID = "DLENERGY_RUN_ID"
# ENV_RUN_DIR (absolute path of runs/<run_id>) and ENV_TRAIN_START (train_start as written to
# runs.csv) are set for the command; their names live in dlenergy.markers, which reads them
ENV_PERIOD = "DLENERGY_PERIOD"

EXIT_USAGE = 64  #: bad arguments (run id, duplicate run, empty command)
EXIT_NO_GPU = 69  #: no GPU backend available: the command was not started
EXIT_CANTCREAT = 73  #: the dataset folder or the run folder cannot be written
RC_NOT_STARTED = 127  #: recorded when the command cannot be executed

#: signals that measure forwards to the command
FORWARDED_SIGNALS = tuple(
    getattr(signal, n) for n in ("SIGINT", "SIGTERM", "SIGHUP", "SIGUSR1", "SIGUSR2") if hasattr(signal, n)
)

#: nvidia-smi query fields, in the order of the written header (index only for more than one GPU)
SMI_FIELDS = (
    "timestamp",
    "index",
    "name",
    "utilization.gpu",
    "utilization.memory",
    "memory.total",
    "memory.used",
    "power.draw",
    "power.limit",
    "temperature.gpu",
)
ENERGY_HEADER = "total_energy_consumption [mJ]"
CPU_HEADER = "timestamp,cpu usage (%),memory usage (MB)"


class MeasureError(RuntimeError):
    """measure cannot run; ``exit_code`` says why (the command was not started)."""

    def __init__(self, message: str, exit_code: int = EXIT_USAGE):
        super().__init__(message)
        self.exit_code = exit_code


class NoGpuError(MeasureError):
    def __init__(self, message: str):
        super().__init__(message, EXIT_NO_GPU)


# --------------------------------------------------------------------------------------------
# GPU samples and their nvidia-smi-style CSV lines
# --------------------------------------------------------------------------------------------


@dataclass
class GpuSample:
    """One reading of one GPU; ``None`` is written as ``[N/A]``."""

    index: int
    name: str
    power_w: float | None
    utilization_gpu: float | None = None
    utilization_memory: float | None = None
    memory_total_mib: float | None = None
    memory_used_mib: float | None = None
    power_limit_w: float | None = None
    temperature_c: float | None = None
    energy_mj: int | None = None


def smi_timestamp(ts: datetime) -> str:
    """nvidia-smi's timestamp format, millisecond precision: ``2026/11/22 12:07:36.555``."""
    return ts.strftime("%Y/%m/%d %H:%M:%S.") + f"{ts.microsecond // 1000:03d}"


def gpu_header(*, with_index: bool, with_energy: bool) -> str:
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
# backends
# --------------------------------------------------------------------------------------------


class GpuBackend:
    """Interface of a GPU source.

    A *polled* backend (``polled = True``) returns one :class:`GpuSample` per GPU from
    :meth:`sample`, called by measure's sampling thread.  A backend that writes the log itself
    (``nvidia-smi``) sets ``polled = False`` and implements :meth:`start` / :meth:`stop`.
    :meth:`open` checks that there is a GPU and raises :class:`NoGpuError` otherwise.
    """

    name = "abstract"
    polled = True

    def __init__(self) -> None:
        self.devices: list[str] = []
        self.has_energy_counter = False

    def open(self) -> list[str]:  # pragma: no cover - interface
        raise NotImplementedError

    def sample(self) -> list[GpuSample]:  # pragma: no cover - interface
        raise NotImplementedError

    def start(self, path: Path, period: float) -> None:  # pragma: no cover - non-polled only
        raise NotImplementedError

    def stop(self) -> None:  # pragma: no cover - non-polled only
        pass

    def close(self) -> None:
        pass

    def describe(self) -> str:
        return f"{self.name}: {len(self.devices)} GPU(s) {', '.join(sorted(set(self.devices)))}" + (
            "; energy counter" if self.has_energy_counter else ""
        )


class NvmlBackend(GpuBackend):
    """NVIDIA Management Library through nvidia-ml-py (module ``pynvml``).

    Units as NVML returns them: power and power limit in mW, memory in bytes, energy counter in mJ
    since the driver was loaded; written as W, MiB and mJ.  A field that a board does not support
    (``NVMLError_NotSupported``) is asked once and then written as ``[N/A]``.
    """

    name = "nvml"

    def __init__(self, indices: Sequence[int] | None = None):
        super().__init__()
        self.indices = list(indices) if indices is not None else None
        self._nv = None
        self._handles: list = []
        self._unsupported: set[tuple[int, str]] = set()

    def open(self) -> list[str]:
        try:
            import pynvml as nv
        except ImportError as exc:  # pragma: no cover - dependency of the package
            raise NoGpuError(f"nvidia-ml-py is not installed ({exc})") from None
        try:
            nv.nvmlInit()
        except (nv.NVMLError, OSError) as exc:
            raise NoGpuError(f"NVML did not initialize: {exc}") from None
        self._nv = nv
        try:
            count = nv.nvmlDeviceGetCount()
            idx = self.indices if self.indices is not None else list(range(count))
            bad = [i for i in idx if not 0 <= i < count]
            if bad:
                raise NoGpuError(f"GPU index {bad} not present (NVML sees {count} GPU(s))")
            if not idx:
                raise NoGpuError("NVML sees no GPU")
            self.indices = idx
            self._handles = [nv.nvmlDeviceGetHandleByIndex(i) for i in idx]
            names = []
            for h in self._handles:
                n = nv.nvmlDeviceGetName(h)
                names.append(n.decode() if isinstance(n, bytes) else str(n))
            self.devices = names
            # the energy counter: Volta and newer; probe once
            ok = []
            for h in self._handles:
                try:
                    nv.nvmlDeviceGetTotalEnergyConsumption(h)
                    ok.append(True)
                except nv.NVMLError:
                    ok.append(False)
            self.has_energy_counter = any(ok)
            for k, good in enumerate(ok):
                if not good:
                    self._unsupported.add((k, "energy"))
        except NoGpuError:
            self.close()
            raise
        except nv.NVMLError as exc:
            self.close()
            raise NoGpuError(f"NVML error while listing GPUs: {exc}") from None
        return self.devices

    def _get(self, k: int, what: str, fn: Callable, *args):
        if (k, what) in self._unsupported:
            return None
        try:
            return fn(*args)
        except self._nv.NVMLError_NotSupported:  # type: ignore[union-attr]
            self._unsupported.add((k, what))
            return None
        except self._nv.NVMLError:  # type: ignore[union-attr]
            return None  # transient (e.g. GPU busy): missing this once

    def sample(self) -> list[GpuSample]:
        nv = self._nv
        out = []
        for k, (i, h) in enumerate(zip(self.indices, self._handles)):
            p = self._get(k, "power", nv.nvmlDeviceGetPowerUsage, h)
            util = self._get(k, "util", nv.nvmlDeviceGetUtilizationRates, h)
            mem = self._get(k, "mem", nv.nvmlDeviceGetMemoryInfo, h)
            lim = self._get(k, "limit", nv.nvmlDeviceGetEnforcedPowerLimit, h)
            temp = self._get(k, "temp", nv.nvmlDeviceGetTemperature, h, nv.NVML_TEMPERATURE_GPU)
            energy = self._get(k, "energy", nv.nvmlDeviceGetTotalEnergyConsumption, h)
            out.append(
                GpuSample(
                    index=i,
                    name=self.devices[k],
                    power_w=p / 1000.0 if p is not None else None,
                    utilization_gpu=float(util.gpu) if util is not None else None,
                    utilization_memory=float(util.memory) if util is not None else None,
                    memory_total_mib=mem.total / 2**20 if mem is not None else None,
                    memory_used_mib=mem.used / 2**20 if mem is not None else None,
                    power_limit_w=lim / 1000.0 if lim is not None else None,
                    temperature_c=float(temp) if temp is not None else None,
                    energy_mj=int(energy) if energy is not None else None,
                )
            )
        return out

    def close(self) -> None:
        if self._nv is not None:
            try:
                self._nv.nvmlShutdown()
            except Exception:
                pass
            self._nv = None


class NvidiaSmiBackend(GpuBackend):
    """``nvidia-smi --query-gpu=... --format=csv -lms <ms>`` as a subprocess.

    nvidia-smi's own lines (header included) are copied into ``gpu.csv`` by a reader thread and
    flushed one by one.  nvidia-smi has no query field for the energy counter, so this backend
    writes none.
    """

    name = "nvidia-smi"
    polled = False

    def __init__(self, indices: Sequence[int] | None = None, executable: str = "nvidia-smi"):
        super().__init__()
        self.indices = list(indices) if indices is not None else None
        self.executable = executable
        self._proc: subprocess.Popen | None = None
        self._reader: threading.Thread | None = None
        self.lines_written = 0

    def _select(self) -> list[str]:
        return ["-i", ",".join(map(str, self.indices))] if self.indices is not None else []

    def open(self) -> list[str]:
        exe = shutil.which(self.executable)
        if exe is None:
            raise NoGpuError(f"{self.executable} not found on PATH")
        self.executable = exe
        try:
            res = subprocess.run(
                [exe, "--query-gpu=index,name", "--format=csv,noheader", *self._select()],
                capture_output=True,
                text=True,
                timeout=30,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise NoGpuError(f"{exe} failed: {exc}") from None
        rows = [r for r in res.stdout.splitlines() if r.strip()]
        if res.returncode != 0 or not rows:
            msg = (res.stderr or res.stdout).strip().splitlines()
            raise NoGpuError(f"{exe} lists no GPU (exit {res.returncode}{': ' + msg[0] if msg else ''})")
        self.devices = [r.split(",", 1)[1].strip() if "," in r else r.strip() for r in rows]
        if self.indices is None:
            self.indices = [int(r.split(",", 1)[0]) for r in rows if r.split(",", 1)[0].strip().isdigit()] or None
        return self.devices

    def command(self, period: float) -> list[str]:
        fields = [f for f in SMI_FIELDS if f != "index" or len(self.devices) > 1]
        ms = max(1, int(round(period * 1000)))
        return [self.executable, f"--query-gpu={','.join(fields)}", "--format=csv", "-lms", str(ms), *self._select()]

    def start(self, path: Path, period: float) -> None:
        fh = open(path, "w", encoding="utf-8", newline="")
        self._proc = subprocess.Popen(
            self.command(period), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
            text=True, bufsize=1,
        )

        first = threading.Event()

        def copy():
            try:
                for line in self._proc.stdout:  # type: ignore[union-attr]
                    if not line.endswith("\n"):
                        break  # nvidia-smi was stopped in the middle of a line: drop it
                    fh.write(line)
                    fh.flush()
                    self.lines_written += 1
                    if self.lines_written >= 2:  # header and a first sample
                        first.set()
            finally:
                fh.close()
                first.set()

        self._reader = threading.Thread(target=copy, name="dlenergy-nvidia-smi", daemon=True)
        self._reader.start()
        # a first sample before the command starts, as with the polled backends
        if not first.wait(timeout=10):
            log.warning("nvidia-smi wrote no sample within 10 s; starting the command anyway")

    def stop(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        if self._reader is not None:
            self._reader.join(timeout=5)


class ReplayBackend(GpuBackend):
    """Replays a recorded ``gpu.csv`` on the wall clock (tests and demos without a GPU).

    The sample at elapsed time *t* since :meth:`open` is the trace's last sample at or before
    ``t mod duration`` (the trace loops), whatever the sampling period.  Power, utilization,
    memory, power limit, temperature and name come from the trace; the energy counter is replayed
    when the trace has one (``total_energy_consumption [mJ]``), continuing across loops.
    """

    name = "replay"

    def __init__(self, path: str | Path, clock: Callable[[], float] = time.monotonic):
        super().__init__()
        self.path = Path(path)
        self.clock = clock
        self._t0 = 0.0

    def open(self) -> list[str]:
        import numpy as np

        if not self.path.is_file():
            raise NoGpuError(f"replay trace {self.path} not found")
        t, cols, name = read_trace(self.path)
        if len(t) < 1:
            raise NoGpuError(f"replay trace {self.path} has no readable samples")
        self._t = t - t[0]
        dt = np.diff(t)
        self._duration = float(self._t[-1] + (np.median(dt) if len(dt) else 1.0))
        self._cols = cols
        e = cols.pop("energy_mj")
        self.has_energy_counter = bool(np.isfinite(e).any())
        if self.has_energy_counter:
            good = np.isfinite(e)
            e = np.interp(self._t, self._t[good], e[good])
            self._energy = e - e[0]
            # one loop of the trace adds the counter's span plus the last step's energy
            step = (self._energy[-1] - self._energy[-2]) if len(e) > 1 else 0.0
            self._loop_energy = float(self._energy[-1] + step)
        self._name = name or "replayed GPU"
        self.devices = [self._name]
        self._t0 = self.clock()
        return self.devices

    def sample(self) -> list[GpuSample]:
        import numpy as np

        el = self.clock() - self._t0
        loops, pos = divmod(el, self._duration)
        i = max(0, int(np.searchsorted(self._t, pos, side="right")) - 1)

        def v(name):
            x = float(self._cols[name][i])
            return x if math.isfinite(x) else None

        energy = None
        if self.has_energy_counter:
            energy = int(round(1_000_000 + loops * self._loop_energy + self._energy[i]))
        return [
            GpuSample(
                index=0,
                name=self._name,
                power_w=v("power_w"),
                utilization_gpu=v("utilization_gpu"),
                utilization_memory=v("utilization_memory"),
                memory_total_mib=v("memory_total_mib"),
                memory_used_mib=v("memory_used_mib"),
                power_limit_w=v("power_limit_w"),
                temperature_c=v("temperature_c"),
                energy_mj=energy,
            )
        ]


#: trace column -> GpuSample field, for :func:`read_trace` (any header style the parsers accept)
_TRACE_FIELDS = {
    "power_w": "power_w",
    "gpu_usage_pct": "utilization_gpu",
    "mem_usage_pct": "utilization_memory",
    "mem_total_mib": "memory_total_mib",
    "mem_used_mib": "memory_used_mib",
    "power_limit_w": "power_limit_w",
    "temperature_c": "temperature_c",
    "energy_counter_mj": "energy_mj",
}
#: accepted header names per column, as in dlenergy.parsing.GPU_COLUMNS (a test checks they agree;
#: not imported from there because parsing imports pandas and pyarrow)
TRACE_ALIASES: dict[str, tuple[str, ...]] = {
    "timestamp": ("timestamp",),
    "gpu_name": ("name", "gpu_name"),
    "power_w": ("power.draw", "gpu_power_draw", "power.draw.average"),
    "gpu_usage_pct": ("utilization.gpu", "gpu_usage"),
    "mem_usage_pct": ("utilization.memory", "gpu_memory_usage"),
    "mem_total_mib": ("memory.total", "gpu_total_memory"),
    "mem_used_mib": ("memory.used", "gpu_memory_used"),
    "power_limit_w": ("power.limit", "power.max_limit", "enforced.power.limit", "gpu_max_power"),
    "temperature_c": ("temperature.gpu", "gpu_temperature"),
    "energy_counter_mj": ("total_energy_consumption", "energy_counter_mj"),
    "gpu_index": ("index", "gpu_index"),
    "gpu_bus_id": ("pci.bus_id", "gpu_bus_id", "pci.bus"),
    "gpu_uuid": ("uuid", "gpu_uuid"),
}


def _resolve_trace_header(columns: list[str]) -> dict[str, str]:
    """Canonical column -> header name; a name matches with or without its ``[unit]``."""
    raw = {c.strip().lower(): c for c in columns}
    norm = {re.sub(r"\s*\[[^\]]*\]\s*$", "", c.strip().lower()).strip(): c for c in columns}
    out = {}
    for canon, names in TRACE_ALIASES.items():
        for n in names:
            if n in raw or n in norm:
                out[canon] = raw.get(n) or norm[n]
                break
    return out


_NUM_RE = re.compile(r"^\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)")


def read_trace(path: str | Path):
    """Read a recorded GPU log for replay: ``(t seconds, {field: float array}, gpu name)``.

    Every column the layout's GPU parser knows is kept (the analysis parser reads only those it
    needs); values may carry units; ``[N/A]`` is NaN; lines cut short or with a bad timestamp are
    dropped.  A multi-GPU log is replayed as its first GPU.
    """
    import numpy as np

    with open(path, newline="", encoding="utf-8", errors="replace") as fh:
        rows = list(csv.reader(fh))
    if not rows:
        return np.zeros(0), {f: np.zeros(0) for f in _TRACE_FIELDS.values()}, None
    header = [c.strip() for c in rows[0]]
    mapping = _resolve_trace_header(header)
    if "timestamp" not in mapping or "power_w" not in mapping:
        raise NoGpuError(f"replay trace {path}: header has no timestamp or power draw column: {header}")
    pos = {canon: header.index(col) for canon, col in mapping.items()}
    first_index = None
    ts, vals, name = [], {f: [] for f in _TRACE_FIELDS.values()}, None

    def num(x: str) -> float:
        m = _NUM_RE.match(x)
        return float(m.group(1)) if m else math.nan

    for r in rows[1:]:
        if len(r) != len(header):
            continue
        if "gpu_index" in pos:
            gi = r[pos["gpu_index"]].strip()
            first_index = gi if first_index is None else first_index
            if gi != first_index:
                continue
        try:
            t = datetime.fromisoformat(r[pos["timestamp"]].strip().replace("/", "-")).timestamp()
        except ValueError:
            continue
        ts.append(t)
        for canon, fld in _TRACE_FIELDS.items():
            vals[fld].append(num(r[pos[canon]]) if canon in pos else math.nan)
        if name is None and "gpu_name" in pos:
            name = r[pos["gpu_name"]].strip()
    order = np.argsort(np.asarray(ts), kind="stable")
    return (
        np.asarray(ts, dtype="float64")[order],
        {f: np.asarray(v, dtype="float64")[order] for f, v in vals.items()},
        name,
    )


class NoGpuBackend(GpuBackend):
    name = "none"

    def open(self) -> list[str]:
        raise NoGpuError(f"no GPU backend ({ENV_BACKEND}=none)")


def backend_from_spec(spec: str | None, indices: Sequence[int] | None = None) -> GpuBackend:
    """A backend from ``auto | nvml | nvidia-smi | replay:PATH | none`` (``None``: the env var, else auto)."""
    if spec is None:
        spec = os.environ.get(ENV_BACKEND, "") or "auto"
    spec = spec.strip()
    low = spec.lower()
    if low.startswith("replay:"):
        return ReplayBackend(spec.split(":", 1)[1])
    if low == "nvml":
        return NvmlBackend(indices)
    if low in ("nvidia-smi", "smi"):
        return NvidiaSmiBackend(indices)
    if low == "none":
        return NoGpuBackend()
    if low == "auto":
        return AutoBackend(indices)
    raise MeasureError(f"unknown GPU backend {spec!r} (use auto, nvml, nvidia-smi, replay:PATH or none)")


class AutoBackend(GpuBackend):
    """NVML, else nvidia-smi, else :class:`NoGpuError` naming why each failed."""

    name = "auto"

    def __init__(self, indices: Sequence[int] | None = None):
        super().__init__()
        self.indices = indices
        self.chosen: GpuBackend | None = None

    def open(self) -> list[str]:
        reasons = []
        for cls in (NvmlBackend, NvidiaSmiBackend):
            b = cls(self.indices)
            try:
                b.open()
            except NoGpuError as exc:
                reasons.append(f"{b.name}: {exc}")
                continue
            self.chosen = b
            return b.devices
        raise NoGpuError("no GPU found (" + "; ".join(reasons) + ")")


def open_backend(spec: str | None = None, indices: Sequence[int] | None = None) -> GpuBackend:
    """Select and open a backend; raises :class:`NoGpuError` when there is no GPU."""
    b = backend_from_spec(spec, indices)
    b.open()
    if isinstance(b, AutoBackend):
        return b.chosen  # type: ignore[return-value]
    return b


# --------------------------------------------------------------------------------------------
# process-tree CPU / RSS
# --------------------------------------------------------------------------------------------


class ProcessTreeSampler:
    """CPU % and resident memory of a process and all its descendants (psutil).

    CPU % is the sum over the tree of ``psutil.Process.cpu_percent()`` since the previous sample
    (100 = one core busy; a tree busy on 4 cores reads 400).  Memory is the sum of RSS in MB
    (2**20 bytes).  The first sample of a process reads 0 % (psutil needs two readings).

    Finding the descendants scans all of ``/proc`` (about 3 ms with 90 processes), so the tree's
    membership is refreshed at most every ``refresh_s`` seconds; in between the known processes
    are read.  A process started in between is counted from the next refresh on.
    """

    def __init__(self, pid: int, refresh_s: float = 1.0):
        import psutil

        self._psutil = psutil
        self.root = psutil.Process(pid)
        self.refresh_s = refresh_s
        self._procs: dict[int, object] = {pid: self.root}
        self._tree: list = [self.root]
        self._refreshed = -math.inf

    def sample(self) -> tuple[float, float] | None:
        ps = self._psutil
        now = time.monotonic()
        if now - self._refreshed >= self.refresh_s:
            try:
                self._tree = [self.root, *self.root.children(recursive=True)]
            except (ps.NoSuchProcess, ps.ZombieProcess):
                return None
            except ps.AccessDenied:
                self._tree = [self.root]
            self._refreshed = now
        elif not self.root.is_running():
            return None
        tree = self._tree
        cpu = 0.0
        rss = 0
        seen = {}
        for p in tree:
            cached = self._procs.get(p.pid)
            if cached is not None and cached == p:  # same pid and creation time
                p = cached
            try:
                with p.oneshot():
                    cpu += p.cpu_percent(interval=None)
                    rss += p.memory_info().rss
            except (ps.NoSuchProcess, ps.ZombieProcess, ps.AccessDenied):
                continue
            seen[p.pid] = p
        if not seen:  # the whole tree is gone (or a zombie waiting to be reaped)
            return None
        self._procs = seen
        return cpu, rss / 2**20


# --------------------------------------------------------------------------------------------
# the sampling thread
# --------------------------------------------------------------------------------------------


class Recorder:
    """Samples a polled GPU backend and a process tree on a monotonic schedule.

    Tick *k* is due at ``t0 + k * period`` (``time.monotonic``), so the schedule does not drift
    with the time each sample takes; a tick that is overrun by more than a period is skipped
    (counted in :attr:`missed`) rather than taken late in a burst.  Every line is flushed.
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
        self._cpu_fh = open(cpu_path, "w", encoding="utf-8", newline="")
        self._cpu_fh.write(CPU_HEADER + "\n")
        self._cpu_fh.flush()
        if backend.polled:
            self._gpu_fh = open(gpu_path, "w", encoding="utf-8", newline="")
            self._gpu_fh.write(gpu_header(with_index=self._with_index, with_energy=self._with_energy) + "\n")
            self._gpu_fh.flush()

    def start(self) -> None:
        if not self.backend.polled:
            self.backend.start(self.gpu_path, self.period)
        self.tick()  # a first sample before the command starts
        self._thread.start()

    def attach(self, pid: int) -> None:
        try:
            self._tree = ProcessTreeSampler(pid)
        except Exception as exc:
            log.warning("cannot follow process %s: %s", pid, exc)

    def tick(self) -> None:
        with self._lock:
            now = datetime.now()
            try:
                if self._gpu_fh is not None:
                    lines = [
                        gpu_line(now, s, with_index=self._with_index, with_energy=self._with_energy)
                        for s in self.backend.sample()
                    ]
                    self._gpu_fh.write("".join(x + "\n" for x in lines))
                    self._gpu_fh.flush()
                if self._tree is not None:
                    got = self._tree.sample()
                    if got is not None:
                        self._cpu_fh.write(f"{now.isoformat()},{got[0]:.3f},{got[1]:.3f}\n")
                        self._cpu_fh.flush()
                        self.cpu_lines += 1
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


# --------------------------------------------------------------------------------------------
# runs.csv
# --------------------------------------------------------------------------------------------


def _csv_line(values: Sequence) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow(["" if v is None else v for v in values])
    return buf.getvalue()


class _DatasetLock:
    """Exclusive ``flock`` on the dataset folder (falls back to ``.runs.csv.lock`` where a folder cannot be locked)."""

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
    """
    dataset = Path(dataset)
    path = dataset / RUNS_FILE
    with _DatasetLock(dataset):
        if not path.is_file() or path.stat().st_size == 0:
            _write_replace(path, _csv_line(list(row)) + _csv_line(list(row.values())))
            return path
        header, ids = _read_header_and_ids(path)
        if str(row.get("run_id")) in ids:
            raise MeasureError(f"{path}: run_id {row.get('run_id')!r} already present; row not appended")
        missing = [k for k in row if k not in header]
        if missing:
            with open(path, newline="", encoding="utf-8") as fh:
                old = list(csv.reader(fh))
            wide = header + missing
            text = _csv_line(wide) + "".join(_csv_line(r + [""] * (len(wide) - len(r))) for r in old[1:] if r)
            text += _csv_line([row.get(c) for c in wide])
            _write_replace(path, text)
            return path
        line = _csv_line([row.get(c) for c in header]).encode("utf-8")
        fd_tmp, tmp = tempfile.mkstemp(prefix=f".{RUNS_FILE}.", suffix=".row", dir=dataset)
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
    return path


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


# --------------------------------------------------------------------------------------------
# measure
# --------------------------------------------------------------------------------------------


def return_code_of(popen_rc: int) -> int:
    """Popen's return code in the recorded convention: killed by signal N -> 128 + N."""
    return 128 - popen_rc if popen_rc < 0 else popen_rc


@dataclass
class MeasureResult:
    run_id: str
    run_dir: Path
    return_code: int
    row: dict
    backend: str
    samples: int
    missed: int
    duration_s: float
    signals_forwarded: list[int] = field(default_factory=list)


def default_metadata() -> dict:
    """Defaults for runs.csv fields that measure can find itself."""
    import psutil

    return {
        "environment": socket.gethostname(),
        "total_ram_gb": round(psutil.virtual_memory().total / 2**30, 1),
    }


def measure(
    command: Sequence[str],
    dataset: str | Path,
    run_id: str,
    metadata: dict | None = None,
    *,
    period: float = 1.0,
    backend: GpuBackend | str | None = None,
    gpu_indices: Sequence[int] | None = None,
    forward_signals: bool = True,
    on_start: Callable[[GpuBackend, Path], None] | None = None,
) -> MeasureResult:
    """Run ``command`` while recording it as run ``run_id`` of ``dataset`` (see the module docstring).

    ``metadata`` holds the runs.csv fields (``environment``, ``architecture``, ``batch_size``, ...;
    extra keys become extra columns).  ``gpu_model`` defaults to the name the backend reports,
    ``environment`` to the host name and ``total_ram_gb`` to the machine's RAM.  Raises
    :class:`MeasureError` (:class:`NoGpuError` when there is no GPU) before the command starts.
    """
    command = list(command)
    if not command:
        raise MeasureError("no command given (put the training command after --)")
    if not re.match(RUN_ID_ALLOWED, run_id or ""):
        raise MeasureError(f"run id {run_id!r} is not a valid folder name (letters, digits, . _ -)")
    if not period > 0:
        raise MeasureError(f"--period must be positive, got {period}")
    dataset = Path(dataset)
    rdir = _run_dir(dataset, run_id)
    if run_exists(dataset, run_id):
        raise MeasureError(f"run {run_id!r} is already in {dataset / RUNS_FILE}; choose another --run-id")
    if rdir.exists() and any(rdir.iterdir()):
        raise MeasureError(f"{rdir} already exists and is not empty; choose another --run-id")

    # the GPU first: without one, nothing is created and the command is not started
    if backend is None or isinstance(backend, str):
        gpu = open_backend(backend, gpu_indices)
    else:
        gpu = backend
        if not gpu.devices:
            gpu.open()

    try:
        rdir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        gpu.close()
        raise MeasureError(f"cannot create run folder {rdir}: {exc}", EXIT_CANTCREAT) from None

    meta = {**default_metadata(), "gpu_model": gpu.devices[0] if gpu.devices else None}
    meta.update({k: v for k, v in (metadata or {}).items() if v is not None})

    if on_start is not None:
        on_start(gpu, rdir)
    rec = Recorder(rdir / GPU_FILE, rdir / CPU_FILE, gpu, period)
    rec.start()

    forwarded: list[int] = []
    pending: list[int] = []
    child: subprocess.Popen | None = None
    old_handlers: dict[int, object] = {}

    def forward(signum, _frame):
        forwarded.append(signum)
        if child is None:
            pending.append(signum)  # arrived while the command was being started
        elif child.poll() is None:
            try:
                os.kill(child.pid, signum)
            except ProcessLookupError:
                pass

    if forward_signals and threading.current_thread() is threading.main_thread():
        for s in FORWARDED_SIGNALS:
            try:
                old_handlers[s] = signal.signal(s, forward)
            except (OSError, ValueError):  # pragma: no cover
                pass

    train_start = datetime.now()
    env = dict(os.environ)
    env.update(
        {
            ENV_RUN_DIR: str(rdir.resolve()),
            ENV_RUN_ID: run_id,
            ENV_TRAIN_START: train_start.isoformat(sep=" "),
            ENV_PERIOD: repr(float(period)),
        }
    )
    env.pop(ENV_BACKEND, None)  # a measure nested in the command chooses its own backend
    # The command gets its own process group, so that a Ctrl-C typed in the terminal reaches
    # measure only, which forwards it once (in measure's group it would get it twice).  A background
    # group cannot read the terminal (SIGTTIN would stop it): a terminal stdin becomes /dev/null.
    stdin = subprocess.DEVNULL if sys.stdin is not None and sys.stdin.isatty() else None
    t_start = time.monotonic()
    try:
        try:
            child = subprocess.Popen(command, env=env, process_group=0, stdin=stdin)
        except OSError as exc:
            log.error("cannot start %s: %s", command[0], exc)
            rc = RC_NOT_STARTED
        else:
            rec.attach(child.pid)
            for s in pending:
                forward(s, None)
            rc = return_code_of(child.wait())
    finally:
        rec.stop()
    duration = time.monotonic() - t_start

    row: dict = {k: None for k in RUNS_REQUIRED}
    row.update({k: v for k, v in meta.items()})
    row["run_id"] = run_id
    row["return_code"] = rc
    row["train_start"] = train_start.isoformat(sep=" ")
    row["command_start"] = train_start.isoformat(sep=" ")
    marked = read_train_start(rdir)
    if marked is not None:
        if train_start <= marked <= datetime.now():
            row["train_start"] = marked.isoformat(sep=" ")
        else:
            log.warning("%s: train start %s is outside the command's run; runs.csv keeps the command's start",
                        rdir / TRAIN_START_FILE, marked)
    elif (rdir / TRAIN_START_FILE).exists():
        log.warning("%s is not a timestamp; runs.csv keeps the command's start", rdir / TRAIN_START_FILE)
    epochs_path = rdir / EPOCHS_FILE
    if epochs_path.is_file():
        n = sum(1 for line in epochs_path.read_text(encoding="utf-8").splitlines()[1:] if line.strip())
        if row.get("epochs_trained") in (None, ""):
            row["epochs_trained"] = n
    try:
        append_run_row(dataset, row)
    except BaseException:
        # keep the row next to the logs so that it can be added by hand
        (rdir / "runs-row.csv").write_text(_csv_line(list(row)) + _csv_line(list(row.values())), encoding="utf-8")
        raise
    finally:
        for s, h in old_handlers.items():
            try:
                signal.signal(s, h)  # type: ignore[arg-type]
            except (OSError, ValueError, TypeError):  # pragma: no cover
                pass
    if rec.missed:
        log.warning("%d sampling tick(s) skipped (sampling took longer than --period %s s)", rec.missed, period)
    return MeasureResult(
        run_id=run_id,
        run_dir=rdir,
        return_code=rc,
        row=row,
        backend=gpu.name,
        samples=rec.samples,
        missed=rec.missed,
        duration_s=duration,
        signals_forwarded=forwarded,
    )


def parse_meta(items: Sequence[str]) -> dict:
    """``KEY=VALUE`` strings -> dict (for ``--meta``)."""
    out = {}
    for it in items:
        if "=" not in it:
            raise MeasureError(f"--meta expects KEY=VALUE, got {it!r}")
        k, v = it.split("=", 1)
        k = k.strip()
        if not k:
            raise MeasureError(f"--meta expects KEY=VALUE, got {it!r}")
        out[k] = v
    return out
