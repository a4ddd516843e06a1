"""Epoch markers and energy-aware early stopping for runs recorded with ``dlenergy measure``.

Markers append ``epoch,end_time`` (plus optional metric columns) to ``epochs.csv`` of the current
run, found through the ``DLENERGY_RUN_DIR`` environment variable that ``measure`` sets for the
training command:

* :func:`mark_epoch` for hand-written loops (``dlenergy.mark_epoch`` is the same function);
* ``KerasEpochMarker``: a ``keras.callbacks.Callback`` (``on_epoch_end``);
* ``LightningEpochMarker``: a ``lightning.pytorch.Callback`` (or ``pytorch_lightning.Callback``)
  (``on_train_epoch_end``, rank 0 only).

The two callback classes are created on first access (module ``__getattr__``), so importing this
module needs neither TensorFlow nor PyTorch.

Energy-aware early stopping (paper §5.4): given an energy budget in kJ and/or a minimum metric gain
per kJ, :class:`EnergyBudget` (also built into both callbacks) reads the run's ``gpu.csv``,
``cpu.csv`` and ``epochs.csv`` written so far, computes per-epoch energies with
:func:`dlenergy.energy.run_energy`, projects the run's total with the epoch-energy-based online
estimator (paper eq. 2, :func:`project_total_energy`) once power is stable, and asks training to stop
when the projection exceeds the budget or the metric gains too little per kJ.  It logs why on the
``dlenergy.markers`` logger (WARNING, so it shows without any logging configuration).

Everything here only reads the stdlib at import time; numpy/pandas are imported when a budget
first has to compute energies.
"""

from __future__ import annotations

import csv
import io
import logging
import math
import os
import warnings
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

log = logging.getLogger("dlenergy.markers")

#: set by ``dlenergy measure`` for the training command
ENV_RUN_DIR = "DLENERGY_RUN_DIR"
ENV_TRAIN_START = "DLENERGY_TRAIN_START"
EPOCHS_FILE = "epochs.csv"  # = dlenergy.layout.EPOCHS_FILE (not imported: layout imports pandas)
#: written by :func:`mark_train_start` in the run folder; ``measure`` puts it in runs.csv's train_start
TRAIN_START_FILE = "train_start.txt"

#: the paper finds power stable after epoch 10 in >= 90% of runs (Fig. 9) and a window of 5 enough
DEFAULT_STABLE_FROM = 10
DEFAULT_WINDOW = 5

_warned: set[str] = set()


def _warn_once(key: str, message: str) -> None:
    if key not in _warned:
        _warned.add(key)
        warnings.warn(message, RuntimeWarning, stacklevel=3)


def current_run_dir(run_dir: str | os.PathLike | None = None) -> Path | None:
    """The explicit ``run_dir``, else ``$DLENERGY_RUN_DIR``, else ``None`` (not under measure)."""
    if run_dir is not None:
        return Path(run_dir)
    env = os.environ.get(ENV_RUN_DIR)
    return Path(env) if env else None


def _cell(v) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return str(v)
    try:  # numpy / torch / tf scalars
        f = float(v)
    except (TypeError, ValueError):
        return str(v)
    if isinstance(v, int) or (hasattr(v, "dtype") and "int" in str(getattr(v, "dtype", ""))):
        return str(int(f))
    return repr(f) if math.isfinite(f) else ""


