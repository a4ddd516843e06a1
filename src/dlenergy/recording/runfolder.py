"""The run folder and the environment that ``measure`` shares with the training command (stdlib only).

``dlenergy measure`` creates ``DATASET/runs/<run_id>/`` and tells the command where it is through
environment variables; the markers running inside the command write ``epochs.csv`` and
``train_start.txt`` there, and ``measure`` reads them back when the command ends.  The names of
layout v1 are repeated here rather than imported from :mod:`dlenergy.layout`, which imports pandas
(a test checks that both agree).
"""

from __future__ import annotations

import os
import warnings
from datetime import datetime
from pathlib import Path

#: names of layout v1 (= dlenergy.layout's)
RUNS_FILE, RUNS_DIR, GPU_FILE, CPU_FILE, EPOCHS_FILE = "runs.csv", "runs", "gpu.csv", "cpu.csv", "epochs.csv"
RUN_ID_ALLOWED = r"^[A-Za-z0-9][A-Za-z0-9._\-]*$"
RUNS_REQUIRED = (
    "run_id",
    "environment",
    "gpu_model",
    "architecture",
    "dataset",
    "batch_size",
    "image_size",
    "training_size",
    "validation_size",
    "total_ram_gb",
    "gflops",
    "return_code",
)
#: written by :func:`dlenergy.recording.markers.mark_train_start`; ``measure`` puts it in runs.csv's train_start
TRAIN_START_FILE = "train_start.txt"

#: environment variables set by ``measure`` for the command
ENV_RUN_DIR = "DLENERGY_RUN_DIR"  # absolute path of runs/<run_id>
ENV_RUN_ID = "DLENERGY_RUN_ID"
ENV_TRAIN_START = "DLENERGY_TRAIN_START"  # the command's start, as written to runs.csv's command_start
ENV_PERIOD = "DLENERGY_PERIOD"
#: read by ``measure`` (the GPU backend), removed from the command's environment
ENV_BACKEND = "DLENERGY_GPU_BACKEND"

_warned: set[str] = set()


def warn_once(key: str, message: str, stacklevel: int = 3) -> None:
    """A ``RuntimeWarning`` the first time ``key`` is seen in this process, nothing afterwards."""
    if key not in _warned:
        _warned.add(key)
        warnings.warn(message, RuntimeWarning, stacklevel=stacklevel)


def run_dir(dataset: str | os.PathLike, run_id: str) -> Path:
    """``DATASET/runs/<run_id>``.

    Examples
    --------
    >>> run_dir("data/my-study", "r1").as_posix()
    'data/my-study/runs/r1'
    """
    return Path(dataset) / RUNS_DIR / run_id


def current_run_dir(run_dir: str | os.PathLike | None = None) -> Path | None:
    """The explicit ``run_dir``, else ``$DLENERGY_RUN_DIR``, else ``None`` (not under measure)."""
    if run_dir is not None:
        return Path(run_dir)
    env = os.environ.get(ENV_RUN_DIR)
    return Path(env) if env else None


def read_train_start(run_dir: str | os.PathLike) -> datetime | None:
    """The time :func:`~dlenergy.recording.markers.mark_train_start` recorded in ``run_dir``.

    ``None`` when there is none or it is not a timestamp.
    """
    path = Path(run_dir) / TRAIN_START_FILE
    try:
        return datetime.fromisoformat(path.read_text(encoding="utf-8").strip())
    except (OSError, ValueError):
        return None
