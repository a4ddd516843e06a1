"""Alias of the former flat module: the epoch markers now live in :mod:`dlenergy.recording.markers`
and energy-aware early stopping in :mod:`dlenergy.recording.budget`.

Every name that this module had is still importable from here, the callbacks included
(``from dlenergy.markers import KerasEpochMarker, LightningEpochMarker, EnergyBudget``); the
callback classes are the same objects as in :mod:`dlenergy.recording.markers`, created there on
first access, so importing this module needs neither TensorFlow nor PyTorch.
"""

from .recording import markers as _impl
from .recording.budget import (
    DEFAULT_STABLE_FROM,
    DEFAULT_WINDOW,
    EnergyBudget,
    project_total_energy,
    run_epoch_energies,
)
from .recording.markers import (
    ENV_RUN_DIR,
    ENV_TRAIN_START,
    EPOCHS_FILE,
    TRAIN_START_FILE,
    current_run_dir,
    mark_epoch,
    mark_train_start,
    read_train_start,
)


def __getattr__(name: str):  # the callback classes, created by dlenergy.recording.markers on first access
    if name in _impl._LAZY:
        return getattr(_impl, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + list(_impl._LAZY))


__all__ = [
    "DEFAULT_STABLE_FROM",
    "DEFAULT_WINDOW",
    "ENV_RUN_DIR",
    "ENV_TRAIN_START",
    "EPOCHS_FILE",
    "TRAIN_START_FILE",
    "EnergyBudget",
    "current_run_dir",
    "mark_epoch",
    "mark_train_start",
    "project_total_energy",
    "read_train_start",
    "run_epoch_energies",
]  # KerasEpochMarker / LightningEpochMarker are created on access, not by `import *`
