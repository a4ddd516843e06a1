"""Record a new measurement run in layout v1: :func:`measure`, behind ``dlenergy measure``.

``measure`` starts a training command, samples the GPU(s) and the command's process tree at a fixed
period while it runs, and writes ::

    DATASET/runs/<run_id>/gpu.csv     nvidia-smi-style CSV (one line per GPU per sample)
    DATASET/runs/<run_id>/cpu.csv     timestamp, cpu usage (%), memory usage (MB) of the process tree
    DATASET/runs/<run_id>/epochs.csv  written by the command itself through :mod:`dlenergy.recording.markers`
    DATASET/runs.csv                  one row appended when the command ends

The steps, each a function here: check the request (:func:`_check_request`), open the GPU backend
(:mod:`~dlenergy.recording.backends`; without a GPU nothing is created and the command is not
started), create the run folder, start the :class:`~dlenergy.recording.recorder.Recorder`, run the
command with the run folder in its environment while :class:`SignalForwarder` passes signals on,
stop the recorder, build the ``runs.csv`` row (:func:`runs_row`) and append it
(:func:`~dlenergy.recording.recorder.append_run_row`).

Return-code convention (column ``return_code`` and the exit status of ``measure``): the command's
own exit status; a command killed by signal *N* is recorded as ``128 + N`` (the shell's
convention: SIGKILL -> 137, SIGTERM -> 143, SIGINT -> 130); a command that cannot be started is
recorded as 127.  ``measure``'s own failures use the sysexits codes of
:mod:`~dlenergy.recording.errors`: ``EXIT_USAGE`` (64), ``EXIT_NO_GPU`` (69) and ``EXIT_CANTCREAT``
(73), and then start no command.

Examples
--------
Record a command that sleeps 0.4 s against a replayed one-line GPU trace:

>>> import sys, tempfile, pathlib
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> _ = (d / "trace.csv").write_text(
...     "timestamp, name, power.draw [W]\\n2026/01/01 00:00:00.000, Toy GPU, 150.00 W\\n")
>>> res = measure([sys.executable, "-c", "import time; time.sleep(0.4)"], d / "ds", "r1", {"architecture": "mlp"},
...               period=0.1, backend=f"replay:{d / 'trace.csv'}", forward_signals=False)
>>> res.return_code, res.row["gpu_model"], sorted(p.name for p in res.run_dir.iterdir())
(0, 'Toy GPU', ['cpu.csv', 'gpu.csv'])
"""

from __future__ import annotations

import logging
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from .backends import AutoBackend, GpuBackend, open_backend
from .errors import EXIT_CANTCREAT, RC_NOT_STARTED, MeasureError
from .recorder import Recorder, append_run_row, csv_line, run_exists
from .runfolder import (
    CPU_FILE,
    ENV_BACKEND,
    ENV_PERIOD,
    ENV_RUN_DIR,
    ENV_RUN_ID,
    ENV_TRAIN_START,
    EPOCHS_FILE,
    GPU_FILE,
    RUN_ID_ALLOWED,
    RUNS_FILE,
    RUNS_REQUIRED,
    TRAIN_START_FILE,
    read_train_start,
    run_dir,
)

log = logging.getLogger("dlenergy.measure")

#: signals that measure forwards to the command
FORWARDED_SIGNALS = tuple(
    getattr(signal, n) for n in ("SIGINT", "SIGTERM", "SIGHUP", "SIGUSR1", "SIGUSR2") if hasattr(signal, n)
)


def return_code_of(popen_rc: int) -> int:
    """Popen's return code in the recorded convention: killed by signal N -> 128 + N.

    Examples
    --------
    >>> return_code_of(0), return_code_of(3), return_code_of(-9)
    (0, 3, 137)
    """
    return 128 - popen_rc if popen_rc < 0 else popen_rc


