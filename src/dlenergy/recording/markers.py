"""Epoch markers for runs recorded with ``dlenergy measure``: the code that runs inside the training.

Markers append ``epoch,end_time`` (plus optional metric columns) to ``epochs.csv`` of the current
run, found through the ``DLENERGY_RUN_DIR`` environment variable that ``measure`` sets for the
training command:

* :func:`mark_epoch` for hand-written loops (``dlenergy.mark_epoch`` is the same function);
* :func:`mark_train_start` once the set-up is done (``dlenergy.mark_train_start``);
* ``KerasEpochMarker``: a ``keras.callbacks.Callback`` (``on_epoch_end``);
* ``LightningEpochMarker``: a ``lightning.pytorch.Callback`` (or ``pytorch_lightning.Callback``)
  (``on_train_epoch_end``, rank 0 only).

Both callbacks can also stop training early on an energy budget (:mod:`dlenergy.recording.budget`).
The two callback classes are created on first access (module ``__getattr__``), so importing this
module needs neither TensorFlow nor PyTorch; it imports only the standard library (numpy and
pandas are imported when a budget first has to compute energies).
"""

from __future__ import annotations

import csv
import io
import math
import os
import warnings
from datetime import datetime

from .budget import DEFAULT_STABLE_FROM, DEFAULT_WINDOW, EnergyBudget
from .runfolder import (
    ENV_RUN_DIR,
    ENV_TRAIN_START,
    EPOCHS_FILE,
    TRAIN_START_FILE,
    current_run_dir,
    read_train_start,
    warn_once,
)

__all__ = [
    "ENV_RUN_DIR",
    "ENV_TRAIN_START",
    "EPOCHS_FILE",
    "TRAIN_START_FILE",
    "current_run_dir",
    "mark_epoch",
    "mark_train_start",
    "read_train_start",
]  # KerasEpochMarker / LightningEpochMarker are created on access, not by `import *`


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


def _header_and_last_epoch(text: str) -> tuple[list[str] | None, int | None]:
    """The header of an ``epochs.csv`` text (``None`` when empty) and its last readable epoch number."""
    rows = [r for r in csv.reader(io.StringIO(text), skipinitialspace=True) if r and any(c.strip() for c in r)]
    if not rows:
        return None, None
    for r in reversed(rows[1:]):
        try:
            return [c.strip() for c in rows[0]], int(float(r[0]))
        except (ValueError, IndexError):
            continue
    return [c.strip() for c in rows[0]], None


def _append_marker(
    fh: io.TextIOBase, path: os.PathLike, epoch: int | None, end_time: datetime, columns: dict
) -> int | None:
    """Append one marker to the locked, open ``epochs.csv``; the epoch written, or ``None`` when skipped."""
    fh.seek(0)
    text = fh.read()
    header, last = _header_and_last_epoch(text)
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    if text and not text.endswith("\n"):
        out.write("\n")
    if header is None:
        header = ["epoch", "end_time", *columns]
        w.writerow(header)
    epoch = int(0 if last is None else last + 1) if epoch is None else int(epoch)
    if last is not None and epoch <= last:
        warnings.warn(
            f"dlenergy.mark_epoch: epoch {epoch} is not after the last recorded epoch {last} in {path}; marker skipped",
            RuntimeWarning,
            stacklevel=3,
        )
        return None
    unknown = [k for k in columns if k not in header[2:]]
    if unknown:
        warn_once(
            f"cols:{path}:{','.join(unknown)}",
            f"dlenergy.mark_epoch: columns {unknown} are not in the header of {path}; not recorded",
            4,
        )
    w.writerow([epoch, end_time.isoformat(sep=" "), *[_cell(columns.get(c)) for c in header[2:]]])
    fh.write(out.getvalue())
    fh.flush()
    return epoch