def mark_epoch(
    epoch: int | None = None,
    *,
    run_dir: str | os.PathLike | None = None,
    end_time: datetime | None = None,
    **columns,
) -> int | None:
    """Record that an epoch just ended: append ``epoch,end_time[,columns...]`` to ``epochs.csv``.

    ``epoch`` defaults to one more than the last recorded epoch (0 for the first).  Extra keyword
    values (``val_f1=0.91``) become extra columns; the first marker of a run fixes the header, later
    markers fill those columns and ignore others (with a warning).  A marker whose epoch is not
    greater than the last one recorded is skipped with a warning, so ``epochs.csv`` always satisfies
    :func:`dlenergy.parsing.read_epochs`.  The append happens under an exclusive ``flock``.

    Outside ``dlenergy measure`` (no ``DLENERGY_RUN_DIR``) and without ``run_dir`` this warns once
    and does nothing.  Returns the epoch number written, or ``None``.
    """
    import fcntl

    d = current_run_dir(run_dir)
    if d is None:
        _warn_once("no-run-dir", f"dlenergy.mark_epoch: not running under `dlenergy measure` ({ENV_RUN_DIR} unset) "
                   "and no run_dir= given; epoch markers are not recorded")
        return None
    d.mkdir(parents=True, exist_ok=True)
    path = d / EPOCHS_FILE
    now = end_time if end_time is not None else datetime.now()
    with open(path, "a+", encoding="utf-8", newline="") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            fh.seek(0)
            text = fh.read()
            rows = [r for r in csv.reader(io.StringIO(text), skipinitialspace=True) if r and any(c.strip() for c in r)]
            out = io.StringIO()
            w = csv.writer(out, lineterminator="\n")
            if text and not text.endswith("\n"):
                out.write("\n")
            if not rows:
                header = ["epoch", "end_time", *columns]
                w.writerow(header)
                last = None
            else:
                header = [c.strip() for c in rows[0]]
                last = None
                for r in reversed(rows[1:]):
                    try:
                        last = int(float(r[0]))
                        break
                    except (ValueError, IndexError):
                        continue
            if epoch is None:
                epoch = 0 if last is None else last + 1
            epoch = int(epoch)
            if last is not None and epoch <= last:
                warnings.warn(f"dlenergy.mark_epoch: epoch {epoch} is not after the last recorded epoch {last} "
                              f"in {path}; marker skipped", RuntimeWarning, stacklevel=2)
                return None
            unknown = [k for k in columns if k not in header[2:]]
            if unknown:
                _warn_once(f"cols:{path}:{','.join(unknown)}",
                           f"dlenergy.mark_epoch: columns {unknown} are not in the header of {path}; not recorded")
            w.writerow([epoch, now.isoformat(sep=" "), *[_cell(columns.get(c)) for c in header[2:]]])
            fh.write(out.getvalue())
            fh.flush()
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
    return epoch