@dataclass
class MeasureResult:
    """What :func:`measure` did: the run, its return code and ``runs.csv`` row, the sampling counts."""

    run_id: str
    run_dir: Path
    return_code: int
    row: dict
    backend: str
    samples: int
    missed: int
    duration_s: float
    signals_forwarded: list[int] = field(default_factory=list)

    def summary(self) -> str:
        """The line ``dlenergy measure`` prints at the end."""
        return (
            f"measure: run {self.run_id} ended with return code {self.return_code} after {self.duration_s:.1f} s; "
            f"{self.samples} samples ({self.missed} skipped) -> {self.run_dir}"
        )


def default_metadata() -> dict:
    """Defaults for runs.csv fields that measure can find itself: host name and RAM (GiB)."""
    import psutil

    return {
        "environment": socket.gethostname(),
        "total_ram_gb": round(psutil.virtual_memory().total / 2**30, 1),
    }


class SignalForwarder:
    """Forwards :data:`FORWARDED_SIGNALS` received by ``measure`` to the command's main process.

    Used as a context manager around the command's life (handlers installed on entry, the previous
    ones restored on exit; only in the main thread, where Python allows handlers).  A signal that
    arrives while the command is being started is kept and sent once :meth:`attach` gives the child.
    """

    def __init__(self, enabled: bool = True):
        self.enabled = enabled
        self.forwarded: list[int] = []
        self._pending: list[int] = []
        self._child: subprocess.Popen | None = None
        self._old: dict[int, object] = {}

    def _send(self, signum: int) -> None:
        if self._child is not None and self._child.poll() is None:
            try:
                os.kill(self._child.pid, signum)
            except ProcessLookupError:
                pass

    def __call__(self, signum, _frame) -> None:
        self.forwarded.append(signum)
        if self._child is None:
            self._pending.append(signum)  # arrived while the command was being started
        else:
            self._send(signum)

    def attach(self, child: subprocess.Popen) -> None:
        self._child = child
        for s in self._pending:
            self._send(s)

    def __enter__(self) -> SignalForwarder:
        if self.enabled and threading.current_thread() is threading.main_thread():
            for s in FORWARDED_SIGNALS:
                try:
                    self._old[s] = signal.signal(s, self)
                except (OSError, ValueError):  # pragma: no cover
                    pass
        return self

    def __exit__(self, *exc) -> None:
        for s, h in self._old.items():
            try:
                signal.signal(s, h)  # type: ignore[arg-type]
            except (OSError, ValueError, TypeError):  # pragma: no cover
                pass


# --------------------------------------------------------------------------------------------
# the steps of measure()
# --------------------------------------------------------------------------------------------


def _check_request(command: list[str], dataset: Path, run_id: str, period: float) -> Path:
    """The run folder, once the request is valid and the run is new; else :class:`MeasureError`."""
    if not command:
        raise MeasureError("no command given (put the training command after --)")
    if not re.match(RUN_ID_ALLOWED, run_id or ""):
        raise MeasureError(f"run id {run_id!r} is not a valid folder name (letters, digits, . _ -)")
    if not period > 0:
        raise MeasureError(f"--period must be positive, got {period}")
    rdir = run_dir(dataset, run_id)
    if run_exists(dataset, run_id):
        raise MeasureError(f"run {run_id!r} is already in {dataset / RUNS_FILE}; choose another --run-id")
    if rdir.exists() and any(rdir.iterdir()):
        raise MeasureError(f"{rdir} already exists and is not empty; choose another --run-id")
    return rdir


def _open_gpu(backend: GpuBackend | str | None, gpu_indices: Sequence[int] | None) -> GpuBackend:
    """The opened backend: a spec goes through :func:`open_backend`; an instance is opened if need be."""
    if backend is None or isinstance(backend, str):
        return open_backend(backend, gpu_indices)
    if not backend.devices:
        backend.open()
    if isinstance(backend, AutoBackend) and backend.chosen is not None:
        return backend.chosen
    return backend


def _make_run_dir(rdir: Path, gpu: GpuBackend) -> None:
    try:
        rdir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        gpu.close()
        raise MeasureError(f"cannot create run folder {rdir}: {exc}", EXIT_CANTCREAT) from None


