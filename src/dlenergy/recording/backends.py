"""GPU backends of ``dlenergy measure``: one class per source behind :class:`GpuBackend`.

=================  =========================================================================
spec               backend
=================  =========================================================================
``nvml``           :class:`NvmlBackend`: nvidia-ml-py (``pynvml``) in-process: power,
                   utilization, memory, temperature, enforced power limit and, where the board
                   has one (Volta and newer), the cumulative energy counter
                   (``nvmlDeviceGetTotalEnergyConsumption``, mJ).
``nvidia-smi``     :class:`NvidiaSmiBackend`: ``nvidia-smi --query-gpu=... --format=csv -lms <ms>``
                   as a subprocess whose lines are copied (and flushed) into ``gpu.csv``.
``replay:PATH``    :class:`ReplayBackend`: replays a recorded ``gpu.csv`` trace on the wall clock
                   (tests and demos without a GPU).
``none``           :class:`NoGpuBackend`: behave as if the machine had no GPU.
``auto``           :class:`AutoBackend`: the first of :data:`AUTO_ORDER` (NVML, then nvidia-smi)
                   that opens and sees a GPU.
=================  =========================================================================

:func:`open_backend` turns a spec (``--backend``, else ``$DLENERGY_GPU_BACKEND``, else ``auto``)
into an opened backend through the :data:`BACKENDS` registry, or raises :class:`NoGpuError`.
Adding a backend (AMD SMI, ...) is a subclass, one registry entry and, if ``auto`` should try it,
a place in :data:`AUTO_ORDER`; docs/measure.md, "Adding a backend", walks through it.

Only the standard library is imported here; numpy (replay) and ``pynvml`` (NVML) when used.
"""

from __future__ import annotations

import csv
import logging
import math
import os
import re
import shutil
import subprocess
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from ..headers import GPU_COLUMNS, resolve_columns
from .errors import MeasureError, NoGpuError
from .runfolder import ENV_BACKEND

log = logging.getLogger("dlenergy.measure")


@dataclass
class GpuSample:
    """One reading of one GPU, in the units written to ``gpu.csv``; ``None`` is written as ``[N/A]``."""

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


class GpuBackend(ABC):
    """The interface of a GPU source.

    Every backend implements :meth:`open`, which finds the GPU(s), fills :attr:`devices` (one name
    per GPU) and :attr:`has_energy_counter`, and raises :class:`NoGpuError` when there is no GPU.
    Then either

    * *polled* (``polled = True``, the default): :meth:`sample` returns one :class:`GpuSample` per
      GPU, now; the recorder's thread calls it every period and writes the lines itself; or
    * *streaming* (``polled = False``): :meth:`start` starts something that writes ``gpu.csv``
      (header included) every ``period`` seconds, and :meth:`stop` stops it.

    :meth:`close` releases what :meth:`open` took; :meth:`from_spec` builds the backend from the
    ``--backend`` text after ``name:`` and the ``--gpus`` indices.
    """

    name = "abstract"  #: the spec name, as in ``--backend``
    spec = "abstract"  #: how the spec is written in help texts (``replay:PATH``)
    polled = True

    def __init__(self, indices: Sequence[int] | None = None) -> None:
        self.indices = list(indices) if indices is not None else None
        self.devices: list[str] = []
        self.has_energy_counter = False

    @classmethod
    def from_spec(cls, arg: str | None, indices: Sequence[int] | None) -> GpuBackend:
        """The backend for ``--backend NAME[:ARG]`` (``arg`` is ``None`` without ``:``) and ``--gpus``."""
        if arg is not None:
            raise MeasureError(f"GPU backend {cls.name!r} takes no argument (got {cls.name}:{arg})")
        return cls(indices)

    @abstractmethod
    def open(self) -> list[str]:
        """Find the GPU(s); return :attr:`devices`; raise :class:`NoGpuError` when there is none."""

    def sample(self) -> list[GpuSample]:
        """One reading per GPU (polled backends)."""
        raise NotImplementedError(f"backend {self.name!r} is not polled")

    def start(self, path: Path, period: float) -> None:
        """Start writing ``path`` every ``period`` seconds (streaming backends)."""
        raise NotImplementedError(f"backend {self.name!r} is polled")

    def stop(self) -> None:  # noqa: B027 - an optional hook, not abstract
        """Stop writing (streaming backends); the file is complete afterwards."""

    def close(self) -> None:  # noqa: B027 - an optional hook, not abstract
        """Release the device (library handles, subprocesses)."""

    def describe(self) -> str:
        return f"{self.name}: {len(self.devices)} GPU(s) {', '.join(sorted(set(self.devices)))}" + (
            "; energy counter" if self.has_energy_counter else ""
        )