def mark_epoch(
    epoch: int | None = None,
    *,
    run_dir: str | os.PathLike | None = None,
    end_time: datetime | None = None,
    **columns,
) -> int | None:
    """Record that an epoch just ended: append ``epoch,end_time[,columns...]`` to ``epochs.csv``.

    Parameters
    ----------
    epoch : int, optional
        Epoch number; defaults to one more than the last recorded epoch (0 for the first).
    run_dir : path, optional
        The run folder; default ``$DLENERGY_RUN_DIR``, which ``dlenergy measure`` sets.
    end_time : datetime, optional
        When the epoch ended; default now.
    **columns
        Extra values (``val_f1=0.91``) become extra columns.  The first marker of a run fixes the
        header; later markers fill those columns and ignore others (with a warning).

    Returns
    -------
    int or None
        The epoch number written, or ``None`` when nothing was written.

    Notes
    -----
    A marker whose epoch is not greater than the last one is skipped with a warning, so ``epochs.csv``
    always reads (:func:`dlenergy.parsing.read_epochs`); the append holds an exclusive ``flock``.
    Without ``DLENERGY_RUN_DIR`` (outside ``dlenergy measure``) or ``run_dir``: one warning, no write.

    Examples
    --------
    >>> import tempfile
    >>> d = tempfile.mkdtemp()
    >>> mark_epoch(run_dir=d, val_f1=0.5), mark_epoch(run_dir=d, val_f1=0.6)
    (0, 1)
    >>> open(f"{d}/epochs.csv").read().splitlines()[0]
    'epoch,end_time,val_f1'
    """
    import fcntl

    d = current_run_dir(run_dir)
    if d is None:
        warn_once(
            "no-run-dir",
            f"dlenergy.mark_epoch: not running under `dlenergy measure` ({ENV_RUN_DIR} unset) "
            "and no run_dir= given; epoch markers are not recorded",
        )
        return None
    d.mkdir(parents=True, exist_ok=True)
    path = d / EPOCHS_FILE
    now = end_time if end_time is not None else datetime.now()
    with open(path, "a+", encoding="utf-8", newline="") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            return _append_marker(fh, path, epoch, now, columns)
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def mark_train_start(*, run_dir: str | os.PathLike | None = None, when: datetime | None = None) -> datetime | None:
    """Record that training proper starts now (after imports, data loading and model building).

    Under ``dlenergy measure`` the run's ``train_start`` in ``runs.csv`` is this time instead of the
    command's start, so the training window, epoch 0 and J/image leave the set-up out, as the paper's
    ``train_start`` does.  Writes ``train_start.txt`` in the run folder (atomically); the first call
    of a run counts, later ones are ignored with a warning.  The Keras and Lightning callbacks call it
    when training begins.  Outside ``measure`` and without ``run_dir`` it warns once and does nothing.

    Parameters
    ----------
    run_dir : path, optional
        The run folder; default ``$DLENERGY_RUN_DIR``.
    when : datetime, optional
        The time to record; default now.

    Returns
    -------
    datetime or None
        The time recorded, or ``None``.

    Examples
    --------
    >>> import tempfile
    >>> from datetime import datetime
    >>> d = tempfile.mkdtemp()
    >>> mark_train_start(run_dir=d, when=datetime(2026, 1, 2, 3, 4, 5))
    datetime.datetime(2026, 1, 2, 3, 4, 5)
    >>> read_train_start(d)
    datetime.datetime(2026, 1, 2, 3, 4, 5)
    """
    d = current_run_dir(run_dir)
    if d is None:
        warn_once(
            "no-run-dir-start",
            f"dlenergy.mark_train_start: not running under `dlenergy measure` "
            f"({ENV_RUN_DIR} unset) and no run_dir= given; train start not recorded",
        )
        return None
    d.mkdir(parents=True, exist_ok=True)
    path = d / TRAIN_START_FILE
    if path.exists():
        warn_once(
            f"start:{path}",
            f"dlenergy.mark_train_start: {path} already records the train start; later calls are ignored",
        )
        return None
    now = when if when is not None else datetime.now()
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(now.isoformat(sep=" ") + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return now


# --------------------------------------------------------------------------------------------
# framework callbacks, created lazily
# --------------------------------------------------------------------------------------------


class _MarkerLogic:
    """What both callbacks do (framework-independent); first base of each callback class, so its
    ``__init__`` takes the callbacks' arguments and then initializes the framework's base class."""

    def __init__(
        self,
        budget_kj=None,
        *,
        min_gain_per_kj=None,
        monitor="val_loss",
        mode="auto",
        planned_epochs=None,
        stable_from=DEFAULT_STABLE_FROM,
        window=DEFAULT_WINDOW,
        run_dir=None,
        log_metrics=True,
    ):
        super().__init__()
        self.run_dir = run_dir
        self.monitor = monitor
        self.log_metrics = log_metrics
        if mode == "auto":
            mode = "min" if monitor and "loss" in monitor.lower() else "max"
        self.budget: EnergyBudget | None = None
        self._planned_fixed = planned_epochs
        if budget_kj is not None or min_gain_per_kj is not None:
            self.budget = EnergyBudget(
                budget_kj,
                min_gain_per_kj=min_gain_per_kj,
                planned_epochs=planned_epochs,
                stable_from=stable_from,
                window=window,
                mode=mode,
                run_dir=run_dir,
            )

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


def _keras_callback_base() -> type:
    try:
        import keras

        return keras.callbacks.Callback
    except ImportError:
        try:
            from tensorflow import keras  # type: ignore[no-redef]

            return keras.callbacks.Callback
        except ImportError:
            raise ImportError(
                "dlenergy.markers.KerasEpochMarker needs Keras (pip install keras, or tensorflow)"
            ) from None


def _make_keras_marker() -> type:
    base = _keras_callback_base()

    class KerasEpochMarker(_MarkerLogic, base):  # type: ignore[misc, valid-type]
        __doc__ = (
            "Keras callback: epoch markers and energy-aware early stopping (``model.stop_training``).\n"
            + _CALLBACK_ARGS
        )

        def on_train_begin(self, logs=None):
            mark_train_start(run_dir=self.run_dir)

        def on_epoch_end(self, epoch, logs=None):
            params = getattr(self, "params", None) or {}
            if self._epoch_end(int(epoch), dict(logs or {}), params.get("epochs")):
                self.model.stop_training = True

    KerasEpochMarker.__module__ = __name__
    KerasEpochMarker.__qualname__ = "KerasEpochMarker"
    return KerasEpochMarker


def _lightning_callback_base() -> type:
    try:
        import lightning.pytorch as pl
    except ImportError:
        try:
            import pytorch_lightning as pl  # type: ignore[no-redef]
        except ImportError:
            raise ImportError(
                "dlenergy.markers.LightningEpochMarker needs PyTorch Lightning (pip install lightning)"
            ) from None
    return pl.Callback


def _shared_decision(trainer, stop: bool) -> bool:
    """The stop decision of rank 0 shared by all ranks (``strategy.reduce_boolean_decision``)."""
    reduce = getattr(getattr(trainer, "strategy", None), "reduce_boolean_decision", None)
    if reduce is None:
        return stop
    try:
        return bool(reduce(stop, all=False))
    except TypeError:  # older Lightning: reduce_boolean_decision(decision)
        return bool(reduce(stop))


def _numeric_metrics(trainer) -> dict[str, float]:
    metrics = {}
    for k, v in dict(getattr(trainer, "callback_metrics", {}) or {}).items():
        try:
            metrics[k] = float(v)
        except (TypeError, ValueError):
            continue
    return metrics


def _make_lightning_marker() -> type:
    base = _lightning_callback_base()

    class LightningEpochMarker(_MarkerLogic, base):  # type: ignore[misc, valid-type]
        __doc__ = (
            "PyTorch Lightning callback: epoch markers (rank 0) and energy-aware early stopping "
            "(``trainer.should_stop``, decision shared by all ranks).\n" + _CALLBACK_ARGS
        )

        def on_train_start(self, trainer, pl_module):
            if getattr(trainer, "is_global_zero", True):
                mark_train_start(run_dir=self.run_dir)

        def on_train_epoch_end(self, trainer, pl_module):
            if getattr(trainer, "sanity_checking", False):
                return
            stop = False
            if getattr(trainer, "is_global_zero", True):
                max_epochs = getattr(trainer, "max_epochs", None)
                stop = self._epoch_end(int(trainer.current_epoch), _numeric_metrics(trainer), max_epochs)
            if self.budget is not None and _shared_decision(trainer, stop):
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