def _command_env(rdir: Path, run_id: str, train_start: datetime, period: float) -> dict[str, str]:
    """The command's environment: ours, plus the run folder, id, start and period; no backend choice."""
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
    return env


def _run_command(command: list[str], env: dict[str, str], rec: Recorder, signals: SignalForwarder) -> int:
    """Run the command to its end, followed by the recorder; its return code in the recorded convention.

    The command gets its own process group, so that a Ctrl-C typed in the terminal reaches measure
    only, which forwards it once (in measure's group it would get it twice).  A background group
    cannot read the terminal (SIGTTIN would stop it): a terminal stdin becomes /dev/null.
    """
    stdin = subprocess.DEVNULL if sys.stdin is not None and sys.stdin.isatty() else None
    try:
        child = subprocess.Popen(command, env=env, process_group=0, stdin=stdin)
    except OSError as exc:
        log.error("cannot start %s: %s", command[0], exc)
        return RC_NOT_STARTED
    rec.attach(child.pid)
    signals.attach(child)
    return return_code_of(child.wait())


def _run_recorded(
    command: list[str], rdir: Path, run_id: str, period: float, rec: Recorder, signals: SignalForwarder
) -> tuple[int, datetime, float]:
    """Run the command while ``rec`` samples, then stop it: return code, the command's start, duration (s)."""
    command_start = datetime.now()
    env = _command_env(rdir, run_id, command_start, period)
    t_start = time.monotonic()
    try:
        rc = _run_command(command, env, rec, signals)
    finally:
        rec.stop()
    return rc, command_start, time.monotonic() - t_start


def _run_metadata(gpu: GpuBackend, metadata: dict | None) -> dict:
    """The runs.csv fields: measure's defaults (host, RAM, GPU name) overridden by the given non-``None`` ones."""
    meta = {**default_metadata(), "gpu_model": gpu.devices[0] if gpu.devices else None}
    meta.update({k: v for k, v in (metadata or {}).items() if v is not None})
    return meta


def _train_start(rdir: Path, command_start: datetime) -> datetime:
    """The marked train start when it falls inside the command's run, else the command's start."""
    marked = read_train_start(rdir)
    if marked is not None:
        if command_start <= marked <= datetime.now():
            return marked
        log.warning(
            "%s: train start %s is outside the command's run; runs.csv keeps the command's start",
            rdir / TRAIN_START_FILE,
            marked,
        )
    elif (rdir / TRAIN_START_FILE).exists():
        log.warning("%s is not a timestamp; runs.csv keeps the command's start", rdir / TRAIN_START_FILE)
    return command_start


def runs_row(meta: dict, run_id: str, return_code: int, command_start: datetime, rdir: Path) -> dict:
    """The ``runs.csv`` row of a finished run: required columns first, then ``meta``, then what measure knows.

    ``epochs_trained`` is the number of epoch markers unless ``meta`` gives it.  A command that never
    started (:data:`RC_NOT_STARTED`) has no ``train_start``: no training began, and its instant would lie
    on the log's last sample, an empty window.
    """
    row: dict = {k: None for k in RUNS_REQUIRED}
    row.update(meta)
    row["run_id"] = run_id
    row["return_code"] = return_code
    started = return_code != RC_NOT_STARTED
    row["train_start"] = _train_start(rdir, command_start).isoformat(sep=" ") if started else None
    row["command_start"] = command_start.isoformat(sep=" ")
    epochs_path = rdir / EPOCHS_FILE
    if epochs_path.is_file() and row.get("epochs_trained") in (None, ""):
        lines = epochs_path.read_text(encoding="utf-8").splitlines()[1:]
        row["epochs_trained"] = sum(1 for line in lines if line.strip())
    return row