# --------------------------------------------------------------------------------------------
# NVML
# --------------------------------------------------------------------------------------------


class NvmlBackend(GpuBackend):
    """NVIDIA Management Library through nvidia-ml-py (module ``pynvml``).

    Units as NVML returns them: power and power limit in mW, memory in bytes, energy counter in mJ
    since the driver was loaded; written as W, MiB and mJ.  A field that a board does not support
    (``NVMLError_NotSupported``) is asked once and then written as ``[N/A]``.
    """

    name = spec = "nvml"

    def __init__(self, indices: Sequence[int] | None = None):
        super().__init__(indices)
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
            self._list_devices(nv)
            self._probe_energy_counter(nv)
        except NoGpuError:
            self.close()
            raise
        except nv.NVMLError as exc:
            self.close()
            raise NoGpuError(f"NVML error while listing GPUs: {exc}") from None
        return self.devices

    def _list_devices(self, nv) -> None:
        count = nv.nvmlDeviceGetCount()
        idx = self.indices if self.indices is not None else list(range(count))
        bad = [i for i in idx if not 0 <= i < count]
        if bad:
            raise NoGpuError(f"GPU index {bad} not present (NVML sees {count} GPU(s))")
        if not idx:
            raise NoGpuError("NVML sees no GPU")
        self.indices = idx
        self._handles = [nv.nvmlDeviceGetHandleByIndex(i) for i in idx]
        names = [nv.nvmlDeviceGetName(h) for h in self._handles]
        self.devices = [n.decode() if isinstance(n, bytes) else str(n) for n in names]

    def _probe_energy_counter(self, nv) -> None:
        """The energy counter exists on Volta and newer: ask each GPU once."""
        for k, h in enumerate(self._handles):
            try:
                nv.nvmlDeviceGetTotalEnergyConsumption(h)
                self.has_energy_counter = True
            except nv.NVMLError:
                self._unsupported.add((k, "energy"))

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

    def _sample_one(self, k: int, i: int, h) -> GpuSample:
        nv = self._nv
        p = self._get(k, "power", nv.nvmlDeviceGetPowerUsage, h)
        util = self._get(k, "util", nv.nvmlDeviceGetUtilizationRates, h)
        mem = self._get(k, "mem", nv.nvmlDeviceGetMemoryInfo, h)
        lim = self._get(k, "limit", nv.nvmlDeviceGetEnforcedPowerLimit, h)
        temp = self._get(k, "temp", nv.nvmlDeviceGetTemperature, h, nv.NVML_TEMPERATURE_GPU)
        energy = self._get(k, "energy", nv.nvmlDeviceGetTotalEnergyConsumption, h)
        return GpuSample(
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

    def sample(self) -> list[GpuSample]:
        return [self._sample_one(k, i, h) for k, (i, h) in enumerate(zip(self.indices, self._handles))]

    def close(self) -> None:
        if self._nv is not None:
            try:
                self._nv.nvmlShutdown()
            except Exception:
                pass
            self._nv = None


# --------------------------------------------------------------------------------------------
# nvidia-smi
# --------------------------------------------------------------------------------------------

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


class NvidiaSmiBackend(GpuBackend):
    """``nvidia-smi --query-gpu=... --format=csv -lms <ms>`` as a subprocess (a streaming backend).

    nvidia-smi's own lines (header included) are copied into ``gpu.csv`` by a reader thread and
    flushed one by one.  nvidia-smi has no query field for the energy counter, so this backend
    writes none.
    """

    name = spec = "nvidia-smi"
    polled = False

    def __init__(self, indices: Sequence[int] | None = None, executable: str = "nvidia-smi"):
        super().__init__(indices)
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

    def _copy_lines(self, fh, first: threading.Event) -> None:
        """Reader thread: nvidia-smi's whole lines into ``fh``, flushed one by one."""
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

    def start(self, path: Path, period: float) -> None:
        fh = open(path, "w", encoding="utf-8", newline="")
        self._proc = subprocess.Popen(
            self.command(period),
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            stdin=subprocess.DEVNULL,
            text=True,
            bufsize=1,
        )
        first = threading.Event()
        self._reader = threading.Thread(
            target=self._copy_lines, args=(fh, first), name="dlenergy-nvidia-smi", daemon=True
        )
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


# --------------------------------------------------------------------------------------------
# replay
# --------------------------------------------------------------------------------------------

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
#: accepted header names per column: the parser's own table (:mod:`dlenergy.headers`)
TRACE_ALIASES = GPU_COLUMNS

_NUM_RE = re.compile(r"^\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)")


def _num(x: str) -> float:
    m = _NUM_RE.match(x)
    return float(m.group(1)) if m else math.nan


def _trace_rows(rows: list[list[str]], header: list[str], pos: dict[str, int]):
    """``(t, {field: value}, name)`` of each usable row: whole lines of the first GPU with a timestamp."""
    first_index = None
    for r in rows:
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
        vals = {fld: _num(r[pos[canon]]) if canon in pos else math.nan for canon, fld in _TRACE_FIELDS.items()}
        yield t, vals, r[pos["gpu_name"]].strip() if "gpu_name" in pos else None


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
    mapping = resolve_columns(header, TRACE_ALIASES)
    if "timestamp" not in mapping or "power_w" not in mapping:
        raise NoGpuError(f"replay trace {path}: header has no timestamp or power draw column: {header}")
    pos = {canon: header.index(col) for canon, col in mapping.items()}
    ts, vals, name = [], {f: [] for f in _TRACE_FIELDS.values()}, None
    for t, row, row_name in _trace_rows(rows[1:], header, pos):
        ts.append(t)
        for fld, v in row.items():
            vals[fld].append(v)
        name = row_name if name is None else name
    order = np.argsort(np.asarray(ts), kind="stable")
    return (
        np.asarray(ts, dtype="float64")[order],
        {f: np.asarray(v, dtype="float64")[order] for f, v in vals.items()},
        name,
    )


class ReplayBackend(GpuBackend):
    """Replays a recorded ``gpu.csv`` on the wall clock (tests and demos without a GPU).

    The sample at elapsed time *t* since :meth:`open` is the trace's last sample at or before
    ``t mod duration`` (the trace loops), whatever the sampling period.  Power, utilization,
    memory, power limit, temperature and name come from the trace; the energy counter is replayed
    when the trace has one (``total_energy_consumption [mJ]``), continuing across loops.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "trace.csv"
    >>> _ = p.write_text("timestamp, name, power.draw [W]\\n2026/01/01 00:00:00.000, Toy GPU, 150.00 W\\n")
    >>> b = ReplayBackend(p)
    >>> b.open(), b.sample()[0].power_w
    (['Toy GPU'], 150.0)
    """

    name = "replay"
    spec = "replay:PATH"

    def __init__(self, path: str | Path, clock: Callable[[], float] = time.monotonic):
        super().__init__()
        self.path = Path(path)
        self.clock = clock
        self._t0 = 0.0

    @classmethod
    def from_spec(cls, arg: str | None, indices: Sequence[int] | None) -> GpuBackend:
        if not arg:
            raise MeasureError("the replay backend needs a trace: replay:PATH")
        return cls(arg)

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
        self._replay_energy_counter(cols.pop("energy_mj"))
        self._name = name or "replayed GPU"
        self.devices = [self._name]
        self._t0 = self.clock()
        return self.devices

    def _replay_energy_counter(self, e) -> None:
        import numpy as np

        self.has_energy_counter = bool(np.isfinite(e).any())
        if self.has_energy_counter:
            good = np.isfinite(e)
            e = np.interp(self._t, self._t[good], e[good])
            self._energy = e - e[0]
            # one loop of the trace adds the counter's span plus the last step's energy
            step = (self._energy[-1] - self._energy[-2]) if len(e) > 1 else 0.0
            self._loop_energy = float(self._energy[-1] + step)

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
        fields = (
            "power_w",
            "utilization_gpu",
            "utilization_memory",
            "memory_total_mib",
            "memory_used_mib",
            "power_limit_w",
            "temperature_c",
        )
        return [GpuSample(index=0, name=self._name, energy_mj=energy, **{f: v(f) for f in fields})]


# --------------------------------------------------------------------------------------------
# none, auto, and the registry
# --------------------------------------------------------------------------------------------


class NoGpuBackend(GpuBackend):
    """Behave as if the machine had no GPU: :meth:`open` always raises :class:`NoGpuError`."""

    name = spec = "none"

    def open(self) -> list[str]:
        raise NoGpuError(f"no GPU backend ({ENV_BACKEND}=none)")


class AutoBackend(GpuBackend):
    """The first backend of :data:`AUTO_ORDER` that opens, else :class:`NoGpuError` naming why each failed.

    After :meth:`open`, :attr:`chosen` is the opened backend; :func:`open_backend` returns it.
    """

    name = spec = "auto"

    def __init__(self, indices: Sequence[int] | None = None):
        super().__init__(indices)
        self.chosen: GpuBackend | None = None

    def open(self) -> list[str]:
        reasons = []
        for cls in AUTO_ORDER:
            b = cls(self.indices)
            try:
                b.open()
            except NoGpuError as exc:
                reasons.append(f"{b.name}: {exc}")
                continue
            self.chosen = b
            self.devices, self.has_energy_counter = b.devices, b.has_energy_counter
            return b.devices
        raise NoGpuError("no GPU found (" + "; ".join(reasons) + ")")


#: what ``auto`` tries, in order
AUTO_ORDER: tuple[type[GpuBackend], ...] = (NvmlBackend, NvidiaSmiBackend)

#: ``--backend`` / ``$DLENERGY_GPU_BACKEND`` name (before any ``:``, any case) -> backend class
BACKENDS: dict[str, type[GpuBackend]] = {
    "auto": AutoBackend,
    "nvml": NvmlBackend,
    "nvidia-smi": NvidiaSmiBackend,
    "smi": NvidiaSmiBackend,
    "replay": ReplayBackend,
    "none": NoGpuBackend,
}


def _spec_help() -> str:
    specs = list(dict.fromkeys(cls.spec for cls in BACKENDS.values()))
    return ", ".join(specs[:-1]) + f" or {specs[-1]}"


def backend_from_spec(spec: str | None, indices: Sequence[int] | None = None) -> GpuBackend:
    """A backend, not yet opened, from ``auto | nvml | nvidia-smi | replay:PATH | none``.

    ``None`` (or an empty string) means ``$DLENERGY_GPU_BACKEND``, else ``auto``.  Raises
    :class:`MeasureError` for an unknown name.

    Examples
    --------
    >>> type(backend_from_spec("replay:trace.csv")).__name__
    'ReplayBackend'
    """
    if spec is None:
        spec = os.environ.get(ENV_BACKEND, "") or "auto"
    spec = spec.strip()
    name, colon, arg = spec.partition(":")
    cls = BACKENDS.get(name.strip().lower())
    if cls is None:
        raise MeasureError(f"unknown GPU backend {spec!r} (use {_spec_help()})")
    return cls.from_spec(arg if colon else None, indices)


def open_backend(spec: str | None = None, indices: Sequence[int] | None = None) -> GpuBackend:
    """Select and open a backend (see :func:`backend_from_spec`); raises :class:`NoGpuError` without a GPU.

    For ``auto`` the backend that was found is returned (``nvml``, ``nvidia-smi``).

    Examples
    --------
    >>> open_backend("none")
    Traceback (most recent call last):
    ...
    dlenergy.recording.errors.NoGpuError: no GPU backend (DLENERGY_GPU_BACKEND=none)
    """
    b = backend_from_spec(spec, indices)
    b.open()
    if isinstance(b, AutoBackend):
        return b.chosen  # type: ignore[return-value]
    return b
