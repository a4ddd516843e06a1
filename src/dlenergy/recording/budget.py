"""Energy-aware early stopping (paper §5.4): :class:`EnergyBudget` and the eq. 2 projection.

Given an energy budget in kJ and/or a minimum metric gain per kJ, :class:`EnergyBudget` (also built
into both callbacks of :mod:`dlenergy.recording.markers`) reads the run's ``gpu.csv``, ``cpu.csv``
and ``epochs.csv`` written so far, computes per-epoch energies with
:func:`dlenergy.energy.run_energy`, projects the run's total with the epoch-energy-based online
estimator (paper eq. 2, :func:`project_total_energy`) once power is stable, and asks training to stop
when the projection exceeds the budget or the metric gains too little per kJ.  It logs why on the
``dlenergy.markers`` logger (WARNING, so it shows without any logging configuration).

Importing this module needs only the standard library: numpy, and pandas with the layout-v1
parsers, are imported when a budget first has to compute energies from a run folder.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Sequence

from .runfolder import CPU_FILE, ENV_TRAIN_START, EPOCHS_FILE, GPU_FILE, current_run_dir, read_train_start, warn_once

#: the logger of the stop decisions (the name of the module they were first documented in)
log = logging.getLogger("dlenergy.markers")

#: the paper finds power stable after epoch 10 in >= 90% of runs (Fig. 9) and a window of 5 enough
DEFAULT_STABLE_FROM = 10
DEFAULT_WINDOW = 5


def project_total_energy(
    epoch_energies_j: Sequence[float],
    planned_epochs: int,
    stable_from: int = DEFAULT_STABLE_FROM,
    window: int = DEFAULT_WINDOW,
    *,
    window_start: int | None = None,
) -> float:
    """Project a run's total energy from its first epochs: paper eq. 2, ``E = E_w * s / w + E_u``.

    Parameters
    ----------
    epoch_energies_j : sequence of float
        Energies (J) of the epochs completed so far, in order.
    planned_epochs : int
        Epochs of the whole run; ``s = planned_epochs - stable_from`` is its number of stable epochs.
    stable_from : int
        The first ``stable_from`` epochs are the unstable ones, of energy ``E_u`` (default 10: >= 90%
        of the paper's runs are stable by then; FLUSS's per-run epoch, :mod:`dlenergy.fluss`, fits too).
    window : int
        ``w``: ``E_w`` is the energy of a window of ``window`` stable epochs.
    window_start : int, optional
        First epoch of the window; default ``stable_from`` (the paper's choice).  Any later start is
        valid (the paper finds a random one does even better); :class:`EnergyBudget` uses the latest.

    Returns
    -------
    float
        The projected total (J); the measured sum when the run already did ``planned_epochs``.

    Raises
    ------
    ValueError
        Fewer than ``window_start + window`` epochs, or a window before ``stable_from``.

    Examples
    --------
    >>> e = [5.0] * 10 + [2.0, 2.0, 3.0, 1.0, 2.0]  # E_u = 50 J, E_w = 10 J over w = 5 epochs
    >>> project_total_energy(e, planned_epochs=100)  # 10 * 90 / 5 + 50
    230.0
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
    ``train_start`` defaults to the run's ``mark_train_start`` time, else ``$DLENERGY_TRAIN_START``
    (the command's start, set by ``measure``).  This is the one place where the training process
    imports pandas, and only when a budget reads a run folder.
    """
    from pathlib import Path

    import numpy as np
    import pandas as pd

    from ..energy import run_energy
    from ..parsing import read_cpu_log, read_epochs, read_gpu_log

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

    Parameters
    ----------
    budget_kj : float, optional
        Stop when the energy measured so far exceeds the budget, or when the projected total (eq. 2
        over the latest ``window`` stable epochs, see :func:`project_total_energy`) exceeds it; the
        projection needs ``planned_epochs`` and at least ``stable_from + window`` epochs.
    min_gain_per_kj : float, optional
        Once ``stable_from + window`` epochs are done, stop when the monitored metric improved by
        less than this per kJ over the last ``window`` epochs (improvement = increase for
        ``mode="max"``, decrease for ``mode="min"``).
    planned_epochs : int, optional
        Epochs the training will run (for the projection).
    stable_from, window : int
        As in :func:`project_total_energy` (10 and 5).
    mode : {"max", "min"}
        Direction of improvement of the monitored metric.
    run_dir : path, optional
        The run folder; default ``$DLENERGY_RUN_DIR``.
    include_ram : bool
        Count RAM energy (``cpu.csv``) with the GPU's, as the pipeline does.

    Notes
    -----
    Epoch energies come from the run folder (call :func:`~dlenergy.recording.markers.mark_epoch`
    for the epoch first; the callbacks do) or are given directly with
    ``update(..., epoch_energy_j=...)`` (own meter, tests).  After a stop, :attr:`stop_reason` says
    why and the reason is logged at WARNING on ``dlenergy.markers``.  Errors while reading the logs
    never stop training; they are logged once.

    Examples
    --------
    >>> b = EnergyBudget(80, planned_epochs=100)  # 10 epochs of 2 kJ, then 1 kJ each: 110 kJ planned
    >>> energies = [2000.0] * 10 + [1000.0] * 90
    >>> next(i for i, e in enumerate(energies) if b.update(i, epoch_energy_j=e))
    14
    >>> round(b.projected_total_j)
    110000
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
            warn_once(
                "budget-no-run-dir",
                "EnergyBudget: not running under `dlenergy measure` and no run_dir=; "
                "energy-aware early stopping is inactive",
            )
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

    def _record_metric(self, epoch: int, metric) -> None:
        if metric is None:
            return
        try:
            m = float(metric)
        except (TypeError, ValueError):
            return
        if math.isfinite(m):
            self.metrics[int(epoch)] = m

    @property
    def _stable(self) -> bool:
        return len(self.energies_j) >= self.stable_from + self.window

    # -- the two criteria
    def _budget_reason(self) -> str | None:
        """Why the energy budget stops the run now (measured or projected total), else ``None``."""
        n = len(self.energies_j)
        budget_j = self.budget_kj * 1000.0
        if self.measured_j > budget_j:
            return (
                f"energy measured over {n} epochs, {self.measured_j / 1000:.3f} kJ, already exceeds the "
                f"budget of {self.budget_kj:g} kJ"
            )
        if not (self._stable and self.planned_epochs and n < self.planned_epochs):
            return None
        ws = n - self.window
        proj = project_total_energy(
            self.energies_j, self.planned_epochs, self.stable_from, self.window, window_start=ws
        )
        self.projected_total_j = proj
        if proj <= budget_j:
            return None
        e_u = sum(self.energies_j[: self.stable_from])
        e_w = sum(self.energies_j[ws:])
        return (
            f"projected total energy {proj / 1000:.3f} kJ for {self.planned_epochs} epochs exceeds the "
            f"budget of {self.budget_kj:g} kJ (eq. 2: E_w={e_w / 1000:.3f} kJ over epochs "
            f"{self.epochs[ws]}..{self.epochs[-1]} (w={self.window}), s={self.planned_epochs - self.stable_from} "
            f"stable epochs, E_u={e_u / 1000:.3f} kJ for the first {self.stable_from}); "
            f"{self.measured_j / 1000:.3f} kJ spent so far"
        )

    def _gain_reason(self) -> str | None:
        """Why the metric's gain per kJ over the last ``window`` epochs stops the run now, else ``None``."""
        n = len(self.energies_j)
        if not self._stable or n <= self.window:  # the gain over w epochs needs w + 1 of them
            return None
        e1, e0 = self.epochs[-1], self.epochs[-1 - self.window]
        if e1 not in self.metrics or e0 not in self.metrics:
            return None
        gain = self.metrics[e1] - self.metrics[e0]
        if self.mode == "min":
            gain = -gain
        kj = sum(self.energies_j[-self.window :]) / 1000.0
        rate = gain / kj if kj > 0 else math.inf
        if rate >= self.min_gain_per_kj:
            return None
        rest = ""
        if self.planned_epochs and n < self.planned_epochs:
            rest_kj = kj / self.window * (self.planned_epochs - n)
            rest = f"; the remaining {self.planned_epochs - n} planned epochs would cost about {rest_kj:.3f} kJ"
        return (
            f"metric gain {gain:+.4g} over epochs {e0}..{e1} for {kj:.3f} kJ is {rate:.4g} per kJ, below "
            f"the minimum {self.min_gain_per_kj:g} per kJ{rest}"
        )

    def update(self, epoch: int, metric: float | None = None, *, epoch_energy_j: float | None = None) -> bool:
        """Account for the end of ``epoch`` (with its monitored ``metric``); ``True`` = stop now.

        ``epoch_energy_j`` gives the epoch's energy directly instead of reading the run folder (for
        every epoch or for none).  Once it has returned ``True`` it keeps returning ``True``.
        """
        if self.stop_reason is not None:
            return True
        self._record_metric(epoch, metric)
        if not self._refresh(epoch, epoch_energy_j):
            return False
        self.measured_j = float(sum(self.energies_j))
        reason = self._budget_reason() if self.budget_kj is not None else None
        if reason is None and self.min_gain_per_kj is not None:
            reason = self._gain_reason()
        if reason is None:
            return False
        self.stop_reason = reason
        self.stopped_epoch = int(epoch)
        log.warning("energy-aware early stopping after epoch %s: %s", epoch, reason)
        return True