def mark_train_start(*, run_dir: str | os.PathLike | None = None, when: datetime | None = None) -> datetime | None:
    """Record that training proper starts now (after imports, data loading and model building).

    Under ``dlenergy measure`` the run's ``train_start`` in ``runs.csv`` is this time instead of the
    command's start, so the training window, epoch 0 and J/image leave the set-up out, as the paper's
    ``train_start`` does.  Writes ``train_start.txt`` in the run folder (atomically); the first call
    of a run counts, later ones are ignored with a warning.  The Keras and Lightning callbacks call it
    when training begins.  Outside ``measure`` and without ``run_dir`` it warns once and does nothing.
    Returns the time recorded, or ``None``.
    """
    d = current_run_dir(run_dir)
    if d is None:
        _warn_once("no-run-dir-start", f"dlenergy.mark_train_start: not running under `dlenergy measure` "
                   f"({ENV_RUN_DIR} unset) and no run_dir= given; train start not recorded")
        return None
    d.mkdir(parents=True, exist_ok=True)
    path = d / TRAIN_START_FILE
    if path.exists():
        _warn_once(f"start:{path}", f"dlenergy.mark_train_start: {path} already records the train start; "
                   "later calls are ignored")
        return None
    now = when if when is not None else datetime.now()
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(now.isoformat(sep=" ") + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return now


def read_train_start(run_dir: str | os.PathLike) -> datetime | None:
    """The time :func:`mark_train_start` recorded in ``run_dir`` (``None``: none, or unreadable)."""
    path = Path(run_dir) / TRAIN_START_FILE
    try:
        return datetime.fromisoformat(path.read_text(encoding="utf-8").strip())
    except (OSError, ValueError):
        return None


# --------------------------------------------------------------------------------------------
# online projection (paper eq. 2)
# --------------------------------------------------------------------------------------------


def project_total_energy(
    epoch_energies_j: Sequence[float],
    planned_epochs: int,
    stable_from: int = DEFAULT_STABLE_FROM,
    window: int = DEFAULT_WINDOW,
    *,
    window_start: int | None = None,
) -> float:
    """Project a run's total energy from its first epochs: paper eq. 2, ``E = E_w * s / w + E_u``.

    ``epoch_energies_j`` are the energies (J) of the epochs completed so far, in order.  The first
    ``stable_from`` epochs are the unstable ones; ``E_u`` is their energy.  ``E_w`` is the energy of a
    window of ``window`` stable epochs starting at ``window_start`` (default ``stable_from``, the
    paper's choice; any start at or after it is valid — the paper reports a random start after the
    stabilizing epoch does even better — and :class:`EnergyBudget` uses the latest ``window`` epochs).
    ``s = planned_epochs - stable_from`` is the number of stable epochs of the whole run.

    The stability rule here is deliberately simple: power is taken as stable from epoch
    ``stable_from`` on (default 10: the paper finds >= 90% of runs stable by epoch 10).  The
    per-run stabilizing epoch found by semantic segmentation (FLUSS) lives in the estimators module
    (``dlenergy.estimators`` / ``dlenergy.fluss``); pass its result as ``stable_from`` to use it.

    When the run has already done ``planned_epochs`` (or more), the measured sum is returned.
    Raises ``ValueError`` when there are fewer than ``window_start + window`` epochs.
    """
    import numpy as np

    e = np.asarray(epoch_energies_j, dtype="float64")
    n = len(e)
    if window < 1:
        raise ValueError(f"window must be >= 1, got {window}")
    if stable_from < 0:
        raise ValueError(f"stable_from must be >= 0, got {stable_from}")
    if planned_epochs <= n:
        return float(np.sum(e))
    ws = stable_from if window_start is None else int(window_start)
    if ws < stable_from:
        raise ValueError(f"window_start {ws} is before the stabilizing epoch {stable_from}")
    if n < ws + window:
        raise ValueError(f"need {ws + window} epochs to project (window of {window} from epoch {ws}), have {n}")
    e_u = float(np.sum(e[:stable_from]))
    e_w = float(np.sum(e[ws : ws + window]))
    s = planned_epochs - stable_from
    return e_w * s / window + e_u


def run_epoch_energies(run_dir: str | os.PathLike, train_start=None, *, include_ram: bool = True):
    """Per-epoch energies (J) of a run folder so far, as ``(epochs, energies)`` numpy arrays.

    Reads ``gpu.csv`` (required), ``cpu.csv`` (optional, RAM energy) and ``epochs.csv`` with the
    layout-v1 parsers and splits the energy with :func:`dlenergy.energy.run_energy`.
    ``train_start`` defaults to the run's :func:`mark_train_start` time, else ``$DLENERGY_TRAIN_START``
    (the command's start, set by ``measure``).
    """
    import numpy as np
    import pandas as pd

    from .energy import run_energy
    from .layout import CPU_FILE, GPU_FILE
    from .parsing import read_cpu_log, read_epochs, read_gpu_log

    d = Path(run_dir)
    ep_path = d / EPOCHS_FILE
    if not ep_path.is_file():
        return np.zeros(0, dtype="int64"), np.zeros(0)
    epochs = read_epochs(ep_path)
    if not len(epochs):
        return np.zeros(0, dtype="int64"), np.zeros(0)
    gpu, _ = read_gpu_log(d / GPU_FILE)
    cpu = None
    if include_ram and (d / CPU_FILE).is_file():
        try:
            cpu, _ = read_cpu_log(d / CPU_FILE)
        except ValueError:
            cpu = None
    if train_start is None:
        train_start = read_train_start(d) or os.environ.get(ENV_TRAIN_START) or None
    ts = pd.Timestamp(train_start) if train_start is not None else None
    res = run_energy(gpu, cpu, epochs[["epoch", "end_time"]], ts)
    col = "energy_j" if include_ram else "gpu_energy_j"
    return res.epochs["epoch"].to_numpy(dtype="int64"), res.epochs[col].to_numpy(dtype="float64")


class EnergyBudget:
    """Energy-aware early stopping for any training loop: ``stop = budget.update(epoch, metric)``.

    Criteria (either or both):

    ``budget_kj``        stop when the energy measured so far exceeds the budget, or when the
                         projected total (eq. 2 over the latest ``window`` stable epochs, see
                         :func:`project_total_energy`) exceeds it; the projection needs
                         ``planned_epochs`` and at least ``stable_from + window`` epochs.
    ``min_gain_per_kj``  once ``stable_from + window`` epochs are done, stop when the monitored
                         metric improved by less than this per kJ over the last ``window`` epochs
                         (improvement = increase for ``mode="max"``, decrease for ``mode="min"``).

    Epoch energies come from the run folder (``run_dir`` or ``$DLENERGY_RUN_DIR``; call
    :func:`mark_epoch` for the epoch first — the callbacks do) or are given directly with
    ``update(..., epoch_energy_j=...)`` (own meter, tests).  After a stop, :attr:`stop_reason` says
    why and the reason is logged at WARNING on ``dlenergy.markers``.  Errors while reading the logs
    never stop training; they are logged once.
    """

    def __init__(
        self,
        budget_kj: float | None = None,
        *,
        min_gain_per_kj: float | None = None,
        planned_epochs: int | None = None,
        stable_from: int = DEFAULT_STABLE_FROM,
        window: int = DEFAULT_WINDOW,
        mode: str = "max",
        run_dir: str | os.PathLike | None = None,
        include_ram: bool = True,
    ):
        if budget_kj is None and min_gain_per_kj is None:
            raise ValueError("EnergyBudget needs budget_kj and/or min_gain_per_kj")
        if mode not in ("max", "min"):
            raise ValueError(f"mode must be 'max' or 'min', got {mode!r}")
        if window < 1 or stable_from < 0:
            raise ValueError("window must be >= 1 and stable_from >= 0")
        self.budget_kj = budget_kj
        self.min_gain_per_kj = min_gain_per_kj
        self.planned_epochs = planned_epochs
        self.stable_from = int(stable_from)
        self.window = int(window)
        self.mode = mode
        self.run_dir = run_dir
        self.include_ram = include_ram
        self.epochs: list[int] = []
        self.energies_j: list[float] = []
        self.metrics: dict[int, float] = {}
        self.measured_j: float = 0.0
        self.projected_total_j: float | None = None
        self.stop_reason: str | None = None
        self.stopped_epoch: int | None = None
        self._injected = False
        self._error_logged = False

    # -- energy bookkeeping
    def _refresh(self, epoch: int, epoch_energy_j: float | None) -> bool:
        if epoch_energy_j is not None:
            self._injected = True
            self.epochs.append(int(epoch))
            self.energies_j.append(float(epoch_energy_j))
            return True
        if self._injected:
            raise ValueError("EnergyBudget.update: give epoch_energy_j for every epoch or for none")
        d = current_run_dir(self.run_dir)
        if d is None:
            _warn_once("budget-no-run-dir", "EnergyBudget: not running under `dlenergy measure` and no run_dir=; "
                       "energy-aware early stopping is inactive")
            return False
        try:
            ep, en = run_epoch_energies(d, include_ram=self.include_ram)
        except Exception as exc:
            if not self._error_logged:
                self._error_logged = True
                log.warning("EnergyBudget: cannot read the run's logs in %s (%s); not deciding this epoch", d, exc)
            return False
        self.epochs = [int(x) for x in ep]
        self.energies_j = [float(x) if math.isfinite(x) else 0.0 for x in en]
        return True

    def update(self, epoch: int, metric: float | None = None, *, epoch_energy_j: float | None = None) -> bool:
        """Account for the end of ``epoch`` (with its monitored ``metric``); ``True`` = stop now."""
        if self.stop_reason is not None:
            return True
        if metric is not None:
            try:
                m = float(metric)
                if math.isfinite(m):
                    self.metrics[int(epoch)] = m
            except (TypeError, ValueError):
                pass
        if not self._refresh(epoch, epoch_energy_j):
            return False
        n = len(self.energies_j)
        self.measured_j = float(sum(self.energies_j))
        stable = n >= self.stable_from + self.window
        reason = None

        if self.budget_kj is not None:
            budget_j = self.budget_kj * 1000.0
            if self.measured_j > budget_j:
                reason = (f"energy measured over {n} epochs, {self.measured_j / 1000:.3f} kJ, already exceeds the "
                          f"budget of {self.budget_kj:g} kJ")
            elif stable and self.planned_epochs and n < self.planned_epochs:
                ws = n - self.window
                proj = project_total_energy(self.energies_j, self.planned_epochs, self.stable_from, self.window,
                                            window_start=ws)
                self.projected_total_j = proj
                if proj > budget_j:
                    e_u = sum(self.energies_j[: self.stable_from])
                    e_w = sum(self.energies_j[ws:])
                    reason = (
                        f"projected total energy {proj / 1000:.3f} kJ for {self.planned_epochs} epochs exceeds the "
                        f"budget of {self.budget_kj:g} kJ (eq. 2: E_w={e_w / 1000:.3f} kJ over epochs "
                        f"{self.epochs[ws]}..{self.epochs[-1]} (w={self.window}), s={self.planned_epochs - self.stable_from} "
                        f"stable epochs, E_u={e_u / 1000:.3f} kJ for the first {self.stable_from}); "
                        f"{self.measured_j / 1000:.3f} kJ spent so far"
                    )

        if reason is None and self.min_gain_per_kj is not None and stable:
            e1 = self.epochs[-1]
            e0 = self.epochs[-1 - self.window]
            if e1 in self.metrics and e0 in self.metrics:
                gain = self.metrics[e1] - self.metrics[e0]
                if self.mode == "min":
                    gain = -gain
                kj = sum(self.energies_j[-self.window:]) / 1000.0
                rate = gain / kj if kj > 0 else math.inf
                if rate < self.min_gain_per_kj:
                    rest = ""
                    if self.planned_epochs and n < self.planned_epochs:
                        rest_kj = kj / self.window * (self.planned_epochs - n)
                        rest = f"; the remaining {self.planned_epochs - n} planned epochs would cost about {rest_kj:.3f} kJ"
                    reason = (
                        f"metric gain {gain:+.4g} over epochs {e0}..{e1} for {kj:.3f} kJ is {rate:.4g} per kJ, below "
                        f"the minimum {self.min_gain_per_kj:g} per kJ{rest}"
                    )

        if reason is not None:
            self.stop_reason = reason
            self.stopped_epoch = int(epoch)
            log.warning("energy-aware early stopping after epoch %s: %s", epoch, reason)
            return True
        return False


# --------------------------------------------------------------------------------------------
# framework callbacks, created lazily
# --------------------------------------------------------------------------------------------


class _MarkerLogic:
    """What both callbacks do (framework-independent); first base of each callback class, so its
    ``__init__`` takes the callbacks' arguments and then initializes the framework's base class."""

    def __init__(self, budget_kj=None, *, min_gain_per_kj=None, monitor="val_loss", mode="auto",
                 planned_epochs=None, stable_from=DEFAULT_STABLE_FROM, window=DEFAULT_WINDOW, run_dir=None,
                 log_metrics=True):
        super().__init__()
        self.run_dir = run_dir
        self.monitor = monitor
        self.log_metrics = log_metrics
        if mode == "auto":
            mode = "min" if monitor and "loss" in monitor.lower() else "max"
        self.budget: EnergyBudget | None = None
        self._planned_fixed = planned_epochs
        if budget_kj is not None or min_gain_per_kj is not None:
            self.budget = EnergyBudget(budget_kj, min_gain_per_kj=min_gain_per_kj, planned_epochs=planned_epochs,
                                       stable_from=stable_from, window=window, mode=mode, run_dir=run_dir)

    def _epoch_end(self, epoch: int, metrics: dict, planned: int | None) -> bool:
        cols = {}
        if self.log_metrics:
            for k, v in metrics.items():
                try:
                    f = float(v)
                except (TypeError, ValueError):
                    continue
                cols[str(k).replace(",", "_")] = f
        mark_epoch(epoch, run_dir=self.run_dir, **cols)
        if self.budget is None:
            return False
        if self._planned_fixed is None and planned and planned > 0:
            self.budget.planned_epochs = int(planned)
        return self.budget.update(epoch, metrics.get(self.monitor) if self.monitor else None)

    @property
    def stop_reason(self) -> str | None:
        return self.budget.stop_reason if self.budget is not None else None


_CALLBACK_ARGS = """
    Parameters (all optional): ``budget_kj``, ``min_gain_per_kj`` (see :class:`EnergyBudget`; without
    either the callback only marks epochs), ``monitor`` (metric name for ``min_gain_per_kj``, default
    ``val_loss``), ``mode`` (``auto``: ``min`` when the name contains "loss", else ``max``),
    ``planned_epochs`` (default: the framework's epoch count), ``stable_from`` (10), ``window`` (5),
    ``run_dir`` (default ``$DLENERGY_RUN_DIR``), ``log_metrics`` (write the epoch's numeric metrics
    as extra ``epochs.csv`` columns, default ``True``).
"""


def _make_keras_marker():
    try:
        import keras

        base = keras.callbacks.Callback
    except ImportError:
        try:
            from tensorflow import keras  # type: ignore[no-redef]

            base = keras.callbacks.Callback
        except ImportError:
            raise ImportError("dlenergy.markers.KerasEpochMarker needs Keras (pip install keras, or tensorflow)") from None

    class KerasEpochMarker(_MarkerLogic, base):  # type: ignore[misc, valid-type]
        __doc__ = "Keras callback: epoch markers and energy-aware early stopping (``model.stop_training``).\n" + _CALLBACK_ARGS

        def on_train_begin(self, logs=None):
            mark_train_start(run_dir=self.run_dir)

        def on_epoch_end(self, epoch, logs=None):
            params = getattr(self, "params", None) or {}
            if self._epoch_end(int(epoch), dict(logs or {}), params.get("epochs")):
                self.model.stop_training = True

    KerasEpochMarker.__module__ = __name__
    KerasEpochMarker.__qualname__ = "KerasEpochMarker"
    return KerasEpochMarker


def _make_lightning_marker():
    try:
        import lightning.pytorch as pl
    except ImportError:
        try:
            import pytorch_lightning as pl  # type: ignore[no-redef]
        except ImportError:
            raise ImportError(
                "dlenergy.markers.LightningEpochMarker needs PyTorch Lightning (pip install lightning)"
            ) from None
    base = pl.Callback

    class LightningEpochMarker(_MarkerLogic, base):  # type: ignore[misc, valid-type]
        __doc__ = ("PyTorch Lightning callback: epoch markers (rank 0) and energy-aware early stopping "
                   "(``trainer.should_stop``, decision shared by all ranks).\n" + _CALLBACK_ARGS)

        def on_train_start(self, trainer, pl_module):
            if getattr(trainer, "is_global_zero", True):
                mark_train_start(run_dir=self.run_dir)

        def on_train_epoch_end(self, trainer, pl_module):
            if getattr(trainer, "sanity_checking", False):
                return
            stop = False
            if getattr(trainer, "is_global_zero", True):
                metrics = {}
                for k, v in dict(getattr(trainer, "callback_metrics", {}) or {}).items():
                    try:
                        metrics[k] = float(v)
                    except (TypeError, ValueError):
                        continue
                max_epochs = getattr(trainer, "max_epochs", None)
                stop = self._epoch_end(int(trainer.current_epoch), metrics, max_epochs)
            if self.budget is not None:
                strategy = getattr(trainer, "strategy", None)
                reduce = getattr(strategy, "reduce_boolean_decision", None)
                if reduce is not None:
                    try:
                        stop = bool(reduce(stop, all=False))
                    except TypeError:  # older Lightning: reduce_boolean_decision(decision)
                        stop = bool(reduce(stop))
                if stop:
                    trainer.should_stop = True

    LightningEpochMarker.__module__ = __name__
    LightningEpochMarker.__qualname__ = "LightningEpochMarker"
    return LightningEpochMarker


_LAZY = {"KerasEpochMarker": _make_keras_marker, "LightningEpochMarker": _make_lightning_marker}


def __getattr__(name: str):
    maker = _LAZY.get(name)
    if maker is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    cls = maker()
    globals()[name] = cls
    return cls


def __dir__():
    return sorted(list(globals()) + list(_LAZY))


__all__ = [
    "mark_epoch",
    "EnergyBudget",
    "project_total_energy",
    "run_epoch_energies",
    "current_run_dir",
]  # KerasEpochMarker / LightningEpochMarker are created on access, not by `import *`
