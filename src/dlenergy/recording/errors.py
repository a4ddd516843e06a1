"""Errors and exit codes of ``dlenergy measure`` (sysexits codes for measure's own failures)."""

from __future__ import annotations

EXIT_USAGE = 64  #: bad arguments (run id, duplicate run, empty command)
EXIT_NO_GPU = 69  #: no GPU backend available: the command was not started
EXIT_CANTCREAT = 73  #: the dataset folder or the run folder cannot be written
RC_NOT_STARTED = 127  #: recorded as the run's return code when the command cannot be executed


class MeasureError(RuntimeError):
    """measure cannot run; ``exit_code`` says why (the command was not started).

    Examples
    --------
    >>> MeasureError("no command given").exit_code
    64
    """

    def __init__(self, message: str, exit_code: int = EXIT_USAGE):
        super().__init__(message)
        self.exit_code = exit_code


class NoGpuError(MeasureError):
    """No GPU (or no backend that sees one): ``measure`` exits with :data:`EXIT_NO_GPU`, nothing started."""

    def __init__(self, message: str):
        super().__init__(message, EXIT_NO_GPU)