def _append_or_keep(dataset: Path, rdir: Path, row: dict) -> None:
    """Append the row to runs.csv; when that fails, keep it next to the logs so it can be added by hand."""
    try:
        append_run_row(dataset, row)
    except BaseException:
        (rdir / "runs-row.csv").write_text(csv_line(list(row)) + csv_line(list(row.values())), encoding="utf-8")
        raise


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
    """Run ``command`` while recording it as run ``run_id`` of ``dataset`` (example: the module docstring).

    Parameters
    ----------
    command : sequence of str
        The training command and its arguments.
    dataset, run_id : path, str
        The dataset folder (layout v1, created when absent); the run's folder name and runs.csv key.
    metadata : dict, optional
        runs.csv fields (extra keys become columns, ``None`` values are dropped).  ``gpu_model``
        defaults to the backend's GPU name, ``environment`` to the host, ``total_ram_gb`` to the RAM.
    period : float
        Sampling period in seconds.
    backend : GpuBackend or str, optional
        A backend, or its spec (:func:`~dlenergy.recording.backends.open_backend`).
    gpu_indices : sequence of int, optional
        GPUs to sample (default all).
    forward_signals : bool
        Forward SIGINT, SIGTERM, SIGHUP, SIGUSR1 and SIGUSR2 to the command.
    on_start : callable, optional
        Called with the opened backend and the run folder before the first sample.

    Returns
    -------
    MeasureResult

    Raises
    ------
    MeasureError
        Before the command starts (:class:`~dlenergy.recording.errors.NoGpuError` without a GPU),
        or when the row cannot be appended (it is then kept in ``runs/<run_id>/runs-row.csv``).
    """
    command, dataset = list(command), Path(dataset)
    rdir = _check_request(command, dataset, run_id, period)
    gpu = _open_gpu(backend, gpu_indices)  # without a GPU: nothing created, command not started
    _make_run_dir(rdir, gpu)
    meta = _run_metadata(gpu, metadata)
    if on_start is not None:
        on_start(gpu, rdir)
    rec = Recorder(rdir / GPU_FILE, rdir / CPU_FILE, gpu, period)
    rec.start()
    with SignalForwarder(forward_signals) as signals:  # until the row is written
        rc, command_start, duration = _run_recorded(command, rdir, run_id, period, rec, signals)
        row = runs_row(meta, run_id, rc, command_start, rdir)
        _append_or_keep(dataset, rdir, row)
    if rec.missed:
        log.warning("%d sampling tick(s) skipped (sampling took longer than --period %s s)", rec.missed, period)
    return MeasureResult(run_id, rdir, rc, row, gpu.name, rec.samples, rec.missed, duration, signals.forwarded)


# --------------------------------------------------------------------------------------------
# the command line's arguments
# --------------------------------------------------------------------------------------------


def parse_meta(items: Sequence[str]) -> dict:
    """``KEY=VALUE`` strings -> dict (for ``--meta``).

    Examples
    --------
    >>> parse_meta(["seed=3", "note=a=b"])
    {'seed': '3', 'note': 'a=b'}
    """
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


def parse_gpu_indices(text: str | None) -> list[int] | None:
    """``--gpus 0,1`` -> ``[0, 1]``; ``None`` or empty: all GPUs.

    Examples
    --------
    >>> parse_gpu_indices("0, 2"), parse_gpu_indices(None)
    ([0, 2], None)
    """
    if not text:
        return None
    try:
        return [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise MeasureError(f"--gpus expects GPU indices separated by commas, e.g. 0,1; got {text!r}") from None


def measure_from_cli(
    command: Sequence[str],
    out: Path,
    run_id: str,
    fields: dict,
    meta: Sequence[str],
    *,
    period: float,
    gpus: str | None,
    backend: str | None,
    say: Callable[[str], None],
) -> MeasureResult:
    """``dlenergy measure``: :func:`measure` from the command line's values.

    ``fields`` are the runs.csv columns given as options (``None``: not given), ``meta`` the
    ``--meta KEY=VALUE`` items, ``say`` prints a line for the user (the backend found, at start).
    """
    metadata = {**fields, **parse_meta(meta)}
    indices = parse_gpu_indices(gpus)

    def started(gpu: GpuBackend, rdir: Path) -> None:
        say(f"measure: {gpu.describe()}; every {period:g} s -> {rdir}")

    return measure(
        command, out, run_id, metadata, period=period, backend=backend, gpu_indices=indices, on_start=started
    )
