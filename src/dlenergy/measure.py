"""Alias of the former flat module: ``dlenergy measure`` now lives in :mod:`dlenergy.recording`.

Every name that this module had is still importable from here (``from dlenergy.measure import
measure, NvmlBackend, append_run_row, ...``); new code should import from the subpackage:
:mod:`dlenergy.recording.measure` (``measure``), :mod:`~dlenergy.recording.backends`,
:mod:`~dlenergy.recording.sampler`, :mod:`~dlenergy.recording.recorder`,
:mod:`~dlenergy.recording.errors` and :mod:`~dlenergy.recording.runfolder`.
"""

from .headers import GPU_COLUMNS as TRACE_ALIASES
from .recording.backends import (
    SMI_FIELDS,
    AutoBackend,
    GpuBackend,
    GpuSample,
    NoGpuBackend,
    NvidiaSmiBackend,
    NvmlBackend,
    ReplayBackend,
    backend_from_spec,
    open_backend,
    read_trace,
)
from .recording.errors import EXIT_CANTCREAT, EXIT_NO_GPU, EXIT_USAGE, RC_NOT_STARTED, MeasureError, NoGpuError
from .recording.measure import (
    FORWARDED_SIGNALS,
    MeasureResult,
    default_metadata,
    measure,
    parse_meta,
    return_code_of,
)
from .recording.recorder import (
    CPU_HEADER,
    ENERGY_HEADER,
    Recorder,
    append_run_row,
    gpu_header,
    gpu_line,
    run_exists,
    smi_timestamp,
)
from .recording.runfolder import (
    CPU_FILE,
    ENV_BACKEND,
    ENV_PERIOD,
    ENV_RUN_DIR,
    ENV_RUN_ID,
    ENV_TRAIN_START,
    EPOCHS_FILE,
    GPU_FILE,
    RUN_ID_ALLOWED,
    RUNS_DIR,
    RUNS_FILE,
    RUNS_REQUIRED,
    TRAIN_START_FILE,
    read_train_start,
)
from .recording.sampler import ProcessTreeSampler

__all__ = [
    "CPU_FILE",
    "CPU_HEADER",
    "ENERGY_HEADER",
    "ENV_BACKEND",
    "ENV_PERIOD",
    "ENV_RUN_DIR",
    "ENV_RUN_ID",
    "ENV_TRAIN_START",
    "EPOCHS_FILE",
    "EXIT_CANTCREAT",
    "EXIT_NO_GPU",
    "EXIT_USAGE",
    "FORWARDED_SIGNALS",
    "GPU_FILE",
    "RC_NOT_STARTED",
    "RUNS_DIR",
    "RUNS_FILE",
    "RUNS_REQUIRED",
    "RUN_ID_ALLOWED",
    "SMI_FIELDS",
    "TRACE_ALIASES",
    "TRAIN_START_FILE",
    "AutoBackend",
    "GpuBackend",
    "GpuSample",
    "MeasureError",
    "MeasureResult",
    "NoGpuBackend",
    "NoGpuError",
    "NvidiaSmiBackend",
    "NvmlBackend",
    "ProcessTreeSampler",
    "Recorder",
    "ReplayBackend",
    "append_run_row",
    "backend_from_spec",
    "default_metadata",
    "gpu_header",
    "gpu_line",
    "measure",
    "open_backend",
    "parse_meta",
    "read_trace",
    "read_train_start",
    "return_code_of",
    "run_exists",
    "smi_timestamp",
]
